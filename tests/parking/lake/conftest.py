"""Generated data for the lake tests: the scale demo (``govcenter parking demo``), tiny numbers on SQLite."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from govcenter.core.districts import load_districts
from govcenter.parking.services.tariffs import tariff_seed_beijing_standard

from .worlds import synced_org


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
