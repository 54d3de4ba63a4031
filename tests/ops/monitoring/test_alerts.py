"""Alert rules with flap damping on recorded results: N bad before firing, M good before
resolving, the hold-off after a resolve; maintenance windows suppress alerts and keep results
out of uptime; a fired alert opens one incident per fingerprint (rule + target)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry
from govcenter.ops.models import AlertEvent, AlertState, Incident, ProbeHourly, ProbeResult
from govcenter.ops.monitoring import services as svc
from govcenter.ops.monitoring.probes import Outcome

OK, BAD = Outcome(ok=True, latency_ms=10), Outcome(ok=False, latency_ms=3000, message="timeout")


def make_target(team, name="api", kind="tcp", config=None, unit=None):
    return svc.target_save(actor=team["engineer"], name=name, kind=kind, unit=unit or team["unit"],
                           config=config or {"host": "127.0.0.1", "port": 9}, interval_s=60)  # fmt: skip


def feed(target, pattern: str, start: dt.datetime, step_s: int = 60, value=None) -> list:
    """Record one result per character: ``+`` good, ``-`` bad (or values for threshold rules)."""
    summaries = []
    for i, mark in enumerate(pattern):
        outcome = OK if mark == "+" else BAD
        if value is not None:
            outcome = Outcome(ok=True, latency_ms=5, value=value[i])
        summaries.append(svc.record_results([(target.pk, start + dt.timedelta(seconds=step_s * i), outcome)]))
    return summaries


@pytest.fixture
def base():
    return timezone.now().replace(microsecond=0) - dt.timedelta(hours=3)


def test_fires_after_n_bad_and_resolves_after_m_good_once(team, base):
    target = make_target(team)
    rule = svc.rule_save(actor=team["engineer"], name="API 不可达", unit=team["unit"], target=target,
                         severity="S2", fire_after=3, resolve_after=2, holdoff_s=0)  # fmt: skip
    feed(target, "--+--", base)  # two bad, a good one breaks the streak, two bad: no alert yet
    state = AlertState.objects.get(rule=rule, target=target)
    assert state.status == "pending" and state.bad_streak == 2 and not Incident.objects.exists()
    (summary,) = feed(target, "-", base + dt.timedelta(minutes=5))
    state.refresh_from_db()
    assert summary.fired == 1 and state.status == "firing"
    incident = Incident.objects.get()
    assert incident.source == "alert" and incident.severity == "S2" and incident.unit == team["unit"]
    assert incident.alert_key == f"am:mon-r{rule.pk}-t{target.pk}" and state.incident_number == incident.number
    assert incident.reported_at == base + dt.timedelta(minutes=5)
    feed(target, "---+", base + dt.timedelta(minutes=6))  # still firing, one good is not enough
    state.refresh_from_db()
    assert state.status == "firing" and Incident.objects.count() == 1
    (summary,) = feed(target, "+", base + dt.timedelta(minutes=10))
    state.refresh_from_db()
    assert summary.resolved == 1 and state.status == "ok" and state.resolved_at == base + dt.timedelta(minutes=10)
    assert list(AlertEvent.objects.order_by("at").values_list("kind", flat=True)) == ["fired", "resolved"]
    assert AuditEntry.objects.filter(action="ops.monitor.alert.fire").count() == 1


def test_refire_while_the_incident_is_open_finds_the_same_incident(team, base):
    target = make_target(team)
    svc.rule_save(actor=team["engineer"], name="down", unit=team["unit"], target=target, fire_after=1,
                  resolve_after=1, holdoff_s=0)  # fmt: skip
    feed(target, "-+-+-", base)
    assert AlertEvent.objects.filter(kind="fired").count() == 3
    assert Incident.objects.count() == 1  # one open incident per fingerprint


def test_holdoff_holds_a_refire_then_lets_it_through(team, base):
    target = make_target(team)
    rule = svc.rule_save(actor=team["engineer"], name="down", unit=team["unit"], target=target, fire_after=2,
                         resolve_after=1, holdoff_s=600)  # fmt: skip
    feed(target, "--+", base)  # fires at +1 min, resolves at +2 min
    feed(target, "--", base + dt.timedelta(minutes=3))  # bad again 1–2 minutes after the resolve: held
    state = AlertState.objects.get(rule=rule)
    assert state.status == "pending" and AlertEvent.objects.filter(kind="held").count() == 1
    assert AlertEvent.objects.filter(kind="fired").count() == 1
    feed(target, "-" * 8, base + dt.timedelta(minutes=5))  # still bad when the hold-off is over (+12 min)
    state.refresh_from_db()
    assert state.status == "firing" and state.fired_at == base + dt.timedelta(minutes=12)
    assert AlertEvent.objects.filter(kind="fired").count() == 2 and AlertEvent.objects.filter(kind="held").count() == 1


def test_threshold_rules_on_values_for_all_targets_of_a_kind(team, base, tmp_path):
    disk = make_target(team, name="disk", kind="disk", config={"path": str(tmp_path)})
    theirs = svc.target_save(actor=team["stranger"], name="disk-b", kind="disk", unit=team["other_unit"],
                             config={"path": str(tmp_path)})  # fmt: skip
    svc.rule_save(actor=team["engineer"], name="磁盘空间不足", unit=team["unit"], kind="disk", condition="below",
                  threshold=10, fire_after=2, resolve_after=1, holdoff_s=0)  # fmt: skip
    feed(disk, "xxx", base, value=[30.0, 8.0, 7.5])
    feed(theirs, "xxx", base, value=[1.0, 1.0, 1.0])  # the rule is unit A's: unit B's disk is not its business
    state = AlertState.objects.get(target=disk)
    assert state.status == "firing" and Incident.objects.count() == 1
    assert not AlertState.objects.filter(target=theirs).exists()
    feed(disk, "x", base + dt.timedelta(minutes=5), value=[50.0])
    state.refresh_from_db()
    assert state.status == "ok"
    # a failed probe carries no value: a threshold rule neither fires nor resolves on it
    svc.record_results([(disk.pk, base + dt.timedelta(minutes=6), BAD)])
    state.refresh_from_db()
    assert state.bad_streak == 0 and state.good_streak == 1


def test_maintenance_suppresses_alerts_and_is_left_out_of_uptime(team, base):
    target = make_target(team)
    svc.rule_save(actor=team["engineer"], name="down", unit=team["unit"], target=target, fire_after=2,
                  resolve_after=1, holdoff_s=0)  # fmt: skip
    svc.window_create(actor=team["engineer"], name="升级", unit=team["unit"], targets=[target],
                      starts_at=base, ends_at=base + dt.timedelta(minutes=10))  # fmt: skip
    feed(target, "-----", base)  # all inside the window
    assert not AlertState.objects.exists() and not Incident.objects.exists()
    assert ProbeResult.objects.filter(maintenance=True).count() == 5
    assert not ProbeHourly.objects.exists()
    feed(target, "++", base + dt.timedelta(minutes=10))
    assert svc.uptime([target.pk], base, base + dt.timedelta(hours=1)) == {target.pk: (2, 2)}


def test_uptime_arithmetic_over_hours(team, base):
    a, b = make_target(team, name="a"), make_target(team, name="b")
    hour = svc.hour_of(base)
    feed(a, "+" * 50 + "-" * 10, hour)  # hour 1: 50 of 60
    feed(a, "+" * 60, hour + dt.timedelta(hours=1))  # hour 2: 60 of 60
    feed(b, "-" * 30, hour)
    got = svc.uptime(None, hour, hour + dt.timedelta(hours=2))
    assert got == {a.pk: (110, 120), b.pk: (0, 30)}
    assert svc.percent(*got[a.pk]) == pytest.approx(91.667, abs=0.001)
    assert svc.uptime([a.pk], hour + dt.timedelta(hours=1), hour + dt.timedelta(hours=2)) == {a.pk: (60, 60)}
    assert svc.percent(0, 0) is None
    row = ProbeHourly.objects.get(target=a, hour=hour)
    assert row.latency_ms_sum == 50 * 10 + 10 * 3000


def test_rules_and_targets_are_checked_and_audited(team):
    target = make_target(team)
    assert AuditEntry.objects.filter(action="ops.monitor.target.create").count() == 1
    with pytest.raises(ServiceError) as err:
        svc.rule_save(actor=team["engineer"], name="x", unit=team["unit"], target=target, kind="tcp")
    assert "kind" in err.value.details
    with pytest.raises(ServiceError):
        svc.rule_save(actor=team["engineer"], name="x", unit=team["unit"], kind="disk", condition="below")
    with pytest.raises(ServiceError) as err:  # another unit: outside the caller's scope
        make_target(team, name="theirs", unit=team["other_unit"])
    assert "unit" in err.value.details
    with pytest.raises(ServiceError) as err:
        make_target(team)  # the same name
    assert err.value.status_code == 409
