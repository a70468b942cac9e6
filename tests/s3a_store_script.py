"""Run by tests/test_s3a_storage.py under spark-submit (the test session cannot add hadoop-aws to its
class path after it started): TableStore on delta-spark against an s3a:// warehouse.

    spark-submit ... tests/s3a_store_script.py s3a://bucket/warehouse

Prints one line `S3A_RESULT <json>` with what the test checks: the engine, the LogStore Delta uses
for s3a, the rows after each write, the table's history and a page written like the report's.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lib.config import join_path
from lib.report.publish import write_text
from lib.storage import TableStore

SCHEMA = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("score", T.DoubleType(), True),
    T.StructField("dt", T.DateType(), False),
])
D1, D2, D3 = dt.date(2024, 3, 29), dt.date(2024, 3, 30), dt.date(2024, 3, 31)


def rows(store: TableStore, **bounds) -> list[list]:
    frame = store.read("scores", **bounds).orderBy("dt", "item_id")
    return [[r["item_id"], r["score"], r["dt"].isoformat()] for r in frame.collect()]  # a handful of rows


def log_store(spark: SparkSession, location: str) -> str:
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Delta's LogStore is only reachable through py4j
    delta_log = jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, location)  # noqa: SLF001
    store = delta_log.store()
    delegate = store.getDelegate(jvm.org.apache.hadoop.fs.Path(location))  # a LogStoreAdaptor of the Java one
    return str(delegate.logStoreImpl().getClass().getName())


def main(warehouse: str) -> None:
    spark = SparkSession.builder.getOrCreate()
    store = TableStore(spark, warehouse, engine="delta-spark")
    first = spark.createDataFrame(
        [("a", 1.0, D1), ("b", None, D1), ("a", 2.0, D2), ("c", 3.0, D3)], SCHEMA)
    store.replace_partitions("scores", first, [D1, D2, D3], schema=SCHEMA)
    after_first = rows(store)
    # Re-run of D2 with other rows, D3 asked for but empty now: D1 untouched, D2 replaced, D3 emptied.
    second = spark.createDataFrame([("b", 5.0, D2), ("d", 6.0, D2)], SCHEMA)
    result = store.replace_partitions("scores", second, [D2, D3], schema=SCHEMA)
    history = store.history("scores")
    # The report's page (jobs/report.py, <warehouse>/_reports/) and summary's report_file take this path.
    page = join_path(warehouse, "_reports", "report-2024-03-31.html")
    page_bytes = write_text(spark, page, "<html>é</html>")
    print("S3A_RESULT " + json.dumps({
        "engine": store.engine_name,
        "location": result.location,
        "version": result.version,
        "replaced": list(result.partitions),
        "after_first": after_first,
        "after_second": rows(store),
        "d2_only": rows(store, start=D2, end=D2),
        "version_1": [[r["item_id"], r["dt"].isoformat()] for r in
                      store.read("scores", version=1).orderBy("dt", "item_id").collect()],
        "history": [[h["version"], h["cobuy.operation"]] for h in history],
        "nullable": {f.name: f.nullable for f in store.schema("scores").fields},
        "log_store": log_store(spark, result.location),
        "page": page,
        "page_bytes": page_bytes,
    }), flush=True)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
