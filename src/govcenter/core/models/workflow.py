"""The history of every workflow transition, for any model (core/workflow.py, ADR 0006)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TransitionLog(models.Model):
    """One transition of one object's state machine: who, when, from → to, with what comment.

    Written by :func:`govcenter.core.workflow.advance` in the transition's transaction, next to
    the audit entry; append-only by convention (no service updates or deletes it). ``actor_name``
    and ``unit_name`` keep the names as they were, should the user or unit be renamed later.
    """

    content_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, verbose_name=_("对象类型"))
    object_id = models.CharField(_("对象编号"), max_length=64)
    target = GenericForeignKey("content_type", "object_id")
    transition = models.CharField(_("操作"), max_length=60)
    source = models.CharField(_("原状态"), max_length=40)
    state = models.CharField(_("新状态"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("操作人")
    )
    actor_name = models.CharField(_("操作人姓名"), max_length=150, blank=True)
    unit = models.ForeignKey(
        "core.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("操作单位")
    )
    unit_name = models.CharField(_("操作单位名称"), max_length=100, blank=True)
    comment = models.TextField(_("意见"), blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("流转记录")
        verbose_name_plural = _("流转记录")
        indexes = [models.Index(fields=["content_type", "object_id", "at"], name="core_transition_object")]

    def __str__(self) -> str:
        return f"{self.content_type_id}:{self.object_id} {self.source} → {self.state}"
