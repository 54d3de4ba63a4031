"""What every congestion-relief case shares (ADR 0006): a yearly number, title and body, district
and place, a deadline, the units handling it (主办 / 协办 / 责任单位) — which are also its data
scope — and the kernel's workflow, comments, attachments and notifications around it."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey, GenericRelation
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMModelMixin

from govcenter.core.scope import ScopedModel

# A district row carries its boundary (a large GeoJSON): lists that show a case's district load
# the row without it — ``.select_related("district").defer(*DISTRICT_BOUNDARY)``.
DISTRICT_BOUNDARY = ("district__geometry",)


class UnitRole(models.TextChoices):
    LEAD = "lead", _("主办")
    CO = "co", _("协办")
    RESPONSIBLE = "responsible", _("责任单位")


class CaseUnit(models.Model):
    """One unit's part in one case: its role, its own deadline, when it was assigned."""

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("事项类型"))
    object_id = models.BigIntegerField(_("事项编号"))
    case = GenericForeignKey("content_type", "object_id")
    unit = models.ForeignKey("core.Unit", on_delete=models.PROTECT, related_name="+", verbose_name=_("单位"))
    role = models.CharField(_("角色"), max_length=12, choices=UnitRole.choices)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("交办时间"), default=timezone.now)
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("交办人"),
    )
    urge_count = models.PositiveSmallIntegerField(_("催办次数"), default=0)
    urged_at = models.DateTimeField(_("最近催办时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("承办单位")
        verbose_name_plural = _("承办单位")
        permissions = [("urge_caseunit", _("催办承办单位"))]
        constraints = [
            models.UniqueConstraint(
                fields=["content_type", "object_id", "unit"], name="congestion_caseunit_once"
            )
        ]
        indexes = [models.Index(fields=["unit", "content_type"], name="congestion_caseunit_unit")]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.unit_id}"


class CaseSequence(models.Model):
    """The last number given in one series (prefix, year): numbers are gapless, taken under a lock."""

    prefix = models.CharField(max_length=20)
    year = models.PositiveSmallIntegerField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["prefix", "year"], name="congestion_sequence_once")]

    def __str__(self) -> str:
        return f"{self.prefix}-{self.year}: {self.last}"


class Case(FSMModelMixin, ScopedModel):
    """Abstract base of the subsystems' cases. Handling units see the cases they are assigned
    to (a ``CaseUnit`` of their unit or a sub-unit); district staff their district's."""

    number = models.CharField(_("编号"), max_length=40, unique=True)
    year = models.PositiveSmallIntegerField(_("年度"))
    title = models.CharField(_("标题"), max_length=200)
    body = models.TextField(_("内容"), blank=True)
    district = models.ForeignKey(
        "core.District",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所在区"),
    )
    location = models.JSONField(_("位置（GeoJSON，GCJ-02）"), null=True, blank=True)
    deadline = models.DateField(_("办理期限"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("登记人"),
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    units = GenericRelation(CaseUnit, object_id_field="object_id", content_type_field="content_type")

    scope_fields = {"district": "district", "unit": "units__unit"}

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.number} {self.title}"
