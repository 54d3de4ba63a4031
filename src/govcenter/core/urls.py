"""UI shell routes of the kernel."""

from django.urls import path

from .views import accounts, dashboard, sms
from .views import audit as audit_views
from .views import calendar as calendar_views
from .views import notifications as notification_views
from .views import org as org_views

app_name = "core"

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("dashboard/districts.geojson", dashboard.districts_geojson, name="dashboard_districts"),
    path("accounts/login/", accounts.login_view, name="login"),
    path("accounts/login/verify/", accounts.login_verify, name="login_verify"),
    path("accounts/logout/", accounts.logout_view, name="logout"),
    path("accounts/password/", accounts.password_change, name="password_change"),
    path("security/lockouts/", accounts.account_lockouts, name="account_lockouts"),
    path("notifications/", notification_views.notification_list, name="notification_list"),
    path("notifications/<int:pk>/open/", notification_views.notification_open, name="notification_open"),
    path("notifications/read-all/", notification_views.notification_read_all, name="notification_read_all"),
    path("sms/outbox/", sms.sms_outbox, name="sms_outbox"),
    path("sms/outbox/<int:pk>/", sms.sms_message, name="sms_message"),
    path("sms/stats/", sms.sms_stats, name="sms_stats"),
    path("sms/templates/", sms.sms_template_list, name="sms_template_list"),
    path("sms/templates/<int:pk>/", sms.sms_template_edit, name="sms_template_edit"),
    path("audit/", audit_views.audit_list, name="audit_list"),
    path("audit/export.xlsx", audit_views.audit_export, name="audit_export"),
    path("audit/<int:seq>/", audit_views.audit_detail, name="audit_detail"),
    # Before admin.site.urls: the admin signs in through our login (lockout, second factor).
    path("admin/login/", accounts.admin_login_redirect, name="admin_login"),
    path("calendar/", calendar_views.calendar_month, name="calendar"),
    path("calendar/year/", calendar_views.calendar_year, name="calendar_year"),
    path("calendar/day/", calendar_views.calendar_day_edit, name="calendar_day_edit"),
    path("calendar/day/<int:pk>/delete/", calendar_views.calendar_day_delete, name="calendar_day_delete"),
    # Organisation: units, users, roles (views/org.py).
    path("org/units/", org_views.UnitListView.as_view(), name="unit_list"),
    path("org/units/new/", org_views.UnitCreateView.as_view(), name="unit_create"),
    path("org/units/<int:pk>/", org_views.UnitDetailView.as_view(), name="unit_detail"),
    path("org/units/<int:pk>/edit/", org_views.UnitUpdateView.as_view(), name="unit_edit"),
    path("org/units/<int:pk>/active/", org_views.UnitToggleActiveView.as_view(), name="unit_toggle_active"),
    path("org/users/", org_views.UserListView.as_view(), name="user_list"),
    path("org/users/new/", org_views.UserCreateView.as_view(), name="user_create"),
    path("org/users/<int:pk>/", org_views.UserDetailView.as_view(), name="user_detail"),
    path("org/users/<int:pk>/reveal/", org_views.UserRevealView.as_view(), name="user_reveal"),
    path("org/users/<int:pk>/edit/", org_views.UserUpdateView.as_view(), name="user_edit"),
    path("org/users/<int:pk>/active/", org_views.UserToggleActiveView.as_view(), name="user_toggle_active"),
    path("org/users/<int:pk>/password/", org_views.UserPasswordResetView.as_view(), name="user_password_reset"),
    path("org/roles/", org_views.RoleListView.as_view(), name="role_list"),
    path("org/roles/new/", org_views.RoleCreateView.as_view(), name="role_create"),
    path("org/roles/<int:pk>/", org_views.RoleDetailView.as_view(), name="role_detail"),
    path("org/roles/<int:pk>/edit/", org_views.RoleUpdateView.as_view(), name="role_edit"),
]
