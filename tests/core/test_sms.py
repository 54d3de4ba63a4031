"""SMS codes (validity, single use, hashing, limits, burning), the gateway port, the outbox page."""

from __future__ import annotations

import itertools
import logging
import os
import re
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govcenter.core import sms
from govcenter.core.models import AuditEntry, SmsCode, SmsMessage
from govcenter.core.sms import SmsRateLimited, get_gateway, sms_code_send, sms_code_verify, sms_send
from tests.factories import RoleFactory, UserFactory

pytestmark = pytest.mark.django_db

PHONE = "13900001111"
_phones = itertools.count(1)


def _fresh_phone() -> str:
    return f"137{next(_phones):08d}"


def _code(phone: str) -> str:
    body = SmsMessage.objects.filter(phone=phone).order_by("-id").first().body
    return re.search(r"\b(\d{6})\b", body).group(1)


def _age_codes(phone: str, seconds: float) -> None:
    """Time travel: every code of ``phone`` becomes ``seconds`` older."""
    for row in SmsCode.objects.filter(phone=phone):
        row.created_at -= timedelta(seconds=seconds)
        row.expires_at -= timedelta(seconds=seconds)
        row.save(update_fields=["created_at", "expires_at"])


class Clock:
    """A settable clock for timezone.now (the services read time only through it)."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_code_is_six_digits_stored_only_as_a_keyed_hash():
    row = sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    assert re.fullmatch(r"\d{6}", code)
    assert len(row.code_hash) == 64 and code not in row.code_hash
    assert row.expires_at - row.created_at == timedelta(minutes=5)
    message = SmsMessage.objects.get(phone=PHONE)
    assert message.status == "sent" and message.gateway == "outbox" and message.template == "staff_login"


def test_code_is_single_use():
    sms_code_send(phone=PHONE, purpose="citizen_login")
    code = _code(PHONE)
    assert sms_code_verify(phone=PHONE, purpose="citizen_login", code=code)
    assert not sms_code_verify(phone=PHONE, purpose="citizen_login", code=code)


def test_code_is_bound_to_phone_and_purpose():
    sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    assert not sms_code_verify(phone=PHONE, purpose="citizen_login", code=code)
    assert not sms_code_verify(phone="13900002222", purpose="staff_login", code=code)
    assert sms_code_verify(phone=PHONE, purpose="staff_login", code=code)


def test_code_expires_after_five_minutes():
    sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    _age_codes(PHONE, 300)
    assert not sms_code_verify(phone=PHONE, purpose="staff_login", code=code)


def test_code_is_still_valid_just_before_expiry():
    sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    _age_codes(PHONE, 295)
    assert sms_code_verify(phone=PHONE, purpose="staff_login", code=code)


def test_four_wrong_tries_leave_the_code_usable_the_fifth_burns_it():
    sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(4):
        assert not sms_code_verify(phone=PHONE, purpose="staff_login", code=wrong)
    assert sms_code_verify(phone=PHONE, purpose="staff_login", code=code)

    _age_codes(PHONE, 61)
    sms_code_send(phone=PHONE, purpose="staff_login")
    code = _code(PHONE)
    for bad in (wrong, "", "abc", "1234567", wrong):
        assert not sms_code_verify(phone=PHONE, purpose="staff_login", code=bad)
    assert not sms_code_verify(phone=PHONE, purpose="staff_login", code=code)
    assert SmsCode.objects.filter(phone=PHONE).order_by("-created_at").first().burned_at is not None


def test_a_new_code_supersedes_the_previous_one():
    sms_code_send(phone=PHONE, purpose="staff_login")
    first = _code(PHONE)
    _age_codes(PHONE, 61)
    sms_code_send(phone=PHONE, purpose="staff_login")
    second = _code(PHONE)
    if first != second:
        assert not sms_code_verify(phone=PHONE, purpose="staff_login", code=first)
    assert sms_code_verify(phone=PHONE, purpose="staff_login", code=second)


def test_one_code_per_minute_per_phone():
    sms_code_send(phone=PHONE, purpose="staff_login")
    with pytest.raises(SmsRateLimited) as info:
        sms_code_send(phone=PHONE, purpose="citizen_login")  # the limit is per phone, any purpose
    assert 55 <= info.value.retry_after_seconds <= 60 and info.value.reason == "interval"
    assert (
        info.value.status_code == 429
        and info.value.details["retry_after_seconds"] == info.value.retry_after_seconds
    )
    _age_codes(PHONE, 59)
    with pytest.raises(SmsRateLimited) as info:
        sms_code_send(phone=PHONE, purpose="staff_login")
    assert info.value.retry_after_seconds <= 1
    _age_codes(PHONE, 1)
    sms_code_send(phone=PHONE, purpose="staff_login")
    assert SmsCode.objects.filter(phone=PHONE).count() == 2


def test_ten_codes_per_day_per_phone():
    for _ in range(10):
        sms_code_send(phone=PHONE, purpose="citizen_login")
        _age_codes(PHONE, 3600)  # one hour between sends
    # Ten codes sent over the last 10 hours; the oldest is 10 h old and frees up in 14 h.
    with pytest.raises(SmsRateLimited) as info:
        sms_code_send(phone=PHONE, purpose="citizen_login")
    assert info.value.reason == "daily"
    assert abs(info.value.retry_after_seconds - 14 * 3600) <= 2
    assert SmsMessage.objects.filter(phone=PHONE).count() == 10
    _age_codes(PHONE, 14 * 3600 + 1)
    sms_code_send(phone=PHONE, purpose="citizen_login")
    sms_code_send(phone="13900009999", purpose="citizen_login")  # other phones are unaffected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(gaps=st.lists(st.integers(min_value=0, max_value=6 * 3600), min_size=1, max_size=25))
def test_limits_match_a_reference_model(monkeypatch, gaps):
    """Whatever the timing of requests, a send succeeds iff both limits allow it."""
    clock = Clock(monkeypatch)
    phone = _fresh_phone()
    accepted: list = []
    for gap in gaps:
        clock.advance(gap)
        now = clock.now
        recent = [t for t in accepted if now - t < timedelta(hours=24)]
        expected = (not accepted or now - accepted[-1] >= timedelta(seconds=60)) and len(recent) < 10
        try:
            sms_code_send(phone=phone, purpose="citizen_login")
            ok = True
        except SmsRateLimited as exc:
            ok = False
            assert exc.retry_after_seconds >= 1
        assert ok is expected, (gaps, accepted, now)
        if ok:
            accepted.append(now)
    assert SmsCode.objects.filter(phone=phone).count() == len(accepted)
    assert SmsMessage.objects.filter(phone=phone).count() == len(accepted)


def test_bad_phone_is_refused():
    from django.core.exceptions import ValidationError

    for phone in ("", "abc", "12", "1380013800a"):
        with pytest.raises(ValidationError):
            sms_code_send(phone=phone, purpose="staff_login")
    assert not sms_code_verify(phone="abc", purpose="staff_login", code="123456")


class RecordingGateway:
    """A real gateway implementation for tests: keeps what it was handed."""

    sent: list = []

    def send(self, phone, template, body):
        RecordingGateway.sent.append((phone, template, body))


class BrokenGateway:
    def send(self, phone, template, body):
        raise ConnectionError("carrier down")


class NotAGateway:
    pass


def test_gateway_comes_from_settings(settings):
    assert isinstance(get_gateway(), sms.OutboxGateway)
    settings.GOVCENTER_SMS_GATEWAY = "tests.core.test_sms.RecordingGateway"
    RecordingGateway.sent.clear()
    sms_send(phone="139 0000 1111", template="notice", body="您好")
    assert RecordingGateway.sent == [("13900001111", "notice", "您好")]
    assert not SmsMessage.objects.exists()
    settings.GOVCENTER_SMS_GATEWAY = "tests.core.test_sms.NotAGateway"
    with pytest.raises(TypeError):
        get_gateway()


def test_a_gateway_failure_leaves_no_code_and_uses_no_slot(settings):
    settings.GOVCENTER_SMS_GATEWAY = "tests.core.test_sms.BrokenGateway"
    with pytest.raises(ConnectionError):
        sms_code_send(phone=PHONE, purpose="staff_login")
    assert not SmsCode.objects.exists()
    settings.GOVCENTER_SMS_GATEWAY = "govcenter.core.sms.OutboxGateway"
    sms_code_send(phone=PHONE, purpose="staff_login")  # not rate-limited by the failed try


def test_outbox_logs_to_the_console_only_in_debug(settings, caplog):
    caplog.set_level(logging.WARNING, logger="govcenter.sms")
    settings.DEBUG = False
    sms_send(phone=PHONE, template="t", body="secret body 1")
    assert "secret body 1" not in caplog.text
    settings.DEBUG = True
    sms_send(phone=PHONE, template="t", body="secret body 2")
    assert "secret body 2" in caplog.text


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_sends_cannot_beat_the_interval_on_postgresql():
    barrier = threading.Barrier(4)
    outcomes: list = []

    def worker():
        from django.db import connections

        barrier.wait()
        try:
            sms_code_send(phone=PHONE, purpose="staff_login")
            outcomes.append("sent")
        except SmsRateLimited:
            outcomes.append("limited")
        except Exception as exc:  # noqa: BLE001  (shown in the assertion)
            outcomes.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["limited", "limited", "limited", "sent"]
    assert SmsCode.objects.filter(phone=PHONE).count() == 1


_RACER = """
import os, sys, time
import django
django.setup()
from govcenter.core.sms import SmsRateLimited, sms_code_send
start = float(sys.argv[1])
while time.time() < start:
    time.sleep(0.001)
