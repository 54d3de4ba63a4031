"""``/api/v1/ops/``: incidents (read) and the Alertmanager webhook."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ..backups.api import BackupViewSet, RestoreDrillViewSet
from .views import AlertWebhookView, IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="ops-incident")
router.register("backups", BackupViewSet, basename="ops-backup")
router.register("backup-drills", RestoreDrillViewSet, basename="ops-backup-drill")

urlpatterns = [
    path("alerts", AlertWebhookView.as_view(), name="ops-alerts"),
    path("", include(router.urls)),
]
