"""Bulk import/export of the base data (roads, segments, spaces, devices) from Excel and CSV.

File layout (templates, exports and imports alike): row 1 the Chinese column names, row 2
the English column keys (hidden in Excel), data from row 3. Either header row alone is
enough to read a file; columns may come in any order. Enumerations are written as their
Chinese labels and read as a label (Chinese or English) or a code. CSV is UTF-8 with a BOM
so Excel opens it right; a CSV saved by Chinese Excel (GB18030) is read too.

Import = parse → validate every row → write, in ONE transaction:

* every row is checked: required cells, enums, numbers, references (district, road,
  segment, unit codes), and then the base services themselves run for the row (scope,
  positions inside the district, uniqueness, binding rules) inside a savepoint, so their
  refusals become row errors too — all of them, each with its row number and column;
* rows are upserts by natural key (road: district + code; segment: code; space: segment
  code + number; device: serial): a new key creates, an existing one updates only the
  cells that differ, an unchanged row does nothing — so an export re-imported is a no-op;
* any error, or ``dry_run``, rolls the whole transaction back: nothing is written.

New spaces are created per segment with :func:`space_create_bulk` (one audit entry per
segment); only if a segment's batch is refused are its rows re-run one by one to find
every failing row.

Limits: ``GOVCENTER_PARKING_IMPORT_MAX_BYTES`` (default 10 MiB) and
``GOVCENTER_PARKING_IMPORT_MAX_ROWS`` (default 100,000 data rows).
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from govcenter.core import tabular
from govcenter.core.models import District, Unit
from govcenter.core.tabular import Column, ImportResult

from ..models import Device, DeviceKind, Road, Segment, Space
from ..models.tariff import AreaClass
from . import base as base_services
from . import devices as device_services
from .rejections import import_source, rejection_count

KINDS = ("roads", "segments", "spaces", "devices")
MODEL_OF_KIND = {"roads": "road", "segments": "segment", "spaces": "space", "devices": "device"}
XLSX_MIME = tabular.XLSX_MIME
ImportFileError = tabular.TableFileError  # the file as a whole cannot be read (format, size, header)


def max_bytes() -> int:
    return settings.GOVCENTER_PARKING_IMPORT_MAX_BYTES


def max_rows() -> int:
    return settings.GOVCENTER_PARKING_IMPORT_MAX_ROWS


# ------------------------------------------------------------------------------------------
# Columns
# ------------------------------------------------------------------------------------------


COLUMNS: dict[str, list[Column]] = {
    "roads": [
        Column("district", "区划代码", True, example="110101"),
        Column("code", "道路编码", True, example="R0001"),
        Column("name", "道路名称", True, example="王府井大街"),
        Column("managing_unit", "管理单位代码", example=""),
        Column("status", "状态", type="enum", choices=Road.Status, example="启用"),
    ],
    "segments": [
        Column("district", "区划代码", True, example="110101"),
        Column("road", "道路编码", True, example="R0001"),
        Column("code", "路段编码", True, example="DC-0001"),
        Column("name", "路段名称", True, example="王府井大街东侧"),
        Column("side", "道路侧", type="enum", choices=Segment.Side, example="路东"),
        Column("area_class", "地区类别", True, type="enum", choices=AreaClass, example="一类地区"),
        Column("tariff_code", "收费方案代码", example=""),
        Column("length_cm", "长度（厘米）", type="int", example="12000"),
        Column(
            "geometry",
            "几何（GeoJSON，GCJ-02）",
            type="json",
            example='{"type": "LineString", "coordinates": [[116.4105, 39.9137], [116.4115, 39.9137]]}',
        ),
        Column("status", "状态", type="enum", choices=Segment.Status, example="运营"),
    ],
    "spaces": [
        Column("segment", "路段编码", True, example="DC-0001"),
        Column("number", "泊位编号", True, example="001"),
        Column("lon", "经度（GCJ-02）", True, type="float", example="116.4105"),
        Column("lat", "纬度（GCJ-02）", True, type="float", example="39.9137"),
        Column("space_type", "泊位类型", type="enum", choices=Space.Type, example="普通泊位"),
        Column("length_cm", "长度（厘米）", type="int", example="600"),
        Column("width_cm", "宽度（厘米）", type="int", example="250"),
        Column("status", "状态", type="enum", choices=Space.Status, example="启用"),
    ],
    "devices": [
        Column("serial", "设备序列号", True, example="GM-0001"),
        Column("kind", "设备类型", True, type="enum", choices=DeviceKind, example="地磁传感器"),
        Column("district", "区划代码", example="110101"),
        Column("segment", "路段编码", example="DC-0001"),
        Column("space_number", "泊位编号", example="001"),
        Column("vendor", "厂商单位代码", example=""),
        Column("firmware", "固件版本", example="1.0.3"),
        Column("status", "状态", type="enum", choices=Device.Status, example="离线"),
        Column("battery_pct", "电量（%）", type="int", example="95"),
    ],
}


def columns(kind: str) -> list[Column]:
    if kind not in COLUMNS:
        raise ValidationError(_("未知的数据类型：%(kind)s") % {"kind": kind}, code="unknown_kind")
    return COLUMNS[kind]


# ------------------------------------------------------------------------------------------
# Result
# ------------------------------------------------------------------------------------------


def read_table(kind: str, data: bytes, filename: str = "") -> list[tuple[int, dict[str, str]]]:
    """``[(row number, {column key: text})]`` of the data rows; a bad header is an ImportFileError."""
    return tabular.read_table(data, filename, columns(kind), max_bytes=max_bytes(), max_rows=max_rows())


def _parse_cells(kind: str, rownum: int, raw: dict[str, str], result: ImportResult) -> dict | None:
    """Typed values of one row (only the columns present); None when a cell is bad."""
    return tabular.parse_cells(columns(kind), rownum, raw, result)


# Service error keys → column keys, per kind (the rest land on the row's first key column).
FIELD_TO_COLUMN = {
    "roads": {
        "district": "district",
        "managing_unit": "managing_unit",
        "code": "code",
        "name": "name",
        "status": "status",
    },
    "segments": {"road": "road", "geometry": "geometry", "district": "district", "managing_unit": "district"},
    "spaces": {"segment": "segment", "lon": "lon", "lat": "lat", "number": "number"},
    "devices": {"space": "space_number", "segment": "segment", "vendor": "vendor", "district": "district"},
}
KEY_COLUMN = {"roads": "code", "segments": "code", "spaces": "number", "devices": "serial"}


def _record_exc(kind: str, rownum: int, exc: ValidationError, result: ImportResult) -> None:
    tabular.record_errors(
        result, rownum, exc, columns=columns(kind), mapping=FIELD_TO_COLUMN.get(kind), key_column=KEY_COLUMN[kind]
    )


# ------------------------------------------------------------------------------------------
# Reference look-ups (cached per import)
# ------------------------------------------------------------------------------------------


class _Refs:
    def __init__(self, actor):
        self.actor = actor
        self._districts: dict[str, District | None] = {}
        self._units: dict[str, Unit | None] = {}
        self._segments: dict[str, Segment | None] = {}

    def district(self, code: str) -> District:
        if code not in self._districts:
            self._districts[code] = District.objects.filter(code=code).first()
        found = self._districts[code]
        if found is None:
            raise ValidationError(
                {"district": _("区划代码 %(code)s 不存在。") % {"code": code}}, code="unknown_district"
            )
        return found

    def unit(self, code: str, *, field: str) -> Unit:
        if code not in self._units:
            self._units[code] = Unit.objects.filter(code=code).first()
        found = self._units[code]
        if found is None:
            raise ValidationError(
                {field: _("单位代码 %(code)s 不存在。") % {"code": code}}, code="unknown_unit"
            )
        return found

    def segment(self, code: str) -> Segment:
        if code not in self._segments:
            # Only the caller's scope: another district's segment is "not found", not "not yours".
            self._segments[code] = (
                Segment.objects.restrict(self.actor).filter(code=code).first()
                if self.actor
                else (Segment.objects.filter(code=code).first())
            )
        found = self._segments[code]
        if found is None:
            raise ValidationError(
                {"segment": _("路段编码 %(code)s 不存在。") % {"code": code}}, code="unknown_segment"
            )
        return found


def _changed(obj, fields: dict) -> dict:
    out = {}
    for name, value in fields.items():
        current = getattr(obj, name)
        if hasattr(current, "pk"):
            if getattr(value, "pk", value) != current.pk:
                out[name] = value
        elif isinstance(current, float) and isinstance(value, float):
            if abs(current - value) > 1e-7:  # exports keep 7 decimals (about 1 cm)
                out[name] = value
        elif current != value:
            out[name] = value
    return out


# ------------------------------------------------------------------------------------------
# Per-kind row handlers: return "created" | "updated" | "unchanged", raise ValidationError
# ------------------------------------------------------------------------------------------


def _road_row(actor, refs: _Refs, v: dict) -> str:
    district = refs.district(v["district"])
    base_services.check_district_in_scope(actor, district.pk)
    unit = refs.unit(v["managing_unit"], field="managing_unit") if v.get("managing_unit") else None
    road = Road.objects.filter(district=district, code=v["code"]).first()
    if road is None:
        road = base_services.road_create(
            actor=actor, district=district, code=v["code"], name=v["name"], managing_unit=unit
        )
        if v.get("status") and v["status"] != road.status:
            base_services.road_update(actor=actor, road=road, status=v["status"])
        return "created"
    fields = {"name": v["name"], **({"status": v["status"]} if "status" in v else {})}
    if unit is not None:
        fields["managing_unit"] = unit
    changes = _changed(road, fields)
    if not changes:
        return "unchanged"
    base_services.road_update(actor=actor, road=road, **changes)
    return "updated"


SEGMENT_ATTRS = ("name", "side", "area_class", "tariff_code", "length_cm", "geometry", "status")


def _segment_row(actor, refs: _Refs, v: dict) -> str:
    district = refs.district(v["district"])
    base_services.check_district_in_scope(actor, district.pk)
    road = Road.objects.filter(district=district, code=v["road"]).first()
    if road is None:
        raise ValidationError(
            {"road": _("道路编码 %(code)s 在该区不存在。") % {"code": v["road"]}}, code="unknown_road"
        )
    segment = Segment.objects.filter(code=v["code"]).first()
    attrs = {k: v[k] for k in SEGMENT_ATTRS if k in v}
    if segment is None:
        status = attrs.pop("status", Segment.Status.ACTIVE)
        if status == Segment.Status.RETIRED:
            raise ValidationError({"status": _("新路段不能是撤销状态。")}, code="bad_status")
        base_services.segment_create(actor=actor, road=road, code=v["code"], status=status, **attrs)
        return "created"
    if segment.district_id != district.pk:
        raise ValidationError(
            {"code": _("路段编码 %(code)s 已被其他区使用。") % {"code": v["code"]}}, code="taken"
        )
    changes = _changed(segment, {"road": road, **attrs})
    if not changes:
        return "unchanged"
    if changes.get("status") == Segment.Status.RETIRED:
        base_services.segment_retire(actor=actor, segment=segment, reason=_("批量导入"))
        changes.pop("status")
        return "updated" if not changes else _segment_update(actor, segment, changes)
    return _segment_update(actor, segment, changes)


def _segment_update(actor, segment, changes) -> str:
    base_services.segment_update(actor=actor, segment=segment, reason=_("批量导入"), **changes)
    return "updated"


SPACE_ATTRS = ("lon", "lat", "space_type", "length_cm", "width_cm", "status")


def _space_existing(actor, space: Space, v: dict) -> str:
    changes = _changed(space, {k: v[k] for k in SPACE_ATTRS if k in v})
    if not changes:
        return "unchanged"
    if changes.get("status") == Space.Status.RETIRED:
        changes.pop("status")
        if changes:
            base_services.space_update(actor=actor, space=space, reason=_("批量导入"), **changes)
        base_services.space_retire(actor=actor, space=space, reason=_("批量导入"))
        return "updated"
    if space.status == Space.Status.RETIRED and "status" in changes:
        base_services.space_reactivate(actor=actor, space=space, reason=_("批量导入"))
        space.refresh_from_db()
        changes = _changed(space, changes)
        if not changes:
            return "updated"
    base_services.space_update(actor=actor, space=space, reason=_("批量导入"), **changes)
    return "updated"


def _space_new_row(v: dict) -> dict:
    row = {k: v[k] for k in ("number", "lon", "lat", "space_type", "length_cm", "width_cm") if k in v}
    return row


def _create_space(actor, segment: Segment, v: dict) -> str:
    status = v.get("status", Space.Status.ACTIVE)
    if status == Space.Status.RETIRED:
        raise ValidationError({"status": _("新泊位不能是撤销状态。")}, code="bad_status")
    (space,) = base_services.space_create_bulk(actor=actor, segment=segment, rows=[_space_new_row(v)])
    if status != Space.Status.ACTIVE:
        base_services.space_update(actor=actor, space=space, status=status)
    return "created"


DEVICE_ATTRS = ("firmware", "status", "battery_pct")


def _device_row(actor, refs: _Refs, v: dict) -> str:
    segment = refs.segment(v["segment"]) if v.get("segment") else None
    space = None
    if v.get("space_number"):
        if segment is None:
            raise ValidationError({"segment": _("填写泊位编号时须填写路段编码。")}, code="incomplete")
        space = Space.objects.filter(segment=segment, number=v["space_number"]).first()
        if space is None:
            raise ValidationError(
                {"space": _("泊位 %(code)s-%(n)s 不存在。") % {"code": segment.code, "n": v["space_number"]}},
                code="unknown_space",
            )
    district = refs.district(v["district"]) if v.get("district") else None
    vendor = refs.unit(v["vendor"], field="vendor") if v.get("vendor") else None
    bind = {"space": space, "segment": None} if space is not None else {"space": None, "segment": segment}
    device = Device.objects.filter(serial=v["serial"]).first()
    if device is None:
        row = {"kind": v["kind"], "serial": v["serial"], **{k: v[k] for k in DEVICE_ATTRS if k in v}}
        if district is not None:
            row["district"] = district
        if vendor is not None:
            row["vendor"] = vendor
        row.update({k: val for k, val in bind.items() if val is not None})
        device_services.device_register_bulk(actor=actor, rows=[row])
        return "created"
    base_services.check_district_in_scope(actor, device.district_id)
    if device.kind != v["kind"]:
        raise ValidationError({"kind": _("设备类型不能修改。")}, code="kind_fixed")
    if district is not None and district.pk != device.district_id:
        raise ValidationError({"district": _("设备不能调整到其他区。")}, code="district_fixed")
    status = None
    updated = False
    fields = {k: v[k] for k in DEVICE_ATTRS if k in v}
    if vendor is not None:
        fields["vendor"] = vendor
    changes = _changed(device, fields)
    if changes.get("status") == Device.Status.RETIRED:
        status = changes.pop("status")
    # A sensor's segment follows its space: compare the space only.
    rebind = device.space_id != getattr(space, "pk", None) or (
        space is None and device.segment_id != getattr(segment, "pk", None)
    )
    if rebind and device.status != Device.Status.RETIRED:
        device_services.device_bind(actor=actor, device=device, reason=_("批量导入"), **bind)
        updated = True
    if changes:
        device_services.device_update(actor=actor, device=device, reason=_("批量导入"), **changes)
        updated = True
    if status:
        device_services.device_retire(actor=actor, device=device, reason=_("批量导入"))
        updated = True
    return "updated" if updated else "unchanged"


ROW_HANDLERS = {"roads": _road_row, "segments": _segment_row, "devices": _device_row}


def _run_row(kind, rownum, handler, result: ImportResult) -> None:
    tabular.run_row(
        rownum, handler, result, columns=columns(kind), mapping=FIELD_TO_COLUMN.get(kind), key_column=KEY_COLUMN[kind]
    )


def _import_spaces(actor, rows: list[tuple[int, dict]], result: ImportResult) -> None:
    refs = _Refs(actor)
    new_by_segment: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    segments: dict[int, Segment] = {}
    seen: dict[tuple[str, str], int] = {}
    existing: dict[int, dict[str, Space]] = {}
    for rownum, v in rows:
        try:
            segment = refs.segment(v["segment"])
        except ValidationError as exc:
            _record_exc("spaces", rownum, exc, result)
            continue
        key = (segment.code, v["number"])
        if key in seen:
            result.error(rownum, "number", _("与第 %(row)d 行重复。") % {"row": seen[key]})
            continue
        seen[key] = rownum
        if segment.pk not in existing:
            existing[segment.pk] = {
                sp.number: sp for sp in Space.objects.filter(segment=segment).select_related("segment")
            }
        space = existing[segment.pk].get(v["number"])
        if space is not None:
            _run_row("spaces", rownum, lambda s=space, vv=v: _space_existing(actor, s, vv), result)
        else:
            segments[segment.pk] = segment
            new_by_segment[segment.pk].append((rownum, v))
    for segment_id, group in new_by_segment.items():
        segment = segments[segment_id]
        simple = all(v.get("status", Space.Status.ACTIVE) == Space.Status.ACTIVE for _r, v in group)
        if simple and len(group) > 1:
            try:
                with transaction.atomic():
                    base_services.space_create_bulk(
                        actor=actor,
                        segment=segment,
                        rows=[_space_new_row(v) for _r, v in group],
                        reason=_("批量导入"),
                    )
            except (ValidationError, IntegrityError):
                pass  # found below, row by row, with every failing row named
            else:
                result.created += len(group)
                continue
        for rownum, v in group:
            _run_row("spaces", rownum, lambda vv=v, sg=segment: _create_space(actor, sg, vv), result)


def import_file(*, actor, kind: str, data: bytes, filename: str = "", dry_run: bool = False) -> ImportResult:
    """Import a template-shaped file of ``kind``: all rows or none; every row error listed.

    Raises :class:`ImportFileError` when the file as a whole is unreadable (size, format,
    header); row problems are returned in ``result.errors`` with nothing written.

    A refused import (dry run included) is counted for ``import:<username>`` with its error
    code (``import_invalid`` for row errors) *after* the import's transaction has rolled back,
    so the counter outlives the rollback.
    """
    return _counted(
        actor, lambda: _import_file(actor=actor, kind=kind, data=data, filename=filename, dry_run=dry_run)
    )


def import_upload(*, actor, kind: str, upload, dry_run: bool = False) -> ImportResult:
    """Import an uploaded file (a Django ``UploadedFile``; ``None`` when none was sent), as
    :func:`import_file`. Refused before it is read when missing (``file_required``) or larger
    than ``max_bytes()`` (``file_too_large``) — counted like every refused import."""

    def run() -> ImportResult:
        if upload is None:
            raise ImportFileError(_("请上传文件。"), code="file_required")
        if upload.size > max_bytes():
            raise ImportFileError(
                _("文件大小超过上限 %(mb).1f MB。") % {"mb": max_bytes() / 1024 / 1024}, code="file_too_large"
            )
        return _import_file(
            actor=actor, kind=kind, data=upload.read(), filename=upload.name or "", dry_run=dry_run
        )

    return _counted(actor, run)


def _counted(actor, run) -> ImportResult:
    """``run()``, its refusal (a file error or row errors) counted for ``import:<username>``."""
    try:
        result = run()
    except ValidationError as exc:
        rejection_count(source=import_source(actor), reason=import_error_code(exc))
        raise
    if not result.ok:
        rejection_count(source=import_source(actor), reason=IMPORT_INVALID)
    return result


IMPORT_INVALID = "import_invalid"


def import_error_code(exc: ValidationError) -> str:
    """The code of a refused file (``bad_file`` when it has none)."""
    return (getattr(exc, "code", None) or "bad_file")[:40]


@transaction.atomic
def _import_file(*, actor, kind: str, data: bytes, filename: str, dry_run: bool) -> ImportResult:
    result = ImportResult(kind=kind, dry_run=dry_run)
    table = read_table(kind, data, filename)
    result.rows = len(table)
    parsed: list[tuple[int, dict]] = []
    for rownum, raw in table:
        values = _parse_cells(kind, rownum, raw, result)
        if values is not None:
            parsed.append((rownum, values))
    if kind == "spaces":
        _import_spaces(actor, parsed, result)
    else:
        refs = _Refs(actor)
        handler = ROW_HANDLERS[kind]
        seen: dict[tuple, int] = {}
        for rownum, v in parsed:
            key = (v.get("district"), v.get("code")) if kind == "roads" else v.get("code") or v.get("serial")
            if key in seen:
                result.error(rownum, KEY_COLUMN[kind], _("与第 %(row)d 行重复。") % {"row": seen[key]})
                continue
            seen[key] = rownum
            _run_row(kind, rownum, lambda vv=v: handler(actor, refs, vv), result)
    if result.errors or dry_run:
        transaction.set_rollback(True)
    if not result.ok:
        result.created = result.updated = result.unchanged = 0
    return result


# ------------------------------------------------------------------------------------------
# Export and templates
# ------------------------------------------------------------------------------------------


_label = tabular.cell_label


def export_rows(*, user, kind: str):
    """Data rows (lists of cell texts, in column order) of the caller's scope — nothing else."""
    from ..selectors import base as selectors

    cols = columns(kind)
    if kind == "roads":
        qs = selectors.road_list(user=user).order_by("district__code", "code")
        for r in qs.iterator():
            data = {
                "district": r.district.code,
                "code": r.code,
                "name": r.name,
                "managing_unit": r.managing_unit.code,
                "status": r.status,
            }
            yield [_label(c, data.get(c.key)) for c in cols]
    elif kind == "segments":
        qs = selectors.segment_list(user=user).order_by("code")
        for s in qs.iterator():
            data = {
                "district": s.district.code,
                "road": s.road.code,
                **{
                    k: getattr(s, k)
                    for k in (
                        "code",
                        "name",
                        "side",
                        "area_class",
                        "tariff_code",
                        "length_cm",
                        "geometry",
                        "status",
                    )
                },
            }
            yield [_label(c, data.get(c.key)) for c in cols]
    elif kind == "spaces":
        qs = selectors.space_list(user=user).order_by("segment__code", "number")
        for s in qs.iterator():
            data = {
                "segment": s.segment.code,
                **{
                    k: getattr(s, k)
                    for k in ("number", "lon", "lat", "space_type", "length_cm", "width_cm", "status")
                },
            }
            yield [_label(c, data.get(c.key)) for c in cols]
    else:
        qs = selectors.device_list(user=user).order_by("serial")
        for d in qs.iterator():
            segment = d.space.segment if d.space_id else d.segment
            data = {
                "serial": d.serial,
                "kind": d.kind,
                "district": d.district.code,
                "segment": segment.code if segment else "",
                "space_number": d.space.number if d.space_id else "",
                "vendor": d.vendor.code if d.vendor_id else "",
                "firmware": d.firmware,
                "status": d.status,
                "battery_pct": d.battery_pct,
            }
            yield [_label(c, data.get(c.key)) for c in cols]


def render_csv(kind: str, rows) -> bytes:
    """UTF-8 with BOM (Excel opens it right): Chinese header, English key row, data."""
    return tabular.render_csv(columns(kind), rows)


def render_xlsx(kind: str, rows, *, template: bool = False) -> bytes:
    """An .xlsx export, or (``template``) the import template with drop-downs and an example sheet."""
    return tabular.render_xlsx(columns(kind), rows, template=template, max_rows=max_rows(), notes=["坐标均为 GCJ-02 经纬度。"])


def export_file(*, user, kind: str, fmt: str) -> bytes:
    """The caller's in-scope rows of ``kind`` as .xlsx or .csv, re-importable as is."""
    rows = export_rows(user=user, kind=kind)
    return render_xlsx(kind, rows) if fmt == "xlsx" else render_csv(kind, rows)


def template_file(*, kind: str, fmt: str) -> bytes:
    """An empty import template of ``kind`` (.xlsx with drop-downs and an example sheet, or .csv)."""
    return render_xlsx(kind, [], template=True) if fmt == "xlsx" else render_csv(kind, [])
