"""UI of the parking base data: roads, segments, spaces, devices and the district map.

Lists and details come from the selectors through the scoped base views (an object
outside the caller's scope is 404); forms hand their data to the services and show the
services' refusals on the form. Reading needs ``parking.view_<model>``; creating
``parking.add_<model>``; every other write ``parking.change_<model>``.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST
from django.views.generic import FormView

from govcenter.core.views.base import AnyPermissionRequiredMixin, ScopedDetailView, ScopedListView

from .. import forms
from ..filters import DeviceFilterSet, RoadFilterSet, SegmentFilterSet, SpaceFilterSet
from ..selectors import base as selectors
from ..services import base as services
from ..services import devices as device_services

T = "parking/basedata/"


def add_service_errors(form, exc: ValidationError) -> None:
    """Put a service's ValidationError on the form (unknown fields become form-wide errors)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class _ServiceFormView(AnyPermissionRequiredMixin, FormView):
    """A form whose valid data goes to a service; an edit form fetches its object through the scope."""

    template_name = T + "form.html"
    title = ""
    list_url_name = ""
    selector = None  # for edit forms: selectors.<x>_list

    def dispatch(self, request, *args, **kwargs):
        self.object = None
        if "pk" in kwargs and request.user.is_authenticated:
            self.object = get_object_or_404(type(self).selector(user=request.user), pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        kwargs = {**super().get_form_kwargs(), "user": self.request.user}
        if self.object is not None and issubclass(self.form_class, forms.forms.ModelForm):
            kwargs["instance"] = self.object
        return kwargs

    def form_valid(self, form):
        try:
            obj = self.perform(form)
        except ValidationError as exc:
            add_service_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, _("已保存。"))
        return HttpResponseRedirect(
            obj.get_detail_url() if hasattr(obj, "get_detail_url") else self.success_url_for(obj)
        )

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["title"] = self.title
        context["object"] = self.object
        context["wide_fields"] = ("geometry",)
        context["cancel_url"] = (
            self.success_url_for(self.object) if self.object else reverse(self.list_url_name)
        )
        return context


# ------------------------------------------------------------------------------------------
# Roads
# ------------------------------------------------------------------------------------------


class RoadListView(ScopedListView):
    permission_required = ("parking.view_road",)
    filterset_class = RoadFilterSet
    template_name = T + "road_list.html"

    def base_queryset(self):
        return selectors.road_list(user=self.request.user).order_by("district__sort_order", "code")


class RoadDetailView(ScopedDetailView):
    permission_required = ("parking.view_road",)
    template_name = T + "road_detail.html"

    def base_queryset(self):
        return selectors.road_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["segments"] = selectors.segment_list(user=self.request.user).filter(road=self.object)
        context["versions"] = selectors.road_versions(user=self.request.user, road=self.object)[:50]
        return context


class _RoadForm(_ServiceFormView):
    list_url_name = "parking:road_list"
    selector = staticmethod(selectors.road_list)

    def success_url_for(self, obj):
        return reverse("parking:road_detail", args=[obj.pk])


class RoadCreateView(_RoadForm):
    permission_required = ("parking.add_road",)
    form_class = forms.RoadForm
    title = gettext_lazy("新建道路")

    def perform(self, form):
        return services.road_create(actor=self.request.user, **form.cleaned_data)


class RoadUpdateView(_RoadForm):
    permission_required = ("parking.change_road",)
    form_class = forms.RoadEditForm
    title = gettext_lazy("编辑道路")

    def perform(self, form):
        return services.road_update(actor=self.request.user, road=self.object, **form.cleaned_data)


# ------------------------------------------------------------------------------------------
# Segments
# ------------------------------------------------------------------------------------------


class SegmentListView(ScopedListView):
    permission_required = ("parking.view_segment",)
    filterset_class = SegmentFilterSet
    template_name = T + "segment_list.html"

    def base_queryset(self):
        return selectors.segment_list(user=self.request.user).order_by("district__sort_order", "code")


