"""Parking base data: roads, segments (CDS curb zones), spaces (CDS curb spaces) and their versions.

The hierarchy is district unit → road → segment → space. ``district`` is denormalised
onto segments and spaces so the data scope is one indexed column, not a join; the
services keep it equal to the road's district (a segment never moves between districts).

Versioning: every create/update/retire of a road, segment or space writes a
:class:`RoadVersion` / :class:`SegmentVersion` / :class:`SpaceVersion` row in the same
transaction (one shared writer, ``services.base.write_versions``; device bindings use it
too, see ``models.devices.DeviceBinding``). The current
version has ``valid_to`` NULL; an update closes it (``valid_to = now``) and opens the next
one. ``snapshot`` holds the versioned attributes (area class, tariff code, status,
number, position …), so an order that references a ``SpaceVersion`` keeps what it ran
under even after the space is moved, re-classed or retired.

Coordinates are GCJ-02 lon/lat (``datum`` says so on every row); geometry is GeoJSON.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel

from .tariff import AreaClass

GCJ02 = "GCJ-02"


class Road(ScopedModel):
    """A road (道路) with on-street parking, managed by its district's parking unit."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("启用")
        RETIRED = "retired", _("撤销")

    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_roads"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_roads"
    )
    code = models.CharField(_("道路编码"), max_length=32)
    name = models.CharField(_("道路名称"), max_length=100)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    version = models.PositiveIntegerField(_("版本"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["district__sort_order", "code"]
        verbose_name = _("道路")
        verbose_name_plural = _("道路")
        constraints = [
            models.UniqueConstraint(fields=["district", "code"], name="parking_road_district_code")
        ]
        indexes = [models.Index(fields=["district", "status"])]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class Segment(ScopedModel):
    """A parking segment (路段) ≈ a CDS Curb Zone: one stretch of one side of a road with one regulation."""

    class Side(models.TextChoices):
        NORTH = "north", _("路北")
        SOUTH = "south", _("路南")
        EAST = "east", _("路东")
        WEST = "west", _("路西")
        BOTH = "both", _("两侧")

    class Status(models.TextChoices):
        ACTIVE = "active", _("运营")
        SUSPENDED = "suspended", _("暂停")
        RETIRED = "retired", _("撤销")

    # CDS street_side uses compass letters.
    CDS_STREET_SIDE = {"north": "N", "south": "S", "east": "E", "west": "W"}

    road = models.ForeignKey(Road, verbose_name=_("道路"), on_delete=models.PROTECT, related_name="segments")
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_segments"
    )
    managing_unit = models.ForeignKey(
        "core.Unit", verbose_name=_("管理单位"), on_delete=models.PROTECT, related_name="parking_segments"
    )
    code = models.CharField(_("路段编码"), max_length=32, unique=True)
    name = models.CharField(_("路段名称"), max_length=100)
    side = models.CharField(_("道路侧"), max_length=8, choices=Side.choices, default=Side.BOTH)
    area_class = models.PositiveSmallIntegerField(_("地区类别"), choices=AreaClass.choices)
    tariff_code = models.SlugField(
        _("收费方案代码"),
        max_length=40,
        blank=True,
        help_text=_("留空则按地区类别适用北京市标准收费方案。"),
    )
    geometry = models.JSONField(
        _("几何"), null=True, blank=True, help_text=_("GeoJSON LineString 或 Polygon，GCJ-02 经纬度。")
    )
    datum = models.CharField(_("坐标系"), max_length=8, default=GCJ02, editable=False)
    length_cm = models.PositiveIntegerField(_("长度（厘米）"), null=True, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # Stored, maintained by the space services: lists and CDS num_spaces read it without a count.
    capacity = models.PositiveIntegerField(_("泊位数"), default=0, editable=False)
    curb_zone_id = models.UUIDField(_("CDS 路段标识"), default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField(_("版本"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "managing_unit"}

    class Meta:
        ordering = ["district__sort_order", "code"]
        verbose_name = _("路段")
        verbose_name_plural = _("路段")
        indexes = [
            models.Index(fields=["district", "status"]),
            models.Index(fields=["district", "area_class"]),
            models.Index(fields=["road", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"


class Space(ScopedModel):
    """A parking space (泊位) ≈ a CDS Curb Space."""

    class Type(models.TextChoices):
        STANDARD = "standard", _("普通泊位")
        LARGE = "large", _("大型车泊位")
        DISABLED = "disabled", _("无障碍泊位")
        NEW_ENERGY = "new_energy", _("新能源泊位")
        LOADING = "loading", _("装卸泊位")

    class Status(models.TextChoices):
        ACTIVE = "active", _("启用")
        TEMPORARILY_CLOSED = "temporarily_closed", _("临时关闭")
        RETIRED = "retired", _("撤销")

    segment = models.ForeignKey(
        Segment, verbose_name=_("路段"), on_delete=models.PROTECT, related_name="spaces"
    )
    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_spaces"
    )
    number = models.CharField(_("泊位编号"), max_length=20)
    lon = models.FloatField(_("经度（GCJ-02）"))
    lat = models.FloatField(_("纬度（GCJ-02）"))
    datum = models.CharField(_("坐标系"), max_length=8, default=GCJ02, editable=False)
    space_type = models.CharField(_("泊位类型"), max_length=12, choices=Type.choices, default=Type.STANDARD)
    length_cm = models.PositiveIntegerField(_("长度（厘米）"), default=600)
    width_cm = models.PositiveIntegerField(_("宽度（厘米）"), default=250)
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    curb_space_id = models.UUIDField(_("CDS 泊位标识"), default=uuid.uuid4, unique=True, editable=False)
    version = models.PositiveIntegerField(_("版本"), default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "segment__managing_unit"}

    class Meta:
        ordering = ["segment__code", "number"]
        verbose_name = _("泊位")
        verbose_name_plural = _("泊位")
        constraints = [
            models.UniqueConstraint(fields=["segment", "number"], name="parking_space_segment_number")
        ]
        indexes = [models.Index(fields=["district", "status"]), models.Index(fields=["segment", "status"])]

    def __str__(self) -> str:
        return f"{self.segment.code}-{self.number}" if self.segment_id else self.number


class _Version(models.Model):
    version = models.PositiveIntegerField(_("版本"))
    valid_from = models.DateTimeField(_("生效时间"))
    valid_to = models.DateTimeField(_("失效时间"), null=True, blank=True)
    snapshot = models.JSONField(_("版本内容"), default=dict)

    class Meta:
        abstract = True

    @property
    def is_current(self) -> bool:
        return self.valid_to is None


class RoadVersion(_Version, ScopedModel):
    """One version of a road's attributes (code, name, status, managing unit), valid_from ≤ t < valid_to."""

    road = models.ForeignKey(Road, on_delete=models.PROTECT, related_name="versions")

    scope_fields = {"district": "road__district", "unit": "road__managing_unit"}

    class Meta:
        ordering = ["road", "-version"]
        verbose_name = _("道路版本")
        verbose_name_plural = _("道路版本")
        constraints = [
            models.UniqueConstraint(fields=["road", "version"], name="parking_roadversion_unique"),
            models.UniqueConstraint(
                fields=["road"], condition=Q(valid_to__isnull=True), name="parking_roadversion_one_current"
            ),
        ]
        indexes = [models.Index(fields=["road", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.road_id} v{self.version}"


class SegmentVersion(_Version, ScopedModel):
    """One version of a segment's versioned attributes (valid_from ≤ t < valid_to)."""

    segment = models.ForeignKey(Segment, on_delete=models.PROTECT, related_name="versions")

    scope_fields = {"district": "segment__district", "unit": "segment__managing_unit"}

    class Meta:
        ordering = ["segment", "-version"]
        verbose_name = _("路段版本")
        verbose_name_plural = _("路段版本")
        constraints = [
            models.UniqueConstraint(fields=["segment", "version"], name="parking_segmentversion_unique"),
            models.UniqueConstraint(
                fields=["segment"],
                condition=Q(valid_to__isnull=True),
                name="parking_segmentversion_one_current",
            ),
        ]
        indexes = [models.Index(fields=["segment", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.segment_id} v{self.version}"


class SpaceVersion(_Version, ScopedModel):
    """One version of a space: what an order references (with the tariff plan) to keep its terms.

    ``area_class`` and ``tariff_code`` are columns as well as in the snapshot, so the
    tariff engine reads them without parsing JSON.
    """

    space = models.ForeignKey(Space, on_delete=models.PROTECT, related_name="versions")
    area_class = models.PositiveSmallIntegerField(_("地区类别"), choices=AreaClass.choices)
    tariff_code = models.SlugField(_("收费方案代码"), max_length=40, blank=True)
    status = models.CharField(_("状态"), max_length=20, choices=Space.Status.choices)

    scope_fields = {"district": "space__district", "unit": "space__segment__managing_unit"}

    class Meta:
        ordering = ["space", "-version"]
        verbose_name = _("泊位版本")
        verbose_name_plural = _("泊位版本")
        constraints = [
            models.UniqueConstraint(fields=["space", "version"], name="parking_spaceversion_unique"),
            models.UniqueConstraint(
                fields=["space"], condition=Q(valid_to__isnull=True), name="parking_spaceversion_one_current"
            ),
        ]
        indexes = [models.Index(fields=["space", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.space_id} v{self.version}"
