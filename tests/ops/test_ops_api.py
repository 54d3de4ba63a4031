"""/api/v1/ops/: the Alertmanager webhook opens incidents from firing alerts (once per
fingerprint, all or nothing), and the incidents with their clock, in the caller's scope."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from govcenter.ops.models import Incident
from tests.factories import UserFactory
from tests.ops.test_incidents import team  # noqa: F401  (fixture)


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def payload(*alerts) -> dict:
    return {"version": "4", "status": "firing", "receiver": "govcenter", "alerts": list(alerts)}


def alert(name: str, severity: str, *, status: str = "firing", fingerprint: str = "", **labels) -> dict:
    return {"status": status, "labels": {"alertname": name, "severity": severity, **labels},
            "annotations": {"summary": f"{name} 告警", "description": "详情"},
            "startsAt": "2026-11-24T01:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": fingerprint}  # fmt: skip


def test_firing_alerts_open_incidents_once(team):  # noqa: F811
    client = api(team["engineer"])
    body = payload(alert("DiskFull", "warning", fingerprint="fp1"), alert("ApiDown", "critical", unit="OM-A"),
                   alert("Old", "info", status="resolved"))  # fmt: skip
    first = client.post("/api/v1/ops/alerts", body, format="json")
    assert first.status_code == 200, first.json()
    assert len(first.json()["opened"]) == 2 and first.json()["resolved_ignored"] == 1
    api_down = Incident.objects.get(title="ApiDown 告警")
    assert api_down.severity == "S1" and api_down.source == "alert" and api_down.unit == team["unit"]
    assert api_down.reported_at.isoformat() == "2026-11-24T01:00:00+00:00" and api_down.day_kind == "workday"
    again = client.post("/api/v1/ops/alerts", body, format="json").json()
    assert again["opened"] == [] and sorted(again["existing"]) == sorted(first.json()["opened"])
    assert Incident.objects.count() == 2


def test_a_bad_alert_refuses_the_whole_payload(team):  # noqa: F811
    client = api(team["engineer"])
    bad = client.post("/api/v1/ops/alerts", payload(alert("A", "warning"), alert("B", "loud")), format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"code", "message", "details"}
    outside = client.post("/api/v1/ops/alerts", payload(alert("A", "warning"), alert("C", "warning", unit="OM-B")),
                          format="json")  # fmt: skip
    assert outside.status_code == 400 and "1" in outside.json()["details"]["alerts"]
    assert not Incident.objects.exists()
    nobody = api(UserFactory()).post("/api/v1/ops/alerts", payload(alert("A", "warning")), format="json")
    assert nobody.status_code == 403 and nobody.json()["code"] == "permission_denied"


def test_incidents_with_their_clock_in_scope(team):  # noqa: F811
    api(team["engineer"]).post("/api/v1/ops/alerts", payload(alert("ApiDown", "critical")), format="json")
    listed = api(team["engineer"]).get("/api/v1/ops/incidents/").json()
    (row,) = listed["results"]
    assert row["clock"]["policy"]["respond_minutes"] == 30 and row["clock"]["day_kind"] == "workday"
    assert api(team["stranger"]).get("/api/v1/ops/incidents/").json()["results"] == []
    assert api(team["stranger"]).get(f"/api/v1/ops/incidents/{row['id']}/").status_code == 404
    assert api(team["engineer"]).get("/api/v1/ops/incidents/?state=closed").json()["results"] == []


@pytest.mark.django_db
def test_the_webhook_needs_a_signed_in_caller():
    assert APIClient().post("/api/v1/ops/alerts", payload(alert("A", "warning")), format="json").status_code in (401, 403)
