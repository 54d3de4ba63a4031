"""SMS templates: the registry, stored overrides, rendering and placeholder checks, notices with a
delivery log whatever the gateway, delivery reports, counts by template and status, the admin."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry, SmsMessage, SmsTemplate
from govcenter.core.roles import ensure_builtin_roles
from govcenter.core.sms import (
    TEMPLATES,
    builtin_templates,
    placeholders_of,
    render_template,
    sms_code_send,
    sms_delivery_report,
    sms_notify,
    sms_send,
    sms_template_update,
    sms_templates_sync,
    validate_template_body,
)
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db
PHONE = "13900001111"


def test_registry_has_the_login_and_the_parking_templates():
    codes = {t.code: t.category for t in builtin_templates()}
    assert codes["staff_login"] == codes["citizen_login"] == "login_code"
    # Contributed by parking (core never imports it): reminders, penalty, permits.
    assert codes["arrears_reminder"] == codes["backpay_reminder"] == "reminder"
    assert codes["penalty_notice"] == "penalty"
    assert codes["permit_approved"] == codes["permit_expiring"] == "permit"


def test_sync_stores_the_built_ins_once_and_never_overwrites_an_edit():
    created = sms_templates_sync()["created"]
    assert created == len(builtin_templates()) and SmsTemplate.objects.count() == created
    row = SmsTemplate.objects.get(code="citizen_login")
    assert row.body == TEMPLATES["citizen_login"] and row.category == "login_code"
    SmsTemplate.objects.filter(pk=row.pk).update(body="【北京交通】验证码 {code}")
    assert sms_templates_sync() == {"created": 0, "unchanged": created}
    assert SmsTemplate.objects.get(pk=row.pk).body == "【北京交通】验证码 {code}"


def test_rendering_checks_every_placeholder():
    text = render_template("permit_approved", {"plate": "京A·***45", "valid_to": "2027-01-01", "extra": 1})
    assert "京A·***45" in text and "2027-01-01" in text
    with pytest.raises(ServiceError) as info:
        render_template("permit_approved", {"plate": "京A·***45"})
    assert info.value.error_code == "sms_template_context" and info.value.details == {"missing": ["valid_to"]}
    with pytest.raises(ServiceError) as info:
        render_template("no_such_template", {})
    assert info.value.error_code == "sms_template_unknown"


@pytest.mark.parametrize(
    "body, code",
    [
        ("验证码 {0}", "sms_template_invalid"),
        ("验证码 {}", "sms_template_invalid"),
        ("验证码 {code.__class__}", "sms_template_invalid"),
        ("验证码 {code!r}", "sms_template_invalid"),
        ("验证码 {code:>10}", "sms_template_invalid"),
        ("验证码 {code", "sms_template_invalid"),
        ("您好 {minutes} 分钟", "sms_template_placeholders"),  # the code must stay
        ("验证码 {code} {phone}", "sms_template_placeholders"),  # not an allowed field
        ("  ", "sms_template_invalid"),
    ],
)
def test_bad_bodies_are_refused(body, code):
    with pytest.raises(ServiceError) as info:
        validate_template_body("staff_login", body)
    assert info.value.error_code == code and info.value.status_code == 400


def test_placeholders_of_a_good_body():
    assert placeholders_of("{plate} 有 {count} 笔，{{不是占位符}}") == {"plate", "count"}


def test_notice_is_rendered_sent_and_logged_with_its_template():
    message = sms_notify(
        phone="139 0000 1111", template_code="permit_expiring", plate="京A·***45", valid_to="2027-01-01"
    )
    assert message.pk and message.phone == PHONE and message.template == "permit_expiring"
    assert message.category == "permit" and message.status == "sent" and message.sent_at is not None
    assert "2027-01-01" in message.body and SmsMessage.objects.count() == 1  # one row, not two
    with pytest.raises(ServiceError):
        sms_notify(phone=PHONE, template_code="permit_expiring", plate="x")
    assert SmsMessage.objects.count() == 1  # nothing sent on a missing value


class RecordingGateway:
    name = "recording"
    sent: list = []

    def send(self, phone, template, body):
        RecordingGateway.sent.append((phone, template, body))


class BrokenGateway:
    def send(self, phone, template, body):
        raise ConnectionError("carrier down")


def test_notices_are_logged_for_any_gateway_and_failures_recorded(settings):
    settings.GOVCENTER_SMS_GATEWAY = "tests.core.test_sms_templates.RecordingGateway"
    RecordingGateway.sent.clear()
    message = sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    assert RecordingGateway.sent == [(PHONE, "permit_approved", message.body)]
    assert message.gateway == "recording" and message.status == "sent"
    settings.GOVCENTER_SMS_GATEWAY = "tests.core.test_sms_templates.BrokenGateway"
    failed = sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    assert failed.status == "failed" and failed.error == "carrier down" and failed.sent_at is None
    assert SmsMessage.objects.count() == 2


def test_a_switched_off_template_sends_nothing():
    sms_templates_sync()
    SmsTemplate.objects.filter(code="permit_approved").update(active=False)
    assert sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v") is None
    assert not SmsMessage.objects.exists()


def test_an_edited_login_template_is_used_for_codes():
    sms_templates_sync()
    row = SmsTemplate.objects.get(code="staff_login")
    sms_template_update(actor=None, template=row, body="【中心】验证码 {code}（{minutes} 分钟）")
    sms_code_send(phone=PHONE, purpose="staff_login")
    message = SmsMessage.objects.get()
    assert message.body.startswith("【中心】验证码 ") and message.category == "login_code"


def test_delivery_reports():
    message = sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    at = timezone.now()
    assert sms_delivery_report(message.pk, "delivered", at).status == "delivered"
    message.refresh_from_db()
    assert message.status == "delivered" and message.delivered_at == at
    # A late report changes nothing.
    assert sms_delivery_report(message.pk, "failed", at).status == "delivered"
    other = sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    assert sms_delivery_report(other.pk, "failed").status == "failed"
    for args, code in (
        ((message.pk, "read", None), "sms_delivery_status"),
        ((999999, "delivered", None), "sms_message_unknown"),
        ((message.pk, "delivered", dt.datetime(2026, 1, 1)), "naive_time"),
    ):
        with pytest.raises(ServiceError) as info:
            sms_delivery_report(*args)
        assert info.value.error_code == code


# -- pages -------------------------------------------------------------------------------------


def test_counts_by_template_and_status_for_a_date_range(client):
    sms_send(phone=PHONE, template="citizen_login", body="验证码 111111")
    delivered = sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    sms_delivery_report(delivered.pk, "delivered")
    sms_notify(phone=PHONE, template_code="permit_approved", plate="p", valid_to="v")
    old = sms_notify(
        phone=PHONE, template_code="penalty_notice", plate="p", count=1, amount="1", case_number="c", fine="2"
    )
    SmsMessage.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    url = reverse("core:sms_stats")
    assert client.get(url).status_code == 302
    client.force_login(UserFactory())
    assert client.get(url).status_code == 403
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox"])]))
    response = client.get(url)
    rows = {r["template"]: r for r in response.context["rows"]}
    assert set(rows) == {"citizen_login", "permit_approved"}  # the 30-day-old one is outside the week
    assert rows["permit_approved"]["sent"] == 1 and rows["permit_approved"]["delivered"] == 1
    assert rows["permit_approved"]["total"] == 2 and rows["citizen_login"]["category"] == "login_code"
    assert response.context["totals"]["total"] == 3
    html = response.content.decode()
    assert 'data-template="permit_approved"' in html and "登录验证码" in html
    month = (timezone.localdate() - dt.timedelta(days=31)).isoformat()
    response = client.get(url, {"start": month, "end": timezone.localdate().isoformat()})
    assert response.context["totals"]["total"] == 4
    assert {r["category"] for r in response.context["rows"]} == {"login_code", "permit", "penalty"}
    response = client.get(url, {"start": "2026-02-01", "end": "2026-01-01"})
    assert response.status_code == 200 and "结束日期不能早于开始日期" in response.content.decode()


def test_template_admin_for_sysadmins_validates_and_audits(client):
    ensure_builtin_roles()
    from govcenter.core.models import Role

    sysadmin = UserFactory(role_set=[Role.objects.get(code="sysadmin")])
    url = reverse("core:sms_template_list")
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox"])]))
    assert client.get(url).status_code == 403
    client.force_login(sysadmin)
    html = client.get(url).content.decode()
    assert "arrears_reminder" in html and "penalty_notice" in html and "{code}" in html
    row = SmsTemplate.objects.get(code="arrears_reminder")
    edit = reverse("core:sms_template_edit", args=[row.pk])
    response = client.post(edit, {"body": "您的车辆 {plate} 欠费 {phone}", "active": "on"})
    assert response.status_code == 200 and "invalid-feedback" in response.content.decode()
    row.refresh_from_db()
    assert "{phone}" not in row.body
    new_body = "【北京交通】{plate} 有 {count} 笔停车费 {amount} 元未缴。"
    response = client.post(edit, {"body": new_body, "active": "on"})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.body == new_body and row.updated_by == sysadmin
    entry = AuditEntry.objects.get(action="update", object_type="core.smstemplate")
    assert entry.changes["before"]["body"] != entry.changes["after"]["body"]
    # The edited text is what goes out (missing {due_date} is fine: it is no longer used).
    message = sms_notify(
        phone=PHONE, template_code="arrears_reminder", plate="京A·***45", count=2, amount="7.00", due_date="x"
    )
    assert message.body == "【北京交通】京A·***45 有 2 笔停车费 7.00 元未缴。"


def test_seed_stores_the_built_in_templates():
    from django.core.management import call_command

    from govcenter.core import seeding

    assert ("sms_templates", sms_templates_sync) in seeding.loaders()
    call_command("seed", verbosity=0)
    assert set(SmsTemplate.objects.values_list("code", flat=True)) >= {"staff_login", "penalty_notice"}
    assert AuditEntry.objects.filter(object_type="core.smstemplate", action="create").count() == 1
