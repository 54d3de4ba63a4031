"""``govcenter bikeshare demo``: a synthetic day loaded into the registry and the lake, once even
when run twice; bad arguments exit 2; refused with DEBUG off."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from govcenter.analytics.lake.query import duckdb_connection
from govcenter.bikeshare.demo_scale import UNIT_CODES
from govcenter.bikeshare.models.registry import Vehicle
from govcenter.bikeshare.synth import BIKES_AT_SCALE_1, TRIPS_AT_SCALE_1
from govcenter.core.districts import load_districts
from tests.factories import UnitFactory

pytestmark = pytest.mark.django_db
SCALE = 0.002


@pytest.fixture(autouse=True)
def debug(settings):
    settings.DEBUG = True  # the demo loads only on a development server


@pytest.fixture
def operators():
    load_districts()  # the District rows vehicles are filed under
    return [UnitFactory(code=code, kind="operator") for code in UNIT_CODES.values()]


def run(*args: str) -> None:
    call_command("bikeshare", "demo", "--day", "2026-11-02", "--quiet", *args)


def test_demo_day_lands_in_registry_and_lake_once(operators, settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    run("--scale", str(SCALE))
    bikes, trips = round(BIKES_AT_SCALE_1 * SCALE), round(TRIPS_AT_SCALE_1 * SCALE)
    assert Vehicle.objects.count() == bikes
    assert set(Vehicle.objects.values_list("operator__code", flat=True).distinct()) == set(UNIT_CODES.values())
    assert not Vehicle.objects.filter(district=None).exists()  # every bike stands in a district

    def lake_counts():
        con = duckdb_connection(tmp_path / "lake")
        return (
            con.sql("select count(*), count(distinct trip_id) from trips").fetchall()[0],
            con.sql("select count(*), count(distinct (device_id, timestamp)) from telemetry").fetchall()[0],
            con.sql("select count(*) from trips t anti join telemetry p using (trip_id)").fetchall()[0][0],
        )

    (n_trips, distinct_trips), (n_points, distinct_points), trips_without_points = lake_counts()
    assert n_trips == distinct_trips == trips
    assert n_points == distinct_points > 7 * trips
    assert trips_without_points == 0
    # The same day again: nothing new in the registry, every record still once in the lake.
    run("--scale", str(SCALE))
    assert Vehicle.objects.count() == bikes
    assert lake_counts() == ((n_trips, n_trips), (n_points, n_points), 0)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--scale", "0"], "--scale"),
        (["--scale", "3"], "--scale"),
        (["--day", "2026-13-01"], "--day"),
    ],
)
def test_bad_arguments_exit_2(operators, args, message):
    with pytest.raises(CommandError, match=message) as excinfo:
        call_command("bikeshare", "demo", "--quiet", *args)
    assert excinfo.value.returncode == 2


def test_missing_operators_and_debug_off_are_refused(settings, tmp_path):
    settings.GOVCENTER_LAKE_DIR = tmp_path / "lake"
    with pytest.raises(CommandError, match="govcenter demo") as excinfo:
        run("--scale", "0.0005")
    assert excinfo.value.returncode == 2
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG"):
        run("--scale", "0.0005")
    assert not (tmp_path / "lake").exists()
