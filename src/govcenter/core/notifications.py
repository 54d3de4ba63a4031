"""In-app notifications, with an SMS copy through the outbox when asked (ADR 0006).

:func:`notify` writes one :class:`~govcenter.core.models.Notification` per recipient (active users
only, each once) and, given ``sms_template``, sends that template to every recipient who has a
phone through :func:`govcenter.core.sms.sms_notify` — the SMS outbox and its delivery log — once
the caller's transaction commits: a rolled-back change texts nobody, and the carrier is never
called while the transaction (and the audit chain's lock it may hold) is open. The template,
its placeholder values and the phones are checked before anything is written. A carrier failure
is logged on the SmsMessage, never raised: the in-app notice is what counts. Urging notices (催办)
are notifications with the verb ``urge``; the case services count them. :func:`mark_read` is
audited (one entry per call: how many, which).

Built-in SMS templates here (category ``case``): ``case_notice`` (a case assigned or returned)
and ``case_urge`` (催办).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from . import audit
from .models import Notification, SmsCategory
from .sms import builtin_template, normalise_phone, register_template, render_template, sms_notify

logger = logging.getLogger(__name__)

register_template(
    "case_notice",
    name="事项办理通知",
    body="【北京交通综合治理】您有一件事项待办：{title}，办理期限{deadline}。请登录系统处理。",
    category=SmsCategory.CASE,
)
register_template(
    "case_urge",
    name="催办通知",
    body="【北京交通综合治理】催办：{title}，办理期限{deadline}，请抓紧办理并及时反馈。",
    category=SmsCategory.CASE,
)


def _recipients(users: Iterable) -> list:
    seen, out = set(), []
    for user in users:
        if user is None or not getattr(user, "is_active", False) or user.pk in seen:
            continue
        seen.add(user.pk)
        out.append(user)
    return out


def notify(
    users: Iterable,
    *,
    verb: str,
    title: str,
    body: str = "",
    target=None,
    url: str = "",
    level: str = Notification.Level.INFO,
    sms_template: str | None = None,
    sms_context: dict | None = None,
) -> list[Notification]:
    """Notify ``users`` in-app (and by SMS with ``sms_template``); returns the notifications."""
    if not verb or len(verb) > 40:
        raise ValueError("verb must be 1–40 characters")
    if level not in Notification.Level.values:
        raise ValueError(f"unknown level {level!r}")
    recipients = _recipients(users)
    texts = []
    if sms_template is not None:
        # SmsTemplateError / ValidationError before anything is written.
        builtin_template(sms_template)
        sms_values = {**(sms_context or {}), "title": title[:60]}
        render_template(sms_template, sms_values)
        texts = [
            functools.partial(
                sms_notify, phone=normalise_phone(user.phone), template_code=sms_template, **sms_values
            )
            for user in recipients
            if user.phone
        ]
    ct, object_id = (None, "")
    if target is not None:
        ct, object_id = ContentType.objects.get_for_model(target), str(target.pk)
    now = timezone.now()
    with transaction.atomic():
        rows = Notification.objects.bulk_create(
            Notification(
                recipient=user, verb=verb, level=level, title=title[:200], body=body, content_type=ct,
                object_id=object_id, url=url[:300], created_at=now,
            )
            for user in recipients
        )  # fmt: skip
        for send in texts:  # after commit; one failing text does not stop the others
            transaction.on_commit(send, robust=True)
    return rows


def inbox(user, *, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first (nobody reads another's inbox)."""
    qs = Notification.objects.filter(recipient=user)
    return qs.filter(read_at__isnull=True) if unread_only else qs


def unread_count(user) -> int:
    return inbox(user, unread_only=True).count()


@transaction.atomic
def mark_read(user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications ``ids`` (all when None) read; returns how many changed.

    A write, so audited: one ``notification.read`` entry per call that changed anything (how
    many and which), not one per notice.
    """
    qs = inbox(user, unread_only=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    changed = sorted(qs.select_for_update().values_list("pk", flat=True))
    if not changed:
        return 0
    count = Notification.objects.filter(pk__in=changed, read_at__isnull=True).update(read_at=timezone.now())
    audit.record(
        action="notification.read",
        object_type="core.notification",
        changes={"count": count, "ids": changed, "all": ids is None},
    )
    return count
