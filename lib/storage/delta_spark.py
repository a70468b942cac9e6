"""The native Delta engine: `format("delta")`, used when Delta's Spark classes are on the classpath."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

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
        history = self._table(location).history(limit) if limit else self._table(location).history()
        return [row.asDict(recursive=True) for row in history.collect()]

    def vacuum(self, location: str, retention_hours: int) -> list[str]:
        self._table(location).vacuum(retention_hours)
        return []

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
    ) -> tuple[int, tuple[str, ...]]:
        writer = frame.write.format("delta").option("userMetadata", operation)
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
            if any(name in text for name in CONFLICT_EXCEPTIONS):
                raise WriteConflictError(f"{location}: concurrent write conflict: {text}") from error
            if "replaceWhere" in text or "DELTA_REPLACE_WHERE_MISMATCH" in text:
                raise WriteError(
                    f"{location}: the DataFrame has rows outside the partitions being replaced; "
                    f"nothing was written ({text})"
                ) from error
            raise
        return self._version(location), tuple(replace_values or ())

    def version(self, location: str) -> int:
        """The table's latest version, -1 when there is no table yet."""
        return self._version(location)

    def _version(self, location: str) -> int:
        if not self.exists(location):
            return -1
        row = self._table(location).history(1).select("version").first()
        return int(row[0]) if row else -1
