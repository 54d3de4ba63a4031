"""Prometheus metrics of the monitor on the existing ``/metrics`` endpoint (django_prometheus,
the default ``prometheus_client`` registry): a collector reading the latest result kept on
each enabled target at scrape time — ``govcenter_probe_up``, ``govcenter_probe_latency_seconds``,
``govcenter_probe_value``, ``govcenter_probe_last_run_timestamp_seconds``,
``govcenter_probe_last_success_timestamp_seconds`` (labels ``target``, ``kind``, ``unit``) and
``govcenter_alerts_firing``."""

from __future__ import annotations

import logging

from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)
LABELS = ["target", "kind", "unit"]


class MonitorCollector:
    def describe(self):
        return []  # collected lazily (no database access at registration)

    def collect(self):
        from ..models import AlertState, AlertStatus, MonitorTarget

        try:
            rows = list(
                MonitorTarget.objects.filter(enabled=True).values_list(
                    "name", "kind", "unit__code", "last_ok", "last_latency_ms", "last_value", "last_run_at",
                    "last_success_at",
                )
            )
            firing = AlertState.objects.filter(status=AlertStatus.FIRING).count()
        except Exception:  # noqa: BLE001 (a scrape must not fail because the database is away)
            log.warning("monitor metrics: database not readable", exc_info=True)
            return
        up = GaugeMetricFamily("govcenter_probe_up", "1 if the latest probe succeeded", labels=LABELS)
        latency = GaugeMetricFamily("govcenter_probe_latency_seconds", "latency of the latest probe", labels=LABELS)
        value = GaugeMetricFamily("govcenter_probe_value", "value measured by the latest probe", labels=LABELS)
        last = GaugeMetricFamily("govcenter_probe_last_run_timestamp_seconds", "time of the latest probe", labels=LABELS)
        ok_at = GaugeMetricFamily("govcenter_probe_last_success_timestamp_seconds", "time of the latest success",
                                  labels=LABELS)  # fmt: skip
        for name, kind, unit, last_ok, ms, val, run_at, success_at in rows:
            labels = [name, kind, unit]
            if last_ok is not None:
                up.add_metric(labels, 1.0 if last_ok else 0.0)
            if ms is not None:
                latency.add_metric(labels, ms / 1000)
            if val is not None:
                value.add_metric(labels, val)
            if run_at is not None:
                last.add_metric(labels, run_at.timestamp())
            if success_at is not None:
                ok_at.add_metric(labels, success_at.timestamp())
        yield from (up, latency, value, last, ok_at)
        yield GaugeMetricFamily("govcenter_alerts_firing", "monitor alerts firing now", value=firing)


_registered = False


def register_collector() -> None:
    """Register once per process (``apps.ready``)."""
    global _registered
    if _registered:
        return
    from prometheus_client import REGISTRY

    REGISTRY.register(MonitorCollector())
    _registered = True