class SegmentDetailView(ScopedDetailView):
    permission_required = ("parking.view_segment",)
    template_name = T + "segment_detail.html"

    def base_queryset(self):
        return selectors.segment_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["spaces"] = selectors.space_list(user=user).filter(segment=self.object)[:500]
        context["devices"] = selectors.device_list(user=user).filter(segment=self.object)
        context["versions"] = selectors.segment_versions(user=user, segment=self.object)[:50]
        context["bindings"] = selectors.device_bindings(user=user, segment=self.object)[:100]
        context["reason_form"] = forms.ReasonForm()
        return context


class _SegmentForm(_ServiceFormView):
    form_class = forms.SegmentForm
    list_url_name = "parking:segment_list"
    selector = staticmethod(selectors.segment_list)

    def success_url_for(self, obj):
        return reverse("parking:segment_detail", args=[obj.pk])


class SegmentCreateView(_SegmentForm):
    permission_required = ("parking.add_segment",)
    title = gettext_lazy("新建路段")

    def get_initial(self):
        road = self.request.GET.get("road", "")
        return {"road": road} if road.isdigit() else {}

    def perform(self, form):
        return services.segment_create(actor=self.request.user, **form.cleaned_data)


class SegmentUpdateView(_SegmentForm):
    permission_required = ("parking.change_segment",)
    title = gettext_lazy("编辑路段")

    def perform(self, form):
        return services.segment_update(actor=self.request.user, segment=self.object, **form.cleaned_data)


# ------------------------------------------------------------------------------------------
# Spaces
# ------------------------------------------------------------------------------------------


class SpaceListView(ScopedListView):
    permission_required = ("parking.view_space",)
    filterset_class = SpaceFilterSet
    template_name = T + "space_list.html"

    def base_queryset(self):
        return selectors.space_list(user=self.request.user).order_by("segment__code", "number")


class SpaceDetailView(ScopedDetailView):
    permission_required = ("parking.view_space",)
    template_name = T + "space_detail.html"

    def base_queryset(self):
        return selectors.space_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        user = self.request.user
        context["devices"] = selectors.device_list(user=user).filter(space=self.object)
        context["versions"] = selectors.space_versions(user=user, space=self.object)[:50]
        context["bindings"] = selectors.device_bindings(user=user, space=self.object)[:50]
        context["reason_form"] = forms.ReasonForm()
        return context


class _SpaceForm(_ServiceFormView):
    form_class = forms.SpaceForm
    list_url_name = "parking:space_list"
    selector = staticmethod(selectors.space_list)

    def success_url_for(self, obj):
        return reverse("parking:space_detail", args=[obj.pk])


class SpaceCreateView(_SpaceForm):
    permission_required = ("parking.add_space",)
    title = gettext_lazy("新建泊位")

    def get_initial(self):
        segment = self.request.GET.get("segment", "")
        return {"segment": segment} if segment.isdigit() else {}

    def perform(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if k != "status"}
        return services.space_create(actor=self.request.user, **data)


class SpaceUpdateView(_SpaceForm):
    permission_required = ("parking.change_space",)
    title = gettext_lazy("编辑泊位")

    def perform(self, form):
        data = dict(form.cleaned_data)
        if not data.get("status"):
            data.pop("status", None)
        return services.space_update(actor=self.request.user, space=self.object, **data)


# ------------------------------------------------------------------------------------------
# Devices
# ------------------------------------------------------------------------------------------


class DeviceListView(ScopedListView):
    permission_required = ("parking.view_device",)
    filterset_class = DeviceFilterSet
    template_name = T + "device_list.html"

    def base_queryset(self):
        return selectors.device_list(user=self.request.user).order_by("district__sort_order", "serial")


