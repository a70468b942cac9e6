"""The table layer's guarantees (issue 2, point 5; issue 9), on both engines: every test taking
`store` runs once with `delta-spark` and once with `embedded`, with the same assertions. The few
that exercise one engine's own mechanism (the embedded engine's before-commit hook, its commit
retries) say so by parametrising `engine` to that one engine.

Every test compares whole DataFrames (chispa) or whole file sets; "nothing was written" is checked
as "same version, same rows, same files on disk".
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pyarrow as pa
import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from conftest import ENGINES
from lib.schemas.events import EVENTS, EVENTS_SCHEMA
from lib.session import BASE_SPARK_CONF
from lib.storage import SchemaMismatchError, TableNotFoundError, TableStore, WriteConflictError, WriteError

D1, D2, D3 = dt.date(2024, 1, 1), dt.date(2024, 1, 2), dt.date(2024, 1, 3)
PROJECT_ROOT = Path(__file__).resolve().parent.parent

SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), True),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("dt", T.DateType(), True),
    ]
)
ROWS_D1 = [("a", 1, D1), ("b", None, D1), (None, 3, D1)]  # null rows in a value and a string column
ROWS_D2 = [("a", 10, D2), ("c", -2, D2)]
ROWS_D3 = [("z", 7, D3)]


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def store(spark: SparkSession, warehouse: str, engine: str) -> TableStore:
    return TableStore(spark, warehouse, engine=engine)


def frame(spark: SparkSession, rows: list[tuple], schema: T.StructType = SCHEMA) -> DataFrame:
    # One input partition: one file per dt, so file-level expectations are exact.
    return spark.createDataFrame(rows, schema).coalesce(1)


def files_on_disk(location: str) -> set[str]:
    """Every file under the table except the log: data files, staged files, anything left behind."""
    root = Path(location)
    if not root.exists():
        return set()
    return {
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and "_delta_log" not in p.parts and not p.name.endswith(".crc")  # Hadoop checksums
    }


def paths_on_disk(location: str) -> set[str]:
    """Every file and folder under the table except the log."""
    root = Path(location)
    return {
        str(p.relative_to(root)) for p in root.rglob("*") if "_delta_log" not in p.parts and not p.name.endswith(".crc")
    }


def snapshot(store: TableStore, table: str) -> tuple[int, set[str], list[tuple]]:
    """Version, files and folders on disk, and rows: what "exactly as before" compares."""
    location = store.path(table)
    rows = sorted(store.read(table).collect(), key=repr)  # a handful of test rows
    return DeltaTable(location).version(), paths_on_disk(location), rows


def assert_log_intact(location: str) -> None:
    """The log opens with deltalake and every version in it reads."""
    latest = DeltaTable(location).version()
    for version in range(latest + 1):
        DeltaTable(location, version=version).to_pyarrow_table()


# -- reading -----------------------------------------------------------------------------------


def test_replace_then_read_returns_every_row(spark, store):
    result = store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])

    assert (result.version, result.partitions) == (0, ("2024-01-01", "2024-01-02"))
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D2, SCHEMA), ignore_row_order=True)


def test_read_date_range_prunes_to_the_files_of_those_dates(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2 + ROWS_D3), dates=[D1, D2, D3])
    location = store.path("t")

    between = store.read("t", start=D2, end=D3)
    from_d2 = store.read("t", start=D2)
    until_d1 = store.read("t", end=D1)

    assert_df_equality(between, spark.createDataFrame(ROWS_D2 + ROWS_D3, SCHEMA), ignore_row_order=True)
    assert_df_equality(from_d2, spark.createDataFrame(ROWS_D2 + ROWS_D3, SCHEMA), ignore_row_order=True)
    assert_df_equality(until_d1, spark.createDataFrame(ROWS_D1, SCHEMA), ignore_row_order=True)
    # Pruning happens in the listing: Spark is handed only the needed dates' files.
    listed = {Path(f).parent.name for f in between.inputFiles()}
    assert listed == {"dt=2024-01-02", "dt=2024-01-03"}
    # deltalake's own pruning works on date-typed partitions with ISO strings.
    table = DeltaTable(location)
    pruned = {Path(f).parent.name for f in table.file_uris(partition_filters=[("dt", ">=", "2024-01-02")])}
    assert pruned == {"dt=2024-01-02", "dt=2024-01-03"}


def test_read_as_of_a_version(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    store.replace_partitions("t", frame(spark, [("new", 5, D1)]), dates=[D1])

    assert_df_equality(store.read("t", version=0), spark.createDataFrame(ROWS_D1, SCHEMA), ignore_row_order=True)
    assert_df_equality(store.read("t"), spark.createDataFrame([("new", 5, D1)], SCHEMA), ignore_row_order=True)


def test_empty_date_range_reads_as_empty_with_the_tables_schema(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])

    assert_df_equality(store.read("t", start=D2, end=D3), spark.createDataFrame([], SCHEMA))


def test_missing_table_raises_naming_it_or_reads_empty_with_empty_schema(spark, store):
    with pytest.raises(TableNotFoundError, match="'nope'"):
        store.read("nope")

    assert_df_equality(store.read("nope", empty_schema=SCHEMA), spark.createDataFrame([], SCHEMA))
    assert not store.exists("nope")


# -- replacing partitions ------------------------------------------------------------------------


def test_rerun_of_a_date_replaces_never_doubles_and_leaves_other_dates(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])
    rerun = [("a", 100, D2)]

    store.replace_partitions("t", frame(spark, rerun), dates=[D2])
    store.replace_partitions("t", frame(spark, rerun), dates=[D2])

    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + rerun, SCHEMA), ignore_row_order=True)
    # the replaced files are gone from the current version: one file per date
    current = {Path(f).parent.name for f in DeltaTable(store.path("t")).file_uris()}
    assert sorted(current) == ["dt=2024-01-01", "dt=2024-01-02"]
    assert len(DeltaTable(store.path("t")).file_uris()) == 2


def test_a_date_with_no_rows_is_emptied(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])

    result = store.replace_partitions("t", frame(spark, ROWS_D3), dates=[D2, D3])

    assert result.partitions == ("2024-01-02", "2024-01-03")
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D3, SCHEMA), ignore_row_order=True)


def test_replacing_with_an_empty_frame_empties_the_dates(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])

    store.replace_partitions("t", spark.createDataFrame([], SCHEMA), dates=[D2])

    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1, SCHEMA), ignore_row_order=True)
    assert DeltaTable(store.path("t")).version() == 1


def test_rows_outside_the_dates_are_refused_and_nothing_is_written(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(store, "t")

    with pytest.raises(WriteError, match="dt = 2024-01-02.*nothing was written"):
        store.replace_partitions("t", frame(spark, [("x", 1, D1), ("y", 2, D2)]), dates=[D1])

    assert_unchanged_after_a_failed_write(store, "t", before)


@pytest.mark.parametrize("write", ["replace", "append"])
def test_rows_with_a_null_dt_are_refused_and_nothing_is_written(spark, store, write):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(store, "t")
    with_null_dt = frame(spark, [("x", 1, D1), ("y", 2, None)])

    with pytest.raises(WriteError, match="rows with a null dt cannot be written"):
        if write == "replace":
            store.replace_partitions("t", with_null_dt, dates=[D1])
        else:
            store.append("t", with_null_dt)

    assert_unchanged_after_a_failed_write(store, "t", before)


def test_replace_without_dates_replaces_the_dates_the_frame_has(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])

    result = store.replace_partitions("t", frame(spark, ROWS_D3 + [("q", 0, D1)]))

    assert result.partitions == ("2024-01-01", "2024-01-03")
    expected = ROWS_D2 + ROWS_D3 + [("q", 0, D1)]
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, SCHEMA), ignore_row_order=True)


def test_replace_needs_a_date_typed_dt_column(spark, store):
    as_string = T.StructType([T.StructField("item_id", T.StringType()), T.StructField("dt", T.StringType())])

    with pytest.raises(SchemaMismatchError, match="'dt'.*date"):
        store.replace_partitions("t", spark.createDataFrame([("a", "2024-01-01")], as_string), dates=[D1])
    with pytest.raises(SchemaMismatchError, match="no 'dt' column"):
        store.replace_partitions("t", spark.createDataFrame([("a",)], "item_id string"), dates=[D1])

    assert not store.exists("t")


# -- append, overwrite, history ----------------------------------------------------------------


def test_append_adds_rows(spark, store):
    store.append("t", frame(spark, ROWS_D1))
    store.append("t", frame(spark, ROWS_D1 + ROWS_D2))

    expected = spark.createDataFrame(ROWS_D1 + ROWS_D1 + ROWS_D2, SCHEMA)
    assert_df_equality(store.read("t"), expected, ignore_row_order=True)


def test_overwrite_replaces_the_whole_table(spark, store):
    items = T.StructType([T.StructField("item_id", T.StringType()), T.StructField("price", T.DoubleType())])
    store.overwrite("items", spark.createDataFrame([("a", 1.0), ("b", None)], items), partition_by=())

    store.overwrite("items", spark.createDataFrame([("c", 2.5)], items), partition_by=())

    assert_df_equality(store.read("items"), spark.createDataFrame([("c", 2.5)], items), ignore_row_order=True)
    assert DeltaTable(store.path("items")).metadata().partition_columns == []
    store.overwrite("t", frame(spark, ROWS_D1 + ROWS_D2))
    store.overwrite("t", frame(spark, ROWS_D3))
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D3, SCHEMA), ignore_row_order=True)


def test_history_has_one_version_per_write(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    store.append("t", frame(spark, ROWS_D2))
    store.replace_partitions("t", frame(spark, ROWS_D2), dates=[D2])
    store.overwrite("t", frame(spark, ROWS_D3))

    history = store.history("t")

    assert sorted(h["version"] for h in history) == [0, 1, 2, 3]
    operations = {h["version"]: h["cobuy.operation"] for h in history}
    assert operations == {
        0: "cobuy replace t dt in ['2024-01-01']",
        1: "cobuy append t",
        2: "cobuy replace t dt in ['2024-01-02']",
        3: "cobuy overwrite t",
    }
    assert_log_intact(store.path("t"))


T0 = dt.datetime(2024, 1, 1, 23, 59, 59, 123456, tzinfo=dt.timezone.utc)
EVENT_ROWS = [
    ("e1", T0, "u1", "s1", None, "i1", "view", None, None, "shop", D1),
    ("e2", T0 + dt.timedelta(seconds=2), None, "s1", "o1", "i2", "purchase", 2, 9.99, "shop", D2),
]


def test_deltalake_reads_the_same_rows_as_spark(spark, store):
    """On the canonical events schema: timestamps, doubles, NOT NULL columns, nulls."""
    events = EVENT_ROWS
    store.replace_partitions(EVENTS, spark.createDataFrame(events[:1], EVENTS_SCHEMA), dates=[D1], schema=EVENTS_SCHEMA)
    store.replace_partitions(EVENTS, spark.createDataFrame(events[1:], EVENTS_SCHEMA), dates=[D2], schema=EVENTS_SCHEMA)

    arrow = DeltaTable(store.path(EVENTS)).to_pyarrow_table()

    assert arrow.column_names == EVENTS_SCHEMA.names
    from_deltalake = spark.createDataFrame(arrow.to_pylist(), EVENTS_SCHEMA)
    assert_df_equality(from_deltalake, store.read(EVENTS), ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(from_deltalake, spark.createDataFrame(events, EVENTS_SCHEMA), ignore_row_order=True)
    assert store.schema(EVENTS) == EVENTS_SCHEMA


def test_every_file_carries_stats(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])

    actions = pa.table(DeltaTable(store.path("t")).get_add_actions(flatten=True)).to_pylist()
    stats = sorted(
        (
            a["partition.dt"], a["num_records"],
            a["null_count.item_id"], a["min.item_id"], a["max.item_id"],
            a["null_count.quantity"], a["min.quantity"], a["max.quantity"],
        )
        for a in actions
    )

    assert stats == [
        (D1, 3, 1, "a", "b", 1, 1, 3),
        (D2, 2, 0, "a", "c", 0, -2, 10),
    ]


# -- failures leave the table as it was ---------------------------------------------------------


def assert_unchanged_after_a_failed_write(store: TableStore, table: str, before: tuple) -> None:
    """Same version and rows. The embedded engine also leaves the same files; delta-spark writes
    straight into the table's folders, so a failed job may leave unreferenced files there, which
    no read sees and `vacuum` deletes."""
    version, paths, rows = snapshot(store, table)
    assert (version, rows) == (before[0], before[2])
    if store.engine_name == "delta-spark":
        store.vacuum(table, 0)  # Delta logs VACUUM START/END as versions: compare files and rows
        assert snapshot(store, table)[1:] == before[1:]
    else:
        assert paths == before[1]


def test_a_failing_spark_job_leaves_the_table_unchanged_and_no_files(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])
    before = snapshot(store, "t")
    raw = spark.createDataFrame([("a", "1", D1), ("b", "not a number", D2)], "item_id string, q string, dt date")
    failing = raw.select("item_id", F.col("q").cast("int").alias("quantity"), "dt")  # ANSI cast error

    with pytest.raises(Exception, match="not a number"):
        store.replace_partitions("t", failing, dates=[D1, D2])

    assert_unchanged_after_a_failed_write(store, "t", before)


def test_a_failing_first_write_creates_no_table_and_leaves_no_files(spark, store):
    @F.udf(T.IntegerType())
    def explode_on_b(item_id):
        if item_id == "b":
            raise ValueError("boom in a UDF")
        return 1

    failing = frame(spark, ROWS_D1).withColumn("quantity", explode_on_b("item_id"))

    with pytest.raises(Exception, match="boom in a UDF"):
        store.replace_partitions("t", failing, dates=[D1])

    assert not store.exists("t")
    assert not list((Path(store.path("t")) / "_delta_log").glob("*.json"))
    if store.engine_name == "embedded":  # delta-spark may leave the failed job's files (no log: no table)
        assert not Path(store.path("t")).exists()


@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
def test_a_failure_just_before_the_commit_leaves_the_table_unchanged(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(store, "t")

    def fail(actions):
        assert [a.partition_values for a in actions] == [{"dt": "2024-01-01"}]
        raise RuntimeError("lost the connection")

    with pytest.raises(RuntimeError, match="lost the connection"):
        store.replace_partitions("t", frame(spark, [("new", 1, D1)]), dates=[D1], before_commit=fail)

    assert snapshot(store, "t") == before


KILLED_WRITER = textwrap.dedent(
    """
    import datetime as dt, os, signal, sys
    from lib.session import build_session
    from lib.storage import TableStore
    spark = build_session("killed-writer", {"spark.master": "local[1]", "spark.ui.enabled": "false",
                                            "spark.sql.shuffle.partitions": "1"})
    store = TableStore(spark, sys.argv[1], engine="embedded")
    frame = spark.createDataFrame([("killed", 1, dt.date(2024, 1, 1)), ("killed", 2, dt.date(2024, 1, 3))],
                                  "item_id string, quantity int, dt date")
    store.replace_partitions("t", frame, dates=[dt.date(2024, 1, 1), dt.date(2024, 1, 3)],
                             before_commit=lambda actions: os.kill(os.getpid(), signal.SIGKILL))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
