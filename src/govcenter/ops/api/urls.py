"""``/api/v1/ops/``: incidents (read) and the Alertmanager webhook."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ..cmdb.api import AssetViewSet, ScanImportView, VulnerabilityViewSet
from ..monitoring.api import MaintenanceWindowViewSet, MonitorTargetViewSet
from .views import AlertWebhookView, IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="ops-incident")
router.register("assets", AssetViewSet, basename="ops-asset")
router.register("vulns", VulnerabilityViewSet, basename="ops-vuln")
router.register("monitoring/targets", MonitorTargetViewSet, basename="ops-monitor-target")
router.register("monitoring/windows", MaintenanceWindowViewSet, basename="ops-monitor-window")

urlpatterns = [
    path("alerts", AlertWebhookView.as_view(), name="ops-alerts"),
    path("vulns/import", ScanImportView.as_view(), name="ops-vulns-import"),
    path("", include(router.urls)),
]
