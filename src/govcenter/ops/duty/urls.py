"""``/ops/duty/…`` (included from ``ops/urls.py``; names prefixed ``duty_``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.roster_month, name="duty_roster"),
    path("export.xlsx", views.roster_export, name="duty_roster_export"),
    path("swaps/new/", views.swap_new, name="duty_swap_new"),
    path("swaps/<int:pk>/decide/", views.swap_decide, name="duty_swap_decide"),
    path("guard/", views.guard_list, name="duty_guard_list"),
    path("guard/new/", views.guard_new, name="duty_guard_new"),
    path("guard/<int:pk>/", views.guard_detail, name="duty_guard_detail"),
    path("guard/<int:pk>/step/<slug:step>/", views.guard_step, name="duty_guard_step"),
    path("guard/<int:pk>/items/<int:item>/done/", views.guard_item_done, name="duty_guard_item_done"),
    path("guard/<int:pk>/plan.docx", views.guard_docx, name="duty_guard_docx"),
    path("plans/", views.plan_list, name="duty_plan_list"),
    path("plans/<int:pk>/", views.plan_detail, name="duty_plan_detail"),
    path("plans/<int:pk>/v<int:version>/approve/", views.plan_approve, name="duty_plan_approve"),
    path("plans/<int:pk>/drills/new/", views.drill_new, name="duty_drill_new"),
    path("drills/<int:pk>/", views.drill_detail, name="duty_drill_detail"),
]
