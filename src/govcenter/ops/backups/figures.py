"""Per-table figures of a database: row count and a content checksum, the same way on the live
database at backup time and on the scratch restore during a drill.

The checksum is SM3 over the rows in primary-key order (all columns, in the table's column
order), each row one line: the JSON list of its values normalised to text (None stays null,
bytes as hex, datetimes ISO 8601, JSON values with sorted keys, floats by ``repr``; on SQLite
every value is first read as its SQL literal through ``quote()``). Tables
without a primary key are hashed over their sorted lines. Both sides of a comparison come from
the same engine and driver, so the normalisation only has to be deterministic, not portable.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid

from cryptography.hazmat.primitives import hashes


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\x" + bytes(value).hex()
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, (decimal.Decimal, uuid.UUID, int, str)):
        return str(value)
    return str(value)


def _line(row) -> bytes:
    return json.dumps([_text(v) for v in row], ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _digest(rows, *, ordered: bool) -> dict:
    h = hashes.Hash(hashes.SM3())
    count = 0
    if ordered:
        for row in rows:
            h.update(_line(row))
            count += 1
    else:
        lines = sorted(_line(row) for row in rows)
        for line in lines:
            h.update(line)
        count = len(lines)
    return {"rows": count, "sm3": h.finalize().hex()}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sqlite_figures(conn) -> dict[str, dict]:
    """``{table: {"rows", "sm3"}}`` of every table of a ``sqlite3`` connection (its current
    transaction, if one is open)."""
    cur = conn.cursor()
    names = [r[0] for r in cur.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
    ).fetchall()]  # fmt: skip
    result = {}
    for name in names:
        info = cur.execute(f"PRAGMA table_info({_q(name)})").fetchall()
        pk = [row[1] for row in sorted((r for r in info if r[5]), key=lambda r: r[5])]
        # quote(): SQLite's own literal of each value, as text. The same bytes whatever the
        # connection (Django's registers converters by declared type; a plain one does not).
        columns = ", ".join(f"quote({_q(r[1])})" for r in info)
        order = f" ORDER BY {', '.join(_q(c) for c in pk)}" if pk else ""
        rows = conn.cursor().execute(f"SELECT {columns} FROM {_q(name)}{order}")  # noqa: S608 (quoted identifiers)
        result[name] = _digest(rows, ordered=bool(pk))
    return result


def postgres_figures(conn, *, schema: str = "public") -> dict[str, dict]:
    """``{table: {"rows", "sm3"}}`` of every base table of ``schema`` on a psycopg connection
    (inside its current transaction: the exported snapshot at backup time)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY c.relname",
            [schema],
        )
        names = [r[0] for r in cur.fetchall()]
    result = {}
    for name in names:
        qualified = f"{_q(schema)}.{_q(name)}"
        with conn.cursor() as cur:
            cur.execute(
                "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary "
                "ORDER BY array_position(i.indkey, a.attnum)",
                [qualified],
            )
            pk = [r[0] for r in cur.fetchall()]
            cur.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                "AND NOT attisdropped ORDER BY attnum",
                [qualified],
            )
            columns = ", ".join(_q(r[0]) for r in cur.fetchall())
        order = f" ORDER BY {', '.join(_q(c) for c in pk)}" if pk else ""
        # A server-side cursor: a large table streams instead of landing in memory at once.
        with conn.cursor(name=f"gc_figures_{len(result)}") as cur:
            cur.itersize = 2000
            cur.execute(f"SELECT {columns} FROM {qualified}{order}")  # noqa: S608 (quoted identifiers)
            result[name] = _digest(cur, ordered=bool(pk))
    return result


def compare(expected: dict[str, dict], restored: dict[str, dict]) -> list[dict]:
    """One row per table of either side: rows and checksum expected vs restored, and ``match``."""
    rows = []
    for table in sorted(set(expected) | set(restored)):
        e, r = expected.get(table), restored.get(table)
        rows.append({
            "table": table,
            "rows_expected": e["rows"] if e else None,
            "rows_restored": r["rows"] if r else None,
            "sm3_expected": e["sm3"] if e else "",
            "sm3_restored": r["sm3"] if r else "",
            "match": bool(e and r and e["rows"] == r["rows"] and e["sm3"] == r["sm3"]),
        })  # fmt: skip
    return rows
