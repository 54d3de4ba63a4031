"""URL patterns of the work records, training, ledger and reports (included by ``ops/urls.py``)."""

from django.urls import path

from ..ledger import views as ledger_views
from . import views

urlpatterns = [
    path("worklogs/", views.WorkLogListView.as_view(), name="worklog_list"),
    path("worklogs/new/", views.worklog_new, name="worklog_new"),
    path("worklogs/<int:pk>/edit/", views.worklog_edit, name="worklog_edit"),
    path("changes/", views.ChangeRecordListView.as_view(), name="change_list"),
    path("changes/new/", views.change_new, name="change_new"),
    path("changes/<int:pk>/<slug:step>/", views.change_step, name="change_step"),
    path("trainings/", views.TrainingSessionListView.as_view(), name="training_list"),
    path("trainings/new/", views.training_new, name="training_new"),
    path("trainings/<int:pk>/", views.training_detail, name="training_detail"),
    path("ledger/", views.ledger, name="ledger"),
    path("ledger/new/", ledger_views.contract_new, name="ledger_contract_new"),
    path("ledger/<int:pk>/record/<slug:what>/", ledger_views.contract_record, name="ledger_contract_record"),
    path("ledger/milestones/<int:pk>/", ledger_views.milestone_record, name="ledger_milestone"),
    path("reports/", views.report_list, name="report_list"),
    path("reports/<int:pk>/<str:ext>/", views.report_download, name="report_download"),
]
