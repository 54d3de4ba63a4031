"""Engine selection: the scale-out engine's settings are checked before a session starts."""

from __future__ import annotations

import pytest

from govcenter.analytics import engine


def test_unknown_engine_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown analytics engine"):
        engine.connect("trino", tmp_path)


@pytest.mark.parametrize("value", ["lots", "4", "0g", "4 g", "-1g"])
def test_a_bad_spark_driver_memory_is_refused_before_any_session(monkeypatch, value):
    if not engine.pyspark_available():
        pytest.skip("pyspark is not installed")
    monkeypatch.setenv("GOVCENTER_SPARK_DRIVER_MEMORY", value)
    with pytest.raises(ValueError, match="GOVCENTER_SPARK_DRIVER_MEMORY"):
        engine.spark_session()
