"""Parking API under /api/v1/parking/ (non-router endpoints; viewsets register on the core router)."""

from django.urls import include, path

from .router import router
from .tariff import QuoteView

app_name = "parking-api"

urlpatterns: list = [
    path("quote", QuoteView.as_view(), name="quote"),
    path("", include(router.urls)),
]
