"""Personal-data masking (phone, plate, ID number, name) and audited reveals.

Every mask function is total: any input (None, numbers, empty, short, odd text) gives a
string, never an exception, and never shows more characters than its rule. Masks keep
positions (a star per hidden character), so masking an already-masked value returns it
unchanged. Lists, details and exports mask for everyone; a holder of
``core.reveal_personal_data`` asks for the clear values of one object with a reason
(:func:`reveal_fields`), which returns them once and audits who, what fields and why.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
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
    """Whether ``user`` may ask for clear personal data (always through :func:`reveal_fields`).

    Holding the permission changes nothing on screen by itself: it allows the explicit,
    audited reveal and searching by masked fields (a lookup, not a display).
    """
    return bool(
        user is not None and getattr(user, "is_authenticated", False) and user.has_perm(REVEAL_PERMISSION)
    )


# Per model (``app_label.modelname``): the fields holding personal data and their mask kind.
# Only these fields can be revealed; an app registers its own from AppConfig.ready().
PERSONAL_FIELDS: dict[str, dict[str, str]] = {
    "core.user": {"full_name": "name", "phone": "phone"},
    "core.unit": {"contact_name": "name", "contact_phone": "phone"},
    "core.smsmessage": {"phone": "phone"},
}


def register_personal_fields(model_label: str, fields: dict[str, str]) -> None:
    """Declare the personal-data fields of ``model_label`` (``"parking.permit"``) and their kinds."""
    unknown = {kind for kind in fields.values() if kind not in MASKERS}
    if unknown:
        raise ValueError(f"unknown mask kind(s) {sorted(unknown)}; use one of {sorted(MASKERS)}")
    PERSONAL_FIELDS.setdefault(model_label.lower(), {}).update(fields)


def personal_fields(model: type[models.Model] | models.Model) -> dict[str, str]:
    """``{field: kind}`` of the personal-data fields of ``model`` (empty if none)."""
    return dict(PERSONAL_FIELDS.get(model._meta.label_lower, {}))


def masked_repr(obj: models.Model) -> str:
    """``str(obj)`` with the clear value of each of its personal fields replaced by its mask."""
    text = _text(obj)
    for field, kind in personal_fields(obj).items():
        value = _text(getattr(obj, field, ""))
        if value:
            text = text.replace(value, mask(value, kind))
    return text


def reveal_fields(*, user, obj: models.Model, fields, reason: str) -> dict[str, str]:
    """The clear values ``{field: value}`` of ``fields`` of ``obj`` for ``user``, audited once.

    The caller fetched ``obj`` through the data scope (out of scope is 404 before this).
    Raises PermissionDenied without the reveal permission, ValidationError without a
    reason (code ``reason_required``) or for a field that is not personal data of this
    model (code ``unknown_field``). One audit entry (action ``reveal``) names the fields
    and the reason, never the values; nothing is stored anywhere else.
    """
    from .security import as_actor

    if not can_reveal(user):
        raise PermissionDenied(_("无权查看未脱敏的个人信息。"))
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            {"reason": ValidationError(_("查看个人信息须填写理由。"), code="reason_required")}
        )
    allowed = personal_fields(obj)
    wanted = list(dict.fromkeys(fields or ()))  # de-duplicated, order kept
    unknown = [f for f in wanted if f not in allowed]
    if unknown or not wanted:
        raise ValidationError(
            {
                "fields": ValidationError(
                    _("只能查看这些个人信息：%(fields)s。") % {"fields": ", ".join(allowed)},
                    code="unknown_field",
                )
            }
        )
    values = {field: _text(getattr(obj, field)) for field in wanted}
    with transaction.atomic(), as_actor(user):
        audit.record(
            action="reveal",
            obj=obj,
            object_repr=masked_repr(obj),
            changes={"fields": wanted},
            reason=reason[:200],
        )
    return values


def reveal(*, user, obj: models.Model, field: str, reason: str) -> str:
    """The clear value of one field; :func:`reveal_fields` with a single field."""
    return reveal_fields(user=user, obj=obj, fields=[field], reason=reason)[field]


REVEAL_REASONS = (
    ("核实身份", gettext_lazy("核实身份")),
    ("处理投诉", gettext_lazy("处理投诉")),
    ("执法取证", gettext_lazy("执法取证")),
    ("其他", gettext_lazy("其他")),
)


class RevealForm(forms.Form):
    """Why the clear values are needed: a category and, for 其他, a required explanation.

    ``reason`` after cleaning is the text the audit entry keeps (``处理投诉：工单 123``).
    """

    category = forms.ChoiceField(
        label=gettext_lazy("查看理由"),
        choices=[("", "—"), *REVEAL_REASONS],
        widget=forms.Select(attrs={"class": "form-select"}),
    )
    detail = forms.CharField(
        label=gettext_lazy("说明"),
        max_length=150,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )

    def clean(self):
        data = super().clean()
        category, detail = data.get("category"), (data.get("detail") or "").strip()
        if category == "其他" and not detail:
            self.add_error("detail", _("选择“其他”时须说明理由。"))
        if category:
            data["reason"] = f"{category}：{detail}" if detail else category
        return data


class MaskedField(serializers.CharField):
    """Read-only serializer field, masked for every caller (``phone = MaskedField(kind="phone")``).

    Clear values leave only through an explicit reveal endpoint calling :func:`reveal_fields`.
    """

    def __init__(self, *, kind: str, **kwargs):
        if kind not in MASKERS:
            raise ValueError(f"unknown mask kind {kind!r}; use one of {sorted(MASKERS)}")
        self.kind = kind
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value):
        return mask(value, self.kind)
