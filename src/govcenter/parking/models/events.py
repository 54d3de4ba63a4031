"""Device events (CDS Curb Events), parking anomalies and the per-source rejection counters.

A :class:`DeviceEvent` row is the immutable record of one event the system took in
(outcome ``accepted`` or ``anomaly``); its primary key is the publisher's ``event_id``, the
idempotency key, so a repeated submission is found by one index look-up and never
processed twice. ``duplicate`` and ``rejected`` are outcomes of a *submission*, reported
to the device in the per-event result list but not stored as events: a rejected event
(malformed, impossible, not the device's space …) may be corrected and re-sent with the
same id. Every rejection is counted in :class:`IngestRejection` per source and reason.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

# CDS 1.1 event_type values (Shared Data Models/event_type.yaml).
CDS_EVENT_TYPES = (
    "comms_lost",
    "comms_restored",
    "decommissioned",
    "park_start",
    "park_end",
    "scheduled_report",
    "enter_area",
    "exit_area",
    "vehicle_detected",
    "vehicle_violation_start",
    "vehicle_violation_end",
    "citation_issued",
)
# CDS 1.1 data_source_type values (Shared Data Models/data_source_type.yaml).
CDS_DATA_SOURCE_TYPES = (
    "data_feed",
    "camera",
    "above_ground",
    "in_ground",
    "meter",
    "payment",
    "in_person",
    "other",
)


class EventType(models.TextChoices):
    """The CDS event types this system processes (others are refused as unsupported)."""

    PARK_START = "park_start", _("驶入")
    PARK_END = "park_end", _("驶离")
    COMMS_LOST = "comms_lost", _("通信中断")
    COMMS_RESTORED = "comms_restored", _("通信恢复")
    SCHEDULED_REPORT = "scheduled_report", _("定时上报")
    ENTER_AREA = "enter_area", _("进入区域")
    EXIT_AREA = "exit_area", _("离开区域")


class DataSourceType(models.TextChoices):
    DATA_FEED = "data_feed", _("数据接口")
    CAMERA = "camera", _("视频")
    ABOVE_GROUND = "above_ground", _("地上传感器")
    IN_GROUND = "in_ground", _("地磁")
    METER = "meter", _("咪表")
    PAYMENT = "payment", _("支付")
    IN_PERSON = "in_person", _("人工")
    OTHER = "other", _("其他")


class Outcome(models.TextChoices):
    ACCEPTED = "accepted", _("已接收")
    DUPLICATE = "duplicate", _("重复")
    ANOMALY = "anomaly", _("异常待核")
    REJECTED = "rejected", _("拒收")


class DeviceEvent(ScopedModel):
    """One CDS curb event taken in from a device (HTTP or MQTT)."""

    event_id = models.UUIDField(_("事件标识"), primary_key=True)
    # db_index=False on device, district and space: the (…, event_time) indexes in Meta start
    # with each of them (migration 0014_scale).
    device = models.ForeignKey(
        "parking.Device",
        verbose_name=_("设备"),
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    event_type = models.CharField(_("事件类型"), max_length=20, choices=EventType.choices)
    data_source_type = models.CharField(_("数据来源类型"), max_length=14, choices=DataSourceType.choices)
    event_time = models.DateTimeField(_("事件时间"))
    received_at = models.DateTimeField(_("接收时间"))
    transport = models.CharField(_("接入方式"), max_length=8, default="http")
    # district, managing_unit and segment are copies of the space's (or the device's), written
    # by the ingest service for scope filtering: no database FK (db_constraint=False) — the
    # space and device FKs carry the integrity, and a per-row FK check on each copy cost about
    # a fifth of the ingest rate (migration 0015_ingest_constraints, docs/decisions/0004).
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        on_delete=models.PROTECT,
        related_name="parking_events",
        db_index=False,
        db_constraint=False,
    )
    managing_unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("管理单位"),
        on_delete=models.PROTECT,
        related_name="parking_events",
        db_constraint=False,
    )
    segment = models.ForeignKey(
        "parking.Segment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_constraint=False,
    )
    space = models.ForeignKey(
        "parking.Space",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="events",
        db_index=False,
    )
    plate = models.CharField(_("车牌号"), max_length=12, blank=True)
    plate_confidence = models.FloatField(_("识别置信度"), null=True, blank=True)
    vehicle_class = models.CharField(_("车型"), max_length=8, blank=True)
    payload = models.JSONField(_("原始事件"), default=dict)
    outcome = models.CharField(_("处理结果"), max_length=10, choices=Outcome.choices)
    reason = models.CharField(_("原因代码"), max_length=40, blank=True)
    order = models.ForeignKey(
        "parking.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-event_time"]
        verbose_name = _("设备事件")
        verbose_name_plural = _("设备事件")
        indexes = [
            models.Index(fields=["device", "event_time"]),
            models.Index(fields=["space", "event_time"]),
            models.Index(fields=["district", "event_time"]),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class ParkingAnomaly(ScopedModel):
    """An event that could not be turned into a clean order, kept for review (never an error to the device)."""

    class Kind(models.TextChoices):
        END_WITHOUT_START = "end_without_start", _("有驶离无驶入")
        OVERLAPPING_STAY = "overlapping_stay", _("停车时段重叠")
        UNKNOWN_SPACE = "unknown_space", _("未知泊位")
        IMPOSSIBLE_TIME = "impossible_time", _("时间不合理")
        SPACE_CLOSED = "space_closed", _("泊位停用期间有车")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        RESOLVED = "resolved", _("已处理")
        DISMISSED = "dismissed", _("已忽略")

    kind = models.CharField(_("异常类型"), max_length=20, choices=Kind.choices)
    event = models.ForeignKey(DeviceEvent, on_delete=models.PROTECT, related_name="anomalies")
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_anomalies"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_anomalies"
    )
    space = models.ForeignKey("parking.Space", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    event_time = models.DateTimeField(_("事件时间"))
    order = models.ForeignKey(
        "parking.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="anomalies"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    resolution_note = models.CharField(_("处理说明"), max_length=200, blank=True)
    resolved_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    resolved_by = models.CharField(_("处理人"), max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The lake's change key (parking/lake/sync.py ``anomalies``): every write sets it.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["-event_time", "-id"]
        verbose_name = _("停车异常")
        verbose_name_plural = _("停车异常")
        indexes = [
            models.Index(fields=["district", "status", "kind"]),
            models.Index(fields=["space", "kind", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.event_id}"


class IngestRejection(models.Model):
    """How many submissions one source had refused, per reason (incremented in the refusing request).

    ``source`` is ``device:<serial>`` / ``mqtt:<serial>`` for a known device, ``ip:<address>`` /
    ``serial:<claimed>`` when the caller could not be authenticated (also citizen-app callers not
    logged in), ``import:<username>`` for refused Excel/CSV imports, ``citizen:<id>`` for refusals
    in the citizen app and ``provider:<name>`` for refused payment notifications
    (services/rejections.py), so failed authentication is counted too.
    Not scoped by district: operational telemetry read by the Center (parking/roles.py).
    """

    source = models.CharField(_("来源"), max_length=100)
    device = models.ForeignKey(
        "parking.Device", null=True, blank=True, on_delete=models.CASCADE, related_name="rejections"
    )
    reason = models.CharField(_("原因代码"), max_length=40)
    count = models.PositiveBigIntegerField(_("次数"), default=0)
    first_at = models.DateTimeField(_("首次"), auto_now_add=True)
    last_at = models.DateTimeField(_("最近"), auto_now=True)

    class Meta:
        ordering = ["source", "reason"]
        verbose_name = _("接入拒收计数")
        verbose_name_plural = _("接入拒收计数")
        constraints = [models.UniqueConstraint(fields=["source", "reason"], name="parking_rejection_source_reason")]

    def __str__(self) -> str:
        return f"{self.source} {self.reason} ×{self.count}"
