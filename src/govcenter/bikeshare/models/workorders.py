"""Work orders to operators (派单): the Center tells an operator to fix a violation.

An order is created from a violation the system sees (bikes parked outside the fences, a
station accumulating bikes, an operator over its fleet quota, a scan check that found a
problem) or by hand by Center staff. It carries a response deadline (``due_at``, hours per
kind from the settings). The operator responds with a note and evidence (photo references,
text); the Center verifies and closes it (accepted) or reopens it (rejected: back to
``issued`` with a new deadline), or cancels it with a reason. An order not responded to by
its deadline is marked overdue (``overdue_at``) by the periodic sweep; the flag stays as a
record even if the operator responds later.

``dedupe_key`` names the violation: while an order with the same key is open (issued or
responded) no second order is issued for it (a partial unique constraint enforces this
under concurrency). Numbers read ``派单-YYYYMM-NNNN`` per Beijing month, drawn from
:class:`WorkOrderCounter` under a row lock.

Every transition is kept as a :class:`WorkOrderEvent` (actor, time, note, data).

Scope: operator staff see their operator's orders, district staff their districts' orders,
the Center everything.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class WorkOrderKind(models.TextChoices):
    OUTSIDE_FENCE = "outside_fence", _("围栏外停放")
    ACCUMULATION = "accumulation", _("站点车辆淤积")
    OVER_QUOTA = "over_quota", _("超出投放配额")
    SCAN_VIOLATION = "scan_violation", _("扫码核查问题")
    MANUAL = "manual", _("人工派单")


class WorkOrderStatus(models.TextChoices):
    ISSUED = "issued", _("待响应")
    RESPONDED = "responded", _("已响应")
    CLOSED = "closed", _("已办结")
    CANCELLED = "cancelled", _("已撤销")


OPEN_STATUSES = (WorkOrderStatus.ISSUED, WorkOrderStatus.RESPONDED)


class WorkOrderSource(models.TextChoices):
    SYSTEM = "system", _("系统生成")
    MANUAL = "manual", _("人工创建")


class WorkOrder(ScopedModel):
    """One order to one operator about one violation."""

    number = models.CharField(_("派单编号"), max_length=32, unique=True)
    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_work_orders",
        limit_choices_to={"kind": "operator"},
    )
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("所属区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_work_orders",
    )
    kind = models.CharField(_("派单类型"), max_length=20, choices=WorkOrderKind.choices)
    source = models.CharField(
        _("来源"), max_length=10, choices=WorkOrderSource.choices, default=WorkOrderSource.SYSTEM
    )
    subject = models.CharField(_("对象"), max_length=255, help_text=_("车辆编号、围栏/站点或配额"))
    dedupe_key = models.CharField(_("去重键"), max_length=255, blank=True)
    title = models.CharField(_("标题"), max_length=200)
    description = models.TextField(_("说明"), blank=True)
    lon = models.FloatField(_("经度"), null=True, blank=True)
    lat = models.FloatField(_("纬度"), null=True, blank=True)
    datum = models.CharField(_("坐标系"), max_length=8, default="GCJ-02", editable=False)
    evidence = models.JSONField(_("系统证据"), default=dict, blank=True)
    status = models.CharField(
        _("状态"), max_length=12, choices=WorkOrderStatus.choices, default=WorkOrderStatus.ISSUED
    )
    issued_at = models.DateTimeField(_("派单时间"), db_index=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("派单人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_work_orders_issued",
    )
    due_at = models.DateTimeField(_("响应期限"), db_index=True)
    initial_due_at = models.DateTimeField(_("首次响应期限"))
    overdue_at = models.DateTimeField(_("超期时间"), null=True, blank=True)
    responded_at = models.DateTimeField(_("响应时间"), null=True, blank=True)
    first_responded_at = models.DateTimeField(_("首次响应时间"), null=True, blank=True)
    responded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("响应人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_work_orders_responded",
    )
    response_note = models.TextField(_("响应说明"), blank=True)
    response_evidence = models.JSONField(_("响应证据"), default=list, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("撤销时间"), null=True, blank=True)
    cancel_reason = models.TextField(_("撤销原因"), blank=True)
    reopen_count = models.PositiveIntegerField(_("退回次数"), default=0)

    scope_fields = {"operator": "operator", "district": "district"}

    class Meta:
        ordering = ["-issued_at", "-id"]
        verbose_name = _("派单")
        verbose_name_plural = _("派单")
        permissions = [("respond_workorder", "Can respond to a work order (operator)")]
        constraints = [
            models.UniqueConstraint(
                fields=["dedupe_key"],
                condition=Q(status__in=["issued", "responded"]) & ~Q(dedupe_key=""),
                name="bikeshare_workorder_open_dedupe",
            ),
        ]
        indexes = [
            models.Index(fields=["operator", "issued_at"]),
            models.Index(fields=["district", "issued_at"]),
            models.Index(fields=["status", "due_at"]),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_overdue(self) -> bool:
        return self.overdue_at is not None

    @property
    def responded_on_time(self) -> bool | None:
        if self.first_responded_at is None:
            return None
        return self.first_responded_at <= self.initial_due_at


class WorkOrderAction(models.TextChoices):
    ISSUE = "issue", _("派单")
    RESPOND = "respond", _("响应")
    CLOSE = "close", _("办结")
    REOPEN = "reopen", _("退回")
    CANCEL = "cancel", _("撤销")
    OVERDUE = "overdue", _("超期")


class WorkOrderEvent(ScopedModel):
    """One transition of one order."""

    order = models.ForeignKey(
        WorkOrder, verbose_name=_("派单"), on_delete=models.CASCADE, related_name="events"
    )
    at = models.DateTimeField(_("时间"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_work_order_events",
    )
    action = models.CharField(_("操作"), max_length=10, choices=WorkOrderAction.choices)
    from_status = models.CharField(_("原状态"), max_length=12, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)

    scope_fields = {"operator": "order__operator", "district": "order__district"}

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("派单记录")
        verbose_name_plural = _("派单记录")

    def __str__(self) -> str:
        return f"{self.order_id} {self.action}"


class WorkOrderCounter(models.Model):
    """The last number issued per Beijing month (``YYYYMM``)."""

    period = models.CharField(_("月份"), max_length=6, primary_key=True)
    last = models.PositiveIntegerField(_("最后序号"), default=0)

    class Meta:
        verbose_name = _("派单编号计数")
        verbose_name_plural = _("派单编号计数")

    def __str__(self) -> str:
        return f"{self.period}:{self.last}"


__all__ = [
    "OPEN_STATUSES",
    "WorkOrder",
    "WorkOrderAction",
    "WorkOrderCounter",
    "WorkOrderEvent",
    "WorkOrderKind",
    "WorkOrderSource",
    "WorkOrderStatus",
]
