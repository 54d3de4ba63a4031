"""Scan verification (扫码核查): what a field inspector found at one bike.

An inspector scans (or types) the code printed on a bike. The service looks the code up in
the registry (:class:`~govcenter.bikeshare.models.registry.Vehicle`) and in the live picture,
and the inspector records a result: one **primary** result (the most serious finding, the
one statistics count) plus optional **flags** for further findings (a bike can be both
outside a fence and damaged). ``unregistered`` is never chosen against the registry: it is
set by the service exactly when the code matched no active registration.

Position is stored in GCJ-02 (``datum``); ``source_datum`` says what the phone sent
(WGS-84 from ``navigator.geolocation``). The live snapshot (state, time of the last report,
distance between the inspector and the last reported position) is copied at the time of the
check so later reports do not change what was seen.

Scope: the operator's staff see checks of their operator's bikes, district staff the checks
in their districts (district of the inspector's position), an inspector's unit its own
inspectors' checks.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class ScanResult(models.TextChoices):
    COMPLIANT = "compliant", _("合规")
    UNREGISTERED = "unregistered", _("未登记")
    OUTSIDE_FENCE = "outside_fence", _("未在电子围栏内停放")
    DAMAGED = "damaged", _("车辆损坏")
    ILLEGALLY_PARKED = "illegally_parked", _("违规停放")
    OTHER = "other", _("其他问题")


PROBLEMS = tuple(r for r in ScanResult.values if r != ScanResult.COMPLIANT)


class ScanCheck(ScopedModel):
    """One scan verification by one inspector."""

    inspector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核查员"),
        on_delete=models.PROTECT,
        related_name="bikeshare_scan_checks",
    )
    unit = models.ForeignKey(
        "core.Unit",
        verbose_name=_("核查单位"),
        on_delete=models.PROTECT,
        related_name="bikeshare_scan_checks",
        help_text=_("核查员核查时所属单位"),
    )
    checked_at = models.DateTimeField(_("核查时间"), db_index=True)
    vehicle_code = models.CharField(_("车辆编码"), max_length=255)
    vehicle = models.ForeignKey(
        "bikeshare.Vehicle",
        verbose_name=_("登记车辆"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="scan_checks",
    )
    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_operator_scan_checks",
        limit_choices_to={"kind": "operator"},
    )
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_scan_checks",
    )
    lon = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    datum = models.CharField(_("坐标系"), max_length=8, default="GCJ-02", editable=False)
    source_datum = models.CharField(_("原始坐标系"), max_length=8, blank=True)
    accuracy_m = models.FloatField(_("定位精度（米）"), null=True, blank=True)
    result = models.CharField(_("核查结果"), max_length=20, choices=ScanResult.choices)
    flags = models.JSONField(_("其他问题"), default=list, blank=True)
    note = models.TextField(_("备注"), blank=True)
    photo_ref = models.CharField(_("照片编号"), max_length=255, blank=True)
    live_state = models.CharField(_("实时状态"), max_length=20, blank=True)
    live_reported_at = models.DateTimeField(_("最近上报时间"), null=True, blank=True)
    live_distance_m = models.FloatField(_("与上报位置距离（米）"), null=True, blank=True)
    live_outside_fence = models.BooleanField(_("上报位置在围栏外"), null=True, blank=True)
    client_ref = models.CharField(_("客户端标识"), max_length=64, blank=True)

    scope_fields = {"operator": "operator", "district": "district", "unit": "unit"}

    class Meta:
        ordering = ["-checked_at", "-id"]
        verbose_name = _("扫码核查")
        verbose_name_plural = _("扫码核查")
        constraints = [
            models.UniqueConstraint(
                fields=["inspector", "client_ref"],
                condition=~Q(client_ref=""),
                name="bikeshare_scancheck_inspector_client_ref",
            ),
        ]
        indexes = [
            models.Index(fields=["operator", "checked_at"]),
            models.Index(fields=["district", "checked_at"]),
            models.Index(fields=["inspector", "checked_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.vehicle_code} {self.result}"

    @property
    def registered(self) -> bool:
        return self.vehicle_id is not None

    @property
    def problems(self) -> list[str]:
        """Every finding other than compliant: the primary result and the flags."""
        found = [self.result, *self.flags]
        return [p for p in dict.fromkeys(found) if p != ScanResult.COMPLIANT]
