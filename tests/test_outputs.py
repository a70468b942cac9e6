"""lib.outputs: conform to the catalogue, nothing written on a mismatch, job_runs, run-consistent reads."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.catalog import OVERWRITE, Table, catalog
from lib.outputs import conform, latest_complete_run, read_consistent, start_run, write_outputs
from lib.schemas.runs import JOB_RUNS
from lib.storage import SchemaMismatchError, TableStore

PROJECT_ROOT = Path(__file__).resolve().parent.parent
D1, D2 = dt.date(2024, 1, 1), dt.date(2024, 1, 2)
A_SCHEMA = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("n", T.LongType(), True),
    T.StructField("dt", T.DateType(), False),
])
B_SCHEMA = T.StructType([T.StructField("item_id", T.StringType(), False), T.StructField("score", T.DoubleType(), True)])
TEST_TABLES = (
    Table("a", A_SCHEMA, ("dt",), "toy", "a dt table"),
    Table("b", B_SCHEMA, (), "toy", "a state table", OVERWRITE),
)


def toy_catalog(**names: str):
    return catalog().with_tables(*TEST_TABLES) if not names else catalog(
        names, tables=(*catalog().tables.values(), *TEST_TABLES))


def frames(spark, tag: str, day: dt.date):
    a = spark.createDataFrame([(day, tag, 1)], "dt date, item_id string, n int")  # other order, int -> bigint
    b = spark.createDataFrame([(tag, None)], "item_id string, score double")
    return {"a": a, "b": b}


def test_conform_selects_and_casts_in_catalogue_order(spark):
    frame = spark.createDataFrame([(D1, "x", 1), (D1, None, None)], "dt date, item_id string, n int")
    conformed = conform(frame, TEST_TABLES[0])
    assert conformed.columns == ["item_id", "n", "dt"] and conformed.schema["n"].dataType == T.LongType()
    assert conformed.collect() == [("x", 1, D1), (None, None, D1)]


def test_a_mismatch_anywhere_writes_nothing(spark, store):
    tables = toy_catalog()
    good = frames(spark, "x", D1)
    bad = {**good, "b": spark.createDataFrame([("x", "high", 1)], "item_id string, score string, extra int")}
    with pytest.raises(SchemaMismatchError, match=r"table 'b' \(toy\): unexpected columns extra; score is string"):
        write_outputs(store, tables, bad, start_run("toy", D1))
    assert not store.exists("a") and not store.exists("b") and not store.exists(JOB_RUNS)


def test_write_outputs_records_the_run_and_readers_use_its_versions(spark, store):
    tables = toy_catalog(a="a_renamed")
    first = write_outputs(store, tables, frames(spark, "one", D1), start_run("toy", D1, "run-1"), details={"p": 1})
    assert first.status == "complete" and set(first.table_versions) == {"a_renamed", "b"}
    assert store.exists("a_renamed") and not store.exists("a")
    # a later write outside a run (as a killed run would leave) is not what consistent readers see
    store.replace_partitions("a_renamed", conform(frames(spark, "half", D2)["a"], TEST_TABLES[0]), dates=[D2])
    a, run = read_consistent(store, tables, "a")
    assert run.run_id == "run-1" and run.details == '{"p": 1}'
    assert_df_equality(a, spark.createDataFrame([("one", 1, D1)], A_SCHEMA), ignore_nullable=True)
    assert latest_complete_run(store, tables, "toy", before=D1) is None
    assert read_consistent(store, tables, "a", run_before=D1)[0].count() == 0


def test_a_job_store_reads_one_snapshot_of_the_run_log_until_it_writes_it(spark, store, warehouse):
    """A job's store (run log pinned) does not see runs another process completes after its first
    read (all its inputs come from one set of runs); its own run record replaces the snapshot. A
    store without pins sees every run at once."""
    tables = toy_catalog()
    job_store = TableStore(spark, warehouse, engine="delta-spark", pinned_tables=[JOB_RUNS])
    write_outputs(job_store, tables, frames(spark, "one", D1), start_run("toy", D1, "run-1"))
    assert latest_complete_run(job_store, tables, "toy").run_id == "run-1"
    write_outputs(store, tables, frames(spark, "two", D2), start_run("toy", D2, "run-2"))
    assert latest_complete_run(job_store, tables, "toy").run_id == "run-1"
    assert latest_complete_run(store, tables, "toy").run_id == "run-2"
    write_outputs(job_store, tables, frames(spark, "three", D2), start_run("toy", D2, "run-3"))
    assert latest_complete_run(job_store, tables, "toy").run_id == "run-3"
    assert latest_complete_run(store, tables, "toy").run_id == "run-3"


KILLED_JOB = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    from lib.session import build_session
    from lib.storage import TableStore
    from lib.outputs import start_run, write_outputs
    from test_outputs import frames, toy_catalog
    spark = build_session("killed-job", {"spark.master": "local[1]", "spark.ui.enabled": "false",
                                         "spark.sql.shuffle.partitions": "1"})
    store = TableStore(spark, sys.argv[1], engine="embedded")
    kill = lambda name, result: os.kill(os.getpid(), signal.SIGKILL)  # after the first table committed
    write_outputs(store, toy_catalog(), frames(spark, "killed", dt.date(2024, 1, 2)), start_run("toy", dt.date(2024, 1, 2)),
                  after_write=kill)
    """
)


@pytest.mark.slow
def test_a_job_killed_between_its_writes_leaves_the_previous_run_readable(spark, store, warehouse, tmp_path):
    tables = toy_catalog()
    write_outputs(store, tables, frames(spark, "whole", D1), start_run("toy", D1, "run-whole"))
    script = tmp_path / "killed_job.py"
    script.write_text(KILLED_JOB)

    process = subprocess.run(
        [sys.executable, str(script), warehouse], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable, "PYTHONPATH": str(Path(__file__).parent)},
    )

    assert process.returncode == -9, process.stderr[-2000:]
    assert store.read("a").where(F.col("item_id") == "killed").count() == 1  # table a did commit
    assert store.read(JOB_RUNS).count() == 1  # no row for the killed run
    a, run = read_consistent(store, tables, "a")
    b, _ = read_consistent(store, tables, "b")
    assert run.run_id == "run-whole"
    assert_df_equality(a, spark.createDataFrame([("whole", 1, D1)], A_SCHEMA), ignore_nullable=True)
    assert_df_equality(b, spark.createDataFrame([("whole", None)], B_SCHEMA), ignore_nullable=True)
