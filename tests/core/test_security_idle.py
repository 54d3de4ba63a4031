"""Accounts idle for 90 days are disabled: by the daily task and at login time."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from huey.contrib.djhuey import HUEY

from govcenter.core.models import AuditEntry, User
from govcenter.core.security import account_is_idle, accounts_disable_idle, disable_idle_accounts_daily
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _age(user, *, last_login_days=None, joined_days=0):
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(
        last_login=None if last_login_days is None else now - timedelta(days=last_login_days),
        date_joined=now - timedelta(days=joined_days),
    )
    user.refresh_from_db()
    return user


def test_idle_rule_uses_last_login_or_else_date_joined():
    assert account_is_idle(_age(UserFactory(), last_login_days=91, joined_days=400))
    assert not account_is_idle(_age(UserFactory(), last_login_days=89, joined_days=400))
    assert account_is_idle(_age(UserFactory(), joined_days=91))
    assert not account_is_idle(_age(UserFactory(), joined_days=10))


def test_daily_task_disables_idle_accounts_and_audits():
    idle = _age(UserFactory(), last_login_days=91, joined_days=400)
    never = _age(UserFactory(), joined_days=120)
    recent = _age(UserFactory(), last_login_days=3, joined_days=400)
    already_off = _age(UserFactory(is_active=False), joined_days=400)
    assert disable_idle_accounts_daily.call_local() == 2
    for user in (idle, never, recent, already_off):
        user.refresh_from_db()
    assert not idle.is_active and not never.is_active and recent.is_active
    assert idle.disabled_reason == "idle 90 days"
    entries = AuditEntry.objects.filter(action="disable")
    assert sorted(int(e.object_id) for e in entries) == sorted([idle.pk, never.pk])
    assert {e.channel for e in entries} == {"task"} and all(e.user_id is None for e in entries)
    assert accounts_disable_idle() == []  # a second run finds nothing


def test_task_is_a_daily_periodic_job():
    assert disable_idle_accounts_daily.task_class in HUEY._registry._periodic_tasks
    runs = [
        datetime(2025, 3, 1, h, m)
        for h in range(24)
        for m in range(60)
        if disable_idle_accounts_daily.task_class.validate_datetime(None, datetime(2025, 3, 1, h, m))
    ]
    assert len(runs) == 1


def test_idle_account_is_disabled_at_login(client):
    user = _age(UserFactory(), last_login_days=100, joined_days=400)
    response = client.post(reverse("core:login"), {"username": user.username, "password": DEFAULT_PASSWORD})
    assert "账号已停用" in response.content.decode()
    user.refresh_from_db()
    assert not user.is_active
    assert AuditEntry.objects.filter(action="disable", object_id=str(user.pk)).count() == 1
    assert AuditEntry.objects.filter(action="login_failed", changes__reason="idle_disabled").count() == 1
    assert client.get(reverse("core:dashboard")).status_code == 302


def test_disable_idle_command(capsys):
    _age(UserFactory(), joined_days=200)
    call_command("security", "disable-idle")
    assert "disabled 1 idle accounts" in capsys.readouterr().out
