"""Fleet quotas (总量调控): how many bikes an operator may deploy, per district or city-wide.

A quota is in force over ``[valid_from, valid_to)`` (``valid_to`` null: until further
notice). Setting a new quota for (operator, district) closes the open one at the new one's
start (services/quotas.py, under a row lock), so the history never overlaps; the partial
unique constraints make "one open quota per operator and district" a database fact too.
``district`` null is the operator's city-wide quota.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from govcenter.core.scope import ScopedModel


class FleetQuota(ScopedModel):
    operator = models.ForeignKey(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_quotas",
        limit_choices_to={"kind": "operator"},
    )
    district = models.ForeignKey(
        "core.District",
        verbose_name=_("行政区"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="bikeshare_quotas",
        help_text="empty: city-wide",
    )
    quota = models.PositiveIntegerField(_("投放总量上限"))
    valid_from = models.DateTimeField(_("生效时间"))
    valid_to = models.DateTimeField(_("截止时间"), null=True, blank=True)
    reason = models.CharField(_("调整原因"), max_length=500, blank=True)
    set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    scope_fields = {"operator": "operator", "district": "district"}

    class Meta:
        ordering = ["operator", "district", "-valid_from"]
        verbose_name = _("车辆投放总量")
        verbose_name_plural = _("车辆投放总量")
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")),
                name="bikeshare_quota_valid_range",
            ),
            models.UniqueConstraint(
                fields=["operator", "district"],
                condition=Q(valid_to__isnull=True, district__isnull=False),
                name="bikeshare_quota_one_open_per_district",
            ),
            models.UniqueConstraint(
                fields=["operator"],
                condition=Q(valid_to__isnull=True, district__isnull=True),
                name="bikeshare_quota_one_open_citywide",
            ),
        ]
        indexes = [models.Index(fields=["operator", "district", "valid_from"])]

    def __str__(self) -> str:
        return f"{self.operator_id}/{self.district_id or '*'}: {self.quota}"
