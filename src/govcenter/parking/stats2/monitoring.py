"""数据监控情况统计 (statistic 6) — device health, heartbeat gaps, anomalies, recognition confidence.

From two lake data sets (``parking/lake/sync.py``):

* ``device_days`` — one row per device per Beijing day, aggregated from the device events
  (big; never read in a request) and the offline periods: events, park events and those that
  were anomalies, observed / offline / online seconds, the longest silence and the silences
  per bucket, plate reads and their confidence per bucket;
* ``anomalies`` — one row per parking anomaly record (kind, status, road/segment of its event).

The view is both, stacked (``UNION ALL BY NAME``: an anomaly row has no device measures, a
device row no anomaly), so every measure drills city → district → road → segment and the rows
sum to the totals. Definitions:

* ``online_rate`` = online hours / observed hours of the device days (observed: the day up to
  when its row was computed; offline: inside the device's offline periods — monitoring opens
  one after ``GOVCENTER_PARKING_DEVICE_OFFLINE_MINUTES`` of silence, ``comms_lost`` too);
* a *silence* (heartbeat gap) is the time between two consecutive events of a device (every
  stored event is a heartbeat), and from the day's start to the first / the last to the end;
  ``long_gaps`` counts silences of an hour or more;
* ``completeness`` = park events that became clean parts of an order / all park events
  (1 − park anomalies / park events): the share of the district's curb events received
  complete (a start with its end);
* ``mean_confidence`` = mean plate-recognition confidence of the events carrying one;
  ``low_confidence_rate`` = share below 0.8.

The device's place is its current binding (segment, road); an unbound device has none, so
its rows drill no deeper than the district.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from ..lake.sync import CONFIDENCE_BUCKETS, GAP_BUCKETS
from ..models.devices import DeviceKind
from ..models.events import ParkingAnomaly
from .framework import Breakdown, Measure, Statistic, mean, ratio, register

GAP_LABELS = {
    "lt10m": _("10 分钟以内"),
    "10m_1h": _("10 分钟–1 小时"),
    "1h_4h": _("1–4 小时"),
    "4h_12h": _("4–12 小时"),
    "ge12h": _("12 小时以上"),
}
CONFIDENCE_LABELS = {
    "lt60": _("低于 60%"),
    "60_80": _("60%–80%"),
    "80_90": _("80%–90%"),
    "90_95": _("90%–95%"),
    "ge95": _("95% 及以上"),
}
ANOMALY_STATUS = dict(ParkingAnomaly.Status.choices)

VIEW = """(
    SELECT *, 0 AS anomalies, 0 AS open_anomalies, NULL::VARCHAR AS anomaly_kind FROM device_days
    UNION ALL BY NAME
    SELECT date, district_id, managing_unit_id, road_id, segment_id, device_kind, 1 AS anomalies,
           CASE WHEN status = 'open' THEN 1 ELSE 0 END AS open_anomalies, kind AS anomaly_kind
    FROM anomalies
) AS monitoring"""


def _completeness(row: dict) -> float | None:
    n = row.get("park_events") or 0
    return round(1 - (row.get("park_anomalies") or 0) / n, 4) if n else None


def _low_confidence(row: dict) -> float | None:
    n = row.get("plate_reads") or 0
    return round((row.get("low_confidence_reads") or 0) / n, 4) if n else None


def _sections(con, where, params, tokens, user, q, *, root=None, cube=True) -> list[dict]:
    """Silences and confidence per bucket (columns of the device days), anomalies by kind × status."""
    gap_sql = ", ".join(f"coalesce(sum(gaps_{k}), 0)" for k, _hi in GAP_BUCKETS)
    conf_sql = ", ".join(f"coalesce(sum(conf_{k}), 0)" for k, _hi in CONFIDENCE_BUCKETS)
    # Only names of this module and "?" placeholders reach the SQL text.
    gaps = con.execute(f"SELECT {gap_sql} FROM device_days WHERE {where}", params).fetchone()  # noqa: S608
    conf = con.execute(f"SELECT {conf_sql} FROM device_days WHERE {where}", params).fetchone()  # noqa: S608
    kinds = con.execute(
        f"SELECT kind, count(*), count(*) FILTER (WHERE status = 'open'), "  # noqa: S608
        f"count(*) FILTER (WHERE status = 'resolved'), count(*) FILTER (WHERE status = 'dismissed') "
        f"FROM anomalies WHERE {where} GROUP BY kind",
        params,
    ).fetchall()
    by_kind = {k: r for k, *r in kinds}
    gap_total = sum(gaps) or 0
    conf_total = sum(conf) or 0
    return [
        {
            "key": "gaps",
            "title": str(_("心跳间隔分布")),
            "columns": [
                ("bucket", str(_("间隔")), "text"),
                ("gaps", str(_("间隔次数")), "count"),
                ("share", str(_("占比")), "percent"),
            ],
            "rows": [
                {
                    "bucket": str(GAP_LABELS[k]),
                    "gaps": int(n),
                    "share": round(n / gap_total, 4) if gap_total else None,
                }
                for (k, _hi), n in zip(GAP_BUCKETS, gaps, strict=True)
            ],
        },
        {
            "key": "confidence",
            "title": str(_("车牌识别置信度分布")),
            "columns": [
                ("bucket", str(_("置信度")), "text"),
                ("reads", str(_("识别次数")), "count"),
                ("share", str(_("占比")), "percent"),
            ],
            "rows": [
                {
                    "bucket": str(CONFIDENCE_LABELS[k]),
                    "reads": int(n),
                    "share": round(n / conf_total, 4) if conf_total else None,
                }
                for (k, _hi), n in zip(CONFIDENCE_BUCKETS, conf, strict=True)
            ],
        },
        {
            "key": "anomaly_kinds",
            "title": str(_("异常记录按类型")),
            "columns": [
                ("kind", str(_("异常类型")), "text"),
                ("anomalies", str(_("异常记录数")), "count"),
                ("open", str(ANOMALY_STATUS["open"]), "count"),
                ("resolved", str(ANOMALY_STATUS["resolved"]), "count"),
                ("dismissed", str(ANOMALY_STATUS["dismissed"]), "count"),
            ],
            "rows": [
                {
                    "kind": str(label),
                    **dict(
                        zip(
                            ("anomalies", "open", "resolved", "dismissed"),
                            [int(x) for x in by_kind.get(kind, (0, 0, 0, 0))],
                            strict=True,
                        )
                    ),
                }
                for kind, label in ParkingAnomaly.Kind.choices
            ],
        },
    ]


MONITORING = register(
    Statistic(
        slug="monitoring",
        number=6,
        title=_("数据监控情况统计"),
        description=_(
            "设备在线率、心跳间隔、异常记录（有驶离无驶入、停车时段重叠等）、车牌识别置信度与各区数据完整率。"
        ),
        view=VIEW,
        datasets=("device_days", "anomalies"),
        filters=("district", "road", "segment"),
        measures=(
            Measure("device_days", _("设备日数"), "count(device_id)"),
            Measure("observed_hours", _("监测时长"), "coalesce(sum(observed_s), 0) / 3600.0", "hours"),
            Measure("online_hours", _("在线时长"), "coalesce(sum(online_s), 0) / 3600.0", "hours"),
            Measure(
                "online_rate", _("设备在线率"), unit="percent", derive=ratio("online_hours", "observed_hours")
            ),
            Measure("events", _("接收事件数"), "coalesce(sum(events), 0)"),
            Measure(
                "long_gaps",
                _("1 小时以上心跳间隔"),
                "coalesce(sum(gaps_1h_4h + gaps_4h_12h + gaps_ge12h), 0)",
            ),
            Measure(
                "longest_gap_hours", _("最长心跳间隔"), "coalesce(max(longest_gap_s), 0) / 3600.0", "hours"
            ),
            Measure("park_events", _("驶入驶离事件数"), "coalesce(sum(park_events), 0)"),
            Measure("park_anomalies", _("异常驶入驶离事件数"), "coalesce(sum(park_anomalies), 0)"),
            Measure("completeness", _("数据完整率"), unit="percent", derive=_completeness),
            Measure("plate_reads", _("车牌识别次数"), "coalesce(sum(plate_reads), 0)"),
            Measure("confidence_milli", _("置信度合计（‰）"), "coalesce(sum(confidence_milli), 0)"),
            Measure(
                "mean_confidence",
                _("平均识别置信度"),
                unit="percent",
                derive=mean("confidence_milli", "plate_reads", scale=1000, digits=4),
            ),
            Measure(
                "low_confidence_reads", _("低置信度识别次数"), "coalesce(sum(conf_lt60 + conf_60_80), 0)"
            ),
            Measure("low_confidence_rate", _("低置信度占比"), unit="percent", derive=_low_confidence),
            Measure("anomalies", _("异常记录数"), "coalesce(sum(anomalies), 0)"),
            Measure("open_anomalies", _("待处理异常"), "coalesce(sum(open_anomalies), 0)"),
        ),
        kpis=("online_rate", "completeness", "mean_confidence", "anomalies"),
        chart_measures=("online_rate", "completeness"),
        breakdowns=(
            Breakdown(
                "device_kind",
                _("按设备类型"),
                "device_kind",
                ("device_days", "online_hours", "online_rate", "events", "anomalies"),
                labels=lambda v: str(dict(DeviceKind.choices).get(v, v)),
                order=tuple(DeviceKind.values),
            ),
            Breakdown(
                "by_day",
                _("按日"),
                "date",
                ("device_days", "online_rate", "completeness", "anomalies"),
                labels=lambda d: d.isoformat(),
                order="key",
                chart="line",
            ),
        ),
        sections=_sections,
    )
)
