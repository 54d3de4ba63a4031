"""The congestion part of ``govcenter demo``: suggestions in every state through the services,
visible to the right demo accounts, loaded once."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import call_command

from govcenter.congestion.models import Suggestion
from govcenter.core import notifications
from govcenter.core.models import User


@pytest.mark.django_db
def test_demo_suggestions(settings, capsys):
    settings.DEBUG = True
    call_command("demo")
    assert Counter(Suggestion.objects.values_list("state", flat=True)) == {
        "submitted": 2, "assigned": 2, "replied": 1, "closed": 1, "merged": 1,
    }  # fmt: skip
    handler, staff = User.objects.get(username="congestion"), User.objects.get(username="datastaff")
    assert Suggestion.objects.restrict(handler).count() == 4  # the ones assigned to 综合协调科
    assert Suggestion.objects.restrict(staff).count() == 7
    assert notifications.unread_count(handler) == 4
    before = Suggestion.objects.count()
    call_command("demo")
    assert Suggestion.objects.count() == before
