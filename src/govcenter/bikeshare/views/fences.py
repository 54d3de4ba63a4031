"""Fence pages (电子围栏) under /bikeshare/fences/.

* ``fences/`` — the fences of the caller's districts (filters: kind, district, in force
  today), the chosen fence's polygon over the district map (``?fence=<id>``; GCJ-02, drawn
  by ``static/bikeshare/js/fences.js``), and — with ``bikeshare.add_fence`` — a GeoJSON
  import form that goes through :func:`~govcenter.bikeshare.services.fences.fences_import`
  (all or nothing; every feature's problem is listed on the page);
* ``fences/<id>/retire/`` — POST: retire a fence (``bikeshare.change_fence``).

Needs ``bikeshare.view_fence``; every query through the caller's scope (``restrict``).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _g
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from govcenter.core.api.errors import ServiceError
from govcenter.core.geo import Datum
from govcenter.core.models import District

from ..models import Fence, FenceKindChoices
from ..services.fences import active_q, fence_retire, fences_import

T = "bikeshare/fences/"
VIEW = "bikeshare.view_fence"
ADD = "bikeshare.add_fence"
CHANGE = "bikeshare.change_fence"
MAX_UPLOAD = 10 * 1024 * 1024
PAGE_SIZE = 50


class FilterForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("围栏类型"), required=False, choices=[("", _("全部类型")), *FenceKindChoices.choices]
    )
    district = forms.ModelChoiceField(
        label=_("行政区"), required=False, queryset=District.objects.none(), to_field_name="code",
        empty_label=_("全部行政区"),
    )  # fmt: skip
    active = forms.ChoiceField(
        label=_("状态"), required=False, choices=[("", _("全部")), ("1", _("当前有效")), ("0", _("已失效"))]
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = (
            District.objects.restrict(user).defer("geometry").order_by("sort_order", "code")
        )
        for field in self.fields.values():
            field.widget.attrs["class"] = "form-select"


class ImportForm(forms.Form):
    file = forms.FileField(label=_("GeoJSON 文件"), widget=forms.ClearableFileInput(attrs={"class": "form-control",
                           "accept": ".geojson,.json,application/geo+json,application/json"}))  # fmt: skip
    datum = forms.ChoiceField(label=_("文件坐标系"), choices=[(d.value, d.value) for d in Datum])
    district = forms.ModelChoiceField(
        label=_("限定行政区"), required=False, queryset=District.objects.none(), to_field_name="code",
        empty_label=_("（按要素位置判断）"),
    )  # fmt: skip

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["district"].queryset = (
            District.objects.restrict(user).defer("geometry").order_by("sort_order", "code")
        )
        self.fields["datum"].widget.attrs["class"] = "form-select"
        self.fields["district"].widget.attrs["class"] = "form-select"

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD:
            raise forms.ValidationError(_g("文件不能超过 10 MB。"))
        return upload


def _fences(request, form: FilterForm):
    fences = Fence.objects.restrict(request.user).select_related("district").defer("geometry")
    if form.is_valid():
        data = form.cleaned_data
        if data.get("kind"):
            fences = fences.filter(kind=data["kind"])
        if data.get("district"):
            fences = fences.filter(district=data["district"])
        if data.get("active") in ("0", "1"):
            q = active_q(timezone.localdate())
            fences = fences.filter(q) if data["active"] == "1" else fences.exclude(q)
    return fences.order_by("district__sort_order", "district__code", "kind", "name", "id")


@login_required
@permission_required(VIEW, raise_exception=True)
@require_http_methods(["GET", "POST"])
def fence_list(request):
    """The list, the chosen fence on the map, and (POST) the import form."""
    filters = FilterForm(request.GET or None, user=request.user)
    import_form = None
    import_errors: list[dict] = []
    can_add = request.user.has_perm(ADD)
    if request.method == "POST":
        if not can_add:
            raise PermissionDenied
        import_form = ImportForm(request.POST, request.FILES, user=request.user)
        if import_form.is_valid():
            data = import_form.cleaned_data
            try:
                created = fences_import(
                    request.user, data["file"].read(), data["datum"], district=data["district"]
                )
            except ServiceError as exc:
                import_form.add_error(None, str(exc.detail))
                import_errors = list(exc.details.get("errors", []))[:200]
            else:
                messages.success(request, _g("已导入 %(n)d 个围栏。") % {"n": len(created)})
                return redirect("bikeshare:fences")
    elif can_add:
        import_form = ImportForm(initial={"datum": Datum.GCJ02.value}, user=request.user)
    fences = _fences(request, filters)
    page = Paginator(fences, PAGE_SIZE).get_page(request.GET.get("page"))
    chosen = None
    if request.GET.get("fence", "").isdigit():
        chosen = Fence.objects.restrict(request.user).filter(pk=int(request.GET["fence"])).first()
    today = timezone.localdate()
    active_ids = set(
        fences.filter(active_q(today)).filter(pk__in=[f.pk for f in page]).values_list("pk", flat=True)
    )
    map_data = None
    if chosen is not None:
        map_data = {"name": chosen.name, "kind": chosen.get_kind_display(), "geometry": chosen.geometry,
                    "bbox": [chosen.min_lon, chosen.min_lat, chosen.max_lon, chosen.max_lat]}  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("fence", None)
    context = {
        "filters": filters,
        "page": page,
        "active_ids": active_ids,
        "chosen": chosen,
        "map_data": map_data,
        "import_form": import_form,
        "import_errors": import_errors,
        "can_change": request.user.has_perm(CHANGE),
        "query": query.urlencode(),
    }
    response = render(request, T + "list.html", context, status=400 if import_errors or (
        import_form is not None and import_form.is_bound and import_form.errors) else 200)  # fmt: skip
    response["Cache-Control"] = "no-store"
    return response


@login_required
@permission_required(CHANGE, raise_exception=True)
@require_POST
def fence_retire_view(request, pk: int):
    fence = get_object_or_404(Fence.objects.restrict(request.user), pk=pk)
    fence = fence_retire(request.user, fence, request.POST.get("reason", "")[:500])
    messages.success(request, _g("围栏“%(name)s”已撤销。") % {"name": fence.name})
    return redirect("bikeshare:fences")


urlpatterns: list = [
    path("fences/", fence_list, name="fences"),
    path("fences/<int:pk>/retire/", fence_retire_view, name="fence_retire"),
]