def test_a_process_killed_before_the_commit_leaves_the_table_unchanged(spark, store, warehouse, tmp_path):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])
    before = snapshot(store, "t")
    files_before = files_on_disk(store.path("t"))
    script = tmp_path / "killed_writer.py"
    script.write_text(KILLED_WRITER)

    process = subprocess.run(
        [sys.executable, str(script), warehouse], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )

    assert process.returncode == -9, process.stderr[-2000:]
    version, _, rows = snapshot(store, "t")
    leftovers = files_on_disk(store.path("t")) - files_before
    assert (version, rows) == (before[0], before[2])
    assert {Path(f).parent.name for f in leftovers if f.endswith(".parquet")} == {"dt=2024-01-01", "dt=2024-01-03"}
    # the leftovers are invisible: Spark's and deltalake's reads list only committed files
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D2, SCHEMA), ignore_row_order=True)
    assert sorted(DeltaTable(store.path("t")).to_pyarrow_table().to_pylist(), key=repr) == sorted(
        (dict(zip(SCHEMA.names, r)) for r in ROWS_D1 + ROWS_D2), key=repr
    )

    store.vacuum("t", 0)

    assert files_on_disk(store.path("t")) == files_before
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D2, SCHEMA), ignore_row_order=True)


KILLED_MID_WRITE = textwrap.dedent(
    """
    import datetime as dt, json, os, signal, sys
    from pyspark.sql import functions as F, types as T
    from lib.session import build_session
    from lib.storage import TableStore
    spark = build_session("killed-mid-write", json.loads(sys.argv[3]))
    store = TableStore(spark, sys.argv[1], engine=sys.argv[2])
    jvm_pid, driver_pid = spark.sparkContext._jvm.ProcessHandle.current().pid(), os.getpid()

    @F.udf(T.IntegerType())
    def kill_everything(quantity):
        if quantity == 2:  # the second row: the first one's file may be written already
            os.kill(driver_pid, signal.SIGKILL)
            os.kill(jvm_pid, signal.SIGKILL)
        return quantity

    rows = [("killed", 1, dt.date(2024, 1, 1)), ("killed", 2, dt.date(2024, 1, 3))]
    frame = spark.createDataFrame(rows, "item_id string, quantity int, dt date").coalesce(1)
    store.replace_partitions("t", frame.withColumn("quantity", kill_everything("quantity")),
                             dates=[dt.date(2024, 1, 1), dt.date(2024, 1, 3)])
    """
)


