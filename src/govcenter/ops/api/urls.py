"""``/api/v1/ops/``: incidents (read) and the Alertmanager webhook."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ..monitoring.api import MaintenanceWindowViewSet, MonitorTargetViewSet
from .views import AlertWebhookView, IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="ops-incident")
router.register("monitoring/targets", MonitorTargetViewSet, basename="ops-monitor-target")
router.register("monitoring/windows", MaintenanceWindowViewSet, basename="ops-monitor-window")

urlpatterns = [
    path("alerts", AlertWebhookView.as_view(), name="ops-alerts"),
    path("", include(router.urls)),
]
