"""``/api/v1/ops/``: incidents (read) and the Alertmanager webhook."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ..backups.api import BackupViewSet, RestoreDrillViewSet
from ..cmdb.api import AssetViewSet, ScanImportView, VulnerabilityViewSet
from ..logaudit.api import LogIngestView
from ..monitoring.api import MaintenanceWindowViewSet, MonitorTargetViewSet
from ..records import api as records_api
from .views import AlertWebhookView, IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="ops-incident")
router.register("assets", AssetViewSet, basename="ops-asset")
router.register("vulns", VulnerabilityViewSet, basename="ops-vuln")
router.register("monitoring/targets", MonitorTargetViewSet, basename="ops-monitor-target")
router.register("monitoring/windows", MaintenanceWindowViewSet, basename="ops-monitor-window")
# records: work logs, changes and releases, trainings (read)
router.register("worklogs", records_api.WorkLogViewSet, basename="ops-worklog")
router.register("changes", records_api.ChangeRecordViewSet, basename="ops-change")
router.register("trainings", records_api.TrainingSessionViewSet, basename="ops-training")
router.register("backups", BackupViewSet, basename="ops-backup")
router.register("backup-drills", RestoreDrillViewSet, basename="ops-backup-drill")

urlpatterns = [
    path("alerts", AlertWebhookView.as_view(), name="ops-alerts"),
    path("vulns/import", ScanImportView.as_view(), name="ops-vulns-import"),
    path("logs", LogIngestView.as_view(), name="ops-logs"),
    path("duty/", include("govcenter.ops.duty.api")),
    path("", include(router.urls)),
]