@pytest.mark.slow
def test_a_process_killed_during_the_write_leaves_the_table_unchanged(spark, store, warehouse, engine, tmp_path):
    """kill -9 of the driver and its JVM while the write's Spark job runs, on both engines."""
    import json

    from conftest import TEST_SPARK_CONF

    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])
    before = snapshot(store, "t")
    script = tmp_path / "killed_mid_write.py"
    script.write_text(KILLED_MID_WRITE)
    conf = {**TEST_SPARK_CONF, "spark.master": "local[1]", "spark.local.dir": str(tmp_path / "local")}

    process = subprocess.run(
        [sys.executable, str(script), warehouse, engine, json.dumps(conf)], cwd=PROJECT_ROOT,
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYSPARK_PYTHON": sys.executable},
    )

    assert process.returncode == -9, process.stderr[-2000:]
    version, _, rows = snapshot(store, "t")
    assert (version, rows) == (before[0], before[2])
    assert_log_intact(store.path("t"))
    store.vacuum("t", 0)  # whatever the killed write left is unreferenced: vacuum takes it
    assert snapshot(store, "t")[1:] == before[1:]


@pytest.mark.parametrize(("other_rows", "lands"), [(ROWS_D3, True), ([("other", 9, D1)], False)], ids=["other-date", "same-date"])
def test_a_writer_whose_dates_another_writer_commits_meanwhile_conflicts(spark, store, warehouse, tmp_path, other_rows, lands):
    """Optimistic concurrency on both engines: our write's Spark job is held until another writer
    has committed; a commit to our date makes ours a WriteConflictError, one to another date not."""
    store.replace_partitions("t", frame(spark, ROWS_D2), dates=[D2])
    started, go = tmp_path / "started", tmp_path / "go"

    @F.udf(T.IntegerType())
    def hold_until_go(quantity):
        import time

        started.touch()
        deadline = time.monotonic() + 120
        while not go.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        return quantity

    mine = [("mine", 1, D1)]
    held = frame(spark, mine).withColumn("quantity", hold_until_go("quantity"))
    outcome: list[object] = []

    def write() -> None:
        try:
            outcome.append(store.replace_partitions("t", held, dates=[D1]))
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcome.append(error)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(1200):
            if started.exists() or not writer.is_alive():
                break
            threading.Event().wait(0.1)
        assert started.exists(), outcome
        other = TableStore(spark, warehouse, engine=store.engine_name)
        other.replace_partitions("t", frame(spark, other_rows), dates=sorted({r[2] for r in other_rows}))
    finally:
        go.touch()
        writer.join(timeout=300)

    if lands:
        assert not isinstance(outcome[0], Exception), outcome
        expected = ROWS_D2 + mine + other_rows
    else:
        assert isinstance(outcome[0], WriteConflictError), outcome
        expected = ROWS_D2 + other_rows
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, SCHEMA), ignore_row_order=True)
    assert_log_intact(store.path("t"))


