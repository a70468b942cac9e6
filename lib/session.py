"""The one place a SparkSession is built: at the edge of a job, from the environment's settings."""

from __future__ import annotations

import glob
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from pyspark.sql import SparkSession

PROJECT_ROOT = Path(__file__).resolve().parent.parent
JARS_DIR = PROJECT_ROOT / "jars"
JAR_LIST = PROJECT_ROOT / "deploy" / "maven-jars.txt"
JAR_LIST_STAMP = JARS_DIR / "maven-jars.txt"  # the list jars/ was built from (deploy/fetch_jars.py)

# Settings every cobuy session needs whatever the environment: Delta wants microsecond timestamps
# (Spark's default INT96 is not a Delta type), and dates/times are UTC so partitions are stable.
# Partition overwrite stays Spark's default (static): `TableStore.overwrite` means the whole table.
BASE_SPARK_CONF: Mapping[str, str] = {
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.session.timeZone": "UTC",
}

# What makes a session commit through Delta's own Spark connector (delta-spark): its jars (from
# `spark.jars` or `spark.jars.packages`) plus these two.
DELTA_SPARK_CONF: Mapping[str, str] = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
}


class MissingJarsError(RuntimeError):
    """The session names project jars that are not there (or are stale): `make setup` fetches them."""


def resolve_jars(value: str, root: Path = PROJECT_ROOT) -> str:
    """`spark.jars` with relative entries made absolute against the project and globs expanded.

    An entry that matches no file, or project jars built from another deploy/maven-jars.txt, is a
    MissingJarsError naming `make setup`.
    """
    resolved: list[str] = []
    project_jars = False
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        if "://" in entry or entry.startswith("local:"):
            resolved.append(entry)  # a URI: Spark fetches it
            continue
        path = Path(entry)
        if not path.is_absolute():
            path = root / path
            project_jars = True
        matches = sorted(glob.glob(str(path)))
        if not matches:
            raise MissingJarsError(
                f"spark.jars: no jar at {path}; run `make setup` (it resolves deploy/maven-jars.txt with Maven "
                "into jars/), or set storage.engine = \"embedded\" to run without Delta's jars"
            )
        resolved.extend(matches)
    if project_jars:
        check_jar_stamp(root)
    return ",".join(resolved)


def check_jar_stamp(root: Path = PROJECT_ROOT) -> None:
    wanted, stamp = root / "deploy" / "maven-jars.txt", root / "jars" / "maven-jars.txt"
    if wanted.exists() and (not stamp.exists() or stamp.read_text() != wanted.read_text()):
        raise MissingJarsError(
            f"{root / 'jars'} was not built from the current deploy/maven-jars.txt; run `make setup`"
        )


def session_conf(spark_conf: Mapping[str, str]) -> dict[str, str]:
    """The settings a session is built with: the base, the environment's, project jars resolved."""
    conf = {**BASE_SPARK_CONF, **spark_conf}
    if conf.get("spark.jars"):
        conf["spark.jars"] = resolve_jars(conf["spark.jars"])
    return conf


def build_session(app_name: str, spark_conf: Mapping[str, str]) -> SparkSession:
    """Build (or reuse) the session. `spark.master` comes from the local overlay or spark-submit."""
    # Pandas UDF workers must run the driver's interpreter (the project's virtual environment).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.appName(app_name)
    for key, value in session_conf(spark_conf).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


def delta_classes_available(spark: SparkSession) -> bool:
    """True when Delta Lake's Spark classes are on the JVM classpath and its extension is set."""
    try:
        jvm = spark.sparkContext._jvm  # noqa: SLF001 - py4j is the only way to ask the JVM
        jvm.java.lang.Class.forName(
            "io.delta.tables.DeltaTable", True, jvm.java.lang.Thread.currentThread().getContextClassLoader()
        )
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
        return "DeltaSparkSessionExtension" in extensions
    except Exception:  # noqa: BLE001 - any failure means "not available", including Spark Connect
        return False
