"""``govcenter demo`` and ``govcenter seed``: idempotent, DEBUG-only demo, one account per persona."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from govcenter.core.management.commands.demo import ACCOUNTS, DEMO_PASSWORD
from govcenter.core.models import AuditEntry, District, Role, Unit, User
from govcenter.core.roles import BUILTIN_CODES
from govcenter.core.scope import scope_for

pytestmark = pytest.mark.django_db


def run(name: str) -> str:
    out = StringIO()
    call_command(name, stdout=out)
    return out.getvalue()


def snapshot() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Unit, User, Role, District, AuditEntry))


def test_demo_builds_the_organisation_once(settings):
    settings.DEBUG = True
    first = run("demo")
    assert "rows created" in first
    # 16 districts + the Development Area, each with its parking unit.
    assert District.objects.count() == 17 and District.objects.filter(code="BDA", kind="management").exists()
    assert Unit.objects.filter(kind="district_unit").count() == 17
    assert Unit.objects.filter(kind="operator").count() == 3
    assert Unit.objects.filter(kind="contractor").exists() and Unit.objects.filter(kind="vendor").exists()
    center = Unit.objects.get(kind="center")
    assert (
        center.name_zh == "北京市交通综合治理事务中心"
        and center.children.filter(kind="department").count() >= 5
    )
    assert BUILTIN_CODES <= set(Role.objects.values_list("code", flat=True))
    # Every persona of the house plan has a role and an account.
    codes = [(c,) if isinstance(c, str) else c for _, _, c, _ in ACCOUNTS]
    assert {code for group in codes for code in group} >= BUILTIN_CODES
    for (username, _name, _roles, _unit), role_codes in zip(ACCOUNTS, codes, strict=True):
        user = User.objects.get(username=username)
        assert user.check_password(DEMO_PASSWORD) and not user.must_change_password and not user.is_superuser
        assert set(user.roles.values_list("code", flat=True)) == set(role_codes)
        assert user.phone.startswith("138000000")
        assert f"{username} " in first  # printed in the accounts table
    before = snapshot()
    second = run("demo")
    assert "nothing changed" in second and DEMO_PASSWORD in second
    assert snapshot() == before


def test_demo_scopes_work_for_the_personas(settings):
    settings.DEBUG = True
    run("demo")
    dongcheng = User.objects.get(username="dongcheng")
    units = set(Unit.objects.restrict(dongcheng).values_list("code", flat=True))
    assert units == {"PK-110101"}
    meituan = User.objects.get(username="meituan")
    assert set(Unit.objects.restrict(meituan).values_list("code", flat=True)) == {"OP-MEITUAN"}
    integrator = User.objects.get(username="integrator")
    assert {d.code for d in District.objects.filter(pk__in=scope_for(integrator).district_ids)} == {
        "110101",
        "110102",
    }
    assert scope_for(User.objects.get(username="leader")).all
    auditor = User.objects.get(username="auditor")
    assert auditor.has_perm("core.view_audit") and not auditor.has_perm("core.manage_accounts")
    sysadmin = User.objects.get(username="sysadmin")
    assert sysadmin.has_perm("core.manage_accounts") and not sysadmin.has_perm("core.view_audit")


def test_seed_is_idempotent_and_creates_no_people(settings):
    first = run("seed")
    assert "created" in first and User.objects.count() == 0
    before = snapshot()
    assert "nothing changed" in run("seed")
    assert snapshot() == before


def test_demo_refuses_with_debug_off(tmp_path: Path):
    env = {
        **os.environ,
        "GOVCENTER_DEBUG": "false",
        "GOVCENTER_SECRET_KEY": secrets.token_urlsafe(50),
        "GOVCENTER_ALLOWED_HOSTS": "govcenter.example.org",
        "GOVCENTER_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "govcenter.settings",
    }
    result = subprocess.run(
        [sys.executable, "-m", "govcenter.cli", "demo"], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DEBUG is off" in lines[0], result.stderr
    assert result.stdout == ""
