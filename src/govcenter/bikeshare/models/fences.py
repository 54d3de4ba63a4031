"""Electronic fences (电子围栏): parking areas, no-parking areas and rail-station areas.

:class:`Fence` is a fence's identity and its *current* shape (GCJ-02, ADR 0005) with a
bounding box for quick rejection; :class:`FenceVersion` keeps every shape a fence ever had
(version 1 is the imported one), so an edit never loses the old geometry. Validity dates
are inclusive; a retired fence (``retired_at``) stops applying on its retire day. Fences
belong to a district (data scope). ``uuid`` is the MDS ``geography_id``.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

DATUM_CHOICES = [("WGS-84", "WGS-84"), ("GCJ-02", "GCJ-02"), ("BD-09", "BD-09")]


class FenceKindChoices(models.TextChoices):
    """The kinds of :class:`govcenter.bikeshare.geo.FenceKind`."""

    PARKING = "parking", _("停放区")
    NO_PARKING = "no_parking", _("禁停区")
    RAIL_STATION = "rail_station", _("轨道站点")


class FenceShape(models.Model):
    """The attributes every version of a fence carries (abstract)."""

    name = models.CharField(_("围栏名称"), max_length=100)
    kind = models.CharField(_("围栏类型"), max_length=16, choices=FenceKindChoices.choices)
    station = models.CharField(_("站点名称"), max_length=100, blank=True)
    geometry = models.JSONField(_("几何"), help_text="GeoJSON Polygon/MultiPolygon, GCJ-02")
    min_lon = models.FloatField()
    min_lat = models.FloatField()
    max_lon = models.FloatField()
    max_lat = models.FloatField()
    source_datum = models.CharField(_("来源坐标系"), max_length=8, choices=DATUM_CHOICES)
    valid_from = models.DateField(_("生效日期"), null=True, blank=True)
    valid_to = models.DateField(_("失效日期"), null=True, blank=True)

    class Meta:
        abstract = True


class Fence(FenceShape, ScopedModel):
    """A fence and its current version."""

    uuid = models.UUIDField(_("围栏标识"), default=uuid.uuid4, unique=True, editable=False)
    district = models.ForeignKey(
        "core.District", verbose_name=_("行政区"), on_delete=models.PROTECT, related_name="bikeshare_fences"
    )
    version = models.PositiveIntegerField(_("版本"), default=1)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    retired_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    seed_key = models.CharField(
        max_length=100, blank=True, editable=False, help_text="seed fences: the seed's name"
    )

    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["district", "kind", "name", "id"]
        verbose_name = _("电子围栏")
        verbose_name_plural = _("电子围栏")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_to__gte=models.F("valid_from")),
                name="bikeshare_fence_valid_range",
            ),
            models.UniqueConstraint(
                fields=["seed_key"], condition=~Q(seed_key=""), name="bikeshare_fence_seed_key"
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "district"]),
            models.Index(fields=["min_lon", "max_lon", "min_lat", "max_lat"], name="bikeshare_fence_bbox"),
        ]

    def __str__(self) -> str:
        return self.name


class FenceVersion(FenceShape):
    """One shape a fence had (version 1 = as imported); never updated or deleted."""

    fence = models.ForeignKey(Fence, on_delete=models.CASCADE, related_name="versions")
    # The MDS geography_id of this version (version 1 shares the fence's uuid): MDS
    # geographies are immutable, so each new shape is a new geography replacing the last.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField(_("版本"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        ordering = ["fence", "version"]
        verbose_name = _("电子围栏版本")
        verbose_name_plural = _("电子围栏版本")
        constraints = [
            models.UniqueConstraint(fields=["fence", "version"], name="bikeshare_fenceversion_fence_version")
        ]

    def __str__(self) -> str:
        return f"{self.fence_id} v{self.version}"
