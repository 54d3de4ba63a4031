"""Residential parking permits (居住停车认证): application, district review, monthly fees.

One model carries the application and the permit (django-fsm-2, protected)::

    submitted ──approve──▶ active ──expire──▶ expired
        └──reject──▶ rejected   └──revoke──▶ revoked

An approved permit is ``active`` at once; it covers stays only on the dates of its validity
(``valid_from`` 00:00 → ``valid_to`` 24:00, local time), so a renewal approved before the
current period ends is ``active`` too and starts to count the day after. A renewal is a new
permit linked to the one it continues (``renewal_of``). A plate has at most one active
permit whose validity overlaps another's (checked by the service under a row lock).

Fees (:class:`PermitFee`): one row per month of the validity, written ``due`` at approval;
staff mark a month paid (no online payment yet, see services/permits.py).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin, transition

from govcenter.core.scope import ScopedModel


class PermitStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待审核")
    ACTIVE = "active", _("有效")
    REJECTED = "rejected", _("已驳回")
    EXPIRED = "expired", _("已过期")
    REVOKED = "revoked", _("已撤销")


def default_hours_start() -> dt.time:
    """19:00. A callable: Django warns (fields.W161) of a fixed time default whenever the
    check runs within seconds of that time of day."""
    return dt.time(19, 0)


def default_hours_end() -> dt.time:
    """07:00 (see :func:`default_hours_start`)."""
    return dt.time(7, 0)


class ResidentialPermit(FSMModelMixin, ScopedModel):
    """A resident's permit (居住认证) to park one plate on chosen segments in their hours."""

    district = models.ForeignKey(
        "core.District", verbose_name=_("所属区"), on_delete=models.PROTECT, related_name="parking_permits"
    )
    citizen = models.ForeignKey(
        "parking.Citizen",
        verbose_name=_("申请账号"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="permits",
    )
    applicant_name = models.CharField(_("申请人姓名"), max_length=50)
    applicant_phone = models.CharField(_("联系电话"), max_length=20)
    applicant_id_number = models.CharField(_("身份证号"), max_length=18)
    plate = models.CharField(_("车牌号"), max_length=10, db_index=True)
    address = models.CharField(_("居住地址"), max_length=200)
    address_proof_ref = models.CharField(
        _("居住证明编号"), max_length=100, help_text=_("房产证、租赁备案或居住证的编号或文件编号")
    )
    segments = models.ManyToManyField("parking.Segment", verbose_name=_("认证路段"), related_name="permits")
    hours_start = models.TimeField(_("认证时段开始"), default=default_hours_start)
    hours_end = models.TimeField(_("认证时段结束"), default=default_hours_end)
    monthly_fee_fen = models.PositiveIntegerField(_("月费（分）"), default=0)
    months = models.PositiveSmallIntegerField(_("认证月数"), default=1)
    valid_from = models.DateField(_("有效期起"))
    valid_to = models.DateField(_("有效期止"))
    status = FSMField(
        _("状态"), max_length=10, choices=PermitStatus.choices, default=PermitStatus.SUBMITTED, protected=True
    )
    renewal_of = models.ForeignKey(
        "self",
        verbose_name=_("续期自"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renewals",
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("录入人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_comment = models.CharField(_("审核意见"), max_length=500, blank=True)
    revoked_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    reminder_sent_at = models.DateTimeField(_("到期提醒时间"), null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    scope_fields = {"district": "district"}

    class Meta:
        ordering = ["-submitted_at", "-id"]
        verbose_name = _("居住停车认证")
        verbose_name_plural = _("居住停车认证")
        permissions = [("review_residentialpermit", _("可审核、撤销居住停车认证"))]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__gte=F("valid_from")), name="parking_permit_valid_range"
            ),
        ]
        indexes = [
            models.Index(fields=["district", "status"]),
            models.Index(fields=["status", "valid_to"]),
            models.Index(fields=["plate", "status"]),
            models.Index(fields=["updated_at"], name="parking_permit_updated"),
        ]

    def __str__(self) -> str:
        from govcenter.core.masking import mask_plate

        # Masked: str() ends up in logs, audit entries and select boxes.
        return f"{_('居住认证')} #{self.pk} {mask_plate(self.plate)}"

    def get_detail_url(self) -> str:
        from django.urls import reverse

        return reverse("parking:permit_detail", args=[self.pk])

    # -- transitions (the only way the status changes) -----------------------------------

    @transition(field=status, source=PermitStatus.SUBMITTED, target=PermitStatus.ACTIVE)
    def approve(self, *, reviewer, at, comment: str = "") -> None:
        self.reviewer, self.reviewed_at, self.review_comment = reviewer, at, comment

    @transition(field=status, source=PermitStatus.SUBMITTED, target=PermitStatus.REJECTED)
    def reject(self, *, reviewer, at, comment: str) -> None:
        self.reviewer, self.reviewed_at, self.review_comment = reviewer, at, comment

    @transition(field=status, source=PermitStatus.ACTIVE, target=PermitStatus.REVOKED)
    def revoke(self, *, at, comment: str) -> None:
        self.revoked_at, self.review_comment = at, comment

    @transition(field=status, source=PermitStatus.ACTIVE, target=PermitStatus.EXPIRED)
    def expire(self) -> None:
        pass


class PermitFee(ScopedModel):
    """The fee of one month of a permit (月费): due at approval, marked paid by staff."""

    class Status(models.TextChoices):
        DUE = "due", _("待缴")
        PAID = "paid", _("已缴")
        CANCELLED = "cancelled", _("已取消")

    permit = models.ForeignKey(ResidentialPermit, on_delete=models.PROTECT, related_name="fees")
    month = models.DateField(_("月份"), help_text=_("该月第一天"))
    amount_fen = models.PositiveIntegerField(_("金额（分）"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DUE)
    paid_at = models.DateTimeField(_("缴费时间"), null=True, blank=True)
    paid_by = models.CharField(_("登记人"), max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    scope_fields = {"district": "permit__district"}

    class Meta:
        ordering = ["permit", "month"]
        verbose_name = _("居住认证月费")
        verbose_name_plural = _("居住认证月费")
        constraints = [
            models.UniqueConstraint(fields=["permit", "month"], name="parking_permit_fee_one_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.permit_id} {self.month:%Y-%m}"


def _register_personal_fields() -> None:
    from govcenter.core.masking import register_personal_fields

    # core.masking has no address kind: the address is masked like a name (first character only).
    register_personal_fields(
        "parking.residentialpermit",
        {
            "applicant_name": "name",
            "applicant_phone": "phone",
            "applicant_id_number": "id_number",
            "plate": "plate",
            "address": "name",
        },
    )


_register_personal_fields()
