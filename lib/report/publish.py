"""Where the report's page goes: a local file, or an object store through Hadoop's FileSystem."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import SparkSession


def is_local(location: str) -> bool:
    return "://" not in location or location.startswith("file:")


def write_text(spark: SparkSession, location: str, text: str) -> int:
    """Write `text` (UTF-8) to `location`, replacing it; returns the bytes written."""
    data = text.encode("utf-8")
    if is_local(location):
        path = Path(location.removeprefix("file://").removeprefix("file:"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return len(data)
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop's FileSystem is only reachable through py4j
    path = jvm.org.apache.hadoop.fs.Path(location)
    filesystem = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    stream = filesystem.create(path, True)
    try:
        stream.write(bytearray(data))
    finally:
        stream.close()
    return len(data)
