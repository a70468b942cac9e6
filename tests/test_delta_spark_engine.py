"""The delta-spark engine's pure parts, and how TableStore picks its engine."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from lib.session import delta_classes_available
from lib.storage import TableStore, WriteError
from lib.storage import store as store_module
from lib.storage.delta_spark import DeltaSparkEngine, replace_where_predicate
from lib.storage.embedded import EmbeddedEngine


def test_replace_where_predicate_names_exactly_the_dates():
    assert replace_where_predicate("dt", ["2024-01-01", "2024-01-03"]) == "`dt` IN (DATE'2024-01-01', DATE'2024-01-03')"
    assert replace_where_predicate("odd`name", ["2024-02-29"]) == "`odd``name` IN (DATE'2024-02-29')"


@pytest.mark.parametrize("values", [[], ["2024-02-30"], ["2024-01-01' OR true OR '"]])
def test_replace_where_predicate_refuses_what_is_not_a_date(values):
    with pytest.raises(ValueError):
        replace_where_predicate("dt", values)


def test_replace_where_predicate_selects_those_partitions_in_spark(spark):
    rows = [(1, dt.date(2024, 1, 1)), (2, dt.date(2024, 1, 2)), (3, dt.date(2024, 1, 3)), (4, None)]
    frame = spark.createDataFrame(rows, "x int, dt date")

    selected = frame.where(replace_where_predicate("dt", ["2024-01-01", "2024-01-03"]))

    expected = spark.createDataFrame([(1, dt.date(2024, 1, 1)), (3, dt.date(2024, 1, 3))], "x int, dt date")
    assert_df_equality(selected, expected, ignore_row_order=True)


def test_this_session_has_no_delta_classes(spark):
    assert delta_classes_available(spark) is False


def test_auto_picks_embedded_without_delta_classes(spark, warehouse):
    assert TableStore(spark, warehouse, engine="auto").engine_name == "embedded"
    assert isinstance(TableStore(spark, warehouse, engine="embedded").engine, EmbeddedEngine)


def test_auto_picks_delta_spark_when_its_classes_are_there(spark, warehouse, monkeypatch):
    monkeypatch.setattr(store_module, "delta_classes_available", lambda session: True)

    assert isinstance(TableStore(spark, warehouse, engine="auto").engine, DeltaSparkEngine)
    assert TableStore(spark, warehouse, engine="delta-spark").engine_name == "delta-spark"


def test_delta_spark_without_its_classes_is_a_clear_error(spark, warehouse):
    with pytest.raises(WriteError, match=r"storage.engine = 'delta-spark' but Delta's Spark classes are not on the classpath.*--packages io.delta:delta-spark"):
        TableStore(spark, warehouse, engine="delta-spark")


def test_an_unknown_engine_is_refused(spark, warehouse):
    with pytest.raises(ValueError, match="unknown storage engine 'delta'"):
        TableStore(spark, warehouse, engine="delta")
