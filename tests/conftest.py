"""One SparkSession for the whole test run (JVM start costs ~10 s); tables go to temp folders."""

from __future__ import annotations

import os
import sys

import pytest
from pyspark.sql import SparkSession

from lib.session import build_session
from lib.storage import TableStore

TEST_SPARK_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.driver.memory": "2g",
    "spark.sql.adaptive.enabled": "false",
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
    return TableStore(spark, warehouse, engine="embedded")
