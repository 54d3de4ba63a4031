"""Tables in and out of Excel and CSV: column specs, reading with every bad row named, templates
and exports (ADR 0006; first written for parking's base-data import).

File layout (templates, exports and imports alike): row 1 the Chinese column names, row 2 the
English column keys (hidden in Excel), data from row 3. Either header row alone is enough to read
a file; columns may come in any order. Enumerations are written as their Chinese labels and read
as a label (Chinese or English) or a code. CSV is UTF-8 with a BOM so Excel opens it right; a
CSV saved by Chinese Excel (GB18030) is read too.

* :func:`read_table` → ``[(row number, {key: text})]``, or :class:`TableFileError` (with a
  ``code``) when the file as a whole cannot be used: size, format, encoding, unknown or missing
  columns, too many rows;
* :func:`parse_cells` → the typed values of one row, every bad cell reported to an
  :class:`ImportResult` with its row and column;
* :func:`run_row` runs one row's write in a savepoint, turning a refusal into row errors, so an
  import can go on to find every bad row and then roll back as a whole;
* :func:`render_xlsx` / :func:`render_csv` write exports and templates (drop-downs for
  enumerations, an example sheet).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _

from .api.errors import ServiceError

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TYPES = ("str", "int", "float", "enum", "json", "date")


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # Chinese, as in the header row (not translated: the file format is fixed)
    required: bool = False
    type: str = "str"  # one of TYPES
    choices: type | None = None
    example: str = ""
    exclude_choices: tuple = ()

    def choice_items(self) -> list[tuple[str, str]]:
        """(code, Chinese label) pairs of an enum column."""
        with translation.override("zh-hans"):
            return [(str(v), str(label)) for v, label in self.choices.choices if v not in self.exclude_choices]


class TableFileError(ValidationError):
    """The file as a whole cannot be read (format, size, header)."""


@dataclass
class ImportResult:
    kind: str
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, row: int, column: str, message: str) -> None:
        self.errors.append({"row": row, "column": column, "message": str(message)})

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": sorted(self.errors, key=lambda e: (e["row"], e["column"])),
        }


# -- reading ------------------------------------------------------------------------------------


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Excel stores "001"-like numbers it was not told were text as floats; an integer
        # float is written back without ".0" (leading zeros are lost in Excel, not here).
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()  # an Excel date cell
    return str(value).strip()


def _too_many(max_rows: int) -> TableFileError:
    return TableFileError(_("数据行数超过上限 %(n)d 行，请分批导入。") % {"n": max_rows}, code="too_many_rows")


def read_records(data: bytes, filename: str, *, max_rows: int) -> list[list[str]]:
    """All rows of the first sheet (xlsx) or the CSV, as lists of stripped strings."""
    limit = max_rows + 2
    if data[:2] == b"PK" or filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise TableFileError(_("无法读取 Excel 文件（须为 .xlsx）：%(e)s") % {"e": exc}, code="bad_file") from exc
        sheet = workbook.worksheets[0]
        records = []
        for values in sheet.iter_rows(values_only=True):
            records.append([cell_text(v) for v in values])
            if len(records) > limit:
                break
        workbook.close()
    else:
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise TableFileError(_("无法识别 CSV 文件的编码（请使用 UTF-8）。"), code="bad_encoding")
        if "\x00" in text:
            raise TableFileError(_("文件不是 CSV 或 Excel（.xlsx）格式。"), code="bad_file")
        records = []
        try:
            for values in csv.reader(io.StringIO(text, newline="")):
                records.append([v.strip() for v in values])
                if len(records) > limit:
                    break
        except csv.Error as exc:
            raise TableFileError(_("CSV 格式错误：%(e)s") % {"e": exc}, code="bad_file") from exc
    if len(records) > limit:
        raise _too_many(max_rows)
    return records


def read_table(
    data: bytes, filename: str, columns: list[Column], *, max_bytes: int, max_rows: int
) -> list[tuple[int, dict[str, str]]]:
    """``[(row number, {column key: text})]`` of the data rows; a bad file is a TableFileError."""
    if len(data) > max_bytes:
        raise TableFileError(_("文件大小超过上限 %(mb).1f MB。") % {"mb": max_bytes / 1024 / 1024}, code="file_too_large")
    if not data:
        raise TableFileError(_("文件是空的。"), code="empty_file")
    records = read_records(data, filename, max_rows=max_rows)
    if not records:
        raise TableFileError(_("文件是空的。"), code="empty_file")
    by_name = {c.label: c.key for c in columns} | {c.key: c.key for c in columns}
    mapping: dict[int, str] = {}
    unknown = []
    for i, name in enumerate(records[0]):
        if not name:
            continue
        if name in by_name:
            mapping[i] = by_name[name]
        else:
            unknown.append(name)
    if unknown:
        raise TableFileError(_("第 1 行有无法识别的列：%(cols)s") % {"cols": "、".join(unknown)}, code="unknown_columns")
    missing = [c.label for c in columns if c.required and c.key not in mapping.values()]
    if missing:
        raise TableFileError(_("缺少必填列：%(cols)s") % {"cols": "、".join(missing)}, code="missing_columns")
    start = 1
    keys = {c.key for c in columns}
    if len(records) > 1 and records[1] and all(v in keys for v in records[1] if v) and any(records[1]):
        start = 2  # the English key row
    rows = []
    for offset, values in enumerate(records[start:], start=start + 1):
        row = {key: (values[i] if i < len(values) else "") for i, key in mapping.items()}
        if any(row.values()):
            rows.append((offset, row))
    if len(rows) > max_rows:
        raise _too_many(max_rows)
    return rows


# -- parsing ------------------------------------------------------------------------------------


@functools.cache
def enum_lookup(col: Column) -> dict[str, str]:
    """Code, Chinese label and English label → code, for an enum column."""
    lookup = {}
    for value, label in col.choices.choices:
        if value in col.exclude_choices:
            continue
        lookup[str(value)] = value
        lookup[str(label)] = value
        for lang in ("zh-hans", "en"):
            with translation.override(lang):
                lookup[str(label)] = value
    return lookup


def _parse(col: Column, text: str):
    if col.type == "int":
        number = float(text)
        if not number.is_integer() or number < 0:
            raise ValueError
        return int(number)
    if col.type == "float":
        number = float(text)
        if number != number or abs(number) == float("inf"):
            raise ValueError
        return number
    if col.type == "json":
        return json.loads(text)
    if col.type == "date":
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    return text


def parse_cells(columns: list[Column], rownum: int, raw: dict[str, str], result: ImportResult) -> dict | None:
    """Typed values of one row (only the columns present); None when a cell is bad."""
    values: dict = {}
    ok = True
    for col in columns:
        if col.key not in raw:
            continue
        text = raw[col.key]
        if text == "":
            if col.required:
                result.error(rownum, col.key, _("“%(label)s”必填。") % {"label": col.label})
                ok = False
            continue
        if col.type == "enum":
            lookup = enum_lookup(col)
            if text not in lookup:
                allowed = "、".join(label for _v, label in col.choice_items())
                result.error(
                    rownum, col.key, _("“%(text)s”不是有效值，可选：%(allowed)s") % {"text": text, "allowed": allowed}
                )
                ok = False
                continue
            values[col.key] = lookup[text]
            continue
        try:
            values[col.key] = _parse(col, text)
        except (ValueError, TypeError):
            expected = {"int": _("非负整数"), "float": _("数字"), "json": _("GeoJSON"), "date": _("日期（YYYY-MM-DD）")}
            result.error(
                rownum,
                col.key,
                _("“%(text)s”不是有效的%(expected)s。") % {"text": text[:40], "expected": expected[col.type]},
            )
            ok = False
    return values if ok else None


def record_errors(result: ImportResult, rownum: int, exc: ValidationError, *, columns, mapping=None, key_column: str):
    """A service's ValidationError as row errors: its field names mapped to column keys (through
    ``mapping``, or as they are when they are columns), anything else on ``key_column``."""
    known = {c.key for c in columns}
    mapping = mapping or {}
    if hasattr(exc, "error_dict"):
        for name, errors in exc.message_dict.items():
            column = mapping.get(name) or (name if name in known else key_column)
            for message in errors:
                result.error(rownum, column, message)
    else:
        for message in exc.messages:
            result.error(rownum, key_column, message)


def run_row(
    rownum: int, handler: Callable[[], str], result: ImportResult, *, columns, key_column: str, mapping=None
) -> None:
    """Run one row's write in a savepoint; its outcome (``created`` / ``updated`` /
    ``unchanged``) is counted, a refusal becomes row errors (nothing of the row is kept)."""
    try:
        with transaction.atomic():
            outcome = handler()
    except ValidationError as exc:
        record_errors(result, rownum, exc, columns=columns, mapping=mapping, key_column=key_column)
    except ServiceError as exc:  # a service's refusal names its field in ``details``
        known = {c.key for c in columns}
        fields = [f for f in exc.details if (mapping or {}).get(f, f) in known] or [key_column]
        for name in fields:
            result.error(rownum, (mapping or {}).get(name, name) if name in exc.details else name, str(exc.detail))
    except IntegrityError as exc:
        result.error(rownum, key_column, _("与已有数据冲突：%(e)s") % {"e": exc})
    except ObjectDoesNotExist as exc:
        result.error(rownum, key_column, str(exc))
    else:
        setattr(result, outcome, getattr(result, outcome) + 1)


# -- writing ------------------------------------------------------------------------------------


def cell_label(col: Column, value) -> str:
    """A value as its cell text (an enum as its Chinese label, JSON compact, floats to 7 places)."""
    if value in (None, ""):
        return ""
    if col.type == "enum":
        return dict(col.choice_items()).get(str(value), str(value))
    if col.type == "json":
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return repr(round(value, 7))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def render_csv(columns: list[Column], rows: Iterable[list]) -> bytes:
    """UTF-8 with BOM (Excel opens it right): Chinese header, English key row, data."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.label for c in columns])
    writer.writerow([c.key for c in columns])
    for row in rows:
        writer.writerow(row)
    return "\ufeff".encode() + buffer.getvalue().encode("utf-8")


