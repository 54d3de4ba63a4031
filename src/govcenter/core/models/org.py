"""The organisation: Beijing's districts (reference data) and the unit tree."""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..scope import ScopedModel, ScopedQuerySet

# Phone numbers: digits with an optional leading + and dashes. A masked value such as
# 138****5678 sent back from a form or API must never overwrite the stored number.
validate_phone = RegexValidator(r"^\+?[0-9][0-9-]{4,19}$", _("请输入有效的电话号码（仅数字）。"), code="invalid_phone")
validate_no_mask = RegexValidator(r"\*", _("不能包含 * （脱敏后的值不能保存）。"), code="masked_value", inverse_match=True)


class District(models.Model):
    """A district of Beijing (GB/T 2260 code) or a management area without a boundary file.

    Geometry is GeoJSON (MultiPolygon) in GCJ-02, as the shared boundary files are.
    The Beijing Economic-Technological Development Area is a management area: a parking
    unit of its own, but no GB/T 2260 code and no boundary here.
    """

    class Kind(models.TextChoices):
        ADMINISTRATIVE = "administrative", _("行政区")
        MANAGEMENT = "management", _("功能区")

    code = models.CharField(_("代码"), max_length=12, unique=True)
    name_zh = models.CharField(_("名称"), max_length=40)
    name_en = models.CharField(_("英文名称"), max_length=60)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.ADMINISTRATIVE)
    datum = models.CharField(_("坐标系"), max_length=8, default="GCJ-02", editable=False)
    geometry = models.JSONField(_("边界"), null=True, blank=True)
    # Bounding box (GCJ-02 lon/lat) for quick rejection before the polygon test.
    min_lon = models.FloatField(null=True, blank=True)
    min_lat = models.FloatField(null=True, blank=True)
    max_lon = models.FloatField(null=True, blank=True)
    max_lat = models.FloatField(null=True, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    scope_fields = {"district": "pk"}
    objects = ScopedQuerySet.as_manager()

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("行政区")
        verbose_name_plural = _("行政区")

    def __str__(self) -> str:
        return self.name_zh

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") else self.name_zh


class UnitKind(models.TextChoices):
    CENTER = "center", _("中心")
    DEPARTMENT = "department", _("中心内设部门")
    DISTRICT_UNIT = "district_unit", _("区停车管理单位")
    OPERATOR = "operator", _("互联网租赁自行车运营企业")
    CONTRACTOR = "contractor", _("运维单位")
    VENDOR = "vendor", _("设备厂商")
    GOVERNMENT = "government", _("政府部门")
    OTHER = "other", _("其他单位")


class UnitQuerySet(ScopedQuerySet):
    def subtree_ids(self, unit: Unit) -> list[int]:
        """The unit and every unit below it (materialised path prefix match)."""
        return list(self.filter(path__startswith=unit.path).values_list("pk", flat=True))


class Unit(ScopedModel):
    """A node of the organisation tree: the Center, its departments, the 17 district
    parking units and external organisations (operators, contractors, vendors)."""

    code = models.CharField(_("单位代码"), max_length=32, unique=True)
    name_zh = models.CharField(_("单位名称"), max_length=100)
    name_en = models.CharField(_("英文名称"), max_length=160, blank=True)
    kind = models.CharField(_("单位类型"), max_length=20, choices=UnitKind.choices)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级单位"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    district = models.ForeignKey(
        District, verbose_name=_("所属区"), null=True, blank=True, on_delete=models.PROTECT, related_name="units"
    )
    # "/1/4/9/": ancestors' ids; lets a subtree be one indexed prefix query.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    contact_name = models.CharField(_("联系人"), max_length=40, blank=True, validators=[validate_no_mask])
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True, validators=[validate_phone])
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district", "unit": "pk", "operator": "pk"}
    objects = UnitQuerySet.as_manager()

    class Meta:
        ordering = ["path"]
        verbose_name = _("单位")
        verbose_name_plural = _("单位")
        indexes = [models.Index(fields=["kind"])]

    def __str__(self) -> str:
        return self.name_zh

    @property
    def name(self) -> str:
        from django.utils.translation import get_language

        return self.name_en if (get_language() or "").startswith("en") and self.name_en else self.name_zh

    @property
    def depth(self) -> int:
        return max(self.path.count("/") - 2, 0)

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        if self.parent_id and self.pk and self.parent.path.startswith(self.path or "\0"):
            raise ValidationError({"parent": _("上级单位不能是本单位或其下级单位")})

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        # The path is derived state kept here so admin, services and fixtures all agree.
        new_path = (self.parent.path if self.parent_id else "/") + f"{self.pk}/"
        if new_path != self.path:
            old_path = self.path
            type(self).objects.filter(pk=self.pk).update(path=new_path)
            if old_path:
                for child in type(self).objects.filter(path__startswith=old_path).exclude(pk=self.pk):
                    type(self).objects.filter(pk=child.pk).update(path=new_path + child.path[len(old_path) :])
            self.path = new_path
