"""Custom events (:class:`~govcenter.parking.models.statevents.StatEvent`) of statistic 12:
selectors, services (audited) and the CRUD page ``/parking/stats/events/``.

Scope: an event of a district belongs to that district (a district manager sees and keeps
their district's events); a city-wide event (no district) is seen by everyone who may read
events and written only by a caller whose scope is the whole city (the Center's staff).
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from govcenter.core import audit
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import District
from govcenter.core.scope import scope_for

from ..models.statevents import StatEvent
from .common import check_window, district_choices
from .sources import check_years

FIELDS = ["name", "start", "end", "district_id", "note"]


def visible_events(user):
    """The events the caller may see: their districts' and the city-wide ones."""
    scope = scope_for(user)
    qs = StatEvent.objects.all()
    if scope.all:
        return qs
    return qs.filter(Q(district__isnull=True) | Q(district_id__in=sorted(scope.district_ids)))


def editable_events(user):
    """The events the caller may change or delete (city-wide ones only with a city-wide scope)."""
    scope = scope_for(user)
    if scope.all:
        return StatEvent.objects.all()
    return StatEvent.objects.filter(district_id__in=sorted(scope.district_ids))


def _check(user, *, name: str, start: dt.date, end: dt.date, district: District | None) -> None:
    if not (name or "").strip():
        raise ServiceError(_("请填写活动名称。"), code="invalid", details={"name": [""]})
    check_window(start, end)
    check_years(start, end)
    scope = scope_for(user)
    if district is None:
        if not scope.all:
            raise ServiceError(
                _("只有全市数据范围的用户可以登记全市活动。"),
                code="unknown_district",
                details={"district": [""]},
            )
    elif not District.objects.restrict(user).filter(pk=district.pk).exists():
        raise ServiceError(
            _("未知的区或不在数据范围内。"), code="unknown_district", details={"district": [str(district.pk)]}
        )


@transaction.atomic
def stat_event_create(
    *, user, name: str, start: dt.date, end: dt.date, district: District | None = None, note: str = ""
) -> StatEvent:
    """Register a custom event (audited)."""
    _check(user, name=name, start=start, end=end, district=district)
    event = StatEvent.objects.create(
        name=name.strip(),
        start=start,
        end=end,
        district=district,
        note=note or "",
        created_by=user if getattr(user, "pk", None) else None,
    )
    audit.record(
        action="parking.statevent.create",
        obj=event,
        changes={"before": {}, "after": audit.snapshot(event, FIELDS)},
    )
    return event


@transaction.atomic
def stat_event_update(
    *,
    user,
    event: StatEvent,
    name: str,
    start: dt.date,
    end: dt.date,
    district: District | None,
    note: str = "",
) -> StatEvent:
    """Change an event (audited with before/after)."""
    event = editable_events(user).select_for_update(of=("self",)).get(pk=event.pk)
    _check(user, name=name, start=start, end=end, district=district)
    before = audit.snapshot(event, FIELDS)
    event.name, event.start, event.end, event.district, event.note = (
        name.strip(),
        start,
        end,
        district,
        note or "",
    )
    event.save()
    audit.record(
        action="parking.statevent.update",
        obj=event,
        changes=audit.diff(before, audit.snapshot(event, FIELDS)),
    )
    return event


@transaction.atomic
def stat_event_delete(*, user, event: StatEvent) -> None:
    """Delete an event (audited)."""
    event = editable_events(user).select_for_update(of=("self",)).get(pk=event.pk)
    before = audit.snapshot(event, FIELDS)
    pk = event.pk
    event.delete()
    audit.record(
        action="parking.statevent.delete",
        object_type="parking.statevent",
        object_id=pk,
        object_repr=before["name"],
        changes={"before": before, "after": {}},
    )


# ---- the CRUD page -------------------------------------------------------------------------


class StatEventForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("活动名称"), max_length=100)
    start = forms.DateField(label=gettext_lazy("开始日期"), widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=gettext_lazy("结束日期"), widget=forms.DateInput(attrs={"type": "date"}))
    district = forms.ModelChoiceField(
        label=gettext_lazy("所属区"),
        queryset=District.objects.none(),
        required=False,
        empty_label=gettext_lazy("全市"),
    )
    note = forms.CharField(
        label=gettext_lazy("备注"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = district_choices(user)
        for name, f in self.fields.items():
            f.widget.attrs.setdefault("class", "form-select" if name == "district" else "form-control")


def _save(request, form: StatEventForm, event: StatEvent | None):
    data = form.cleaned_data
    kwargs = {
        "user": request.user,
        "name": data["name"],
        "start": data["start"],
        "end": data["end"],
        "district": data["district"],
        "note": data["note"],
    }
    try:
        if event is None:
            return stat_event_create(**kwargs)
        return stat_event_update(event=event, **kwargs)
    except ServiceError as exc:
        form.add_error(None, str(exc.detail))
        return None


@login_required
@permission_required("parking.view_statevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def event_list(request):
    """The events in scope; a form to register one (with the add permission)."""
    can_add = request.user.has_perm("parking.add_statevent")
    form = StatEventForm(request.POST or None, user=request.user)
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied
        if form.is_valid() and _save(request, form, None) is not None:
            messages.success(request, _("活动已登记。"))
            return redirect("parking:stats_events")
    events = visible_events(request.user).select_related("district", "created_by")
    editable = set(editable_events(request.user).values_list("pk", flat=True))
    return render(
        request,
        "parking/stats2/events.html",
        {"events": events, "editable": editable, "form": form, "can_add": can_add},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("parking.change_statevent", raise_exception=True)
@require_http_methods(["GET", "POST"])
def event_edit(request, pk: int):
    event = get_object_or_404(editable_events(request.user), pk=pk)
    initial = {
        "name": event.name,
        "start": event.start,
        "end": event.end,
        "district": event.district,
        "note": event.note,
    }
    form = StatEventForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid() and _save(request, form, event) is not None:
        messages.success(request, _("活动已保存。"))
        return redirect("parking:stats_events")
    return render(
        request,
        "parking/stats2/event_form.html",
        {"event": event, "form": form},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("parking.delete_statevent", raise_exception=True)
@require_POST
def event_delete(request, pk: int):
    event = get_object_or_404(editable_events(request.user), pk=pk)
    stat_event_delete(user=request.user, event=event)
    messages.success(request, _("活动已删除。"))
    return redirect("parking:stats_events")


urlpatterns = [
    path("stats/events/", event_list, name="stats_events"),
    path("stats/events/<int:pk>/", event_edit, name="stats_event_edit"),
    path("stats/events/<int:pk>/delete/", event_delete, name="stats_event_delete"),
]
