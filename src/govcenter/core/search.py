"""Full-text search over Chinese text, through the caller's data scope (ADR 0003).

Apps register what is searchable (:func:`register`): a *kind* name, the model, a ``document``
function giving the title and body text of one object (masked where it holds personal data),
and optionally ``visible(user)`` — the queryset the caller may see (default: the model's
``objects.restrict(user)``; a model without a scope mechanism must say who sees what).

* :func:`index` / :func:`remove` keep one :class:`~govcenter.core.models.SearchDocument` per
  object, written by the app's services in the object's transaction; :func:`reindex` rebuilds
  a kind (``govcenter search reindex``).
* Text is cut with jieba's search mode (``lcut_for_search``: "朝阳区建国路" → 朝阳, 阳区, 朝阳区,
  建国, 建国路 …) and stored as space-separated tokens: SQLite FTS5 and PostgreSQL
  ``to_tsvector('simple')`` index them as words.
* :func:`query` cuts the query the same way and matches documents that hold **every** word
  (AND), or — when the query holds Latin letters or digits (plates, codes, numbers, which jieba
  does not cut the way they are typed) — whose title contains it as typed. The scope filter is part of the same SQL as the match, so nothing outside the caller's
  scope is ever counted or ranked. Results: best first (FTS5 ``bm25`` / PostgreSQL ``ts_rank``),
  title-only matches after them.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .models import SearchDocument

MAX_TOKENS_CHARS = 400_000
MAX_QUERY_CHARS = 100
_ASCII_ALNUM = re.compile(r"[0-9A-Za-z]")
_PUNCT = re.compile(r"[\s\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Kind:
    name: str
    model: type
    document: Callable[[object], tuple[str, str]]  # obj -> (title, body)
    visible: Callable[[object], QuerySet] | None = None
    label: str = ""
    attachments: bool = False  # the text extracted from the object's live attachments is searchable
    permission: str | None = None  # the function permission needed to search the kind at all

    def queryset(self, user) -> QuerySet:
        if self.visible is not None:
            return self.visible(user)
        return self.model.objects.restrict(user)


_registry: dict[str, Kind] = {}


def register(
    name: str, model, *, document, visible=None, label: str = "", attachments: bool = False, permission=None
) -> Kind:
    """Make ``model`` searchable as ``name`` (see the module docstring); with ``attachments``
    the text of its live attachments joins the body (re-index after attaching). ``permission``
    (``app.codename``): a caller without it never searches the kind, whatever their scope."""
    if not re.fullmatch(r"[a-z][a-z0-9_.]{1,59}", name):
        raise ValueError(f"bad search kind name {name!r}")
    if visible is None and not hasattr(model.objects, "restrict"):
        raise TypeError(f"{model.__name__} has no scope: give visible(user)")
    kind = Kind(
        name, model, document, visible, label or str(model._meta.verbose_name), attachments, permission
    )
    _registry[name] = kind
    return kind


def kinds() -> dict[str, Kind]:
    return dict(_registry)


def _kind_of(obj) -> Kind:
    for kind in _registry.values():
        if isinstance(obj, kind.model):
            return kind
    raise LookupError(f"{type(obj).__name__} is not registered for search")


_jieba_lock = threading.Lock()


@functools.cache
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        jieba.initialize()  # the dictionary: ~1 s once per process
    return jieba


def tokens(text: str) -> list[str]:
    """The search-mode words of ``text`` (lower-cased, punctuation and spaces dropped)."""
    if not text:
        return []
    words = _jieba().lcut_for_search(text)
    return [w.lower() for w in (_PUNCT.sub(" ", w).strip() for w in words) if w and " " not in w]


def index(obj) -> SearchDocument:
    """Write (or rewrite) the search document of ``obj``."""
    kind = _kind_of(obj)
    title, body = kind.document(obj)
    title = (title or "").strip()[:300]
    if kind.attachments:
        from django.contrib.contenttypes.models import ContentType

        from .models import Attachment

        texts = Attachment.objects.filter(
            content_type=ContentType.objects.get_for_model(obj),
            object_id=str(obj.pk),
            deleted_at__isnull=True,
        ).values_list("text", flat=True)
        body = "\n".join([body or "", *texts])
    text = " ".join(tokens(f"{title}\n{body or ''}"))[:MAX_TOKENS_CHARS]
    doc, _ = SearchDocument.objects.update_or_create(
        kind=kind.name,
        object_id=obj.pk,
        defaults={"title": title, "tokens": text, "updated_at": timezone.now()},
    )
    return doc


def remove(obj) -> int:
    kind = _kind_of(obj)
    return SearchDocument.objects.filter(kind=kind.name, object_id=obj.pk).delete()[0]


def reindex(name: str | None = None, *, batch: int = 500) -> dict[str, int]:
    """Rebuild the documents of one kind (or all): every object indexed, stale ones dropped."""
    done: dict[str, int] = {}
    for kind in [_registry[name]] if name else list(_registry.values()):
        count = 0
        with transaction.atomic():
            SearchDocument.objects.filter(kind=kind.name).delete()
            for obj in kind.model._base_manager.order_by("pk").iterator(chunk_size=batch):
                index(obj)
                count += 1
        done[kind.name] = count
    return done


@dataclass(frozen=True)
class Hit:
    kind: str
    object_id: int
    title: str
    rank: float | None


def _fts_match(words: list[str]) -> tuple[str, list]:
    """SQL selecting the ids of documents holding every word, and its parameters."""
    if connection.vendor == "postgresql":
        return (
            "SELECT id FROM core_searchdocument WHERE search_vector @@ plainto_tsquery('simple'::regconfig, %s)",
            [" ".join(words)],
        )
    expression = " ".join('"' + w.replace('"', '""') + '"' for w in words)
    return "SELECT rowid FROM core_search_fts WHERE core_search_fts MATCH %s", [expression]


def _title_match(text: str) -> tuple[str, list]:
    """SQL selecting the ids of documents whose title contains ``text`` (case-insensitive, as
    typed: plates, codes), the same expression the PostgreSQL trigram index is built on."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if connection.vendor == "postgresql":
        return "SELECT id FROM core_searchdocument WHERE UPPER(title::text) LIKE UPPER(%s)", [pattern]
    return "SELECT id FROM core_searchdocument WHERE title LIKE %s ESCAPE '\\'", [pattern]


