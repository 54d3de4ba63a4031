from django.urls import include, path

from . import views

app_name = "ops"

urlpatterns = [
    path("incidents/", views.IncidentListView.as_view(), name="incident_list"),
    path("incidents/new/", views.incident_new, name="incident_new"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:pk>/step/<slug:step>/", views.incident_step, name="incident_step"),
    path("backups/", include("govcenter.ops.backups.urls")),
]
