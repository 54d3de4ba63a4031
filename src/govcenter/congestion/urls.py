"""``/congestion/``: the dashboard, the warning board, the comprehensive query, and for every
kind of case (``kinds.py``) its list, registration form and detail page with its actions."""

from django.urls import path

from . import kinds, views

app_name = "congestion"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("board/", views.warning_board, name="board"),
    path("query/", views.comprehensive_query, name="query"),
    path("statistics/", views.statistics, name="statistics"),
    path("urge/<int:link_pk>/", views.case_unit_urge, name="urge"),
    path("<slug:code>/<int:pk>/", views.case_detail, name="case_detail"),
    path("<slug:code>/<int:pk>/step/<slug:step>/", views.case_step, name="case_step"),
    path("<slug:code>/<int:pk>/comment/", views.case_comment, name="case_comment"),
    path("<slug:code>/<int:pk>/files/", views.case_attach, name="case_attach"),
    path("<slug:code>/<int:pk>/files/<int:file_pk>/", views.case_file, name="case_file"),
    path("<slug:code>/new/", views.case_create, name="case_create"),
    path("<slug:code>/import/", views.case_import, name="case_import"),
]
# One named list route per kind, so each is a navigation item of its own.
urlpatterns += [
    path(f"{kind.code}/", views.CaseListView.as_view(), {"code": kind.code}, name=kind.code)
    for kind in kinds.all_kinds()
]
