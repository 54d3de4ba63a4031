"""Generated data for the lake tests: the scale demo (``govcenter parking demo``), tiny numbers on SQLite."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from govcenter.core.districts import load_districts
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard
from govcenter.parking.stats2 import lake as stats_lake

from .worlds import synced_org


@pytest.fixture(autouse=True)
def _sessions_leave_the_shared_database_empty():
    """The statistics' DuckDB sessions share one database (stats2/lake.py): whatever a test ran,
    nothing it made may outlive its session (every view and table TEMP)."""
    yield
    con = stats_lake._session()
    try:
        left = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE NOT temporary AND NOT internal "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT temporary AND NOT internal"
        ).fetchall()
    finally:
        con.close()
    assert left == []


@pytest.fixture
def lake(tmp_path, settings):
    settings.GOVCENTER_LAKE_DIR = str(tmp_path / "lake")
    return tmp_path / "lake" / "parking"


@pytest.fixture
def generated(db, settings):
    """100 spaces, 2 days of orders over the real districts (fixed seed)."""
    settings.DEBUG = True
    load_districts()
    tariff_seed_beijing_standard()
    call_command(
        "parking",
        "demo",
        "--spaces",
        "100",
        "--days",
        "2",
        "--seed",
        "11",
        stdout=StringIO(),
        stderr=StringIO(),
    )


@pytest.fixture
def orders_world(generated, lake):
    return synced_org()
