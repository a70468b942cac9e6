"""The delta-spark engine's pure parts, how TableStore picks its engine, and how a session finds
Delta's jars (jars/ from `make setup`, named in spark.jars)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality

import pyspark

from lib.session import MissingJarsError, delta_classes_available, resolve_jars
from lib.storage import TableStore, WriteError
from lib.storage import store as store_module
from lib.storage.delta_spark import DeltaSparkEngine, interval_hours, replace_where_predicate
from lib.storage.embedded import EmbeddedEngine

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_replace_where_predicate_names_exactly_the_dates():
    assert replace_where_predicate("dt", ["2024-01-01", "2024-01-03"]) == "`dt` IN (DATE'2024-01-01', DATE'2024-01-03')"
    assert replace_where_predicate("odd`name", ["2024-02-29"]) == "`odd``name` IN (DATE'2024-02-29')"


@pytest.mark.parametrize("values", [[], ["2024-02-30"], ["2024-01-01' OR true OR '"]])
def test_replace_where_predicate_refuses_what_is_not_a_date(values):
    with pytest.raises(ValueError):
        replace_where_predicate("dt", values)


@pytest.mark.parametrize(("value", "hours"), [
    (None, 168.0),  # the property unset: Delta's default, a week
    ("interval 1 weeks", 168.0), ("interval 1 week", 168.0), ("interval 168 hours", 168.0),
    ("INTERVAL 7 days", 168.0), ("interval 0 hours", 0.0), ("interval 90 minutes", 1.5),
    ("interval 1 week 2 days", None), ("168", None), ("", None),
])
def test_interval_hours_reads_deltas_retention_property(value, hours):
    assert interval_hours(value) == hours


def test_replace_where_predicate_selects_those_partitions_in_spark(spark):
    rows = [(1, dt.date(2024, 1, 1)), (2, dt.date(2024, 1, 2)), (3, dt.date(2024, 1, 3)), (4, None)]
    frame = spark.createDataFrame(rows, "x int, dt date")

    selected = frame.where(replace_where_predicate("dt", ["2024-01-01", "2024-01-03"]))

    expected = spark.createDataFrame([(1, dt.date(2024, 1, 1)), (3, dt.date(2024, 1, 3))], "x int, dt date")
    assert_df_equality(selected, expected, ignore_row_order=True)


def test_the_test_session_has_delta_classes_and_commits_with_delta_spark(spark, warehouse):
    assert delta_classes_available(spark) is True
    assert TableStore(spark, warehouse, engine="auto").engine_name == "delta-spark"


def test_the_delta_jar_is_built_for_this_spark_and_pinned_in_one_list():
    spark_minor = ".".join(pyspark.__version__.split(".")[:2])
    jars = sorted(p.name for p in (PROJECT_ROOT / "jars" / "spark").glob("delta-spark_*.jar"))
    pinned = [line for line in (PROJECT_ROOT / "deploy" / "maven-jars.txt").read_text().splitlines()
              if line.startswith("io.delta:delta-spark_")]

    assert jars == [f"delta-spark_{spark_minor}_2.13-4.4.0.jar"]
    assert pinned == [f"io.delta:delta-spark_{spark_minor}_2.13:4.4.0"]
    # jars Spark ships are left out (no second Scala library, Jackson, Parquet or Hadoop)
    shipped = {p.name.rsplit("-", 1)[0] for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    ours = {p.name.rsplit("-", 1)[0] for p in (PROJECT_ROOT / "jars" / "spark").glob("*.jar")}
    assert not ours & shipped


def test_missing_project_jars_name_make_setup(tmp_path):
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "maven-jars.txt").write_text("[spark]\nio.delta:delta-spark_4.2_2.13:4.4.0\n")

    with pytest.raises(MissingJarsError, match=r"no jar at .*jars/spark/\*\.jar; run `make setup`"):
        resolve_jars("jars/spark/*.jar", root=tmp_path)

    (tmp_path / "jars" / "spark").mkdir(parents=True)
    (tmp_path / "jars" / "spark" / "delta-spark_4.2_2.13-4.4.0.jar").write_bytes(b"")
    (tmp_path / "jars" / "maven-jars.txt").write_text("[spark]\nio.delta:delta-spark_4.1_2.13:4.4.0\n")
    with pytest.raises(MissingJarsError, match="not built from the current deploy/maven-jars.txt; run `make setup`"):
        resolve_jars("jars/spark/*.jar", root=tmp_path)

    (tmp_path / "jars" / "maven-jars.txt").write_text((tmp_path / "deploy" / "maven-jars.txt").read_text())
    assert resolve_jars("jars/spark/*.jar, /abs/x.jar".replace("/abs/x.jar", str(tmp_path / "jars" / "spark" / "*.jar")),
                        root=tmp_path).split(",") == [str(tmp_path / "jars" / "spark" / "delta-spark_4.2_2.13-4.4.0.jar")] * 2


def test_auto_picks_embedded_without_delta_classes(spark, warehouse, monkeypatch):
    monkeypatch.setattr(store_module, "delta_classes_available", lambda session: False)
    assert TableStore(spark, warehouse, engine="auto").engine_name == "embedded"
    assert isinstance(TableStore(spark, warehouse, engine="embedded").engine, EmbeddedEngine)


def test_auto_picks_delta_spark_when_its_classes_are_there(spark, warehouse, monkeypatch):
    monkeypatch.setattr(store_module, "delta_classes_available", lambda session: True)

    assert isinstance(TableStore(spark, warehouse, engine="auto").engine, DeltaSparkEngine)
    assert TableStore(spark, warehouse, engine="delta-spark").engine_name == "delta-spark"


def test_delta_spark_without_its_classes_is_a_clear_error(spark, warehouse, monkeypatch):
    monkeypatch.setattr(store_module, "delta_classes_available", lambda session: False)
    with pytest.raises(WriteError, match=r"storage.engine = 'delta-spark' but Delta's Spark classes are not on the classpath: locally run `make setup`.*--packages io.delta:delta-spark_4.2_2.13:4.4.0"):
        TableStore(spark, warehouse, engine="delta-spark")


def test_an_unknown_engine_is_refused(spark, warehouse):
    with pytest.raises(ValueError, match="unknown storage engine 'delta'"):
        TableStore(spark, warehouse, engine="delta")


class _DeltaBuildWithoutTheLogApi:
    """What py4j gives on a Delta build whose DeltaLog lacks forTable/update: a call that fails."""

    def forTable(self, *args):  # noqa: N802 - the JVM method's name
        from py4j.protocol import Py4JError

        raise Py4JError("An error occurred while calling DeltaLog.forTable: Method forTable([...]) does not exist")


def test_version_and_partitions_come_from_the_log_and_equal_the_public_api(spark, warehouse):
    engine = DeltaSparkEngine(spark)
    dated, plain = f"{warehouse}/dated", f"{warehouse}/plain"
    frame = spark.createDataFrame([(1, dt.date(2024, 1, 1)), (2, None)], "x int, dt date")
    frame.write.format("delta").partitionBy("dt").save(dated)
    frame.write.format("delta").mode("append").partitionBy("dt").save(dated)
    frame.select("x").write.format("delta").save(plain)

    from_log = [engine.version(dated), engine.partition_columns(dated), engine.version(plain),
                engine.partition_columns(plain), engine.version(f"{warehouse}/none")]
    assert engine._log.available
    engine._log.available = False  # the public API: history(1) and DESCRIBE DETAIL
    public = [engine.version(dated), engine.partition_columns(dated), engine.version(plain),
              engine.partition_columns(plain), engine.version(f"{warehouse}/none")]

    assert from_log == public == [1, ["dt"], 0, [], -1]


def test_a_delta_build_without_the_log_api_falls_back_to_the_public_api(spark, warehouse):
    engine = DeltaSparkEngine(spark)
    spark.createDataFrame([(1, dt.date(2024, 1, 1))], "x int, dt date").write.format("delta").partitionBy("dt").save(warehouse)
    engine._log._delta_log = _DeltaBuildWithoutTheLogApi()

    assert (engine.version(warehouse), engine.partition_columns(warehouse)) == (0, ["dt"])
    assert engine._log.available is False


def test_a_log_that_cannot_be_read_is_an_error_not_a_fallback(spark, tmp_path):
    engine = DeltaSparkEngine(spark)
    log = tmp_path / "broken" / "_delta_log"
    log.mkdir(parents=True)
    (log / "00000000000000000000.json").write_text("this is not a commit\n")

    with pytest.raises(Exception, match="(?i)json|parse|unrecognized|corrupt"):
        engine.version(str(tmp_path / "broken"))
    assert engine._log.available is True
