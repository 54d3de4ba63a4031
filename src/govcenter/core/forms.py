"""Forms of the organisation UI. They validate shape only; services hold the rules."""

from __future__ import annotations

from collections import OrderedDict

from django import forms
from django.apps import apps
from django.contrib.auth.models import Permission
from django.db.models import Q
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .masking import mask
from .models import District, Role, Unit, UnitKind, User
from .scope import ScopeKind

ACTION_LABELS = {"add": _("新增"), "change": _("修改"), "delete": _("删除"), "view": _("查看")}


# Bookkeeping tables written only by the system: granting rights on them means nothing.
INTERNAL_MODELS = frozenset(
    {("core", "passwordhistory"), ("core", "loginattempt"), ("core", "auditcheckpoint"), ("core", "smscode")}
)


def grantable_permissions():
    """Function permissions of govcenter's own apps (Django's internals are not offered)."""
    labels = [cfg.label for cfg in apps.get_app_configs() if cfg.name.startswith("govcenter.")]
    internal = Q()
    for app_label, model in INTERNAL_MODELS:
        internal |= Q(content_type__app_label=app_label, content_type__model=model)
    return (
        Permission.objects.filter(content_type__app_label__in=labels)
        .exclude(internal)
        .select_related("content_type")
        .order_by("content_type__app_label", "content_type__model", "codename")
    )


def permission_label(perm: Permission) -> str:
    """A Chinese label: custom permissions carry one; default ones are built from the model."""
    action, _sep, model_name = perm.codename.partition("_")
    model = perm.content_type.model_class()
    if action in ACTION_LABELS and model is not None and model_name == model._meta.model_name:
        # Chinese joins the verb and the noun without a space ("查看单位"); English needs one.
        sep = "" if (get_language() or "zh").startswith("zh") else " "
        return f"{ACTION_LABELS[action]}{sep}{model._meta.verbose_name}"
    if model is not None:
        # Custom permissions: the model's Meta carries the translatable name (the DB row
        # holds the text of the language migrate ran in).
        for codename, name in model._meta.permissions:
            if codename == perm.codename:
                return str(name)
    return str(perm.name)


class CheckboxList(forms.CheckboxSelectMultiple):
    def __init__(self, attrs=None, choices=()):
        super().__init__({"class": "form-check-input", **(attrs or {})}, choices)


class PermissionChoiceField(forms.ModelMultipleChoiceField):
    widget = CheckboxList

    def label_from_instance(self, obj):
        return permission_label(obj)


class _ScopedForm(forms.ModelForm):
    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field.widget, forms.CheckboxSelectMultiple | forms.CheckboxInput):
                continue
            css = (
                "form-select"
                if isinstance(field.widget, forms.Select | forms.SelectMultiple)
                else "form-control"
            )
            field.widget.attrs.setdefault("class", css)


class _KeepPersonalFieldsMixin:
    """Edit forms never display stored personal data: the field starts empty, shows the
    masked value as a placeholder, and an empty submission keeps what is stored.

    Showing the clear value here would be an unaudited reveal (see core.masking).
    """

    personal_fields: dict[str, str] = {}  # field name → masking kind

    def _hide_personal_values(self) -> None:
        if not self.instance.pk:
            return
        for name, kind in self.personal_fields.items():
            field = self.fields[name]
            field.required = False
            self.initial[name] = ""
            current = getattr(self.instance, name)
            if current:
                field.widget.attrs["placeholder"] = mask(current, kind)
                field.help_text = _("留空则保持不变")

    def _clean_personal(self, name: str):
        value = self.cleaned_data.get(name)
        if self.instance.pk and not value:
            return getattr(self.instance, name)
        return value

    def clean(self):
        cleaned = super().clean()
        for name in self.personal_fields:
            if name in cleaned:
                cleaned[name] = self._clean_personal(name)
        return cleaned


