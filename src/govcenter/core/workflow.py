"""One way to run a workflow transition, for every state machine (ADR 0006).

Models declare their states with django-fsm-2 (``FSMField(protected=True)``) and their
transitions with ``@transition(field=…, source=…, target=…, permission=…)`` — ``permission`` a
permission codename or a callable ``(instance, user) -> bool`` (role, unit, assignment). Services
then call :func:`advance`, which in one transaction:

1. locks the object's row (``select_for_update``) and refuses with 409 ``state_changed`` when the
   state is no longer the one the caller saw — two people pressing "approve" at once: the
   second gets a clear refusal, never a double transition;
2. refuses 403 ``transition_forbidden`` when the actor may not run the transition, and 409
   ``illegal_transition`` (naming the transitions allowed now) when the state does not allow it
   or a condition fails;
3. runs it, saves, appends a :class:`~govcenter.core.models.TransitionLog` row (who, unit,
   when, from → to, comment) and the audit entry (before/after of ``audit_fields``).

:func:`available` lists the transitions an actor may run now (for buttons), :func:`history`
the log of one object.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.utils.translation import gettext as _
from django_fsm import FSMFieldMixin, can_proceed, has_transition_perm

from . import audit
from .api.errors import ServiceError
from .models import TransitionLog


def state_field(obj_or_model, field: str | None = None) -> str:
    """The name of the model's FSM field (``field`` if given; the only one otherwise)."""
    meta = obj_or_model._meta
    if field is not None:
        if not isinstance(meta.get_field(field), FSMFieldMixin):
            raise TypeError(f"{meta.label}.{field} is not an FSM field")
        return field
    names = [f.name for f in meta.concrete_fields if isinstance(f, FSMFieldMixin)]
    if len(names) != 1:
        raise TypeError(f"{meta.label} has {len(names)} FSM fields: name the one to use")
    return names[0]


def _transitions(obj, field: str) -> dict:
    method = getattr(obj, f"get_all_{field}_transitions")
    return {t.name: t for t in method()}


def available(obj, user, *, field: str | None = None) -> list[str]:
    """Names of the transitions ``user`` may run on ``obj`` in its current state."""
    name = state_field(obj, field)
    return [t.name for t in getattr(obj, f"get_available_user_{name}_transitions")(user)]


def advance(
    obj: models.Model,
    transition: str,
    *,
    actor,
    comment: str = "",
    field: str | None = None,
    audit_fields: Iterable[str] | None = None,
    action: str | None = None,
    logged_at=None,
    **kwargs,
):
    """Run ``transition`` on ``obj`` as ``actor`` (see the module docstring); returns the
    locked, saved instance. ``kwargs`` go to the transition method; ``action`` is the audit
    action (default ``<app_label>.<model>.<transition>``); ``logged_at`` the time the history
    row gives (default now — a service replaying a historical register passes the step's time)."""
    name = state_field(obj, field)
    if transition not in _transitions(obj, name):
        raise ValueError(f"{obj._meta.label} has no transition {transition!r}")
    seen = getattr(obj, name)
    with transaction.atomic():
        locked = type(obj)._base_manager.select_for_update().get(pk=obj.pk)
        current = getattr(locked, name)
        if current != seen:
            raise ServiceError(
                _("该事项的状态已被他人更新，请刷新后再操作。"),
                code="state_changed",
                status=409,
                details={"state": [str(current)], "expected": [str(seen)]},
            )
        method = getattr(locked, transition)
        if not can_proceed(method):  # the state does not allow it, or a condition fails
            allowed = available(locked, actor, field=name) if actor is not None else []
            raise ServiceError(
                _("当前状态下不能执行该操作。"),
                code="illegal_transition",
                status=409,
                details={"state": [str(current)], "transition": [transition], "allowed": allowed},
            )
        if actor is not None and not has_transition_perm(method, actor):
            raise ServiceError(
                _("您无权执行该操作。"),
                code="transition_forbidden",
                status=403,
                details={"transition": [transition]},
            )
        fields = list(audit_fields) if audit_fields is not None else None
        before = audit.snapshot(locked, fields)
        method(**kwargs)
        locked.save()
        unit = getattr(actor, "unit", None) if actor is not None else None
        TransitionLog.objects.create(
            content_type=ContentType.objects.get_for_model(locked),
            object_id=str(locked.pk),
            transition=transition,
            source=str(current),
            state=str(getattr(locked, name)),
            actor=actor if getattr(actor, "pk", None) else None,
            actor_name=(actor.get_full_name() or actor.get_username()) if getattr(actor, "pk", None) else "",
            unit=unit,
            unit_name=str(unit) if unit is not None else "",
            comment=comment or "",
            **({"at": logged_at} if logged_at is not None else {}),
        )
        audit.record(
            action=action or f"{locked._meta.app_label}.{locked._meta.model_name}.{transition}",
            obj=locked,
            changes=audit.diff(before, audit.snapshot(locked, fields)),
            reason=(comment or "")[:500],
        )
    return locked


def history(obj: models.Model):
    """The TransitionLog rows of ``obj``, oldest first."""
    return TransitionLog.objects.filter(
        content_type=ContentType.objects.get_for_model(obj), object_id=str(obj.pk)
    ).select_related("actor", "unit")
