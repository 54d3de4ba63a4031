"""Parking devices: geomagnetic sensors, high-position video, video piles and patrol PDAs.

Binding rule (enforced by the services and by a check constraint): a geomagnetic sensor
watches one space; cameras and PDAs serve a segment. ``segment`` is filled for sensors
too (the space's segment), so per-segment device queries need no join.

Credential: one per-device token, issued by ``device_credential_issue`` and shown once.
It is stored twice, never in clear: an SM3 digest (``token_digest``) to find the device
from a bearer token, and an SM4-GCM ciphertext (``secret_enc``, key derived from
``SECRET_KEY``, bound to the device id) so the server can verify HMAC-SM3 signatures
made with the token as key.

Binding history (:class:`DeviceBinding`): one row per period a device was bound to one
space/segment (valid_from ≤ t < valid_to; the open period has ``valid_to`` NULL). Every
service write that binds, rebinds, unbinds or retires a device closes/opens these rows in
the same transaction; an unbound or retired device has no open row. Rotating ``SECRET_KEY`` invalidates the signature path
(re-issue credentials); the bearer path keeps working.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

from .base import _Version


class DeviceKind(models.TextChoices):
    GEOMAGNETIC = "geomagnetic", _("地磁传感器")
    HIGH_VIDEO = "high_video", _("高位视频")
    VIDEO_PILE = "video_pile", _("视频桩")
    PDA = "pda", _("手持终端")


# CDS data_source_type of the events each kind publishes.
CDS_DATA_SOURCE_TYPE = {
    DeviceKind.GEOMAGNETIC: "in_ground",
    DeviceKind.HIGH_VIDEO: "camera",
    DeviceKind.VIDEO_PILE: "camera",
    DeviceKind.PDA: "in_person",
}
SPACE_BOUND_KINDS = frozenset({DeviceKind.GEOMAGNETIC})
SEGMENT_BOUND_KINDS = frozenset({DeviceKind.HIGH_VIDEO, DeviceKind.VIDEO_PILE, DeviceKind.PDA})


class Device(ScopedModel):
    """A field device of a district, bound to a space (sensor) or a segment (camera, PDA)."""

    class Status(models.TextChoices):
        ONLINE = "online", _("在线")
        OFFLINE = "offline", _("离线")
        MAINTENANCE = "maintenance", _("维护中")
        RETIRED = "retired", _("报废")

    kind = models.CharField(_("设备类型"), max_length=12, choices=DeviceKind.choices)
    serial = models.CharField(_("设备序列号"), max_length=64, unique=True)
    vendor = models.ForeignKey(
        "core.Unit",
        verbose_name=_("设备厂商"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="parking_devices_made",
        limit_choices_to={"kind": "vendor"},
    )
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_devices"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_devices"
    )
    segment = models.ForeignKey(
        "parking.Segment",
        verbose_name=_("路段"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="devices",
    )
    space = models.ForeignKey(
        "parking.Space",
        verbose_name=_("泊位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="devices",
    )
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.OFFLINE)
    last_heartbeat_at = models.DateTimeField(_("最近心跳"), null=True, blank=True)
    battery_pct = models.PositiveSmallIntegerField(_("电量（%）"), null=True, blank=True)
    firmware = models.CharField(_("固件版本"), max_length=40, blank=True)
    token_prefix = models.CharField(_("凭证前缀"), max_length=12, blank=True, editable=False)
    token_digest = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    secret_enc = models.BinaryField(null=True, blank=True, editable=False)
    credential_issued_at = models.DateTimeField(_("凭证签发时间"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["district__sort_order", "serial"]
        verbose_name = _("设备")
        verbose_name_plural = _("设备")
        indexes = [
            models.Index(fields=["district", "status"]),
            models.Index(fields=["district", "kind"]),
        ]
        constraints = [
            # A sensor never points at a segment alone; a camera/PDA never at a space.
            models.CheckConstraint(
                condition=Q(kind="geomagnetic", space__isnull=True, segment__isnull=True)
                | Q(kind="geomagnetic", space__isnull=False, segment__isnull=False)
                | (~Q(kind="geomagnetic") & Q(space__isnull=True)),
                name="parking_device_binding_by_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.serial}"

    @property
    def data_source_type(self) -> str:
        return CDS_DATA_SOURCE_TYPE[self.kind]

    @property
    def has_credential(self) -> bool:
        return bool(self.token_digest)


class DeviceOfflinePeriod(ScopedModel):
    """A period a device was offline (ended_at NULL while it still is); filled by device monitoring.

    Occupancy during these periods is unknown, not zero.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="offline_periods")
    started_at = models.DateTimeField(_("离线开始"))
    ended_at = models.DateTimeField(_("离线结束"), null=True, blank=True)
    reason = models.CharField(_("原因"), max_length=40, blank=True)
    # The lake's change key (parking/lake/sync.py ``device_days``): every write sets it.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    scope_fields = {"district": "device__district", "unit": "device__managing_unit"}

    class Meta:
        ordering = ["device", "-started_at"]
        verbose_name = _("设备离线时段")
        verbose_name_plural = _("设备离线时段")
        indexes = [models.Index(fields=["device", "started_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(ended_at__isnull=True),
                name="parking_offline_one_open_per_device",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="parking_offline_end_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} {self.started_at:%Y-%m-%d %H:%M}"


class DeviceBinding(_Version, ScopedModel):
    """One period of a device's binding (which space/segment, from when to when).

    ``version`` numbers the device's binding periods; ``snapshot`` keeps the target's codes
    (segment code, space number) as they were; ``segment``/``space`` are columns so "which
    devices watched this segment at t" is an indexed query.
    """

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="bindings")
    segment = models.ForeignKey(
        "parking.Segment", verbose_name=_("路段"), on_delete=models.PROTECT, related_name="device_bindings"
    )
    space = models.ForeignKey(
        "parking.Space",
        verbose_name=_("泊位"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="device_bindings",
    )

    scope_fields = {"district": "device__district", "unit": "device__managing_unit"}

    class Meta:
        ordering = ["device", "-version"]
        verbose_name = _("设备绑定记录")
        verbose_name_plural = _("设备绑定记录")
        constraints = [
            models.UniqueConstraint(fields=["device", "version"], name="parking_devicebinding_unique"),
            models.UniqueConstraint(
                fields=["device"],
                condition=Q(valid_to__isnull=True),
                name="parking_devicebinding_one_current",
            ),
        ]
        indexes = [
            models.Index(fields=["device", "valid_from"]),
            models.Index(fields=["segment", "valid_from"]),
            models.Index(fields=["space", "valid_from"]),
        ]

    def __str__(self) -> str:
        return f"{self.device_id} #{self.version}"
