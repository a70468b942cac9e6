"""The one place a SparkSession is built: at the edge of a job, from the environment's settings."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from pyspark.sql import SparkSession

# Settings every cobuy session needs whatever the environment: Delta wants microsecond timestamps
# (Spark's default INT96 is not a Delta type), and dates/times are UTC so partitions are stable.
BASE_SPARK_CONF: Mapping[str, str] = {
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.sources.partitionOverwriteMode": "dynamic",
}


def build_session(app_name: str, spark_conf: Mapping[str, str]) -> SparkSession:
    """Build (or reuse) the session. `spark.master` comes from the local overlay or spark-submit."""
    # Pandas UDF workers must run the driver's interpreter (the project's virtual environment).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in {**BASE_SPARK_CONF, **spark_conf}.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def delta_classes_available(spark: SparkSession) -> bool:
    """True when Delta Lake's Spark classes are on the JVM classpath (a Delta-enabled cluster)."""
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - py4j is the only way to ask the JVM
        jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
        return "DeltaSparkSessionExtension" in extensions
    except Exception:  # noqa: BLE001 - any failure means "not available", including Spark Connect
        return False
