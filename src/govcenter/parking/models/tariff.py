"""Tariff plans: the rules are data, versioned by their effective dates."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class AreaClass(models.IntegerChoices):
    CLASS_1 = 1, _("一类地区")
    CLASS_2 = 2, _("二类地区")
    CLASS_3 = 3, _("三类地区")


class VehicleClass(models.TextChoices):
    SMALL = "small", _("小型车")
    LARGE = "large", _("大型车")


def area_class_plan_code(area_class: int) -> str:
    """The code of the plan series an area class is billed under when its segment names no plan
    (``bj-road-class-N``). Any other code is a *named* plan: it prices only the segments whose
    ``tariff_code`` names it, whatever its ``area_class`` (which then only documents it)."""
    return f"bj-road-class-{area_class}"


class TariffPlan(models.Model):
    """One version of the charging rules for one area class.

    A plan is immutable once active: a change is a new plan (new ``version``) with a later
    ``valid_from``; the old one gets ``valid_to``. An order stores the plan it ran under.
    Prices are integer fen per unit; multipliers are percentages per vehicle class
    (``{"small": 100, "large": 200}``) so amounts stay integers.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        ACTIVE = "active", _("生效")
        RETIRED = "retired", _("停用")

    class HolidayRule(models.TextChoices):
        SAME = "same", _("节假日同工作日")
        FREE_DAY = "free_day", _("节假日白天免费")
        NIGHT_RATE = "night_rate", _("节假日白天按夜间标准")

    code = models.SlugField(_("方案代码"), max_length=40)
    version = models.PositiveIntegerField(_("版本"), default=1)
    name = models.CharField(_("名称"), max_length=80)
    area_class = models.PositiveSmallIntegerField(_("地区类别"), choices=AreaClass.choices)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    valid_from = models.DateTimeField(_("生效时间"))
    valid_to = models.DateTimeField(_("失效时间"), null=True, blank=True)
    day_start = models.TimeField(_("白天开始"), default="07:00")
    day_end = models.TimeField(_("白天结束"), default="21:00")
    day_unit_minutes = models.PositiveSmallIntegerField(_("白天计费单元（分钟）"), default=15)
    first_period_units = models.PositiveSmallIntegerField(_("首时段单元数"), default=4)
    day_first_unit_fen = models.PositiveIntegerField(_("首小时单价（分/单元）"))
    day_later_unit_fen = models.PositiveIntegerField(_("首小时后单价（分/单元）"))
    night_unit_minutes = models.PositiveSmallIntegerField(_("夜间计费单元（分钟）"), default=120)
    night_unit_fen = models.PositiveIntegerField(_("夜间单价（分/单元）"))
    grace_minutes = models.PositiveSmallIntegerField(_("免费时长（分钟）"), default=0)
    daily_cap_fen = models.PositiveIntegerField(_("每日封顶（分）"), null=True, blank=True)
    holiday_rule = models.CharField(_("节假日规则"), max_length=12, choices=HolidayRule.choices, default=HolidayRule.SAME)
    vehicle_multipliers = models.JSONField(_("车型系数（%）"), default=dict)
    notes = models.TextField(_("说明"), blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["area_class", "-valid_from"]
        verbose_name = _("停车收费标准")
        verbose_name_plural = _("停车收费标准")
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="parking_tariffplan_code_version")]
        indexes = [models.Index(fields=["area_class", "status", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_area_class_plan(self) -> bool:
        """True for the default plan of its area class; False for a plan segments name."""
        return self.code == area_class_plan_code(self.area_class)

    def clean(self) -> None:
        if self.valid_to and self.valid_to <= self.valid_from:
            raise ValidationError({"valid_to": _("失效时间须晚于生效时间")})
        if self.day_start >= self.day_end if self.day_start and self.day_end else False:
            raise ValidationError({"day_end": _("白天结束须晚于白天开始")})
        multipliers = self.vehicle_multipliers or {}
        for key, value in multipliers.items():
            if key not in VehicleClass.values or not isinstance(value, int) or value <= 0:
                raise ValidationError({"vehicle_multipliers": _("车型系数须为正整数百分比，车型为 small/large")})
