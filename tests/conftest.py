"""One SparkSession for the whole test run (JVM start costs ~10 s); tables go to temp folders.

The session loads Delta's jars (jars/spark/, from `make setup`) with Delta's extension and catalog,
as the `local` environment does, so job tests commit through delta-spark and the table-layer tests
run on both engines (tests/test_storage.py parametrises its `store` over ENGINES).
"""

from __future__ import annotations

import os
import sys

import pytest
from pyspark.sql import SparkSession

from deploy_helpers import TINY_DATA_SPARK_CONF
from lib.session import DELTA_SPARK_CONF, build_session
from lib.storage import TableStore

ENGINES = ("delta-spark", "embedded")
TEST_SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "false",
    "spark.jars": "jars/spark/*.jar",
    **DELTA_SPARK_CONF,
    # Tiny tables: Delta's log replay, listings and vacuum in 2 tasks, not 50 and 10000.
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    # Tests vacuum with a retention of 0 hours to see the effect at once.
    "spark.databricks.delta.retentionDurationCheck.enabled": "false",
    # Tiny data: expressions interpreted, not compiled for every new plan (deploy_helpers).
    **TINY_DATA_SPARK_CONF,
}


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> SparkSession:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    conf = {
        **TEST_SPARK_CONF,
        "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("spark-warehouse")),
        "spark.local.dir": str(tmp_path_factory.mktemp("spark-local")),
    }
    session = build_session("cobuy-tests", conf)
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setCheckpointDir(str(tmp_path_factory.mktemp("checkpoints")))
    yield session
    session.stop()


@pytest.fixture
def warehouse(tmp_path) -> str:
    return str(tmp_path / "warehouse")


@pytest.fixture
def store(spark: SparkSession, warehouse: str) -> TableStore:
    """The default engine, as `--env local` uses it (tests/test_storage.py runs both engines)."""
    return TableStore(spark, warehouse, engine="delta-spark")
