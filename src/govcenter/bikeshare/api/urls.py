"""``/api/v1/bikeshare/``: each area's module contributes its routes."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import (
    agency,
    analyses,
    assessment,
    fences,
    gbfs,
    ingest,
    quality,
    quotas,
    registry,
    scanchecks,
    workorders,
)

router = DefaultRouter()
router.include_root_view = False  # /api/v1/bikeshare/ itself is not a resource
registry.register(router)  # vehicles/ (api/registry.py)
fences.register(router)  # fences/ (api/fences.py)
quotas.register(router)  # quotas/ (api/quotas.py)

urlpatterns: list = [
    # Operator registry (api/agency.py: MDS Agency for operators; api/registry.py: staff).
    path("agency/vehicles", agency.AgencyVehiclesView.as_view(), name="bikeshare-agency-vehicles"),
    path(
        "operators/<int:pk>/credentials",
        registry.OperatorCredentialIssueView.as_view(),
        name="bikeshare-operator-credentials",
    ),
    # Ingest (api/ingest.py: MDS Agency push of events, telemetry and trips).
    path("agency/events", ingest.AgencyEventsView.as_view(), name="bikeshare-agency-events"),
    path("agency/telemetry", ingest.AgencyTelemetryView.as_view(), name="bikeshare-agency-telemetry"),
    path("agency/trips", ingest.AgencyTripsView.as_view(), name="bikeshare-agency-trips"),
    # GBFS 3.0 the platform publishes (api/gbfs.py).
    *gbfs.urlpatterns,
    # Scan verification by field inspectors (api/scanchecks.py).
    path(
        "scan-checks",
        scanchecks.ScanCheckViewSet.as_view({"get": "list", "post": "create"}),
        name="bikeshare-scan-checks",
    ),
    path("scan-checks/stats", scanchecks.ScanCheckStatsView.as_view(), name="bikeshare-scan-checks-stats"),
    # Fences (api/fences.py: import; MDS Geography) — before the router's fences/{id}/.
    *fences.urlpatterns,
    # Data-quality monitor per operator (api/quality.py).
    *quality.urlpatterns,
    *router.urls,
    # Analyses over the lake (api/analyses.py).
    *analyses.urlpatterns,
    # Work orders to operators (api/workorders.py).
    *workorders.urlpatterns,
    # Assessment of operators (api/assessment.py).
    *assessment.urlpatterns,
]
