"""The same Ibis analyses on PySpark (local mode) give the DuckDB rows.

One SparkSession for the module; skipped when pyspark (the optional ``scale`` extra) is not
installed."""

from __future__ import annotations

import datetime as dt
import math

import pyarrow as pa
import pytest

from govcenter.analytics.engine import connect, pyspark_available, spark_session
from govcenter.bikeshare import analyses as an
from tests.bikeshare.test_analyses import BEIJING, DAYS, lake  # noqa: F401  (the shared lake fixture)

pytestmark = pytest.mark.skipif(
    not pyspark_available(), reason="pyspark is not installed (optional extra `scale`)"
)


@pytest.fixture(scope="module")
def session():
    spark = spark_session()
    yield spark
    spark.stop()


@pytest.fixture
def engines(lake, session):  # noqa: F811
    duck = connect("duckdb", lake)
    spark = connect("pyspark", lake, spark_session=session)
    yield duck, spark
    duck.disconnect()


def normalised(table: pa.Table) -> list[tuple]:
    """Rows as tuples, sorted; instants as epoch milliseconds, dates as ISO strings."""
    columns = []
    for name in table.column_names:
        column = table[name]
        if pa.types.is_timestamp(column.type):
            tz = column.type.tz or "UTC"  # Spark hands back naive UTC values (UTC session)
            column = column.cast(pa.timestamp(column.type.unit, tz=tz)).cast(pa.timestamp("ms", tz="UTC"))
            column = column.cast(pa.int64())
        columns.append(column.to_pylist())
    out = []
    for row in zip(*columns, strict=True):
        out.append(tuple(v.isoformat() if isinstance(v, dt.date) else v for v in row))
    return sorted(out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


def assert_same(duck_expr, spark_expr) -> int:
    a, b = an.run(duck_expr), an.run(spark_expr)
    assert a.column_names == b.column_names
    ra, rb = normalised(a), normalised(b)
    assert len(ra) == len(rb)
    for x, y in zip(ra, rb, strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) or isinstance(v, float):
                assert u is not None and v is not None and math.isclose(u, v, rel_tol=1e-9), (x, y)
            else:
                assert u == v, (x, y)
    return len(ra)


def window():
    return dt.datetime(2026, 11, 2, 7, tzinfo=BEIJING), dt.datetime(2026, 11, 2, 10, tzinfo=BEIJING)


def test_rides_and_months_match(engines):
    duck, spark = engines
    first, last = DAYS
    assert assert_same(an.rides_by_hour(duck, first, last), an.rides_by_hour(spark, first, last)) > 20
    assert (
        assert_same(
            an.peak_hours(an.rides_by_hour(duck, first, last, by_district=True)),
            an.peak_hours(an.rides_by_hour(spark, first, last, by_district=True)),
        )
        > 10
    )
    assert assert_same(an.monthly_rides(duck, first, last), an.monthly_rides(spark, first, last)) == 6


def test_heatmap_and_trajectory_match(engines):
    duck, spark = engines
    start, end = window()
    assert assert_same(an.heatmap(duck, start, end), an.heatmap(spark, start, end)) > 10
    device = an.run(an.trajectory(duck, start, end, vehicle_id=None, device_id=_a_device(duck)))
    assert device.num_rows > 0
    dev = device["device_id"][0].as_py()
    assert (
        assert_same(
            an.trajectory(duck, start, end, device_id=dev), an.trajectory(spark, start, end, device_id=dev)
        )
        == device.num_rows
    )


def _a_device(con) -> str:
    trips = con.table("trips")
    start, end = window()
    return (
        trips.filter(trips.start_time.epoch_seconds() >= int(start.timestamp()))
        .order_by("start_time", "trip_id")
        .limit(1)
        .device_id.to_pyarrow()[0]
        .as_py()
    )


def test_operations_and_stations_match(engines):
    duck, spark = engines
    first, last = DAYS
    assert assert_same(an.operator_daily(duck, first, last), an.operator_daily(spark, first, last)) >= 6
    assert assert_same(an.idle_vehicles(duck, last, 2), an.idle_vehicles(spark, last, 2)) > 0
    start = dt.datetime(2026, 11, 2, tzinfo=BEIJING)
    end = start + dt.timedelta(days=1)
    stations = an.station_areas()
    flows_duck = an.station_flows(duck, start, end, stations=stations)
    flows_spark = an.station_flows(spark, start, end, stations=stations)
    assert assert_same(flows_duck, flows_spark) > 10
    assert assert_same(an.station_imbalance(flows_duck), an.station_imbalance(flows_spark)) > 5
    assert (
        assert_same(
            an.accumulation_alerts(flows_duck, threshold=1), an.accumulation_alerts(flows_spark, threshold=1)
        )
        > 0
    )


def test_empty_lake_on_spark(session, tmp_path):
    spark = connect("pyspark", tmp_path / "empty", spark_session=session)
    assert an.run(an.rides_by_hour(spark, *DAYS)).num_rows == 0
    assert an.run(an.idle_vehicles(spark, DAYS[1], 3)).num_rows == 0
