"""The synthetic year writer (parking/lake/synthetic.py) at tiny scale: layout, manifest, schema,
determinism, and the statistics computed over its files equal a direct count of its rows."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import duckdb
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from govcenter.parking.lake.sync import DATASETS, live_sql, read_manifest
from govcenter.parking.lake.synthetic import (
    GENERATORS,
    SyntheticLakeExistsError,
    generate_year,
    network_from_db,
)
from govcenter.parking.stats2.catalog import STATISTICS
from govcenter.parking.stats2.common import StatQuery
from govcenter.parking.stats2.framework import compute
from govcenter.parking.stats2.orders import order_stats

NOW = dt.datetime(2026, 6, 2, 4, 0, tzinfo=dt.UTC)
END = dt.date(2026, 5, 31)


@pytest.fixture
def year(generated, tmp_path):
    root = tmp_path / "synthetic" / "parking"
    counts = generate_year(
        network_from_db(), root=root, days=4, end=END, orders_per_space=3.0, seed=5, now=NOW
    )
    return root, counts


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("synthetic-admin", "s@example.com", "x")


def _scan(root, name: str, sql: str):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'Asia/Shanghai'")
    try:
        return con.execute(sql.replace("{T}", f"({live_sql(root, name)})")).fetchall()
    finally:
        con.close()


def test_layout_manifest_schema_and_statistics(year, superuser):
    """One scale-demo load (slow on SQLite) for the layout, the dates and the statistics."""
    root, counts = year
    _check_layout(root, counts)
    _check_dates(root)
    _check_statistics(root, superuser)


def _check_layout(root, counts):
    for name in (n for n in GENERATORS if n in DATASETS):
        manifest = read_manifest(root, name)
        files = {p.relative_to(root / name).as_posix() for p in (root / name).rglob("*.parquet")}
        packs = manifest.get("packs", {})
        assert files == {p["file"] for p in manifest["partitions"].values() if "pack" not in p} | {
            p["file"] for p in packs.values()
        }
        assert (
            manifest["rows"]
            == counts[name]["rows"]
            == sum(p["rows"] for p in manifest["partitions"].values())
        )
        assert manifest["schema_version"] == DATASETS[name].version
        for key, part in manifest["partitions"].items():
            day, code = key.split("/")
            if "pack" in part:  # a closed month, packed (lake/sync.py): its rows in the month's file
                assert key in packs[part["pack"]]["keys"] and part["origin"].startswith(f"date={day}/")
                table = pq.read_table(root / name / packs[part["pack"]]["file"])
                table = table.filter(pc.and_(pc.equal(pc.strftime(table["date"], "%Y-%m-%d"), day),
                                             pc.equal(table["district"], code)))  # fmt: skip
                table = table.drop_columns(["date", "district"])
            else:
                assert part["file"].startswith(f"date={day}/district={code}/part-")
                table = pq.read_table(root / name / part["file"], partitioning=None)
            assert table.schema.remove_metadata() == DATASETS[name].schema
            assert table.num_rows == part["rows"]
            assert set(table.column("district_code").to_pylist()) == {code}
        assert counts[name]["missing_columns"] == []
    assert counts["orders"]["rows"] > 1000
    assert counts["payments"]["rows"] > 0.5 * counts["orders"]["rows"]


def _check_dates(root):
    bad = _scan(root, "orders", "SELECT count(*) FROM {T} WHERE date <> CAST(started_at AS DATE)")
    assert bad == [(0,)]
    bad = _scan(root, "payments", "SELECT count(*) FROM {T} WHERE date <> CAST(created_at AS DATE)")
    assert bad == [(0,)]
    # every payment is of a paid order, for its amount due
    paid = _scan(
        root,
        "orders",
        "SELECT count(*), sum(amount_paid_fen) FROM {T} WHERE state = 'paid' AND amount_due_fen > 0",
    )
    pay = _scan(root, "payments", "SELECT count(*), sum(amount_fen) FROM {T}")
    assert paid == pay


def test_deterministic_refuses_overwrite_and_cli(generated, tmp_path):
    net = network_from_db()
    a = generate_year(net, root=tmp_path / "a", days=2, end=END, seed=3, now=NOW)
    b = generate_year(net, root=tmp_path / "b", days=2, end=END, seed=3, now=NOW)
    c = generate_year(net, root=tmp_path / "c", days=2, end=END, seed=4, now=NOW)
    sql = "SELECT order_id, space_id, started_at, ended_at, amount_due_fen, state, pay_channel FROM {T} ORDER BY order_id"
    assert _scan(tmp_path / "a", "orders", sql) == _scan(tmp_path / "b", "orders", sql)
    assert _scan(tmp_path / "a", "orders", sql) != _scan(tmp_path / "c", "orders", sql)
    assert a["orders"]["rows"] == b["orders"]["rows"]
    assert c["orders"]["rows"] > 0
    # a second run into the same place refuses unless replace
    with pytest.raises(SyntheticLakeExistsError):
        generate_year(net, root=tmp_path / "a", days=1, end=END, now=NOW)
    again = generate_year(net, root=tmp_path / "a", days=1, end=END, now=NOW, replace=True)
    assert read_manifest(tmp_path / "a", "orders")["rows"] == again["orders"]["rows"] < a["orders"]["rows"]
    # the command
    out = StringIO()
    call_command(
        "parking", "lake-demo", "--days", "2", "--end", END.isoformat(), "--root", str(tmp_path / "cli"),
        "--quiet", stdout=out, stderr=StringIO(),
    )  # fmt: skip
    counts = json.loads(out.getvalue())
    assert counts["spaces"] == 100
    assert counts["orders"]["rows"] == read_manifest(tmp_path / "cli", "orders")["rows"] > 0


def _check_statistics(root, superuser):
    q = StatQuery(END - dt.timedelta(days=3), END)
    expected = _scan(
        root,
        "orders",
        f"SELECT count(*), sum(amount_due_fen), sum(amount_paid_fen) FROM {{T}} WHERE state <> 'void' "
        f"AND date BETWEEN DATE '{q.start}' AND DATE '{q.end}'",
    )[0]
    stats = order_stats(superuser, q, root=root, now=NOW)
    assert (stats.total["orders"], stats.total["due_fen"], stats.total["paid_fen"]) == expected
    assert sum(r["orders"] for r in stats.rows) == expected[0]
    assert stats.total["spaces"] == 100
    payments = compute(STATISTICS["payments"], superuser, q, root=root, now=NOW)
    assert (payments.total["orders"], payments.total["due_fen"], payments.total["paid_fen"]) == expected
    assert sum(r["paid_orders"] for r in payments.breakdowns["channel"]) == payments.total["paid_orders"]
    names = {r["name"] for r in stats.rows}
    assert "—" not in names and "" not in names  # district names resolve: the real network
