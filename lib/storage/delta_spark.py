"""The native Delta engine: Delta's own Spark connector (delta-spark), the default everywhere its jars
are loaded (`make setup` for `local`, `spark.jars.packages` or the platform on a cluster).

Overwrites are always static (the whole table, or exactly the `replaceWhere` dates), whatever the
session's `spark.sql.sources.partitionOverwriteMode`. Delta drops NOT NULL from a DataFrame's schema
when a write creates a table, so a first write whose schema has NOT NULL columns creates the table
from that schema first (an empty version) and then writes; later writes keep the table's schema and
Delta's invariant check fails a write with a null there before anything is committed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import threading
from collections.abc import Iterator, Sequence

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lib.storage.errors import TableNotFoundError, WriteConflictError, WriteError

# Delta's optimistic-concurrency exceptions (io.delta.exceptions.*); matched by name so this module
# imports without the delta-spark Python package's JVM side.
CONFLICT_EXCEPTIONS = (
    "ConcurrentAppendException",
    "ConcurrentDeleteReadException",
    "ConcurrentDeleteDeleteException",
    "ConcurrentTransactionException",
    "MetadataChangedException",
    "ProtocolChangedException",
)


# Where Delta 4 takes a vacuum's retention from (a vacuum's own RETAIN argument is ignored unless 0).
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"
DEFAULT_RETENTION_HOURS = 168.0  # Delta's value when a table does not set the property ("interval 1 week")
_INTERVAL_HOURS = {"week": 168.0, "day": 24.0, "hour": 1.0, "minute": 1 / 60, "second": 1 / 3600}


def interval_hours(value: str | None) -> float | None:
    """Hours of a Delta interval property such as 'interval 1 week' or 'interval 168 hours'; an absent
    property is Delta's default retention; None when the text is not one number and one unit."""
    if value is None:
        return DEFAULT_RETENTION_HOURS
    match = re.fullmatch(r"\s*interval\s+(\d+(?:\.\d+)?)\s+(week|day|hour|minute|second)s?\s*", value.lower())
    return None if match is None else float(match.group(1)) * _INTERVAL_HOURS[match.group(2)]


def replace_where_predicate(column: str, values: Sequence[str]) -> str:
    """The `replaceWhere` predicate that selects exactly the partitions being replaced."""
    if not values:
        raise ValueError("replaceWhere needs at least one partition value")
    quoted = ", ".join(f"DATE'{dt.date.fromisoformat(v).isoformat()}'" for v in values)
    return f"`{column.replace('`', '``')}` IN ({quoted})"


