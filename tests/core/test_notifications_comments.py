"""In-app notifications with an SMS copy through the outbox, and comments / communication logs
on any object (core/notifications.py, core/comments.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from govcenter.core import notifications
from govcenter.core.api.errors import ServiceError
from govcenter.core.comments import comment_add, comments_of
from govcenter.core.models import AuditEntry, Comment, Notification, SmsMessage
from govcenter.core.sms import SmsTemplateError
from tests.factories import UserFactory
from tests.workflow_app.models import Request


@pytest.fixture
def case(db):
    return Request.objects.create(title="西直门桥区疏堵方案")


def test_notify_writes_one_notice_per_active_user_and_texts_those_with_a_phone(
    case, django_capture_on_commit_callbacks
):
    with_phone = UserFactory(phone="13800138000")
    without = UserFactory(phone="")
    gone = UserFactory(is_active=False, phone="13900139000")
    with django_capture_on_commit_callbacks(execute=True):
        rows = notifications.notify(
            [with_phone, without, gone, with_phone], verb="assigned", title=case.title, target=case,
            url="/x/1/", sms_template="case_notice", sms_context={"deadline": "2026-12-08"},
        )  # fmt: skip
        assert not SmsMessage.objects.exists()  # nothing texted before the commit
    assert sorted(r.recipient_id for r in rows) == sorted([with_phone.pk, without.pk])
    assert Notification.objects.get(recipient=with_phone).target == case
    (sms,) = SmsMessage.objects.all()
    assert sms.phone == "13800138000" and case.title in sms.body and "2026-12-08" in sms.body
    assert sms.category == "case"


def _notify_in_a_transaction(user, *, fail: bool):
    with transaction.atomic():
        notifications.notify(
            [user], verb="assigned", title="西直门桥区疏堵方案", sms_template="case_notice",
            sms_context={"deadline": "2026-12-08"},
        )  # fmt: skip
        if fail:
            raise RuntimeError("the caller's change failed")


def test_the_sms_goes_out_only_when_the_transaction_commits(case, django_capture_on_commit_callbacks):
    user = UserFactory(phone="13800138000")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            _notify_in_a_transaction(user, fail=True)
    assert callbacks == [] and not SmsMessage.objects.exists() and not Notification.objects.exists()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        _notify_in_a_transaction(user, fail=False)
    assert len(callbacks) == 1 and SmsMessage.objects.get().phone == "13800138000"
    assert Notification.objects.get().recipient == user


def test_a_missing_placeholder_or_bad_phone_fails_before_anything_is_written(case):
    good, bad = UserFactory(phone="13800138000"), UserFactory(phone="12")
    with pytest.raises(SmsTemplateError):
        notifications.notify([good], verb="assigned", title="x", sms_template="case_notice")  # no deadline
    with pytest.raises(ValidationError):
        notifications.notify(
            [good, bad], verb="assigned", title="x", sms_template="case_notice", sms_context={"deadline": "d"}
        )
    assert not Notification.objects.exists() and not SmsMessage.objects.exists()


def test_an_unknown_sms_template_writes_nothing(case):
    user = UserFactory(phone="13800138000")
    with pytest.raises(SmsTemplateError):
        notifications.notify([user], verb="assigned", title="x", sms_template="no_such_template")
    assert not Notification.objects.exists() and not SmsMessage.objects.exists()


def test_inbox_is_ones_own_and_mark_read_counts(case):
    me, other = UserFactory(), UserFactory()
    notifications.notify([me, other], verb="urge", title="催办：请尽快反馈", level="warning")
    notifications.notify([me], verb="assigned", title="新事项")
    assert notifications.unread_count(me) == 2 and notifications.unread_count(other) == 1
    first = notifications.inbox(me).last()
    assert notifications.mark_read(me, [first.pk, notifications.inbox(other).get().pk]) == 1  # not other's
    assert notifications.unread_count(me) == 1 and notifications.unread_count(other) == 1
    assert notifications.mark_read(me) == 1 and notifications.unread_count(me) == 0
    assert notifications.mark_read(me) == 0  # nothing changed: nothing audited
    entries = list(AuditEntry.objects.filter(action="notification.read").order_by("seq"))
    assert [e.changes["count"] for e in entries] == [1, 1]  # one entry per call, not per notice
    assert entries[0].changes["ids"] == [first.pk] and entries[1].changes["all"] is True
    with pytest.raises(ValueError):
        notifications.notify([me], verb="x", title="y", level="loud")


def test_comments_and_communication_logs_are_kept_in_order_and_audited(case):
    staff = UserFactory()
    comment_add(case, actor=staff, body="已电话联系主办单位")
    comment_add(case, actor=staff, body="对方表示月底前反馈", kind="call", counterpart="西城区交通委 王科长")
    got = list(comments_of(case))
    assert [(c.kind, c.counterpart, c.author) for c in got] == [("comment", "", staff), ("call", "西城区交通委 王科长", staff)]
    entries = AuditEntry.objects.filter(action="comment.add")
    assert entries.count() == 2 and all("body" not in e.changes for e in entries)


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"body": "  "}, "required"),
        ({"body": "x" * 5001}, "too_long"),
        ({"body": "ok", "kind": "fax"}, "invalid_choice"),
        ({"body": "ok", "kind": "call"}, "required"),  # a call names whom
    ],
)
def test_bad_comments_are_refused_and_nothing_is_written(case, kwargs, code):
    with pytest.raises(ServiceError) as info:
        comment_add(case, actor=UserFactory(), **kwargs)
    assert info.value.error_code == code
    assert not Comment.objects.exists()
