"""``/ops/backups/`` (included from ops/urls.py; names stay in the ``ops`` namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.BackupListView.as_view(), name="backup_list"),
    path("run/", views.backup_run, name="backup_run"),
    path("<int:pk>/drill/", views.backup_drill, name="backup_drill"),
    path("drills/<int:pk>/", views.drill_detail, name="backup_drill_detail"),
]
