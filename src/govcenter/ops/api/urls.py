"""``/api/v1/ops/``: incidents (read) and the Alertmanager webhook."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from ..records import api as records_api
from .views import AlertWebhookView, IncidentViewSet

router = SimpleRouter()
router.register("incidents", IncidentViewSet, basename="ops-incident")
# records: work logs, changes and releases, trainings (read)
router.register("worklogs", records_api.WorkLogViewSet, basename="ops-worklog")
router.register("changes", records_api.ChangeRecordViewSet, basename="ops-change")
router.register("trainings", records_api.TrainingSessionViewSet, basename="ops-training")

urlpatterns = [
    path("alerts", AlertWebhookView.as_view(), name="ops-alerts"),
    path("", include(router.urls)),
]
