"""Licence and certificate expiry (许可、证书到期提醒).

``expiring()`` lists the in-service assets whose licence or certificate expires within the
largest threshold of ``settings.GOVCENTER_OPS_CMDB_EXPIRY_DAYS`` (default 60/30/7 days) — or
has expired — each with the tightest threshold it has crossed. ``raise_alerts()`` (the daily
Huey task) turns them into incidents through ``incidents.incidents_from_alerts``: one alert
per asset + kind + threshold (the fingerprint), so the same threshold never opens a second
incident while the first is open, and crossing the next threshold opens a new one.
Severity: the tightest threshold (and expired) S2, the middle ones S3, the widest S4.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..incidents import SYSTEM
from ..models import Asset, AssetStatus

KINDS = {"licence": "licence_expires_on", "cert": "cert_expires_on"}
KIND_LABELS = {"licence": "许可", "cert": "证书"}


@dataclass(frozen=True)
class Expiry:
    asset: Asset
    kind: str  # licence | cert
    expires_on: dt.date
    days_left: int
    threshold: int  # the tightest threshold crossed

    @property
    def fingerprint(self) -> str:
        return f"cmdb-expiry:{self.asset.code}:{self.kind}:{self.threshold}"

    @property
    def severity(self) -> str:
        thresholds = thresholds_days()
        if self.threshold == thresholds[-1]:
            return "S2"
        return "S4" if self.threshold == thresholds[0] and len(thresholds) > 1 else "S3"


def thresholds_days() -> list[int]:
    """The thresholds, largest first."""
    return sorted(settings.GOVCENTER_OPS_CMDB_EXPIRY_DAYS, reverse=True)


def expiring(queryset=None, *, today: dt.date | None = None) -> list[Expiry]:
    """The expiries within the widest threshold (expired included), soonest first."""
    today = today or timezone.localdate()
    thresholds = thresholds_days()
    horizon = today + dt.timedelta(days=thresholds[0])
    qs = (queryset if queryset is not None else Asset.objects.all()).exclude(status=AssetStatus.RETIRED)
    qs = qs.filter(Q(licence_expires_on__lte=horizon) | Q(cert_expires_on__lte=horizon)).select_related("unit")
    found = []
    for asset in qs:
        for kind, field in KINDS.items():
            date = getattr(asset, field)
            if date is None or date > horizon:
                continue
            left = (date - today).days
            threshold = min(t for t in thresholds if t >= left) if left >= 0 else thresholds[-1]
            found.append(Expiry(asset, kind, date, left, threshold))
    return sorted(found, key=lambda e: (e.days_left, e.asset.code, e.kind))




def raise_alerts(*, today: dt.date | None = None, actor=None) -> dict[str, list[str]]:
    """Open an incident for every expiry (or find the open one of its fingerprint); returns
    ``{"opened": [numbers], "existing": [numbers]}``."""
    from ..incidents import incidents_from_alerts

    items = expiring(today=today)
    now = timezone.now()
    alerts = []
    for e in items:
        state = f"已于 {e.expires_on:%Y-%m-%d} 过期" if e.days_left < 0 else f"将于 {e.expires_on:%Y-%m-%d} 到期（剩 {e.days_left} 天）"
        alerts.append({
            "status": "firing",
            "labels": {"alertname": "CmdbExpiry", "severity": e.severity.lower(), "unit": e.asset.unit.code,
                       "asset": e.asset.code, "kind": e.kind, "threshold": str(e.threshold)},
            "annotations": {
                "summary": f"{e.asset.code} {e.asset.name} {KIND_LABELS[e.kind]}{state}"[:200],
                "description": f"{KIND_LABELS[e.kind]}到期提醒（{e.threshold} 天阈值）。资产：{e.asset}",
            },
            "startsAt": now,
            "fingerprint": e.fingerprint,
        })  # fmt: skip
    if not alerts:
        return {"opened": [], "existing": []}
    opened, existing = incidents_from_alerts(actor=actor or SYSTEM, alerts=alerts,
                                             severities={"s2": "S2", "s3": "S3", "s4": "S4"})  # fmt: skip
    return {"opened": opened, "existing": existing}
