"""Tariff plans: the Beijing seed (and `govcenter seed`), versioning, plan selection, the CLI."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.core import seeding
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.parking.models import TariffPlan
from govcenter.parking.selectors.tariffs import NoTariffPlanError, plan_for, tariff_quote
from govcenter.parking.services.tariffs import tariff_plan_publish, tariff_seed_beijing_standard
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=SH)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture
def seeded():
    tariff_seed_beijing_standard()


# --------------------------------------------------------------------------------------------
# Seed
# --------------------------------------------------------------------------------------------


def test_seed_creates_the_beijing_standard_once_and_audits_it():
    assert tariff_seed_beijing_standard() == {"created": 3, "unchanged": 0}
    plans = {p.area_class: p for p in TariffPlan.objects.all()}
    assert {k: (p.day_first_unit_fen, p.day_later_unit_fen, p.night_unit_fen) for k, p in plans.items()} == {
        1: (250, 375, 100),
        2: (150, 225, 100),
        3: (50, 75, 100),
    }
    for plan in plans.values():
        assert plan.status == TariffPlan.Status.ACTIVE and plan.version == 1 and plan.grace_minutes == 0
        assert plan.vehicle_multipliers == {"small": 100, "large": 200}
        assert plan.valid_from == at("2019-01-01 00:00") and plan.valid_to is None
        assert (plan.day_start, plan.day_end, plan.day_unit_minutes, plan.night_unit_minutes) == (
            dt.time(7),
            dt.time(21),
            15,
            120,
        )
    assert AuditEntry.objects.filter(action="parking.tariff_plan.seed").count() == 3
    assert tariff_seed_beijing_standard() == {"created": 0, "unchanged": 3}
    assert AuditEntry.objects.filter(action="parking.tariff_plan.seed").count() == 3


def test_govcenter_seed_loads_tariffs_through_the_core_seeding_hook():
    assert ("tariffs", tariff_seed_beijing_standard) in seeding.loaders()
    out = StringIO()
    call_command("seed", stdout=out)
    assert "tariffs: created 3, unchanged 0" in out.getvalue()
    out = StringIO()
    call_command("seed", stdout=out)
    assert "tariffs: created 0, unchanged 3" in out.getvalue()


def test_seeding_registry_keeps_order_and_replaces_by_name():
    saved = dict(seeding._loaders)
    try:
        seeding.register("a-test", lambda: {"created": 1})
        seeding.register("b-test", lambda: {"created": 2})
        seeding.register("a-test", lambda: {"created": 3})
        names = [name for name, _ in seeding.loaders()]
        assert names.index("a-test") < names.index("b-test")
        assert dict(seeding.loaders())["a-test"]() == {"created": 3}
    finally:
        seeding._loaders.clear()
        seeding._loaders.update(saved)


def test_seed_tariffs_subcommand():
    out = StringIO()
    call_command("parking", "seed-tariffs", stdout=out)
    assert out.getvalue().strip() == "tariffs: created 3, unchanged 0"


# --------------------------------------------------------------------------------------------
# Versioning
# --------------------------------------------------------------------------------------------


def test_plan_for_selects_by_time(seeded):
    assert plan_for(1, at("2025-03-04 08:00")).code == "bj-road-class-1"
    with pytest.raises(
        NoTariffPlanError, match="no active tariff plan for area class 1 at 2018-12-31T23:59:00"
    ):
        plan_for(1, at("2018-12-31 23:59"))
    TariffPlan.objects.filter(area_class=2).update(status=TariffPlan.Status.RETIRED)
    with pytest.raises(NoTariffPlanError):
        plan_for(2, at("2025-03-04 08:00"))


def test_publish_creates_the_next_version_and_closes_the_previous(seeded):
    user = UserFactory()
    switch = at("2026-07-01 00:00")
    plan = tariff_plan_publish(
        actor=user, area_class=1, valid_from=switch, now=NOW, day_first_unit_fen=300, day_later_unit_fen=450
    )
    v1 = TariffPlan.objects.get(code="bj-road-class-1", version=1)
    assert (plan.code, plan.version, plan.valid_to, plan.created_by) == ("bj-road-class-1", 2, None, user)
    assert (plan.night_unit_fen, plan.name, plan.vehicle_multipliers) == (
        100,
        v1.name,
        v1.vehicle_multipliers,
    )
    assert v1.valid_to == switch and v1.day_first_unit_fen == 250  # closed, never repriced
    assert plan_for(1, switch - dt.timedelta(seconds=1)).version == 1
    assert plan_for(1, switch).version == 2
    publish = AuditEntry.objects.get(action="parking.tariff_plan.publish")
    assert publish.changes["before"] == {"day_first_unit_fen": 250, "day_later_unit_fen": 375}
    assert publish.changes["after"] == {"day_first_unit_fen": 300, "day_later_unit_fen": 450}
    close = AuditEntry.objects.get(action="parking.tariff_plan.close")
    assert close.object_id == str(v1.pk) and "valid_to" in close.changes["after"]
    # A stay is priced under the version in force at its start, even when it ends later.
    late = tariff_quote(
        area_class=1, vehicle="small", start=at("2026-06-30 20:00"), end=at("2026-07-01 08:00")
    )
    assert late["plan"]["version"] == 1
    after = tariff_quote(
        area_class=1, vehicle="small", start=at("2026-07-02 08:00"), end=at("2026-07-02 09:30")
    )
    assert (after["amount_fen"], after["plan"]["version"]) == (4 * 300 + 2 * 450, 2)
    preview = tariff_quote(
        area_class=1, vehicle="small", start=at("2025-03-04 08:00"), end=at("2025-03-04 09:30"), at=switch
    )
    assert (preview["amount_fen"], preview["plan"]["version"]) == (2100, 2)


def _refused(code: str, **kwargs):
    before = list(TariffPlan.objects.values_list("pk", "valid_to", "version"))
    entries = AuditEntry.objects.count()
    with pytest.raises(ServiceError) as info:
        tariff_plan_publish(actor=None, now=NOW, **kwargs)
    assert info.value.error_code == code, info.value.details
    assert list(TariffPlan.objects.values_list("pk", "valid_to", "version")) == before  # nothing half-written
    assert AuditEntry.objects.count() == entries
    return info.value


def test_publish_refusals_write_nothing(seeded):
    err = _refused("valid_from_past", area_class=1, valid_from=at("2026-05-31 00:00"), day_first_unit_fen=300)
    assert "valid_from" in err.details
    _refused("invalid", area_class=1, valid_from=dt.datetime(2026, 7, 1), day_first_unit_fen=300)  # naive
    _refused("invalid", area_class=4, valid_from=at("2026-07-01 00:00"))
    _refused("invalid", area_class=1, valid_from=at("2026-07-01 00:00"), price=1)  # unknown field
    err = _refused("invalid", area_class=1, valid_from=at("2026-07-01 00:00"), day_start=dt.time(22))
    assert "day_end" in err.details
    _refused("invalid", area_class=1, valid_from=at("2026-07-01 00:00"), vehicle_multipliers={"small": 100})
    tariff_plan_publish(
        actor=None, area_class=1, valid_from=at("2026-08-01 00:00"), now=NOW, day_first_unit_fen=300
    )
    err = _refused("overlap", area_class=1, valid_from=at("2026-07-15 00:00"), day_first_unit_fen=280)
    assert "bj-road-class-1 v2" in err.details["valid_from"][0]
    _refused("overlap", area_class=1, valid_from=at("2026-08-01 00:00"), day_first_unit_fen=280)


def test_first_plan_of_a_class_needs_its_prices():
    _refused("invalid", area_class=2, valid_from=at("2026-07-01 00:00"), day_first_unit_fen=150)
    plan = tariff_plan_publish(
        actor=None,
        area_class=2,
        valid_from=at("2026-07-01 00:00"),
        now=NOW,
        name="二类",
        day_first_unit_fen=150,
        day_later_unit_fen=225,
        night_unit_fen=100,
    )
    assert (plan.code, plan.version, plan.vehicle_multipliers) == (
        "bj-road-class-2",
        1,
        {"small": 100, "large": 200},
    )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------


def quote_cli(*args) -> dict:
    out = StringIO()
    call_command("parking", "quote", *args, stdout=out)
    return json.loads(out.getvalue())


def test_cli_quote_prints_the_amount_lines_and_plan(seeded):
    result = quote_cli(
        "--area-class",
        "1",
        "--vehicle",
        "large",
        "--start",
        "2025-03-04T08:00:00+08:00",
        "--end",
        "2025-03-04T09:30:00+08:00",
    )
    assert result["amount_fen"] == 3500
    assert result["plan"] == {
        "code": "bj-road-class-1",
        "version": 1,
        "name": "北京市道路停车一类地区收费标准",
    }
    assert [line["amount_fen"] for line in result["lines"]] == [2000, 1500]
    assert result["lines"][0]["from"] == "2025-03-04T08:00:00+08:00"
    utc = quote_cli(
        "--area-class",
        "2",
        "--vehicle",
        "small",
        "--start",
        "2025-03-04T02:00Z",
        "--end",
        "2025-03-04T03:16Z",
    )
    assert utc["amount_fen"] == 1050


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--start", "2025-03-04T08:00", "--end", "2025-03-04T09:00+08:00"],
            "--start: '2025-03-04T08:00' has no UTC offset",
        ),
        (["--start", "2025-03-04T08:00+08:00", "--end", "tomorrow"], "--end: not an ISO 8601 timestamp"),
        (["--start", "2025-03-04T09:00+08:00", "--end", "2025-03-04T08:00+08:00"], "is before --start"),
        (
            ["--start", "2018-03-04T08:00+08:00", "--end", "2018-03-04T09:00+08:00"],
            "no active tariff plan for area class 1",
        ),
        (
            [
                "--start",
                "2025-03-04T08:00+08:00",
                "--end",
                "2025-03-04T09:00+08:00",
                "--at-plan-time",
                "2025-03-04",
            ],
            "--at-plan-time: '2025-03-04' has no UTC offset",
        ),
    ],
)
def test_cli_quote_bad_input_is_a_usage_error(seeded, args, message):
    with pytest.raises(CommandError, match=message) as info:
        quote_cli("--area-class", "1", "--vehicle", "small", *args)
    assert info.value.returncode == 2


GOVCENTER = [sys.executable, "-m", "govcenter.cli"]


def test_cli_on_a_fresh_database_exit_codes_and_one_line_errors(tmp_path):
    """A real process: migrate, quote before seeding (exit 2 with a hint), seed, quote."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GOVCENTER_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update({"GOVCENTER_DEBUG": "true", "GOVCENTER_VAR_DIR": str(tmp_path)})

    def run(*args):
        return subprocess.run([*GOVCENTER, *args], env=env, capture_output=True, text=True, timeout=180)

    assert run("migrate", "-v0").returncode == 0
    stay = ["--start", "2025-03-04T08:00:00+08:00", "--end", "2025-03-04T09:30:00+08:00"]
    before = run("parking", "quote", "--area-class", "1", "--vehicle", "small", *stay)
    assert before.returncode == 2
    assert "no active tariff plan for area class 1" in before.stderr and "govcenter seed" in before.stderr
    assert len(before.stderr.strip().splitlines()) == 1
    assert run("seed").returncode == 0
    good = run("parking", "quote", "--area-class", "1", "--vehicle", "small", *stay)
    assert good.returncode == 0, good.stderr
    assert json.loads(good.stdout)["amount_fen"] == 1750
    for bad in (
        ["--area-class", "4", "--vehicle", "small", *stay],
        ["--area-class", "1", "--vehicle", "bus", *stay],
        [
            "--area-class",
            "1",
            "--vehicle",
            "small",
            "--start",
            "2025-03-04T08:00",
            "--end",
            "2025-03-04T09:30+08:00",
        ],
    ):
        result = run("parking", "quote", *bad)
        assert result.returncode == 2, bad
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
