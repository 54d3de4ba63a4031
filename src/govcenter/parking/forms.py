"""Forms of the parking base data. Thin: the services validate and write.

The forms are ModelForms for their field definitions only: ``_post_clean`` is a no-op so
the instance is never touched here; ``cleaned_data`` goes to the service, whose
ValidationErrors are put back on the form by the view. Choice fields list only rows in
the caller's scope.
"""

from __future__ import annotations

import json

from django import forms
from django.utils.translation import gettext_lazy as _

from govcenter.core.models import District, Unit, UnitKind

from .models import Device, Road, Segment, Space


class _ScopedModelForm(forms.ModelForm):
    scoped_fields: dict[str, object] = {}

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for name, field in self.fields.items():
            if name in self.scoped_fields and user is not None:
                field.queryset = self.scoped_fields[name](user)
            is_select = isinstance(field.widget, forms.Select)
            field.widget.attrs.setdefault("class", "form-select" if is_select else "form-control")

    def _post_clean(self):
        # Model validation happens in the service, against the state inside its transaction.
        pass


def _districts(user):
    return District.objects.restrict(user).defer("geometry")  # dropdowns: names, not boundaries


def _units(user):
    return Unit.objects.restrict(user).filter(kind=UnitKind.DISTRICT_UNIT, is_active=True)


def _roads(user):
    return Road.objects.restrict(user).filter(status=Road.Status.ACTIVE).select_related("district")


def _segments(user):
    return Segment.objects.restrict(user).exclude(status=Segment.Status.RETIRED)


def _vendors(user):
    # Vendors are external organisations without a district: every vendor unit is offered.
    return Unit.objects.filter(kind=UnitKind.VENDOR, is_active=True)


class GeoJSONField(forms.JSONField):
    widget = forms.Textarea(attrs={"rows": 4, "spellcheck": "false"})

    def prepare_value(self, value):
        if isinstance(value, dict):
            return json.dumps(value, ensure_ascii=False)
        return super().prepare_value(value)


class RoadForm(_ScopedModelForm):
    scoped_fields = {"district": _districts, "managing_unit": _units}

    class Meta:
        model = Road
        fields = ["district", "code", "name", "managing_unit"]


class RoadEditForm(_ScopedModelForm):
    scoped_fields = {"managing_unit": _units}

    class Meta:
        model = Road
        fields = ["code", "name", "status", "managing_unit"]


class SegmentForm(_ScopedModelForm):
    scoped_fields = {"road": _roads}
    geometry = GeoJSONField(
        label=_("几何"), required=False, help_text=_("GeoJSON LineString 或 Polygon，GCJ-02 经纬度。")
    )
    status = forms.ChoiceField(
        label=_("状态"),
        choices=[
            (Segment.Status.ACTIVE, Segment.Status.ACTIVE.label),
            (Segment.Status.SUSPENDED, Segment.Status.SUSPENDED.label),
        ],
    )

    class Meta:
        model = Segment
        fields = [
            "road",
            "code",
            "name",
            "side",
            "area_class",
            "tariff_code",
            "geometry",
            "length_cm",
            "status",
        ]

    def clean_area_class(self):
        return int(self.cleaned_data["area_class"])


class SpaceForm(_ScopedModelForm):
    scoped_fields = {"segment": _segments}
    status = forms.ChoiceField(
        label=_("状态"),
        choices=[
            (Space.Status.ACTIVE, Space.Status.ACTIVE.label),
            (Space.Status.TEMPORARILY_CLOSED, Space.Status.TEMPORARILY_CLOSED.label),
        ],
        required=False,
    )

    class Meta:
        model = Space
        fields = ["segment", "number", "lon", "lat", "space_type", "length_cm", "width_cm", "status"]


class DeviceForm(_ScopedModelForm):
    """Register a device: kind and serial, its district, optionally its binding."""

    scoped_fields = {"district": _districts, "segment": _segments, "vendor": _vendors}
    space = forms.IntegerField(label=_("泊位 ID"), required=False, help_text=_("地磁传感器绑定到泊位。"))

    class Meta:
        model = Device
        fields = ["kind", "serial", "district", "segment", "space", "vendor", "firmware"]
        help_texts = {"segment": _("高位视频、视频桩和手持终端绑定到路段。")}

    def clean_space(self):
        pk = self.cleaned_data.get("space")
        if not pk:
            return None
        space = Space.objects.restrict(self.user).filter(pk=pk).first()
        if space is None:
            raise forms.ValidationError(_("泊位不存在。"))
        return space


class DeviceEditForm(_ScopedModelForm):
    scoped_fields = {"vendor": _vendors}
    status = forms.ChoiceField(
        label=_("状态"), choices=[c for c in Device.Status.choices if c[0] != Device.Status.RETIRED]
    )

    class Meta:
        model = Device
        fields = ["vendor", "firmware", "status", "battery_pct"]


class DeviceBindForm(_ScopedModelForm):
    scoped_fields = {"segment": _segments}
    space = DeviceForm.base_fields["space"]

    class Meta:
        model = Device
        fields = ["segment", "space"]

    clean_space = DeviceForm.clean_space


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
