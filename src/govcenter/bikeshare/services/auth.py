"""Operator credentials and signed operator requests.

Credential: :func:`operator_credential_issue` creates a new :class:`OperatorCredential`
(public ``key_id`` + secret), revokes the operator's earlier ones and returns the raw secret
— shown once. The database keeps the secret's SM3 digest and an SM4-GCM ciphertext of it
(key = first 16 bytes of SM3("govcenter:bikeshare:operator-secret:v1" ‖ SECRET_KEY), AAD =
"bikeshare.operator-credential:<key_id>"), so HMAC-SM3 signatures made with it can be
verified. Issue and rotation are audited (key ids only, never the secret).

Signed request (the same scheme as parking's devices): headers ``X-Operator-Key`` (the key
id), ``X-Timestamp`` (Unix seconds, within ±``GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS``),
``X-Nonce`` (8–64 characters, single use) and ``X-Signature`` = hex HMAC-SM3, keyed with the
secret, over ``METHOD\\npath\\ntimestamp\\nnonce\\nhex(SM3(body))``. Every refusal is a 401
``ServiceError`` and is counted per source and reason in :class:`OperatorRejection`.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, signed_requests
from govcenter.core import rejections as counters
from govcenter.core.api.errors import ServiceError
from govcenter.core.crypto import sm3, sm3_hex, sm4_decrypt, sm4_encrypt
from govcenter.core.models import Unit, UnitKind
from govcenter.core.scope import scope_for
from govcenter.core.signed_requests import signing_string  # noqa: F401 - what an operator signs

from ..models import OperatorCredential, OperatorRejection

KEY_PREFIX = "bk_"
SECRET_PREFIX = "bs_"
NONCE_CACHE_PREFIX = "bikeshare:operator-nonce"


# ------------------------------------------------------------------------------------------
# Refusal counters
# ------------------------------------------------------------------------------------------


def rejection_count(*, source: str, reason: str, operator: Unit | None = None, n: int = 1) -> None:
    """Add ``n`` to the counter of (source, reason) (:func:`govcenter.core.rejections.rejection_count`)."""
    counters.rejection_count(
        OperatorRejection, source=source, reason=reason, n=n, defaults={"operator": operator}
    )


def operator_source(operator: Unit) -> str:
    return f"operator:{operator.code}"


def request_reject(
    *, source: str, reason: str, message: str, operator: Unit | None = None, status: int = 400, details=None
) -> ServiceError:
    """Count a refusal of a whole request and return the ServiceError to raise."""
    rejection_count(source=source, reason=reason, operator=operator)
    return ServiceError(message, code=reason, status=status, details=details or {})


# ------------------------------------------------------------------------------------------
# Credentials
# ------------------------------------------------------------------------------------------


def _secret_key() -> bytes:
    return sm3(b"govcenter:bikeshare:operator-secret:v1" + settings.SECRET_KEY.encode())[:16]


def _aad(key_id: str) -> bytes:
    return f"bikeshare.operator-credential:{key_id}".encode()


def credential_signing_key(credential: OperatorCredential) -> bytes:
    """The credential's HMAC-SM3 key (its secret), decrypted; raises CryptoError if tampered."""
    return sm4_decrypt(_secret_key(), bytes(credential.secret_enc), aad=_aad(credential.key_id))


def _check_operator(actor, operator: Unit) -> Unit:
    """The operator row, locked; an out-of-scope operator is refused like a missing one."""
    operator = Unit.objects.select_for_update().get(pk=operator.pk)
    if actor is not None and not getattr(actor, "is_superuser", False):
        q = scope_for(actor).q(Unit.scope_fields)
        if q is not None and not Unit.objects.filter(q, pk=operator.pk).exists():
            raise ValidationError(_("不在本人数据范围内的运营企业。"), code="out_of_scope")
    if operator.kind != UnitKind.OPERATOR:
        raise ValidationError(_("只能为“互联网租赁自行车运营企业”类型的单位签发凭证。"), code="not_operator")
    if not operator.is_active:
        raise ValidationError(_("运营企业已停用，不能签发凭证。"), code="operator_inactive")
    return operator


@transaction.atomic
def operator_credential_issue(*, actor, operator: Unit) -> tuple[OperatorCredential, str]:
    """Issue a new credential for ``operator`` and revoke its earlier ones; returns (row, raw secret).

    The raw secret is returned once and never stored in clear. Audited with the key ids.
    """
    operator = _check_operator(actor, operator)
    now = timezone.now()
    live = list(
        OperatorCredential.objects.filter(operator=operator, revoked_at__isnull=True).values_list(
            "key_id", flat=True
        )
    )
    OperatorCredential.objects.filter(operator=operator, revoked_at__isnull=True).update(revoked_at=now)
    key_id = KEY_PREFIX + secrets.token_hex(10)
    raw = SECRET_PREFIX + secrets.token_urlsafe(32)
    credential = OperatorCredential.objects.create(
        operator=operator,
        key_id=key_id,
        secret_digest=sm3_hex(raw.encode()),
        secret_enc=sm4_encrypt(_secret_key(), raw.encode(), aad=_aad(key_id)),
        issued_at=now,
    )
    audit.record(
        action="bikeshare.operator_credential.issue",
        obj=credential,
        object_repr=f"{operator} {key_id}",
        changes={"before": {"live_key_ids": live}, "after": {"key_id": key_id, "revoked_key_ids": live}},
    )
    return credential, raw


# ------------------------------------------------------------------------------------------
# Signed requests
# ------------------------------------------------------------------------------------------


def _auth_error(source: str, reason: str, message: str, operator: Unit | None = None) -> ServiceError:
    return request_reject(source=source, reason=reason, operator=operator, status=401, message=message)


def operator_authenticate(
    *,
    key_id: str,
    timestamp: str,
    nonce: str,
    signature: str,
    method: str,
    path: str,
    body: bytes,
    source: str,
) -> Unit:
    """Verify an HMAC-SM3 signed operator request; the operator, or a counted 401 ServiceError.

    ``source`` names the caller until the key is known (``ip:<address>``). The nonce is
    remembered in the cache for twice the timestamp window, per operator, and only a valid
    signature consumes it (so nobody can burn an operator's nonces).
    """
    if not (key_id and timestamp and nonce and signature):
        raise _auth_error(
            source,
            "missing_signature_headers",
            "X-Operator-Key, X-Timestamp, X-Nonce and X-Signature are required",
        )
    credential = (
        OperatorCredential.objects.filter(
            key_id=key_id[:40],
            revoked_at__isnull=True,
            operator__kind=UnitKind.OPERATOR,
            operator__is_active=True,
        )
        .select_related("operator")
        .first()
    )
    if credential is None:
        raise _auth_error(f"key:{key_id[:60]}", "unknown_key", "unknown or revoked operator key")
    operator = credential.operator
    try:
        signed_requests.verify(
            key=lambda: credential_signing_key(credential),
            no_key_message="the operator key has no valid secret",
            timestamp=timestamp,
            nonce=nonce,
            signature=signature,
            method=method,
            path=path,
            body=body,
            window_s=settings.GOVCENTER_BIKESHARE_SIGNATURE_WINDOW_SECONDS,
            nonce_scope=f"{NONCE_CACHE_PREFIX}:{operator.pk}",
        )
    except signed_requests.SignatureRefusedError as refused:
        raise _auth_error(operator_source(operator), refused.reason, refused.message, operator) from None
    return operator
