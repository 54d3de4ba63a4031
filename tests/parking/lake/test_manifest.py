"""Reading the lake: a manifest parsed once per version of its file (lake/sync.py: shared_manifest),
sessions of one DuckDB database (stats2/lake.py: connection)."""

from __future__ import annotations

import duckdb
import pytest

from govcenter.parking.lake.sync import _write_manifest, live_sql, shared_manifest
from govcenter.parking.stats2.lake import connection


def _manifest(*files: str) -> dict:
    partitions = {f"2026-11-0{i + 1}/110101": {"file": name} for i, name in enumerate(files)}
    return {"dataset": "orders", "watermark": None, "partitions": partitions, "superseded": []}


def test_a_reader_sees_each_new_version_and_parses_an_unchanged_one_once(tmp_path):
    (tmp_path / "orders").mkdir()
    assert shared_manifest(tmp_path, "orders").manifest["partitions"] == {}  # no file yet
    _write_manifest(tmp_path, "orders", _manifest("a.parquet"))
    first = shared_manifest(tmp_path, "orders")
    sql = live_sql(tmp_path, "orders")
    assert "a.parquet" in sql and first.memo["sql"] == sql
    assert shared_manifest(tmp_path, "orders") is first  # the same text: parsed once

    # A writer's new version — even of the same size — is what the next reader gets.
    _write_manifest(tmp_path, "orders", _manifest("b.parquet"))
    second = shared_manifest(tmp_path, "orders")
    assert second is not first and second.memo == {}
    assert list(second.manifest["partitions"].values()) == [{"file": "b.parquet"}]
    assert "b.parquet" in live_sql(tmp_path, "orders")
    assert "a.parquet" not in live_sql(tmp_path, "orders")

    # Another root with the same text is another manifest (its SQL names its own files).
    (tmp_path / "other" / "orders").mkdir(parents=True)
    _write_manifest(tmp_path / "other", "orders", _manifest("b.parquet"))
    assert str(tmp_path / "other") in live_sql(tmp_path / "other", "orders")
    assert str(tmp_path / "other") not in live_sql(tmp_path, "orders")


def test_each_session_has_its_own_views(tmp_path):
    first = connection(tmp_path)  # no manifests yet: every data set an empty view
    second = connection(tmp_path, datasets=("orders",))
    try:
        first.execute("CREATE TEMP VIEW mine AS SELECT 1 AS x")
        assert first.execute("SELECT count(*) FROM sms").fetchone() == (0,)
        with pytest.raises(duckdb.CatalogException):
            second.execute("SELECT * FROM mine")
        with pytest.raises(duckdb.CatalogException):
            second.execute("SELECT * FROM sms")  # only the data sets asked for
        assert second.execute("SELECT current_setting('TimeZone')").fetchone() == ("Asia/Shanghai",)
    finally:
        first.close()
        second.close()
