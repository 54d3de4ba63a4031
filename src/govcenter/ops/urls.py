from django.urls import include, path

from . import views
from .integrity import views as integrity_views
from .logaudit import views as logaudit_views

app_name = "ops"

urlpatterns = [
    path("incidents/", views.IncidentListView.as_view(), name="incident_list"),
    path("incidents/new/", views.incident_new, name="incident_new"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/step/<slug:step>/", views.incident_step, name="incident_step"),
    path("", include("govcenter.ops.cmdb.urls")),
    path("monitoring/", include("govcenter.ops.monitoring.urls")),
    path("", include("govcenter.ops.records.urls")),  # records: worklogs, changes, trainings, ledger, reports
    path("integrity/", integrity_views.integrity_page, name="integrity"),
    path("integrity/baseline/", integrity_views.integrity_baseline, name="integrity_baseline"),
    path("integrity/check/", integrity_views.integrity_run_check, name="integrity_check"),
    path("logs/", logaudit_views.log_search_page, name="logs"),
    path("logs/export/", logaudit_views.log_export_view, name="logs_export"),
    path("duty/", include("govcenter.ops.duty.urls")),
    path("backups/", include("govcenter.ops.backups.urls")),
]
