"""Signal receivers of the kernel (login/logout auditing lives here)."""

from __future__ import annotations

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from . import audit


@receiver(user_logged_in, dispatch_uid="govcenter.core.audit_login")
def audit_login(sender, request, user, **kwargs):
    """A completed login (after the second factor, when one is required)."""
    from .models import User
    from .security import as_actor

    now = timezone.now()
    User.objects.filter(pk=user.pk).update(last_activity_at=now)
    user.last_activity_at = now
    second_factor = bool(getattr(request, "govcenter_second_factor", False)) if request is not None else False
    with as_actor(user):
        audit.record(action="login", obj=user, changes={"second_factor": second_factor})


@receiver(user_logged_out, dispatch_uid="govcenter.core.audit_logout")
def audit_logout(sender, request, user, **kwargs):
    from .security import as_actor

    if user is None:
        return
    with as_actor(user):
        audit.record(action="logout", obj=user)


@receiver(user_login_failed, dispatch_uid="govcenter.core.audit_login_failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    """Failures of any other authenticate() caller; the credentials are never recorded."""
    from .security import normalise_username

    username = normalise_username(str(credentials.get("username", "")))
    audit.record(
        action="login_failed",
        object_type="core.user",
        object_repr=username,
        changes={"username": username, "reason": "bad_credentials", "via": "authenticate"},
        success=False,
    )