def test_vacuum_removes_replaced_files_but_keeps_the_current_ones(spark, store):
    store.replace_partitions("t", frame(spark, ROWS_D1 + ROWS_D2), dates=[D1, D2])
    store.replace_partitions("t", frame(spark, ROWS_D3), dates=[D2, D3])
    current = {str(Path(f).relative_to(store.path("t"))) for f in DeltaTable(store.path("t")).file_uris()}

    store.vacuum("t", 0)

    assert files_on_disk(store.path("t")) == current
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D3, SCHEMA), ignore_row_order=True)


# -- schemas -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ddl", "rows", "message"),
    [
        ("item_id string, quantity long, dt date", [("a", 1, D2)], "column quantity is bigint but the table has int"),
        ("item_id string, dt date", [("a", D2)], "missing columns quantity"),
        ("item_id string, quantity int, colour string, dt date", [("a", 1, "red", D2)], "unexpected columns colour"),
    ],
    ids=["changed-type", "missing", "added"],
)
def test_a_schema_mismatch_is_refused_naming_the_columns_and_nothing_is_written(spark, store, ddl, rows, message):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(store, "t")

    with pytest.raises(SchemaMismatchError, match=message):
        store.replace_partitions("t", spark.createDataFrame(rows, ddl), dates=[D2])

    assert snapshot(store, "t") == before  # refused before any Spark job: not even a stray file


