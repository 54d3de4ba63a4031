"""The search document table of the full-text search (core/search.py, ADR 0003)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SearchDocument(models.Model):
    """One searchable object: its kind (a registered model), id, title and segmented text.

    ``tokens`` is the title, body and attachment text cut by jieba's search mode, joined by
    spaces, so that SQLite FTS5 (``unicode61``) and PostgreSQL ``to_tsvector('simple', …)`` index
    Chinese words as they are. The full-text index lives beside the table: the FTS5 table
    ``core_search_fts`` (external content, kept in step by triggers) on SQLite, the generated
    ``search_vector`` column with a GIN index (and a trigram index on the title) on PostgreSQL —
    both made by migration 0008. Personal data never enters (the registered builders give masked
    text only).
    """

    kind = models.CharField(_("类别"), max_length=60)
    object_id = models.BigIntegerField(_("对象编号"))
    title = models.CharField(_("标题"), max_length=300)
    tokens = models.TextField(_("分词文本"), blank=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("检索文档")
        verbose_name_plural = _("检索文档")
        constraints = [models.UniqueConstraint(fields=["kind", "object_id"], name="core_search_kind_object")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id} {self.title}"
