"""Admin of the contract ledger: contracts, assessments and late-service records are added
through the ledger services (validation, derived amounts and grades, audit) and not edited
afterwards; a milestone's condition-met and paid dates are recorded through
``milestone_update``. Imported from ``OpsConfig.ready``."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ..ledger import services as ledger
from ..models import Contract, LateService, PaymentMilestone, QualityAssessment


class ContractForm(forms.ModelForm):
    conditions = forms.CharField(label=_("付款条件"), widget=forms.Textarea(attrs={"rows": 3}),
                                 help_text=_("三行：50%、40%、10% 节点的付款条件"))  # fmt: skip
    due_dates = forms.CharField(label=_("应付日期"), help_text=_("三个日期，逗号分隔，例如 2026-02-01,2026-07-31,2027-01-31"))

    class Meta:
        model = Contract
        fields = ("number", "name", "contractor", "price_fen", "service_start", "service_end")

    def clean(self):
        data = super().clean()
        conditions = [c.strip() for c in (data.get("conditions") or "").splitlines() if c.strip()]
        try:
            import datetime as dt

            dates = [dt.date.fromisoformat(d.strip()) for d in (data.get("due_dates") or "").split(",") if d.strip()]
        except ValueError:
            raise forms.ValidationError(_("应付日期格式有误。")) from None
        if len(conditions) != 3 or len(dates) != 3:
            raise forms.ValidationError(_("须有三个付款节点（50%/40%/10%）"))
        data["milestones"] = [{"condition": c, "due_date": d} for c, d in zip(conditions, dates, strict=True)]
        return data


class MilestoneInline(admin.TabularInline):
    model = PaymentMilestone
    fields = ("seq", "percent", "amount_fen", "condition", "due_date", "condition_met_on", "paid_on")
    readonly_fields = ("seq", "percent", "amount_fen", "condition", "due_date")
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contract)
class ContractAdmin(admin.ModelAdmin):
    list_display = ("number", "name", "contractor", "price_fen", "service_start", "service_end", "bond_fen")
    inlines = [MilestoneInline]

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []  # the service creates the milestones

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ContractForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ("number", "name", "contractor", "price_fen", "service_start", "service_end", "bond_fen") if obj else ()

    def save_model(self, request, obj, form, change):
        if change:
            return  # the contract itself is not edited; only the milestones' dates (save_formset)
        data = form.cleaned_data
        created = ledger.contract_create(actor=request.user, number=data["number"], name=data["name"],
                                         contractor=data["contractor"], price_fen=data["price_fen"],
                                         service_start=data["service_start"], service_end=data["service_end"],
                                         milestones=data["milestones"])  # fmt: skip
        obj.pk = created.pk

    def save_formset(self, request, form, formset, change):
        for inline in formset.forms:
            if inline.instance.pk and inline.has_changed():
                ledger.milestone_update(actor=request.user, milestone=inline.instance,
                                        condition_met_on=inline.cleaned_data.get("condition_met_on"),
                                        paid_on=inline.cleaned_data.get("paid_on"))  # fmt: skip


@admin.register(QualityAssessment)
class QualityAssessmentAdmin(admin.ModelAdmin):
    list_display = ("contract", "period_start", "period_end", "score", "grade", "shortfall", "assessed_on")
    fields = ("contract", "period_start", "period_end", "score", "assessed_on", "note")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        created = ledger.assessment_record(actor=request.user, contract=obj.contract, period_start=obj.period_start,
                                           period_end=obj.period_end, score=obj.score, assessed_on=obj.assessed_on,
                                           note=obj.note)  # fmt: skip
        obj.pk = created.pk


@admin.register(LateService)
class LateServiceAdmin(admin.ModelAdmin):
    list_display = ("contract", "deliverable", "due_date", "delivered_on")
    fields = ("contract", "deliverable", "due_date", "delivered_on", "note")

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        created = ledger.late_service_record(actor=request.user, contract=obj.contract, deliverable=obj.deliverable,
                                             due_date=obj.due_date, delivered_on=obj.delivered_on, note=obj.note)  # fmt: skip
        obj.pk = created.pk
