"""The subsystems as *kinds* of case: one declaration each, from which the API viewset
(``api/cases.py``), the pages (``views.py``), the Excel export, the overdue board and the
comprehensive query are built — so the ten subsystems share one way of being listed, shown,
stepped, urged and exported (ADR 0006).

A :class:`Kind` names its model (a :class:`~govcenter.congestion.models.Case`), its read
serializer, its filters, how a case is created and its :class:`Step` s. A step is one workflow
transition of the model: its input is a DRF serializer (the API's request body and the page's
form), ``run(actor=, <case_arg>=case, **validated_data)`` is the service that performs it and returns the
saved case. Which steps a user sees is decided by the workflow (``core.workflow.available``): the
transition's own ``permission`` and the case's state, never by the page.

The declarations bind each subsystem's services to its input serializers, so they live beside
the API (``api/<subsystem>.py``); this module itself holds only the registry and the case rules
that need no web layer (open states, colours, overdue), which ``services/board.py`` uses.
Each subsystem registers its kind from ``CongestionConfig.ready()``::

    register(Kind(code="suggestions", model=Suggestion, label=_("意见建议"), ...))
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q

from govcenter.core import deadlines


@dataclass(frozen=True)
class Step:
    """One transition as a user action: ``name`` is the model's transition method."""

    name: str
    label: str
    serializer: type
    run: Callable  # run(*, actor, <kind.case_arg>=case, **validated_data) -> case
    style: str = "primary"  # button look: primary / secondary / danger
    upload: bool = False  # the form carries files (attachments named by the step)


@dataclass(frozen=True)
class Create:
    """How a case of the kind is registered by staff: the input and the service."""

    serializer: type
    run: Callable  # run(*, actor, **validated_data) -> case
    permission: str  # app.codename


@dataclass(frozen=True)
class Kind:
    code: str  # URL segment: /congestion/<code>/, /api/v1/congestion/<code>/
    model: type
    label: str
    serializer: type  # how one case reads (API, detail page)
    view_permission: str
    filterset: type | None = None  # django-filter FilterSet over the model
    create: Create | None = None
    steps: tuple[Step, ...] = ()
    open_states: tuple[str, ...] = ()  # states in which the deadline runs (warnings, overdue)
    columns: tuple[str, ...] = ("number", "title", "state", "district", "deadline")  # list + export
    progress: Callable | None = None  # case -> percent done (0..100) for the yellow warning
    started: Callable | None = None  # case -> when the deadline started to run (default created_at)
    behind: Callable | None = None  # case -> True when a planned milestone slipped (yellow)
    ordering: tuple[str, ...] = ("-created_at", "-id")
    case_arg: str = "case"  # the keyword under which the steps' services take the case
    extra: dict = field(default_factory=dict)

    def step(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.name == name), None)

    def is_open(self, case) -> bool:
        return case.state in self.open_states

    def overdue_q(self, *, on: dt.date | None = None) -> Q:
        """Open cases whose deadline day has passed."""
        return Q(state__in=self.open_states, deadline__lt=on or deadlines.today())

    def warning(self, case, *, on: dt.date | None = None) -> deadlines.Level:
        """The case's colour on ``on`` (default today): none when closed or without a deadline."""
        if not self.is_open(case) or case.deadline is None:
            return deadlines.Level.NONE
        started = self.started(case) if self.started else case.created_at
        return deadlines.warning(
            case.deadline,
            on=on,
            started=started,
            progress_pct=self.progress(case) if self.progress else None,
            behind=bool(self.behind(case)) if self.behind else False,
        )


_KINDS: dict[str, Kind] = {}


def register(kind: Kind) -> Kind:
    if kind.code in _KINDS and _KINDS[kind.code] is not kind:
        raise ValueError(f"congestion kind {kind.code!r} registered twice")
    _KINDS[kind.code] = kind
    return kind


def get(code: str) -> Kind | None:
    return _KINDS.get(code)


def all_kinds() -> list[Kind]:
    return list(_KINDS.values())


def for_model(model) -> Kind | None:
    return next((k for k in _KINDS.values() if k.model is model or isinstance(model, k.model)), None)