def test_additive_schema_evolution_only_when_allowed(spark, store, warehouse):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    wider = T.StructType([*SCHEMA.fields[:2], T.StructField("colour", T.StringType()), SCHEMA.fields[2]])
    new_rows = [("a", 1, "red", D2), ("b", 2, None, D2)]
    before = snapshot(store, "t")

    with pytest.raises(SchemaMismatchError, match=r"unexpected columns colour \(string\).*allow_schema_evolution"):
        store.replace_partitions("t", frame(spark, new_rows, wider), dates=[D2])
    assert snapshot(store, "t") == before

    evolving = TableStore(spark, warehouse, engine=store.engine_name, allow_schema_evolution=True)
    evolving.replace_partitions("t", frame(spark, new_rows, wider), dates=[D2])

    expected_schema = T.StructType([*SCHEMA.fields, T.StructField("colour", T.StringType())])
    expected = [(i, q, d, None) for i, q, d in ROWS_D1] + [(i, q, d, c) for i, q, c, d in new_rows]
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, expected_schema), ignore_row_order=True)
    assert_log_intact(store.path("t"))
    operations = {h["version"]: h["cobuy.operation"] for h in store.history("t")}
    if store.engine_name == "embedded":  # delta-rs cannot change the schema inside a write
        assert operations == {
            0: "cobuy replace t dt in ['2024-01-01']",
            1: "cobuy replace t dt in ['2024-01-02'] (add columns)",
            2: "cobuy replace t dt in ['2024-01-02']",
        }
    else:  # delta-spark: mergeSchema adds the columns in the data's own commit
        assert operations == {0: "cobuy replace t dt in ['2024-01-01']", 1: "cobuy replace t dt in ['2024-01-02']"}