try:
    sms_code_send(phone="13900001111", purpose="staff_login")
    print("sent")
except SmsRateLimited:
    print("limited")
"""


def test_simultaneous_processes_cannot_beat_the_interval_on_sqlite(tmp_path):
    """The embedded default: separate processes on one SQLite file (IMMEDIATE transactions)."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "govcenter.settings",
        "GOVCENTER_DEBUG": "1",
        "GOVCENTER_VAR_DIR": str(tmp_path),
        "GOVCENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'race.sqlite3'}",
        "GOVCENTER_TASKS_IMMEDIATE": "1",
    }
    env.pop("GOVCENTER_REDIS_URL", None)
    env.pop("GOVCENTER_TASKS_URL", None)
    subprocess.run([sys.executable, "-m", "django", "migrate", "-v", "0"], env=env, check=True, timeout=300)
    start = str(time.time() + 3)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, start],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=120) for p in racers]
    results = sorted((out.strip().splitlines() or [""])[-1] for out, _ in outputs)  # logs go to stdout too
    assert results == ["limited", "limited", "limited", "sent"], [err[-500:] for _, err in outputs]


# ---- the outbox page -----------------------------------------------------------------------


@pytest.fixture
def outbox_messages():
    sms_send(phone="13812345678", template="staff_login", body="验证码 111111")
    sms_send(phone="13987654321", template="citizen_login", body="验证码 222222")