class DeltaSparkEngine:
    name = "delta-spark"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self._vacuum_lock = threading.Lock()
        self._vacuums_running = 0
        self._retention_check_before = "true"
        self._log = DeltaLogReader(spark)

    def _table(self, location: str):
        from delta.tables import DeltaTable

        if not DeltaTable.isDeltaTable(self.spark, location):
            raise TableNotFoundError(f"no Delta table at {location}")
        return DeltaTable.forPath(self.spark, location)

    def exists(self, location: str) -> bool:
        from delta.tables import DeltaTable

        return DeltaTable.isDeltaTable(self.spark, location)

    def schema(self, location: str) -> T.StructType:
        return self._table(location).toDF().schema

    def partition_columns(self, location: str) -> list[str]:
        from_log = self._log.partition_columns(location)
        if from_log is not None:
            return from_log
        detail = self._table(location).detail().select("partitionColumns").first()
        return list(detail[0]) if detail else []

    def read(
        self,
        location: str,
        partition_col: str | None,
        start: dt.date | None,
        end: dt.date | None,
        version: int | None,
    ) -> DataFrame:
        if not self.exists(location):
            raise TableNotFoundError(f"no Delta table at {location}")
        reader = self.spark.read.format("delta")
        if version is not None:
            reader = reader.option("versionAsOf", version)
        frame = reader.load(location)
        if partition_col and start is not None:
            frame = frame.where(frame[partition_col] >= start)
        if partition_col and end is not None:
            frame = frame.where(frame[partition_col] <= end)
        return frame

    def history(self, location: str, limit: int | None) -> list[dict]:
        """Newest first; `cobuy.operation` is the operation TableStore recorded (Delta's userMetadata)."""
        history = self._table(location).history(limit) if limit else self._table(location).history()
        rows = [row.asDict(recursive=True) for row in history.collect()]  # bounded by `limit` / retention
        return [{**row, "cobuy.operation": row.get("userMetadata")} for row in rows]

    def vacuum(self, location: str, retention_hours: int) -> int:
        """Delete files no version younger than `retention_hours` refers to; returns how many.

        Delta 4 ignores a vacuum's own retention argument unless it is 0 and uses the table's
        `delta.deletedFileRetentionDuration` (default 7 days), so the retention is set there first:
        one metadata commit, only when the table's retention (Delta's default when the property is
        unset) is not already `retention_hours`. The caller chose the retention (the maintenance
        job validates it), so Delta's 168-hour guard is lifted while any vacuum of this engine runs
        (tables may be vacuumed from several threads).
        """
        quoted = location.replace("`", "``")
        wanted = f"interval {int(retention_hours)} hours"
        with self._retention_check_lifted():
            # SHOW TBLPROPERTIES reads the table's metadata only; DESCRIBE DETAIL also sums its files
            properties = {row["key"]: row["value"] for row in self.spark.sql(f"SHOW TBLPROPERTIES delta.`{quoted}`").collect()}
            if interval_hours(properties.get(RETENTION_PROPERTY)) != float(retention_hours):
                self.spark.sql(f"ALTER TABLE delta.`{quoted}` SET TBLPROPERTIES ('{RETENTION_PROPERTY}' = '{wanted}')")
            doomed = self.spark.sql(f"VACUUM delta.`{quoted}` DRY RUN")
            count = doomed.count()  # the files vacuum is about to delete (counted, not collected)
            if count:  # nothing to delete: a second listing of the table would find nothing either
                self._table(location).vacuum()
        return count

    @contextlib.contextmanager
    def _retention_check_lifted(self) -> Iterator[None]:
        """The session-wide guard off from the first vacuum in until the last one out."""
        key = "spark.databricks.delta.retentionDurationCheck.enabled"
        with self._vacuum_lock:
            if self._vacuums_running == 0:
                self._retention_check_before = self.spark.conf.get(key, "true")
                self.spark.conf.set(key, "false")
            self._vacuums_running += 1
        try:
            yield
        finally:
            with self._vacuum_lock:
                self._vacuums_running -= 1
                if self._vacuums_running == 0:
                    self.spark.conf.set(key, self._retention_check_before)

    def compact(self, location: str) -> dict[str, int]:
        """Rewrite small files into bigger ones (OPTIMIZE): same rows, one new version."""
        metrics = self._table(location).optimize().executeCompaction().first()
        values = metrics[1].asDict(recursive=True) if metrics else {}
        return {"files_added": int(values.get("numFilesAdded", 0)), "files_removed": int(values.get("numFilesRemoved", 0))}

    def add_columns(self, location: str, fields: Sequence[T.StructField]) -> None:
        # mergeSchema on the write itself adds the columns in the same commit.
        return None

    def write(
        self,
        location: str,
        frame: DataFrame,
        mode: str,
        partition_by: Sequence[str],
        replace_values: Sequence[str] | None,
        operation: str,
        before_commit=None,
        merge_schema: bool = False,
        table_schema: T.StructType | None = None,
    ) -> tuple[int, tuple[str, ...]]:
        """Write and commit in one Delta transaction; return the new version and the partitions replaced.

        `table_schema` is the schema the table must have (the declared one on a first write): its
        NOT NULL columns stay NOT NULL.
        """
        if table_schema is not None and not self.exists(location) and any(not f.nullable for f in table_schema.fields):
            self._create(location, table_schema, partition_by, operation)
        writer = (
            frame.write.format("delta").option("userMetadata", operation)
            .option("partitionOverwriteMode", "static")  # overwrite = all of it, or exactly replaceWhere
        )
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        if partition_by:
            writer = writer.partitionBy(*partition_by)
        if mode == "append":
            writer = writer.mode("append")
        elif mode == "overwrite":
            writer = writer.mode("overwrite")
        else:
            if replace_values is None:
                replace_values = sorted(
                    str(r[0]) for r in frame.select(partition_by[0]).distinct().collect()
                )
            if not replace_values:
                return self._version(location), ()
            writer = writer.mode("overwrite").option(
                "replaceWhere", replace_where_predicate(partition_by[0], replace_values)
            )
        try:
            writer.save(location)
        except Exception as error:  # noqa: BLE001 - translated into the table layer's errors
            text = str(error)
            if type(error).__name__ in CONFLICT_EXCEPTIONS or any(name in text for name in CONFLICT_EXCEPTIONS) or "DELTA_CONCURRENT" in text:
                raise WriteConflictError(f"{location}: concurrent write conflict: {text}") from error
            if "USER_RAISED_EXCEPTION" in text and "nothing was written" in text:
                message = text.split("[USER_RAISED_EXCEPTION]", 1)[-1].split(" SQLSTATE", 1)[0].strip()
                raise WriteError(message) from error
            if "NOT_NULL" in text or "NOT NULL constraint" in text:
                raise WriteError(f"{location}: a NOT NULL column has a null; nothing was written ({text[:500]})") from error
            if "replaceWhere" in text or "DELTA_REPLACE_WHERE_MISMATCH" in text:
                raise WriteError(
                    f"{location}: the DataFrame has rows outside the partitions being replaced; "
                    f"nothing was written ({text})"
                ) from error
            raise
        return self._version(location), tuple(replace_values or ())

    def _create(self, location: str, schema: T.StructType, partition_by: Sequence[str], operation: str) -> None:
        """An empty table with exactly `schema` (Delta's DataFrame writer would make it all nullable)."""
        from delta.tables import DeltaTable

        builder = DeltaTable.createIfNotExists(self.spark).location(location).addColumns(schema)
        if partition_by:
            builder = builder.partitionedBy(*partition_by)
        builder.execute()

    def version(self, location: str) -> int:
        """The table's latest version, -1 when there is no table yet."""
        return self._version(location)

    def _version(self, location: str) -> int:
        from_log = self._log.version(location)
        if from_log is not None:
            return from_log
        if not self.exists(location):
            return -1
        row = self._table(location).history(1).select("version").first()
        return int(row[0]) if row else -1


