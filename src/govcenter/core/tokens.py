"""API tokens: create (the raw value is shown once) and revoke. Only SM3 digests are stored."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from . import audit
from .api.authentication import new_token
from .api.errors import ServiceError
from .models import ApiToken, User


@transaction.atomic
def api_token_create(*, user: User, name: str, expires_at: datetime | None = None) -> str:
    """Issue a bearer token for ``user``; returns the raw token, which is never stored.

    The caller shows it once. The audit entry records the token's prefix, never its value.
    """
    name = name.strip()
    if not name:
        raise ServiceError("A token needs a name.", code="invalid", details={"name": ["required"]})
    if expires_at is not None and expires_at <= timezone.now():
        raise ServiceError("The expiry must be in the future.", code="invalid", details={"expires_at": ["past"]})
    if not user.is_active:
        raise ServiceError("The user is disabled.", code="invalid", details={"user": ["inactive"]})
    raw, prefix, digest = new_token()
    token = ApiToken(user=user, name=name, prefix=prefix, digest=digest, expires_at=expires_at)
    token.full_clean()
    token.save()
    audit.record(
        action="api_token.create",
        obj=token,
        changes={"after": {"user": user.username, "name": name, "prefix": prefix, "expires_at": expires_at}},
    )
    return raw


@transaction.atomic
def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke ``token`` from now on (idempotent: a revoked token stays revoked at its first time)."""
    token = ApiToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(action="api_token.revoke", obj=token, changes={"after": {"revoked_at": token.revoked_at}})
    return token
