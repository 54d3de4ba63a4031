"""Monitoring demo data.

``load_small_demo()`` (``govcenter demo`` / ``make run``): eight targets of the demo O&M unit
pointing at this machine — the app's own ``/healthz``, PostgreSQL through Django, Redis,
RabbitMQ, NATS, Mosquitto, the disk, the bike-share ingest freshness — with the last hour of
results at 5-minute steps, a rule for each kind and a maintenance window next Sunday night.
Loaded once (seconds).

``load_demo(days=90)`` (``govcenter ops demo``): twenty targets with a quarter of history at
5-minute resolution (about 26,000 results a target), a few outages each (fired and resolved
alerts), written in bulk with their hourly rollups.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from govcenter.core.context import acting_as
from govcenter.core.models import Unit, User

from ..models import AlertEvent, MonitorTarget, ProbeResult
from . import services
from .probes import Outcome

DEMO_MARK = "（演示）"
HISTORY_MARK = "（历史）"
STEP = dt.timedelta(minutes=5)

SMALL_TARGETS = [
    ("本系统健康检查", "http", {"url": "http://127.0.0.1:8000/healthz"}),
    ("主数据库", "db", {"query": "SELECT 1"}),
    ("缓存 Redis", "redis", {"url": "redis://127.0.0.1:6379/3"}),
    ("消息队列 RabbitMQ", "broker", {"protocol": "amqp", "host": "127.0.0.1", "port": 5672}),
    ("消息总线 NATS", "broker", {"protocol": "nats", "host": "127.0.0.1", "port": 4222}),
    ("物联网 MQTT", "broker", {"protocol": "mqtt", "host": "127.0.0.1", "port": 1883}),
    ("应用服务器磁盘", "disk", {"path": "/", "min_free_pct": 10}),
    ("共享单车数据接入", "freshness", {"source": "bikeshare_ingest", "max_age_s": 300}),
]


def _actors():
    engineer = User.objects.filter(username="omengineer").first()
    unit = Unit.objects.filter(code="OM-ZHITONG").first()
    return engineer, unit


def load_small_demo() -> dict[str, int]:
    if MonitorTarget.objects.filter(name__startswith=DEMO_MARK).exists():
        return {}
    engineer, unit = _actors()
    if engineer is None or unit is None:
        return {}
    now = timezone.now().replace(second=0, microsecond=0)
    rng = random.Random(8)  # noqa: S311 (demo data)
    with acting_as(engineer, channel="demo"), transaction.atomic():
        targets = [
            services.target_save(actor=engineer, name=f"{DEMO_MARK}{name}", kind=kind, config=config, unit=unit,
                                 interval_s=60)  # fmt: skip
            for name, kind, config in SMALL_TARGETS
        ]
        services.rule_save(actor=engineer, name="服务不可达", unit=unit, target=targets[0], severity="S2")
        services.rule_save(actor=engineer, name="磁盘剩余不足 10%", unit=unit, kind="disk", condition="below",
                           threshold=10, severity="S3")  # fmt: skip
        services.rule_save(actor=engineer, name="单车数据超过 5 分钟未更新", unit=unit, kind="freshness",
                           condition="above", threshold=300, severity="S3", fire_after=2)  # fmt: skip
        sunday = timezone.localdate() + dt.timedelta(days=(6 - timezone.localdate().weekday()) or 7)
        start = timezone.make_aware(dt.datetime.combine(sunday, dt.time(23, 0)))
        services.window_create(actor=engineer, name="数据库小版本升级", unit=unit, targets=[targets[1]],
                               starts_at=start, ends_at=start + dt.timedelta(hours=2), with_collection=False)  # fmt: skip
        batch = []
        for target in targets:
            for i in range(12, 0, -1):
                value = {"disk": 42.0, "freshness": 40.0 + rng.random() * 30}.get(target.kind)
                batch.append((target.pk, now - i * STEP, Outcome(ok=True, latency_ms=rng.randint(1, 40), value=value,
                                                                  message="demo")))  # fmt: skip
        services.record_results(batch)
    return {"monitor_targets": len(targets), "probe_results": len(batch)}


HISTORY_KINDS = [("http", {"url": "https://svc-{i}.example.internal/healthz"}),
                 ("tcp", {"host": "10.10.0.{i}", "port": 5432}),
                 ("broker", {"protocol": "mqtt", "host": "10.10.1.{i}", "port": 1883}),
                 ("disk", {"path": "/data{i}"})]  # fmt: skip


def load_demo(*, days: int = 90, now: dt.datetime | None = None) -> dict[str, int]:
    """A quarter of history for twenty targets (idempotent: skipped when loaded)."""
    if MonitorTarget.objects.filter(name__startswith=HISTORY_MARK).exists():
        return {}
    engineer, unit = _actors()
    if engineer is None or unit is None:
        return {}
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    now = now - dt.timedelta(minutes=now.minute % 5)
    rng = random.Random(90)  # noqa: S311 (demo data)
    steps = int(dt.timedelta(days=days) / STEP)
    counts = {"monitor_targets": 0, "probe_results": 0, "alerts": 0}
    with acting_as(engineer, channel="demo"), transaction.atomic():
        targets = []
        for i in range(1, 21):
            kind, config = HISTORY_KINDS[i % len(HISTORY_KINDS)]
            config = {k: (v.format(i=i) if isinstance(v, str) else v) for k, v in config.items()}
            targets.append(services.target_save(actor=engineer, name=f"{HISTORY_MARK}{kind}-{i:02d}", kind=kind,
                                                 config=config, unit=unit, interval_s=300))  # fmt: skip
        down_rule = services.rule_save(actor=engineer, name="历史：服务不可达", unit=unit, kind="http", severity="S2",
                                       fire_after=2, resolve_after=2)  # fmt: skip
        counts["monitor_targets"] = len(targets)
        start = now - steps * STEP
        events = []
        for target in targets:
            outages = []
            for _ in range(rng.randint(1, 4)):  # a few outages of 10 minutes to 3 hours
                begin = rng.randrange(steps)
                outages.append((begin, begin + rng.randint(2, 36)))
            rows, rollup = [], defaultdict(lambda: [0, 0, 0])
            base_latency = rng.randint(5, 60)
            for n in range(steps):
                at = start + n * STEP
                ok = not any(b <= n < e for b, e in outages)
                latency = base_latency + rng.randint(0, 20) if ok else 5000
                value = round(60 - 20 * n / steps + rng.random(), 1) if target.kind == "disk" else None
                rows.append(ProbeResult(target_id=target.pk, started_at=at, ok=ok, latency_ms=latency, value=value,
                                        message="" if ok else "timeout"))  # fmt: skip
                cell = rollup[(target.pk, services.hour_of(at))]
                cell[0] += 1
                cell[1] += int(ok)
                cell[2] += latency
            ProbeResult.objects.bulk_create(rows, batch_size=5000)
            services.add_rollups(rollup)
            counts["probe_results"] += len(rows)
            if target.kind == "http":
                for b, e in outages:
                    events.append(AlertEvent(rule=down_rule, target=target, kind="fired", at=start + (b + 1) * STEP,
                                             message="timeout"))  # fmt: skip
                    events.append(AlertEvent(rule=down_rule, target=target, kind="resolved", at=start + (e + 1) * STEP))
            last = rows[-1]
            MonitorTarget.objects.filter(pk=target.pk).update(
                last_run_at=last.started_at, last_ok=last.ok, last_latency_ms=last.latency_ms, last_value=last.value,
                last_success_at=max((r.started_at for r in rows[-50:] if r.ok), default=None),
            )  # fmt: skip
        AlertEvent.objects.bulk_create(events)
        counts["alerts"] = sum(1 for e in events if e.kind == "fired")
    return counts
