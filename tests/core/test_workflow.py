"""The kernel's workflow runner (core/workflow.py): legal and illegal transitions, permissions,
conditions, the history and audit written with each step, and concurrent transitions."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from govcenter.core import workflow
from govcenter.core.api.errors import ServiceError
from govcenter.core.models import AuditEntry, TransitionLog
from tests.factories import UserFactory
from tests.workflow_app.models import Request


@pytest.fixture
def people(db):
    return UserFactory(username="author-1"), UserFactory(username="reviewer-1")


def test_a_legal_transition_is_saved_logged_and_audited(people):
    author, reviewer = people
    req = Request.objects.create(title="信号灯配时优化")
    req = workflow.advance(req, "submit", actor=author, comment="请审核")
    req = workflow.advance(req, "approve", actor=reviewer, comment="同意", by="张三")
    assert Request.objects.get(pk=req.pk).state == "approved"
    assert req.reviewed_by == "张三"
    log = list(workflow.history(req))
    assert [(r.transition, r.source, r.state, r.actor, r.comment) for r in log] == [
        ("submit", "draft", "submitted", author, "请审核"),
        ("approve", "submitted", "approved", reviewer, "同意"),
    ]
    assert log[1].actor_name == (reviewer.get_full_name() or reviewer.username)
    entry = AuditEntry.objects.get(action="workflow_app.request.approve")
    assert entry.changes["before"]["state"] == "submitted" and entry.changes["after"]["state"] == "approved"
    assert entry.reason == "同意"


def test_an_illegal_transition_is_409_naming_what_is_allowed_and_writes_nothing(people):
    author, reviewer = people
    req = Request.objects.create(title="a")
    with pytest.raises(ServiceError) as info:
        workflow.advance(req, "approve", actor=reviewer)
    assert (info.value.status_code, info.value.error_code) == (409, "illegal_transition")
    assert info.value.details["allowed"] == ["submit"]
    assert not TransitionLog.objects.exists() and not AuditEntry.objects.filter(action__startswith="workflow_app").exists()
    with pytest.raises(ValueError, match="no transition"):
        workflow.advance(req, "publish", actor=author)


def test_a_failed_condition_is_illegal_and_a_missing_permission_forbidden(people):
    author, _reviewer = people
    req = Request.objects.create(title="a", complete=False)
    with pytest.raises(ServiceError) as info:
        workflow.advance(req, "submit", actor=author)
    assert info.value.error_code == "illegal_transition"
    req.complete = True
    req.save()
    req = workflow.advance(req, "submit", actor=author)
    with pytest.raises(ServiceError) as info:
        workflow.advance(req, "approve", actor=author, by="x")
    assert (info.value.status_code, info.value.error_code) == (403, "transition_forbidden")
    assert Request.objects.get(pk=req.pk).state == "submitted"
    assert workflow.available(req, author) == []
    assert sorted(workflow.available(req, _reviewer)) == ["approve", "send_back"]


def test_a_stale_copy_cannot_move_a_case_someone_else_moved(people):
    author, reviewer = people
    req = workflow.advance(Request.objects.create(title="a"), "submit", actor=author)
    stale = Request.objects.get(pk=req.pk)  # what a second reviewer's page loaded
    workflow.advance(req, "send_back", actor=reviewer, comment="材料不全")
    with pytest.raises(ServiceError) as info:
        workflow.advance(stale, "approve", actor=reviewer, by="y")
    assert (info.value.status_code, info.value.error_code) == (409, "state_changed")
    assert Request.objects.get(pk=req.pk).state == "returned"
    assert TransitionLog.objects.count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_transitions_one_wins_the_other_is_refused_cleanly():
    author, reviewer = UserFactory(username="author-2"), UserFactory(username="reviewer-2")
    req = workflow.advance(Request.objects.create(title="a"), "submit", actor=author)
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run(name, **kwargs):
        copy = Request.objects.get(pk=req.pk)
        try:
            barrier.wait()
            workflow.advance(copy, name, actor=reviewer, **kwargs)
            outcomes.append(name)
        except ServiceError as exc:
            outcomes.append(exc.error_code)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("approve",), kwargs={"by": "p"}),
        threading.Thread(target=run, args=("send_back",)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes, key=str) in (["approve", "state_changed"], ["send_back", "state_changed"])
    final = Request.objects.get(pk=req.pk).state
    assert final in ("approved", "returned")
    assert TransitionLog.objects.filter(object_id=str(req.pk)).count() == 2
