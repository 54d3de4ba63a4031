"""What the ingest path needs to know about an operator beyond its ``Unit`` row.

:class:`OperatorProfile` (one per operator ``Unit``): the datum its coordinates come in
(MDS says WGS-84; Chinese operators often send GCJ-02 or BD-09 — ADR 0005: we store GCJ-02
and keep the declared datum), its MDS ``provider_id``, and optional MDS Provider endpoints
for a later pull. Set through ``services.ingest.operator_profile_set`` (audited).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from govcenter.core.geo import Datum
from govcenter.core.scope import ScopedModel


class OperatorProfile(ScopedModel):
    """An operator's MDS settings: declared datum, provider id, Provider API endpoints."""

    DATUM_CHOICES = [(d.value, d.value) for d in Datum]

    operator = models.OneToOneField(
        "core.Unit",
        verbose_name=_("运营企业"),
        on_delete=models.PROTECT,
        related_name="bikeshare_profile",
        limit_choices_to={"kind": "operator"},
    )
    datum = models.CharField(_("坐标系"), max_length=8, choices=DATUM_CHOICES, default=Datum.WGS84.value)
    provider_id = models.UUIDField(_("MDS 运营商标识"), null=True, blank=True, unique=True)
    provider_api_url = models.URLField(_("MDS Provider 接口地址"), blank=True)
    gbfs_url = models.URLField(_("GBFS 地址"), blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_fields = {"operator": "operator"}

    class Meta:
        ordering = ["operator"]
        verbose_name = _("运营企业接入配置")
        verbose_name_plural = _("运营企业接入配置")

    def __str__(self) -> str:
        return f"{self.operator_id} {self.datum}"
