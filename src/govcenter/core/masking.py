"""Personal-data masking (phone, plate, ID number, name) and audited reveals.

Every mask function is total: any input (None, numbers, empty, short, odd text) gives a
string, never an exception, and never shows more characters than its rule. Masks keep
positions (a star per hidden character), so masking an already-masked value returns it
unchanged. Lists, details and exports mask unless the caller holds
``core.reveal_personal_data``; :func:`reveal` returns a clear value and audits why.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _
from rest_framework import serializers

from . import audit

STAR = "*"
PLATE_DOT = "·"
REVEAL_PERMISSION = "core.reveal_personal_data"
# Separators people type inside plates ("京A·12345", "京A 12345"); dropped before masking.
_PLATE_SEPARATORS = str.maketrans("", "", "·•∙・. -")


def _text(value) -> str:
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:  # noqa: BLE001  (a broken __str__ must not break a list page)
        return ""


def mask_middle(text: str, *, head: int, tail: int, min_hidden: int) -> str:
    """Keep at most ``head`` leading and ``tail`` trailing characters, star the rest.

    At least ``min_hidden`` characters (or all of a shorter value) are hidden; when the
    value is too short for the rule the tail is kept first, then the head.
    """
    n = len(text)
    stars = min(n, max(min_hidden, n - head - tail))
    visible = n - stars
    keep_tail = min(tail, visible)
    keep_head = visible - keep_tail
    return text[:keep_head] + STAR * stars + (text[n - keep_tail :] if keep_tail else "")


def mask_phone(value) -> str:
    """``13812345678`` → ``138****5678`` (first 3 and last 4 kept, at least 4 hidden)."""
    return mask_middle(_text(value), head=3, tail=4, min_hidden=4)


def mask_id_number(value) -> str:
    """``11010119900307123X`` → ``110101********123X`` (first 6 and last 4 kept)."""
    return mask_middle(_text(value), head=6, tail=4, min_hidden=4)


def mask_name(value) -> str:
    """``张三`` → ``张*``, ``欧阳娜娜`` → ``欧***``: the first character only (none of a 1-character name)."""
    return mask_middle(_text(value), head=1, tail=0, min_hidden=1)


def mask_plate(value) -> str:
    """``京A12345`` → ``京A·***45``; new-energy ``京AD12345`` → ``京A·****45``.

    Province character and issuing letter, a middle dot, stars, the last 2 characters.
    Separators in the input are ignored, so a masked plate masks to itself.
    """
    text = _text(value).translate(_PLATE_SEPARATORS)
    masked = mask_middle(text, head=2, tail=2, min_hidden=3)
    if len(text) >= 7:  # a real plate: province + letter stay, set off by the dot
        return masked[:2] + PLATE_DOT + masked[2:]
    return masked


MASKERS: dict[str, Callable[[object], str]] = {
    "phone": mask_phone,
    "plate": mask_plate,
    "id_number": mask_id_number,
    "name": mask_name,
}


def mask(value, kind: str) -> str:
    """Mask ``value`` as ``kind`` (phone, plate, id_number, name).

    An unknown kind hides everything: a typo in a template must not leak data.
    """
    masker = MASKERS.get(kind)
    if masker is None:
        return STAR * len(_text(value))
    return masker(value)


def can_reveal(user) -> bool:
    """Whether ``user`` may see personal data unmasked."""
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(REVEAL_PERMISSION)
    )


def reveal(*, user, obj: models.Model, field: str, reason: str) -> str:
    """The clear value of ``obj.field`` for ``user``, audited with ``reason``.

    Raises PermissionDenied without the reveal permission and ValidationError without a
    reason. The audit entry names the field, never the value.
    """
    from .security import as_actor

    if not can_reveal(user):
        raise PermissionDenied(_("无权查看未脱敏的个人信息。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("查看个人信息须填写理由。"), code="reason_required")
    value = getattr(obj, field)
    with transaction.atomic(), as_actor(user):
        audit.record(action="reveal", obj=obj, changes={"field": field}, reason=reason)
    return _text(value)


def current_actor_can_reveal() -> bool:
    """Whether the actor of the current request context may see clear personal data.

    Used where no request object is at hand (template filters, exports in tasks). The
    answer is cached per request id, so a list page costs one lookup, not one per cell.
    """
    from . import context
    from .models import User

    ctx = context.current()
    if ctx.user_id is None:
        return False
    cached = _reveal_cache.get()
    if cached is not None and cached[0] == (ctx.request_id, ctx.user_id):
        return cached[1]
    user = User.objects.filter(pk=ctx.user_id, is_active=True).first()
    allowed = can_reveal(user)
    _reveal_cache.set(((ctx.request_id, ctx.user_id), allowed))
    return allowed


_reveal_cache: ContextVar[tuple[tuple[str, int], bool] | None] = ContextVar(
    "govcenter_reveal_cache", default=None
)


class MaskedField(serializers.CharField):
    """Read-only serializer field: masked unless the request user can reveal.

    ``phone = MaskedField(kind="phone")``; with no request in the serializer context the
    value is masked.
    """

    def __init__(self, *, kind: str, **kwargs):
        if kind not in MASKERS:
            raise ValueError(f"unknown mask kind {kind!r}; use one of {sorted(MASKERS)}")
        self.kind = kind
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        request = self.context.get("request")
        if request is not None and can_reveal(getattr(request, "user", None)):
            return _text(value)
        return mask(value, self.kind)
