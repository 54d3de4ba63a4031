"""``/ops/monitoring/`` pages (names in the ``ops`` namespace, prefixed ``monitoring_``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="monitoring_home"),
    path("targets/new/", views.target_form, name="monitoring_target_new"),
    path("targets/<int:pk>/", views.target_detail, name="monitoring_target"),
    path("targets/<int:pk>/edit/", views.target_form, name="monitoring_target_edit"),
    path("rules/new/", views.rule_form, name="monitoring_rule_new"),
    path("rules/<int:pk>/edit/", views.rule_form, name="monitoring_rule_edit"),
    path("windows/new/", views.window_new, name="monitoring_window_new"),
]