def test_outbox_needs_the_permission(client, outbox_messages):
    assert client.get(reverse("core:sms_outbox")).status_code == 302
    client.force_login(UserFactory())
    assert client.get(reverse("core:sms_outbox")).status_code == 403


def test_outbox_masks_phones_without_reveal(client, outbox_messages):
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox"])]))
    html = client.get(reverse("core:sms_outbox")).content.decode()
    assert "138****5678" in html and "139****4321" in html
    assert "13812345678" not in html and "13987654321" not in html
    assert "111111" in html and "222222" in html
    # Without reveal only a whole number filters (no probing by fragments).
    assert "111111" in client.get(reverse("core:sms_outbox"), {"phone": "13812345678"}).content.decode()
    fragment = client.get(reverse("core:sms_outbox"), {"phone": "1381234"}).content.decode()
    assert "111111" not in fragment and "222222" not in fragment


def test_outbox_masks_for_holders_too_but_lets_them_filter_by_fragment(client, outbox_messages):
    role = RoleFactory(perms=["core.read_sms_outbox", "core.reveal_personal_data"])
    client.force_login(UserFactory(role_set=[role]))
    html = client.get(reverse("core:sms_outbox"), {"phone": "654"}).content.decode()
    # The fragment finds the message (a lookup) but the phone stays masked (no display).
    assert "222222" in html and "111111" not in html
    assert "139****4321" in html and "13987654321" not in html


@pytest.fixture
def revealer():
    return UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox", "core.reveal_personal_data"])])


def _message(phone="13987654321"):
    return SmsMessage.objects.get(phone=phone)


def test_message_page_is_masked_and_offers_the_reveal_to_holders(client, outbox_messages, revealer):
    url = reverse("core:sms_message", args=[_message().pk])
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox"])]))
    html = client.get(url).content.decode()
    assert "139****4321" in html and "13987654321" not in html and "显示完整信息" not in html
    client.force_login(revealer)
    html = client.get(url).content.decode()
    assert "139****4321" in html and "13987654321" not in html and "显示完整信息" in html
    assert url in client.get(reverse("core:sms_outbox")).content.decode()  # rows link to it


def test_message_reveal_with_a_reason_shows_the_phone_once_and_audits(client, outbox_messages, revealer):
    message = _message()
    url = reverse("core:sms_message", args=[message.pk])
    client.force_login(revealer)
    response = client.post(url, {"category": "核实身份", "detail": ""})
    assert response.status_code == 200 and "13987654321" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    (entry,) = AuditEntry.objects.filter(action="reveal")
    assert entry.object_type == "core.smsmessage" and entry.object_id == str(message.pk)
    assert entry.changes == {"fields": ["phone"]} and entry.reason == "核实身份"
    assert "13987654321" not in f"{entry.changes} {entry.object_repr} {entry.reason}"
    assert "13987654321" not in client.get(url).content.decode()  # a reload is masked again
    missing = reverse("core:sms_message", args=[999999])
    assert client.post(missing, {"category": "核实身份"}).status_code == 404
    # No reason: a form error, nothing revealed, nothing audited.
    response = client.post(url, {"category": ""})
    assert response.status_code == 200 and "13987654321" not in response.content.decode()
    assert "invalid-feedback" in response.content.decode()
    assert AuditEntry.objects.filter(action="reveal").count() == 1


def test_message_reveal_needs_the_permission(client, outbox_messages):
    url = reverse("core:sms_message", args=[_message().pk])
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.read_sms_outbox"])]))
    response = client.post(url, {"category": "核实身份"})
    assert response.status_code == 403 and b"13987654321" not in response.content
    client.force_login(UserFactory(role_set=[RoleFactory(perms=["core.reveal_personal_data"])]))
    assert client.get(url).status_code == 403  # the outbox permission comes first
    assert client.get(reverse("core:sms_message", args=[999999])).status_code == 403
    assert not AuditEntry.objects.filter(action="reveal").exists()
