"""Comments and communication logs on any object (ADR 0006).

:func:`comment_add` records a comment, or one entry of a case's communication log (a call, a
letter, a meeting, a visit, with whom), audited in the same transaction — the audit entry names
the comment and its kind, not its text (which may hold personal data). :func:`comments_of` lists
an object's entries, oldest first. Who may comment on what is the calling service's rule (the
case's scope); this module only records.
"""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils.translation import gettext as _

from . import audit
from .api.errors import ServiceError
from .models import Comment

MAX_BODY = 5000


def comment_add(obj, *, actor, body: str, kind: str = Comment.Kind.COMMENT, counterpart: str = "") -> Comment:
    body = (body or "").strip()
    if not body:
        raise ServiceError(_("内容不能为空。"), code="required", details={"body": [_("内容不能为空。")]})
    if len(body) > MAX_BODY:
        raise ServiceError(
            _("内容过长（最多 %(n)d 字）。") % {"n": MAX_BODY}, code="too_long", details={"body": [str(MAX_BODY)]}
        )
    if kind not in Comment.Kind.values:
        raise ServiceError(_("未知的记录类别。"), code="invalid_choice", details={"kind": [str(kind)]})
    if kind != Comment.Kind.COMMENT and not counterpart.strip():
        raise ServiceError(_("沟通记录须填写沟通对象。"), code="required", details={"counterpart": [kind]})
    named = getattr(actor, "pk", None) is not None
    with transaction.atomic():
        comment = Comment.objects.create(
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            kind=kind,
            counterpart=counterpart.strip()[:100],
            body=body,
            author=actor if named else None,
            author_name=(actor.get_full_name() or actor.get_username()) if named else "",
        )
        audit.record(
            action="comment.add",
            obj=obj,
            changes={"comment": comment.pk, "kind": kind},
        )
    return comment


def comments_of(obj):
    return Comment.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("author")