def render_xlsx(
    columns: list[Column],
    rows: Iterable[list],
    *,
    template: bool = False,
    max_rows: int = 10_000,
    notes: Iterable[str] = (),
    sheet_title: str = "数据",
) -> bytes:
    """An .xlsx: Chinese header (bold, frozen), hidden English key row, data (or, for a
    template, enum drop-downs on the data rows and a second sheet with an example row)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook(write_only=not template)
    if template:
        sheet = workbook.active
        sheet.title = sheet_title
    else:
        sheet = workbook.create_sheet(sheet_title)
    header = [c.label for c in columns]
    if template:
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.append([c.key for c in columns])
        sheet.row_dimensions[2].hidden = True
        sheet.freeze_panes = "A3"
        for i, col in enumerate(columns, start=1):
            letter = get_column_letter(i)
            sheet.column_dimensions[letter].width = max(12, len(col.label) * 2 + 2)
            if col.type == "enum":
                labels = ",".join(label for _v, label in col.choice_items())
                validation = DataValidation(type="list", formula1=f'"{labels}"', allow_blank=not col.required)
                validation.add(f"{letter}3:{letter}{max_rows + 2}")
                sheet.add_data_validation(validation)
            if col.type in ("str", "enum", "date"):
                for row in range(3, 1003):  # text cells keep "001" as "001"
                    sheet.cell(row=row, column=i).number_format = "@"
        example = workbook.create_sheet("示例与说明")
        example.append(header)
        example.append([c.example for c in columns])
        example.append([])
        example.append([f"说明：在“{sheet_title}”表第 3 行起填写；第 2 行为英文列名（已隐藏），请勿删除。"])
        example.append(["必填列：" + "、".join(c.label for c in columns if c.required)])
        for col in columns:
            if col.type == "enum":
                example.append([f"{col.label}可选：" + "、".join(label for _v, label in col.choice_items())])
            elif col.type == "date":
                example.append([f"{col.label}：日期，格式 YYYY-MM-DD。"])
        for note in notes:
            example.append([note])
    else:
        sheet.append(header)
        sheet.append([c.key for c in columns])
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
