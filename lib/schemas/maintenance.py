"""The maintenance job's log: what vacuum and compaction did to each table, per run."""

from pyspark.sql import types as T

MAINTENANCE_LOG = "maintenance_log"

MAINTENANCE_LOG_SCHEMA = T.StructType(
    [
        T.StructField("table_name", T.StringType(), False),
        T.StructField("engine", T.StringType(), False),
        T.StructField("retention_hours", T.IntegerType(), False),
        T.StructField("files_compacted", T.LongType(), False),  # small files rewritten into bigger ones
        T.StructField("files_written", T.LongType(), False),  # the bigger files compaction wrote
        T.StructField("files_vacuumed", T.LongType(), False),  # files no version within retention refers to
        T.StructField("version_after", T.LongType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