class DeviceDetailView(ScopedDetailView):
    permission_required = ("parking.view_device",)
    template_name = T + "device_detail.html"

    def base_queryset(self):
        return selectors.device_list(user=self.request.user)

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["offline_periods"] = selectors.device_offline_periods(
            user=self.request.user, device=self.object
        )[:50]
        context["bindings"] = selectors.device_bindings(user=self.request.user, device=self.object)[:50]
        context["reason_form"] = forms.ReasonForm()
        return context


class _DeviceForm(_ServiceFormView):
    list_url_name = "parking:device_list"
    selector = staticmethod(selectors.device_list)

    def success_url_for(self, obj):
        return reverse("parking:device_detail", args=[obj.pk])


class DeviceCreateView(_DeviceForm):
    permission_required = ("parking.add_device",)
    form_class = forms.DeviceForm
    title = gettext_lazy("登记设备")

    def perform(self, form):
        data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
        return device_services.device_register(actor=self.request.user, **data)


class DeviceUpdateView(_DeviceForm):
    permission_required = ("parking.change_device",)
    form_class = forms.DeviceEditForm
    title = gettext_lazy("编辑设备")

    def perform(self, form):
        return device_services.device_update(actor=self.request.user, device=self.object, **form.cleaned_data)


class DeviceBindView(_DeviceForm):
    permission_required = ("parking.change_device",)
    form_class = forms.DeviceBindForm
    title = gettext_lazy("绑定设备")

    def perform(self, form):
        return device_services.device_bind(actor=self.request.user, device=self.object, **form.cleaned_data)


# ------------------------------------------------------------------------------------------
# POST-only actions: retire, issue a credential
# ------------------------------------------------------------------------------------------


def _retire(request, *, pk, selector, service, kwarg, detail_url_name):
    obj = get_object_or_404(selector(user=request.user), pk=pk)
    form = forms.ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        service(actor=request.user, reason=reason, **{kwarg: obj})
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("已撤销。"))
    return redirect(detail_url_name, pk=obj.pk)


@require_POST
@login_required
@permission_required("parking.change_segment", raise_exception=True)
def segment_retire(request, pk):
    return _retire(
        request,
        pk=pk,
        selector=selectors.segment_list,
        service=services.segment_retire,
        kwarg="segment",
        detail_url_name="parking:segment_detail",
    )


@require_POST
@login_required
@permission_required("parking.change_space", raise_exception=True)
def space_retire(request, pk):
    return _retire(
        request,
        pk=pk,
        selector=selectors.space_list,
        service=services.space_retire,
        kwarg="space",
        detail_url_name="parking:space_detail",
    )


@require_POST
@login_required
@permission_required("parking.change_device", raise_exception=True)
def device_retire(request, pk):
    return _retire(
        request,
        pk=pk,
        selector=selectors.device_list,
        service=device_services.device_retire,
        kwarg="device",
        detail_url_name="parking:device_detail",
    )


@require_POST
@login_required
@permission_required("parking.change_device", raise_exception=True)
def device_credential(request, pk):
    """Issue the device token and show it once (the page is not cached; a reload re-issues nothing)."""
    device = get_object_or_404(selectors.device_list(user=request.user), pk=pk)
    try:
        raw = device_services.device_credential_issue(actor=request.user, device=device)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("parking:device_detail", pk=device.pk)
    response = render(request, T + "credential.html", {"object": device, "token": raw})
    response["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------------
# District map
# ------------------------------------------------------------------------------------------


@login_required
@permission_required("parking.view_segment", raise_exception=True)
def base_map(request):
    counts = selectors.counts_by_district(user=request.user)
    return render(request, T + "map.html", {"counts": [c for c in counts if c["segments"] or c["spaces"]]})


@require_GET
@login_required
@permission_required("parking.view_segment", raise_exception=True)
def base_map_points(request):
    response = JsonResponse(
        selectors.map_points(user=request.user),
        content_type="application/geo+json",
        json_dumps_params={"ensure_ascii": False},
    )
    response["Cache-Control"] = "private, max-age=60"
    return response
