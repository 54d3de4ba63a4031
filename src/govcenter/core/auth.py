"""Authentication backend: function permissions come from the user's roles."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

# Holding any of these means the account sees personal data or administers the system,
# so it must pass the SMS second factor after the password.
SECOND_FACTOR_PERMISSIONS = frozenset(
    {
        "core.reveal_personal_data",
        "core.manage_accounts",
        "core.manage_security",
        "core.view_audit",
        "core.export_audit",
        "core.read_sms_outbox",
        "core.manage_calendar",
    }
)


class RoleBackend(ModelBackend):
    """ModelBackend whose group permissions are the permissions of the user's roles."""

    def user_can_authenticate(self, user) -> bool:
        return super().user_can_authenticate(user)

    def _get_group_permissions(self, user_obj):
        return Permission.objects.filter(govcenter_roles__users=user_obj)


def requires_second_factor(user) -> bool:
    """Staff who can see personal data or administer must pass an SMS code."""
    if user.is_superuser or user.is_staff:
        return True
    return bool(SECOND_FACTOR_PERMISSIONS & user.get_all_permissions())