def test_a_failing_evolving_write_leaves_the_schema_unchanged(spark, warehouse, engine):
    evolving = TableStore(spark, warehouse, engine=engine, allow_schema_evolution=True)
    evolving.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(evolving, "t")
    wider = frame(spark, [("a", 1, D2)]).withColumn("colour", F.lit("red").cast("int"))  # ANSI cast error

    with pytest.raises(Exception, match="red"):
        evolving.replace_partitions("t", wider, dates=[D2])

    assert_unchanged_after_a_failed_write(evolving, "t", before)
    assert evolving.schema("t") == SCHEMA


def test_nulls_in_a_non_nullable_column_are_refused(spark, store):
    strict = T.StructType([T.StructField("item_id", T.StringType(), False), SCHEMA.fields[2]])
    store.replace_partitions("t", spark.createDataFrame([("a", D1)], strict), dates=[D1])
    before = snapshot(store, "t")
    loose = T.StructType([T.StructField("item_id", T.StringType(), True), SCHEMA.fields[2]])

    with pytest.raises(Exception, match="item_id"):
        store.replace_partitions("t", spark.createDataFrame([(None, D2)], loose), dates=[D2])

    assert_unchanged_after_a_failed_write(store, "t", before)
    store.replace_partitions("t", spark.createDataFrame([("b", D2)], loose), dates=[D2])
    expected = spark.createDataFrame([("a", D1), ("b", D2)], strict)
    assert_df_equality(store.read("t"), expected, ignore_row_order=True, ignore_nullable=True)
    # a later write of a nullable frame leaves the column NOT NULL (it used to turn it nullable)
    assert store.schema("t") == strict
    assert DeltaTable(store.path("t")).schema().to_json() == DeltaTable(store.path("t"), version=0).schema().to_json()


@pytest.mark.parametrize("write", ["replace", "append", "overwrite"])
def test_a_first_write_takes_the_declared_schema_with_its_not_null_columns(spark, store, write):
    """The declared schema (lib/schemas) wins over the frame's nullability, from the first write on."""
    strict = T.StructType([T.StructField("item_id", T.StringType(), False), T.StructField("dt", T.DateType(), False)])
    loose = spark.createDataFrame([("a", D1)], "item_id string, dt date")
    writes = {
        "replace": lambda data: store.replace_partitions("t", data, dates=[D1], schema=strict),
        "append": lambda data: store.append("t", data, schema=strict),
        "overwrite": lambda data: store.overwrite("t", data, schema=strict),
    }

    writes[write](loose)
    writes[write](loose)

    assert store.schema("t") == strict
    assert_df_equality(store.read("t"), spark.createDataFrame([("a", D1)] * (2 if write == "append" else 1), strict),
                       ignore_row_order=True, ignore_nullable=True)  # Spark reads every column as nullable
    with pytest.raises(Exception, match="item_id"):
        writes[write](spark.createDataFrame([(None, D1)], "item_id string, dt date"))
    assert store.schema("t") == strict


def test_overwrite_is_the_whole_table_even_with_dynamic_partition_overwrite_set(spark, store):
    """lib/session.py used to set partitionOverwriteMode=dynamic for every session, which makes a
    plain Spark overwrite replace only the partitions present; cobuy's overwrite is static."""
    assert "spark.sql.sources.partitionOverwriteMode" not in BASE_SPARK_CONF
    store.overwrite("t", frame(spark, ROWS_D1 + ROWS_D2))
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    try:
        store.overwrite("t", frame(spark, ROWS_D3))
    finally:
        spark.conf.unset("spark.sql.sources.partitionOverwriteMode")

    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D3, SCHEMA), ignore_row_order=True)