def _fts_rank(words: list[str]) -> RawSQL:
    """Relevance of the current document (higher is better; NULL when it does not match)."""
    if connection.vendor == "postgresql":
        return RawSQL(
            "CASE WHEN search_vector @@ plainto_tsquery('simple'::regconfig, %s) "
            "THEN ts_rank(search_vector, plainto_tsquery('simple'::regconfig, %s)) END",
            [" ".join(words)] * 2,
        )
    expression = " ".join('"' + w.replace('"', '""') + '"' for w in words)
    return RawSQL(
        "(SELECT -bm25(core_search_fts) FROM core_search_fts "
        "WHERE core_search_fts MATCH %s AND core_search_fts.rowid = core_searchdocument.id)",
        [expression],
    )


def query(
    user, text: str, *, kinds: Iterable[str] | None = None, limit: int = 20, offset: int = 0, count: bool = True
):
    """``(total, [Hit, …])`` for ``text`` among what ``user`` may see (see the module docstring).
    With ``count=False`` the total is not counted (None): a page that shows only the best
    ``limit`` matches saves a second pass over every match."""
    text = (text or "").strip()[:MAX_QUERY_CHARS]
    names = list(kinds) if kinds is not None else list(_registry)
    unknown = [n for n in names if n not in _registry]
    if unknown:
        raise ValueError(f"unknown search kinds {unknown}")
    names = [n for n in names if _registry[n].permission is None or user.has_perm(_registry[n].permission)]
    words = tokens(text)
    if not text or not names:
        return 0, []
    scope = Q(pk__in=[])
    for name in names:
        visible = _registry[name].queryset(user)
        if visible.query.has_filters():
            scope |= Q(kind=name, object_id__in=visible.values("pk"))
        else:  # a city-wide caller sees every object of the kind: no semi-join over the whole table
            scope |= Q(kind=name)
    # The matching ids first — each arm can use its own index (trigram on UPPER(title), the
    # tsvector GIN / FTS5) — then the scope over those few rows. (An OR of the two in one WHERE
    # made PostgreSQL scan every document.)
    arms = []
    if _ASCII_ALNUM.search(text) or not words:  # plates, codes, numbers: as typed, in the title
        arms.append(_title_match(text))
    if words:
        arms.append(_fts_match(words))
    sql = " UNION ".join(a for a, _p in arms)
    params = [p for _a, arm_params in arms for p in arm_params]
    docs = SearchDocument.objects.filter(scope).filter(id__in=RawSQL(sql, params))  # noqa: S611 (parameters)
    total = docs.count() if count else None
    if words:
        docs = docs.annotate(rank=_fts_rank(words)).order_by(
            F("rank").desc(nulls_last=True), "-updated_at", "id"
        )
    else:
        docs = docs.order_by("-updated_at", "id")
    rows = docs.values_list("kind", "object_id", "title", "rank" if words else "id")[offset : offset + limit]
    return total, [Hit(k, o, t, (r if words else None)) for k, o, t, r in rows]
