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
    suggestion_notices = notifications.inbox(handler).filter(content_type__model="suggestion")
    assert suggestion_notices.filter(read_at__isnull=True).count() == 4
    before = Suggestion.objects.count()
    call_command("demo")
    assert Suggestion.objects.count() == before
    # Every kind's pages render the demo cases for the Center's staff: list, detail (records as
    # tables, never a Python repr), the board, the dashboard and the query.
    from django.test import Client

    from govcenter.congestion import kinds

    client = Client()
    client.force_login(staff)
    for kind in kinds.all_kinds():
        case = kind.model.objects.restrict(staff).first()
        assert case is not None, kind.code
        assert client.get(f"/congestion/{kind.code}/").status_code == 200
        page = client.get(f"/congestion/{kind.code}/{case.pk}/")
        assert page.status_code == 200 and "{'" not in page.content.decode(), kind.code
    for url in ("/congestion/", "/congestion/board/", "/congestion/query/?q=%E8%B7%AF%E5%8F%A3"):
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_demo_year_replays_a_year_through_the_services(settings, capsys):
    import datetime as dt

    from django.utils import timezone

    from govcenter.congestion.models import CaseUnit
    from govcenter.congestion.services import board
    from govcenter.core import workflow
    from govcenter.core.management.base import UsageError

    settings.DEBUG = True
    call_command("demo")
    before = Suggestion.objects.count()
    call_command("congestion", "demo", "--scale", "0.04", "--only", "suggestions")
    out = capsys.readouterr().out
    assert "suggestions: suggestions 100" in out
    year = Suggestion.objects.exclude(title__startswith="（演示）")
    assert year.count() == Suggestion.objects.count() - before == 100
    today = timezone.localdate()
    created = sorted(timezone.localdate(s.created_at) for s in year)
    assert created[0] < today - dt.timedelta(days=60) and created[-1] <= today  # spread over the year
    states = Counter(year.values_list("state", flat=True))
    assert states["closed"] > 30 and states["assigned"] > 0, states
    old = year.filter(state="closed").order_by("created_at").first()
    history = list(workflow.history(old))
    assert history[0].at < timezone.now() - dt.timedelta(days=1)  # history carries the replayed times
    link = CaseUnit.objects.filter(object_id=old.pk).first()
    assert link.unit.code.startswith("CG-") and timezone.localdate(link.assigned_at) >= timezone.localdate(old.created_at)
    staff = User.objects.get(username="datastaff")
    levels = Counter(row.level for line in board.board(staff) for row in line.rows)
    assert levels, "the board shows something today"
    with pytest.raises(UsageError):
        call_command("congestion", "demo", "--only", "nosuch")
