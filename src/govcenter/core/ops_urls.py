"""Liveness, readiness and Prometheus metrics (outside the API version prefix)."""

from django.urls import path

from .views import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
]
