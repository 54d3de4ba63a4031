"""API authentication: bearer tokens (stored as SM3 digests) and the web session."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from .. import context
from ..crypto import sm3_hex

TOKEN_PREFIX = "gc_"


def token_digest(raw: str) -> str:
    return sm3_hex(raw.encode())


def new_token() -> tuple[str, str, str]:
    """A fresh token: (raw value shown once, prefix for display, digest to store)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return raw, raw[:10], token_digest(raw)


class TokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer gc_…`` (``Token gc_…`` also accepted)."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(_("令牌格式错误。"))
        from ..models import ApiToken

        raw = header[1].decode(errors="replace")
        now = timezone.now()
        token = (
            ApiToken.objects.select_related("user", "user__unit")
            .filter(digest=token_digest(raw), revoked_at__isnull=True)
            .first()
        )
        if token is None or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("令牌无效或已过期。"))
        if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        context.set_context(context.context_for_user(token.user, channel="api"))
        return token.user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class SessionAuthentication(authentication.SessionAuthentication):
    """The web session (CSRF enforced on unsafe methods)."""


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How the OpenAPI schema (and Swagger UI's Authorize button) describes token auth."""

    target_class = "govcenter.core.api.authentication.TokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer gc_… (create one with `govcenter token create USER NAME`).",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "govcenter.core.api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
