"""A request that is drafted, submitted, approved or sent back — the shape of every case workflow."""

from __future__ import annotations

from django.db import models
from django_fsm import FSMField, FSMModelMixin, transition

from govcenter.core.scope import ScopedModel


def is_reviewer(instance, user) -> bool:
    return bool(user and user.username.startswith("reviewer"))


class Request(FSMModelMixin, models.Model):
    title = models.CharField(max_length=100)
    state = FSMField(default="draft", protected=True)
    reviewed_by = models.CharField(max_length=150, blank=True)
    complete = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.title

    def is_complete(self) -> bool:
        return self.complete

    @transition(field=state, source=["draft", "returned"], target="submitted", conditions=[is_complete])
    def submit(self):
        pass

    @transition(field=state, source="submitted", target="approved", permission=is_reviewer)
    def approve(self, *, by: str):
        self.reviewed_by = by

    @transition(field=state, source="submitted", target="returned", permission=is_reviewer)
    def send_back(self):
        pass


class Note(ScopedModel):
    """A district's note: a scoped model for the kernel's search tests."""

    district = models.ForeignKey("core.District", on_delete=models.CASCADE)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)

    scope_fields = {"district": "district"}

    def __str__(self) -> str:
        return self.title


class Memo(ScopedModel):
    """A case assigned to several units: scope through a to-many path (the kernel's scope tests)."""

    title = models.CharField(max_length=200)

    scope_fields = {"unit": "assignments__unit"}

    def __str__(self) -> str:
        return self.title


class MemoUnit(models.Model):
    memo = models.ForeignKey(Memo, on_delete=models.CASCADE, related_name="assignments")
    unit = models.ForeignKey("core.Unit", on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, default="lead")

    def __str__(self) -> str:
        return f"{self.memo_id}:{self.unit_id}"