@pytest.mark.parametrize("engine", ["embedded"])  # delta-rs's commit, patched
def test_a_commit_whose_outcome_is_unknown_keeps_the_files_it_committed(spark, store, monkeypatch):
    """An exception after the log entry landed (a lost reply from object storage): the write is
    settled by reading the log, and the files a committed version references are never deleted."""
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    original = DeltaTable.create_write_transaction

    def commit_then_lose_the_reply(table, *args, **kwargs):
        original(table, *args, **kwargs)
        raise OSError("connection reset after the commit was sent")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", commit_then_lose_the_reply)
    result = store.replace_partitions("t", frame(spark, ROWS_D2), dates=[D2])
    monkeypatch.undo()

    assert result.version == 1
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + ROWS_D2, SCHEMA), ignore_row_order=True)
    assert_log_intact(store.path("t"))
    referenced = {str(Path(f).relative_to(store.path("t"))) for f in DeltaTable(store.path("t")).file_uris()}
    assert referenced <= files_on_disk(store.path("t"))


@pytest.mark.parametrize("engine", ["embedded"])  # delta-rs's commit, patched
def test_a_commit_that_did_not_land_removes_its_files(spark, store, monkeypatch):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    before = snapshot(store, "t")

    def lose_the_connection(table, *args, **kwargs):
        raise OSError("connection reset before the commit was sent")

    monkeypatch.setattr(DeltaTable, "create_write_transaction", lose_the_connection)
    with pytest.raises(OSError, match="before the commit"):
        store.replace_partitions("t", frame(spark, ROWS_D2), dates=[D2])
    monkeypatch.undo()

    assert snapshot(store, "t") == before


# -- concurrent writers ------------------------------------------------------------------------


def race(spark: SparkSession, warehouse: str, writes: list[tuple[DataFrame, list[dt.date]]]) -> list[object]:
    """Run the writes in threads through separate TableStores, all committing at the same moment."""
    barrier = threading.Barrier(len(writes), timeout=120)
    outcomes: list[object] = [None] * len(writes)

    def write(index: int, data: DataFrame, dates: list[dt.date]) -> None:
        store = TableStore(spark, warehouse, engine="embedded")  # before_commit: embedded only
        try:
            outcomes[index] = store.replace_partitions("t", data, dates=dates, before_commit=lambda _: barrier.wait())
        except Exception as error:  # noqa: BLE001 - the outcome is what the test checks
            outcomes[index] = error

    threads = [threading.Thread(target=write, args=(i, d, ds)) for i, (d, ds) in enumerate(writes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
def test_two_writers_to_different_dates_both_land(spark, store, warehouse):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])

    outcomes = race(spark, warehouse, [(frame(spark, ROWS_D2), [D2]), (frame(spark, ROWS_D3), [D3])])

    assert sorted(o.version for o in outcomes) == [1, 2], outcomes
    expected = spark.createDataFrame(ROWS_D1 + ROWS_D2 + ROWS_D3, SCHEMA)
    assert_df_equality(store.read("t"), expected, ignore_row_order=True)
    assert_log_intact(store.path("t"))


@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
def test_two_writers_to_the_same_date_one_lands_one_conflicts(spark, store, warehouse):
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    first, second = [("first", 1, D2)], [("second", 2, D2)]

    outcomes = race(spark, warehouse, [(frame(spark, first), [D2]), (frame(spark, second), [D2])])

    conflicts = [o for o in outcomes if isinstance(o, WriteConflictError)]
    landed = [o for o in outcomes if not isinstance(o, Exception)]
    assert (len(conflicts), len(landed)) == (1, 1), outcomes
    assert "not committed" in str(conflicts[0])
    winner = first if outcomes[0] is landed[0] else second
    assert_df_equality(store.read("t"), spark.createDataFrame(ROWS_D1 + winner, SCHEMA), ignore_row_order=True)
    assert DeltaTable(store.path("t")).version() == 1
    assert_log_intact(store.path("t"))
    # the loser's files are invisible and vacuum takes them away
    store.vacuum("t", 0)
    current = {str(Path(f).relative_to(store.path("t"))) for f in DeltaTable(store.path("t")).file_uris()}
    assert files_on_disk(store.path("t")) == current


@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
def test_a_writer_that_started_before_a_commit_to_its_date_conflicts(spark, store, warehouse):
    """Optimistic concurrency from the write's start: a commit to our date while we computed wins."""
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    other = TableStore(spark, warehouse, engine=store.engine_name)

    def someone_else_commits_first(_actions):
        other.replace_partitions("t", frame(spark, [("other", 9, D1)]), dates=[D1])

    with pytest.raises(WriteConflictError):
        store.replace_partitions("t", frame(spark, [("mine", 1, D1)]), dates=[D1], before_commit=someone_else_commits_first)

    assert_df_equality(store.read("t"), spark.createDataFrame([("other", 9, D1)], SCHEMA), ignore_row_order=True)
    # a commit to another date in the meantime is not a conflict
    def someone_commits_elsewhere(_actions):
        other.replace_partitions("t", frame(spark, ROWS_D3), dates=[D3])

    store.replace_partitions("t", frame(spark, ROWS_D2), dates=[D2], before_commit=someone_commits_elsewhere)
    expected = [("other", 9, D1)] + ROWS_D2 + ROWS_D3
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, SCHEMA), ignore_row_order=True)


