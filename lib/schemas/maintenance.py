"""The maintenance job's log: what vacuum and compaction did to each table, per run.

One row per table asked for, written or not yet, so a re-run of a date logs the same rows whatever
ran before it (in the DAG, maintenance may run before a table's first writer)."""

from pyspark.sql import types as T

MAINTENANCE_LOG = "maintenance_log"
STATUS_MAINTAINED = "maintained"
STATUS_NOT_WRITTEN = "not_written"  # no such table yet: nothing to compact or vacuum

MAINTENANCE_LOG_SCHEMA = T.StructType(
    [
        T.StructField("table_name", T.StringType(), False),
        T.StructField("status", T.StringType(), False),  # maintained | not_written
        T.StructField("engine", T.StringType(), False),
        T.StructField("retention_hours", T.IntegerType(), False),
        T.StructField("files_compacted", T.LongType(), False),  # small files rewritten into bigger ones
        T.StructField("files_written", T.LongType(), False),  # the bigger files compaction wrote
        T.StructField("files_vacuumed", T.LongType(), False),  # files no version within retention refers to
        T.StructField("version_after", T.LongType(), True),  # null when not_written
        T.StructField("dt", T.DateType(), False),
    ]
)
