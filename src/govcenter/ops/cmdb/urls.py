"""资产 and 漏洞整改 pages (included in the ``ops`` namespace)."""

from django.urls import path

from . import views

urlpatterns = [
    path("assets/", views.AssetListView.as_view(), name="asset_list"),
    path("assets/new/", views.asset_edit, name="asset_new"),
    path("assets/<int:pk>/", views.asset_detail, name="asset_detail"),
    path("assets/<int:pk>/edit/", views.asset_edit, name="asset_edit"),
    path("assets/<int:pk>/relations/", views.asset_relate, name="asset_relate"),
    path("assets/<int:pk>/baseline/", views.asset_check, name="asset_check"),
    path("vulns/", views.VulnListView.as_view(), name="vuln_list"),
    path("vulns/import/", views.vuln_import, name="vuln_import"),
    path("vulns/plans/new/", views.plan_new, name="plan_new"),
    path("vulns/plans/<int:pk>/", views.plan_detail, name="plan_detail"),
    path("vulns/plans/<int:pk>/step/<slug:step>/", views.plan_step, name="plan_step"),
    path("vulns/plans/<int:pk>/report.<slug:fmt>", views.plan_report, name="plan_report"),
]
