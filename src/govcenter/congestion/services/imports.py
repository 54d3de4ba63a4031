"""Import of existing registers from Excel (台账导入), all or nothing (ADR 0006, core/tabular.py).

A register file holds one case per row (row 1 Chinese headers, row 2 English keys, data from
row 3 — the template the page offers). Every row is parsed, then written through the subsystem's
own services in a savepoint, replayed at the row's registration date (``cases.clock``) so
numbers, deadlines and histories read as they were; every bad cell and every service refusal is
reported with its row and column, and if there is any, nothing of the file is kept. A dry run
checks the whole file and keeps nothing either way.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from govcenter.core import audit, tabular
from govcenter.core.models import District

from ..models import Channel, Topic
from . import suggestions as suggestion_services
from .cases import clock, refuse

MAX_ROWS = 5000

SUGGESTION_COLUMNS = [
    tabular.Column("title", "标题", required=True, example="东四路口左转排队过长"),
    tabular.Column("body", "内容", example="早高峰左转车辆排队溢出，建议优化信号配时。"),
    tabular.Column("topic", "议题", required=True, type="enum", choices=Topic, example="信号灯与交通组织"),
    tabular.Column("channel", "来源渠道", required=True, type="enum", choices=Channel, example="热线电话"),
    tabular.Column("lon", "经度（GCJ-02）", type="float", example="116.4166"),
    tabular.Column("lat", "纬度（GCJ-02）", type="float", example="39.9288"),
    tabular.Column("district", "所在区", example="东城区"),
    tabular.Column("proposer_name", "建议人", example="王先生"),
    tabular.Column("proposer_phone", "联系电话", example="13900139000"),
    tabular.Column("received", "登记日期", type="date", example="2026-03-02"),
]


def _district(text: str) -> District | None:
    if not text:
        return None
    found = District.objects.filter(code=text).first() or District.objects.filter(name_zh=text).first()
    if found is None:
        raise refuse(_("未知的区：%(d)s") % {"d": text}, "invalid", "district", text)
    return found


def _suggestion_row(actor, values: dict) -> str:
    lon, lat = values.get("lon"), values.get("lat")
    if (lon is None) != (lat is None):
        raise refuse(_("经度和纬度须同时填写。"), "required", "lat" if lat is None else "lon")
    received = values.get("received")
    today = timezone.localdate()
    if received is not None and received > today:
        raise refuse(_("登记日期不能晚于今天。"), "invalid", "received", received)
    moment = (
        timezone.make_aware(dt.datetime.combine(received, dt.time(9, 0))) if received is not None else timezone.now()
    )
    with clock(moment):
        suggestion_services.suggestion_submit(
            actor=actor,
            channel=values["channel"],
            topic=values["topic"],
            title=values["title"],
            body=values.get("body", ""),
            location={"type": "Point", "coordinates": [lon, lat]} if lon is not None else None,
            district=_district(values.get("district", "")),
            proposer_name=values.get("proposer_name", ""),
            proposer_phone=values.get("proposer_phone", ""),
        )
    return "created"


def import_register(
    *, actor, kind: str, data: bytes, filename: str, dry_run: bool = False
) -> tabular.ImportResult:
    """Import a register of ``kind`` (``suggestions``); see the module docstring."""
    columns, row_writer = REGISTERS[kind]
    result = tabular.ImportResult(kind=kind, dry_run=dry_run)
    try:
        rows = tabular.read_table(
            data, filename, columns, max_bytes=settings.GOVCENTER_ATTACHMENT_MAX_BYTES, max_rows=MAX_ROWS
        )
    except tabular.TableFileError as exc:
        result.error(0, "file", " ".join(exc.messages))
        return result
    result.rows = len(rows)
    with transaction.atomic():
        for rownum, raw in rows:
            values = tabular.parse_cells(columns, rownum, raw, result)
            if values is None:
                continue
            tabular.run_row(
                rownum, lambda v=values: row_writer(actor, v), result, columns=columns, key_column="title",
                mapping={"location": "lon"},
            )  # fmt: skip
        if result.errors or dry_run:
            transaction.set_rollback(True)
            result.created = 0 if result.errors else result.created
        else:
            audit.record(
                action=f"congestion.{kind}.import",
                object_type=f"congestion.{kind}",
                changes={"after": {"file": filename[:200], "rows": result.rows, "created": result.created}},
            )
    return result


def register_template(kind: str) -> bytes:
    columns, _writer = REGISTERS[kind]
    return tabular.render_xlsx(columns, [], template=True, max_rows=MAX_ROWS, notes=["坐标为 GCJ-02 经纬度。"])


REGISTERS = {"suggestions": (SUGGESTION_COLUMNS, _suggestion_row)}
