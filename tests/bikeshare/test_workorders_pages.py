"""Work order pages (/bikeshare/work-orders/) for each role, their forms, and the
``govcenter bikeshare workorders`` subcommand."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from govcenter.bikeshare.models.workorders import WorkOrder
from govcenter.bikeshare.services import workorders as wo

from . import test_workorders as base
from .conftest import client_for

w = base.w  # the fixture of test_workorders.py

pytestmark = pytest.mark.django_db

LIST = "/bikeshare/work-orders/"


def _order(w, operator=None, district=None, **kw):
    return wo.workorder_create(
        w.wo_center,
        operator=operator or w.op_a,
        district=district or w.dongcheng,
        title=kw.pop("title", "围栏外停放车辆"),
        **kw,
    )


def test_login_and_permission_required(client, w):
    response = client.get(LIST)
    assert response.status_code == 302 and "/login" in response["Location"]
    assert client_for(w.nobody).get(LIST).status_code == 403


def test_list_per_role_with_scope_filters_and_late_highlight(w):
    mine = _order(w)
    theirs = _order(w, operator=w.op_b, district=w.xicheng, title="乙单车派单")
    WorkOrder.objects.filter(pk=mine.pk).update(due_at=timezone.now() - dt.timedelta(minutes=5))

    html = client_for(w.wo_center).get(LIST).content.decode()
    assert "派单管理" in html and mine.number in html and theirs.number in html
    assert "按当前违规生成派单" in html and "新建派单" in html
    assert f'data-order="{mine.number}" class="table-danger" data-late' in html
    assert "data-late-count>1<" in html

    html = client_for(w.wo_op_a).get(LIST).content.decode()
    assert mine.number in html and theirs.number not in html
    assert "按当前违规生成派单" not in html and "新建派单" not in html

    html = client_for(w.wo_dc).get(LIST).content.decode()
    assert mine.number in html and theirs.number not in html

    html = client_for(w.wo_leader).get(LIST).content.decode()
    assert mine.number in html and theirs.number in html and "新建派单" not in html

    html = client_for(w.wo_center).get(LIST, {"operator": w.op_b.pk}).content.decode()
    assert theirs.number in html and mine.number not in html
    html = client_for(w.wo_center).get(LIST, {"overdue": "late"}).content.decode()
    assert mine.number in html and theirs.number not in html
    html = client_for(w.wo_center).get(LIST, {"status": "closed"}).content.decode()
    assert "没有符合条件的派单" in html


def test_detail_forms_per_role_and_the_full_cycle(w):
    order = _order(w)
    url = f"{LIST}{order.pk}/"
    op = client_for(w.wo_op_a)
    center = client_for(w.wo_center)
    html = op.get(url).content.decode()
    assert (
        order.number in html
        and 'data-action-form="respond"' in html
        and 'data-action-form="close"' not in html
    )
    html = center.get(url).content.decode()
    assert 'data-action-form="respond"' not in html and 'data-action-form="cancel"' in html
    assert 'data-action-form="close"' not in html  # nothing to verify yet
    assert client_for(w.wo_op_b).get(url).status_code == 404
    html = client_for(w.wo_dc).get(url).content.decode()
    assert "data-action-form" not in html

    # An empty response is refused on the form; then a real one.
    response = op.post(f"{url}respond/", {"note": "", "evidence": ""})
    assert response.status_code == 400 and "请填写处置说明或证据" in response.content.decode()
    response = op.post(f"{url}respond/", {"note": "已调回围栏", "evidence": "PHOTO-1\nPHOTO-2"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "responded" and order.response_evidence == ["PHOTO-1", "PHOTO-2"]

    html = center.get(url).content.decode()
    assert 'data-action-form="close"' in html and 'data-action-form="reopen"' in html and "PHOTO-2" in html
    response = center.post(f"{url}reopen/", {"note": ""})
    assert response.status_code == 400
    assert center.post(f"{url}reopen/", {"note": "现场仍有车辆", "due_hours": "1"}).status_code == 302
    order.refresh_from_db()
    assert order.status == "issued" and order.reopen_count == 1
    assert op.post(f"{url}respond/", {"note": "再次处理"}).status_code == 302
    assert center.post(f"{url}close/", {"note": "通过"}).status_code == 302
    order.refresh_from_db()
    assert order.status == "closed"
    html = center.get(url).content.decode()
    assert html.count("data-event=") == 5 and "data-action-form" not in html
    # An illegal step is refused with the service's message; an operator cannot close.
    response = center.post(f"{url}cancel/", {"reason": "撤销"})
    assert response.status_code == 400 and "不能执行该操作" in response.content.decode()
    assert op.post(f"{url}close/", {}).status_code == 403
    assert center.post(f"{url}bogus/", {}).status_code == 404


def test_new_order_form_and_generate_button(w, settings, tmp_path):
    center = client_for(w.wo_center)
    assert center.get(f"{LIST}new/").status_code == 200
    assert client_for(w.wo_op_a).get(f"{LIST}new/").status_code == 403
    response = center.post(f"{LIST}new/", {"operator": w.op_a.pk, "kind": "manual", "title": ""})
    assert response.status_code == 200 and not WorkOrder.objects.exists()
    response = center.post(
        f"{LIST}new/",
        {
            "operator": w.op_a.pk,
            "kind": "manual",
            "title": "人工派单",
            "district": w.dongcheng.pk,
            "due_hours": "4",
        },
    )
    order = WorkOrder.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{order.pk}/")
    assert order.due_at - order.issued_at == dt.timedelta(hours=4)

    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    settings.GOVCENTER_LAKE_DIR = tmp_path / "no-lake"
    response = center.post(f"{LIST}generate/", follow=True)
    assert response.status_code == 200 and "已生成派单" in response.content.decode()
    assert client_for(w.wo_op_a).post(f"{LIST}generate/").status_code == 403
    assert center.get(f"{LIST}generate/").status_code == 405


def test_stats_page(w):
    order = _order(w)
    wo.workorder_respond(w.wo_op_a, order, note="n")
    html = client_for(w.wo_center).get(f"{LIST}stats/").content.decode()
    assert "派单响应统计" in html and f'data-operator="{w.op_a.code}"' in html and "100.0%" in html
    html = client_for(w.wo_op_b).get(f"{LIST}stats/").content.decode()
    assert f'data-operator="{w.op_b.code}"' in html and f'data-operator="{w.op_a.code}"' not in html
    html = (
        client_for(w.wo_center)
        .get(f"{LIST}stats/", {"start": "2026-11-10", "end": "2026-11-01"})
        .content.decode()
    )
    assert "结束日期不能早于开始日期" in html


def test_subcommand(w, settings, tmp_path):
    settings.GOVCENTER_BIKESHARE_LIVE_URL = ""
    settings.GOVCENTER_LAKE_DIR = tmp_path / "no-lake"
    order = _order(w, kind="outside_fence")
    WorkOrder.objects.filter(pk=order.pk).update(due_at=timezone.now() - dt.timedelta(minutes=1))
    out = StringIO()
    call_command("bikeshare", "workorders", "sweep", stdout=out)
    assert json.loads(out.getvalue()) == {"overdue": 1}
    out = StringIO()
    call_command("bikeshare", "workorders", "generate", "--kind", "over_quota", stdout=out)
    assert json.loads(out.getvalue())["by_kind"] == {"over_quota": {"created": 0, "existing": 0}}
    today = timezone.localdate().isoformat()
    out = StringIO()
    call_command("bikeshare", "workorders", "stats", "--from", today, "--to", today, stdout=out)
    stats = json.loads(out.getvalue())
    assert stats[w.op_a.code]["issued"] == 1 and stats[w.op_a.code]["overdue"] == 1
    with pytest.raises(CommandError, match="--kind") as err:
        call_command("bikeshare", "workorders", "generate", "--kind", "manual")
    assert err.value.returncode == 2
    with pytest.raises(CommandError, match="--from") as err:
        call_command("bikeshare", "workorders", "stats", "--from", "2026-13-01", "--to", today)
    assert err.value.returncode == 2
    with pytest.raises(CommandError, match="bad_period") as err:
        call_command("bikeshare", "workorders", "stats", "--from", today, "--to", "2000-01-01")
    assert err.value.returncode == 2
    with pytest.raises(CommandError, match="bad_operator"):
        call_command("bikeshare", "workorders", "stats", "--from", today, "--to", today, "--operator", "NOPE")
    with pytest.raises(SystemExit) as exit_:
        call_command("bikeshare", "workorders", "bogus")
    assert exit_.value.code == 2


def test_detail_shows_system_evidence_with_labels_and_vehicles(w):
    order, created = wo._issue(
        operator=w.op_a,
        kind="outside_fence",
        subject="东城区：1 辆",
        title="东城区 围栏外停放车辆 1 辆",
        dedupe_key="outside_fence:x",
        district=w.dongcheng,
        evidence={"count": 1, "vehicles": [{"vehicle_id": "MT-0042", "state": "available", "lon": 116.4,
                                             "lat": 39.9, "reported_at": "2026-11-02T08:00:00+00:00"}]},
    )  # fmt: skip
    assert created
    html = client_for(w.wo_op_a).get(f"{LIST}{order.pk}/").content.decode()
    assert "车辆数" in html and "MT-0042" in html and "data-vehicles" in html and "系统" in html