class UnitForm(_KeepPersonalFieldsMixin, _ScopedForm):
    personal_fields = {"contact_name": "name", "contact_phone": "phone"}

    class Meta:
        model = Unit
        fields = ["code", "name_zh", "name_en", "kind", "parent", "district", "contact_name", "contact_phone"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        parents = Unit.objects.restrict(self.user).filter(is_active=True).order_by("path")
        if self.instance.pk:
            parents = parents.exclude(path__startswith=self.instance.path)
        self.fields["parent"].queryset = parents
        self.fields["parent"].label_from_instance = lambda u: "　" * u.depth + u.name_zh
        self.fields["district"].queryset = District.objects.all()
        self._hide_personal_values()

    def validate_unique(self):
        # Uniqueness and the tree rules are checked by the service (one place).
        pass


class UserCreateForm(_ScopedForm):
    password1 = forms.CharField(
        label=_("初始密码"), strip=False, widget=forms.PasswordInput(render_value=False)
    )
    password2 = forms.CharField(
        label=_("确认密码"), strip=False, widget=forms.PasswordInput(render_value=False)
    )

    class Meta:
        model = User
        fields = ["username", "full_name", "phone", "email", "unit", "roles"]
        widgets = {"roles": CheckboxList}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].required = True
        self.fields["unit"].queryset = (
            Unit.objects.restrict(self.user).filter(is_active=True).order_by("path")
        )
        self.fields["unit"].label_from_instance = lambda u: "　" * u.depth + u.name_zh
        self.fields["roles"].queryset = Role.objects.order_by("-is_builtin", "code")
        self.fields["roles"].label_from_instance = lambda r: r.name

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data

    def validate_unique(self):
        pass


class UserEditForm(_KeepPersonalFieldsMixin, _ScopedForm):
    personal_fields = {"full_name": "name", "phone": "phone"}

    class Meta:
        model = User
        fields = ["full_name", "phone", "email", "unit", "roles"]
        widgets = {"roles": CheckboxList}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["unit"].required = True
        self.fields["unit"].queryset = Unit.objects.restrict(self.user).order_by("path")
        self.fields["unit"].label_from_instance = lambda u: "　" * u.depth + u.name_zh
        self.fields["roles"].queryset = Role.objects.order_by("-is_builtin", "code")
        self.fields["roles"].label_from_instance = lambda r: r.name
        self._hide_personal_values()

    def validate_unique(self):
        pass


class RoleForm(_ScopedForm):
    permissions = PermissionChoiceField(
        label=_("功能权限"), queryset=Permission.objects.none(), required=False
    )

    class Meta:
        model = Role
        fields = [
            "code",
            "name_zh",
            "name_en",
            "description",
            "permissions",
            "scope_kind",
            "districts",
            "operator",
        ]
        widgets = {
            "districts": forms.SelectMultiple(attrs={"size": 8}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permissions"].queryset = grantable_permissions()
        self.fields["scope_kind"].choices = ScopeKind.choices
        self.fields["operator"].queryset = Unit.objects.filter(kind=UnitKind.OPERATOR).order_by("code")
        self.fields["districts"].queryset = District.objects.all()
        if self.instance.pk:
            self.fields["code"].disabled = True

    def permission_groups(self):
        """[(app label, [checkbox, …]), …] for the grouped checkbox list."""
        groups: OrderedDict[str, list] = OrderedDict()
        for checkbox in self["permissions"]:
            perm = checkbox.data["value"].instance
            app = apps.get_app_config(perm.content_type.app_label)
            groups.setdefault(str(app.verbose_name), []).append(checkbox)
        return list(groups.items())

    def validate_unique(self):
        pass


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("原因"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )


class PasswordResetForm(forms.Form):
    """An administrator hands out a temporary password (the person must change it)."""

    password1 = forms.CharField(
        label=_("临时密码"), strip=False, widget=forms.PasswordInput(attrs={"class": "form-control"})
    )
    password2 = forms.CharField(
        label=_("确认密码"), strip=False, widget=forms.PasswordInput(attrs={"class": "form-control"})
    )

    def __init__(self, *args, user=None, instance=None, **kwargs):
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data