class DeltaLogReader:
    """A table's latest version and partition columns read from Delta's log on the driver (its
    DeltaLog snapshot: the log's listing and metadata, ~10 ms on a small table), where the public
    API (`DeltaTable.history(1)`, `DeltaTable.detail()`) runs a Spark job for each (150-200 ms warm,
    0.5-1 s in a job's fresh JVM, several times per write).

    DeltaLog is Delta's internal Scala API: on a Delta build where it is missing or has another
    signature, every call answers None once the first fails, and the engine uses the public API.
    """

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark
        self.available = True
        self._delta_log = None
        self._none = None

    def _snapshot(self, location: str):  # noqa: ANN202 - a JVM org.apache.spark.sql.delta.Snapshot
        if not self.available:
            return None
        try:
            if self._delta_log is None:
                jvm = self.spark._jvm
                self._delta_log, self._none = jvm.org.apache.spark.sql.delta.DeltaLog, jvm.scala.Option.empty()
            log = self._delta_log.forTable(self.spark._jsparkSession, location)
            return log.update(False, self._none, self._none)
        except (Py4JError, TypeError, AttributeError) as error:
            if isinstance(error, Py4JJavaError):
                raise  # the log could not be read (storage, permissions): the public API would fail too
            self.available = False  # no such class or method here (a JavaPackage call), or no JVM (Spark Connect)
            return None

    def version(self, location: str) -> int | None:
        """The latest committed version, -1 when there is no table yet; None: use the public API."""
        snapshot = self._snapshot(location)
        return None if snapshot is None else int(snapshot.version())

    def partition_columns(self, location: str) -> list[str] | None:
        snapshot = self._snapshot(location)
        if snapshot is None:
            return None
        columns = snapshot.metadata().partitionColumns()
        return [str(columns.apply(i)) for i in range(columns.length())]
