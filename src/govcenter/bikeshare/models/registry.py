"""The operator registry: operators' API credentials and their registered vehicles.

Operators are core ``Unit`` rows of kind ``operator`` (美团, 哈啰, 青桔 …); nothing here
duplicates them.

* :class:`OperatorCredential` — the key an operator signs its pushes with (HMAC-SM3, see
  ``services/auth.py``). ``key_id`` is public (sent as ``X-Operator-Key``); the secret is
  stored as an SM3 digest and an SM4-GCM ciphertext, never in clear, and shown once at
  issue. Rotation inserts a new row and revokes the previous ones (history is kept).
* :class:`Vehicle` — a bike registered through the MDS Agency ``POST /vehicles``.
  ``vehicle_id`` is the code printed on the bike and its QR code (unique per operator);
  ``device_id`` the MDS UUID (unique everywhere). The validated MDS record is kept as sent,
  so a retry of the same record is recognised as such (idempotency).
* :class:`OperatorRejection` — how many pushes a source had refused, per reason (failed
  authentication included), so integrators and O&M can see what goes wrong.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

# MDS 2.0 data-types/vehicle-type and vehicle-state (the vendored data/mds/openapi-models).
MDS_VEHICLE_TYPES = (
    "bicycle",
    "bus",
    "cargo_bicycle",
    "car",
    "delivery_robot",
    "moped",
    "motorcycle",
    "scooter_standing",
    "scooter_seated",
    "truck",
    "other",
)


class VehicleState(models.TextChoices):
    """MDS 2.0 ``vehicle_state``."""

    REMOVED = "removed", _("已移出")
    AVAILABLE = "available", _("可用")
    NON_OPERATIONAL = "non_operational", _("不可运营")
    RESERVED = "reserved", _("已预约")
    ON_TRIP = "on_trip", _("骑行中")
    STOPPED = "stopped", _("临时停车")
    NON_CONTACTABLE = "non_contactable", _("失联")
    MISSING = "missing", _("丢失")
    ELSEWHERE = "elsewhere", _("在辖区外")


class OperatorCredential(ScopedModel):
    """One API key of an operator; at most one is live (``revoked_at`` null) after a rotation."""

    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_credentials",
        limit_choices_to={"kind": "operator"},
    )
    key_id = models.CharField(_("密钥标识"), max_length=40, unique=True)
    secret_digest = models.CharField(_("密钥摘要"), max_length=64, editable=False)
    secret_enc = models.BinaryField(editable=False)
    issued_at = models.DateTimeField(_("签发时间"))
    revoked_at = models.DateTimeField(_("吊销时间"), null=True, blank=True)

    scope_fields = {"operator": "operator"}

    class Meta:
        ordering = ["operator", "-issued_at"]
        verbose_name = _("运营企业接入凭证")
        verbose_name_plural = _("运营企业接入凭证")
        indexes = [models.Index(fields=["operator", "revoked_at"])]

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class Vehicle(ScopedModel):
    """A registered bike (MDS Agency vehicle)."""

    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_vehicles",
        limit_choices_to={"kind": "operator"},
    )
    device_id = models.UUIDField(_("设备标识"), unique=True)
    provider_id = models.UUIDField(_("MDS 运营商标识"))
    vehicle_id = models.CharField(_("车辆编号"), max_length=255)
    e_tag = models.CharField(_("电子标签"), max_length=64, blank=True)
    vehicle_type = models.CharField(
        _("车辆类型"), max_length=20, choices=[(v, v) for v in MDS_VEHICLE_TYPES], default="bicycle"
    )
    propulsion_types = models.JSONField(_("动力类型"), default=list)
    state = models.CharField(
        _("车辆状态"), max_length=20, choices=VehicleState.choices, default=VehicleState.REMOVED
    )
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("投放区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_vehicles",
    )
    mds_record = models.JSONField(_("MDS 登记记录"), default=dict, editable=False)
    registered_at = models.DateTimeField(_("登记时间"))
    retired_at = models.DateTimeField(_("退出时间"), null=True, blank=True)

    scope_fields = {"operator": "operator", "district": "district"}

    class Meta:
        ordering = ["operator", "vehicle_id"]
        verbose_name = _("车辆")
        verbose_name_plural = _("车辆")
        constraints = [
            models.UniqueConstraint(
                fields=["operator", "vehicle_id"], name="bikeshare_vehicle_operator_vehicle_id"
            ),
        ]
        indexes = [models.Index(fields=["operator", "state"])]

    def __str__(self) -> str:
        return self.vehicle_id

    @property
    def is_ebike(self) -> bool:
        """Beijing's two kinds: a bicycle with any electric propulsion is an e-bike (助力车)."""
        return any(p in {"electric_assist", "electric"} for p in self.propulsion_types or ())


class OperatorRejection(models.Model):
    """Refusals per source and reason (``operator:<code>`` once known, else ``ip:…``/``key:…``).

    Incremented in the refusing request, outside its (failed) transaction. Operational
    telemetry read by O&M; not scoped.
    """

    source = models.CharField(_("来源"), max_length=100)
    operator = models.ForeignKey(
        "core.Unit", null=True, blank=True, on_delete=models.CASCADE, related_name="bikeshare_rejections"
    )
    reason = models.CharField(_("原因代码"), max_length=40)
    count = models.PositiveBigIntegerField(_("次数"), default=0)
    first_at = models.DateTimeField(_("首次"), auto_now_add=True)
    last_at = models.DateTimeField(_("最近"), auto_now=True)

    class Meta:
        ordering = ["source", "reason"]
        verbose_name = _("运营企业接入拒收计数")
        verbose_name_plural = _("运营企业接入拒收计数")
        constraints = [
            models.UniqueConstraint(fields=["source", "reason"], name="bikeshare_rejection_source_reason")
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.reason} ×{self.count}"