@pytest.mark.parametrize("engine", ["embedded"])  # the embedded engine's before-commit hook
@pytest.mark.parametrize(
    ("second_rows", "second_dates", "both_land"),
    [(ROWS_D3, [D3], True), ([("second", 2, D2)], [D2], False)],
    ids=["different-dates", "same-date"],
)
def test_two_writers_creating_a_table_at_once(spark, store, warehouse, second_rows, second_dates, both_land):
    outcomes = race(spark, warehouse, [(frame(spark, ROWS_D2), [D2]), (frame(spark, second_rows), second_dates)])

    errors = [o for o in outcomes if isinstance(o, Exception)]
    if both_land:
        assert errors == []
        expected = ROWS_D2 + second_rows
    else:
        assert [type(e) for e in errors] == [WriteConflictError], outcomes
        expected = ROWS_D2 if isinstance(outcomes[1], Exception) else second_rows
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, SCHEMA), ignore_row_order=True)
    assert_log_intact(store.path("t"))


@pytest.mark.parametrize("engine", ["embedded"])  # delta-rs's commit, patched
@pytest.mark.parametrize(("other_rows", "lands"), [(ROWS_D3, True), ([("other", 9, D2)], False)], ids=["other-date", "same-date"])
def test_a_commit_that_loses_the_race_retries_only_when_no_date_clashes(spark, store, warehouse, monkeypatch, other_rows, lands):
    """delta-rs refuses a commit from a stale snapshot (CommitFailedError) even for other dates:
    the engine retries on the new snapshot when the winner touched none of its dates."""
    store.replace_partitions("t", frame(spark, ROWS_D1), dates=[D1])
    other = TableStore(spark, warehouse, engine=store.engine_name)
    original = DeltaTable.create_write_transaction
    attempts = []

    def another_writer_commits_in_between(table, *args, **kwargs):
        attempts.append(table.version())
        if len(attempts) == 1:  # our snapshot (version 0) is open; someone else commits before we do
            other.replace_partitions("t", frame(spark, other_rows), dates=sorted({r[2] for r in other_rows}))
        return original(table, *args, **kwargs)

    monkeypatch.setattr(DeltaTable, "create_write_transaction", another_writer_commits_in_between)
    mine = [("mine", 1, D2)]

    if lands:
        assert store.replace_partitions("t", frame(spark, mine), dates=[D2]).version == 2
        expected = ROWS_D1 + mine + other_rows
    else:
        with pytest.raises(WriteConflictError, match="version\\(s\\) 1 after version 0"):
            store.replace_partitions("t", frame(spark, mine), dates=[D2])
        expected = ROWS_D1 + other_rows
    # ours from version 0, the other writer's from 0, then (only when no date clashes) ours again from 1
    assert attempts == ([0, 0, 1] if lands else [0, 0])
    assert_df_equality(store.read("t"), spark.createDataFrame(expected, SCHEMA), ignore_row_order=True)
    assert_log_intact(store.path("t"))


# -- one table, two engines --------------------------------------------------------------------


@pytest.mark.parametrize(("writer", "reader"), [("embedded", "delta-spark"), ("delta-spark", "embedded")])
def test_a_table_written_by_one_engine_is_read_and_extended_by_the_other(spark, warehouse, writer, reader):
    first = TableStore(spark, warehouse, engine=writer)
    second = TableStore(spark, warehouse, engine=reader)
    # (delta-spark creates a table with NOT NULL columns in its own version first: use the returned one)
    written = first.replace_partitions(
        EVENTS, spark.createDataFrame(EVENT_ROWS[:1], EVENTS_SCHEMA), dates=[D1], schema=EVENTS_SCHEMA
    )

    assert_df_equality(second.read(EVENTS), spark.createDataFrame(EVENT_ROWS[:1], EVENTS_SCHEMA),
                       ignore_row_order=True, ignore_nullable=True)
    assert second.schema(EVENTS) == EVENTS_SCHEMA
    second.replace_partitions(EVENTS, spark.createDataFrame(EVENT_ROWS[1:], EVENTS_SCHEMA), dates=[D2])

    both = spark.createDataFrame(EVENT_ROWS, EVENTS_SCHEMA)
    assert_df_equality(first.read(EVENTS), both, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(first.read(EVENTS, version=written.version), spark.createDataFrame(EVENT_ROWS[:1], EVENTS_SCHEMA),
                       ignore_row_order=True, ignore_nullable=True)
    assert first.schema(EVENTS) == EVENTS_SCHEMA
    assert_log_intact(first.path(EVENTS))
