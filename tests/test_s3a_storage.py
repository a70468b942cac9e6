"""TableStore on delta-spark against object storage: an `s3a://` warehouse on a moto S3 server on
127.0.0.1 (tests/s3_helpers.py), written by a spark-submit of tests/s3a_store_script.py with
hadoop-aws (jars/s3a/) on its class path, then read back here from S3 by delta-rs, without Spark.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy_helpers import ROOT, TEST_SPARK, VENV_BIN, delta_spark_conf, project_spark_env, run_logged
from s3_helpers import S3A_JARS, S3Server, moto_s3

pytestmark = pytest.mark.slow  # one spark-submit JVM and a moto server, ~40 s

D1, D2, D3 = "2024-03-29", "2024-03-30", "2024-03-31"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    if not list(S3A_JARS.glob("hadoop-aws-*.jar")):
        pytest.fail(f"no hadoop-aws jar in {S3A_JARS}: run `make setup` (the [s3a] section of deploy/maven-jars.txt)")
    with moto_s3(tmp_path) as server:
        yield server


def submit_script(s3: S3Server, warehouse: str, log: Path) -> dict:
    conf = {**delta_spark_conf(), **TEST_SPARK, **s3.spark_conf(), "spark.ui.showConsoleProgress": "false"}
    command = [str(VENV_BIN / "spark-submit"), "--master", "local[2]"]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    command += [str(ROOT / "tests" / "s3a_store_script.py"), warehouse]
    run_logged(command, log, env=project_spark_env(PYTHONPATH=str(ROOT)), timeout=300)
    lines = [line for line in log.read_text().splitlines() if line.startswith("S3A_RESULT ")]
    assert len(lines) == 1, f"no S3A_RESULT line in {log}"
    return json.loads(lines[0].removeprefix("S3A_RESULT "))


def test_table_store_on_delta_spark_replaces_reads_and_keeps_history_on_s3a(s3: S3Server, tmp_path: Path) -> None:
    warehouse = s3.uri("lake", "warehouse")

    result = submit_script(s3, warehouse, tmp_path / "spark.log")

    assert result["engine"] == "delta-spark"
    assert result["location"] == f"s3a://{s3.bucket}/lake/warehouse/scores"
    # Delta's default for s3a: safe for one writer (driver) at a time only (docs/storage.md).
    assert result["log_store"] == "io.delta.storage.S3SingleDriverLogStore"
    assert result["after_first"] == [["a", 1.0, D1], ["b", None, D1], ["a", 2.0, D2], ["c", 3.0, D3]]
    assert result["after_second"] == [["a", 1.0, D1], ["b", None, D1], ["b", 5.0, D2], ["d", 6.0, D2]]
    assert result["d2_only"] == [["b", 5.0, D2], ["d", 6.0, D2]]
    assert result["replaced"] == [D2, D3]
    # Version 0 is the empty table created from the declared schema (NOT NULL kept), 1 and 2 the writes.
    assert result["nullable"] == {"item_id": False, "score": True, "dt": False}
    assert result["version"] == 2
    assert result["version_1"] == [["a", D1], ["b", D1], ["a", D2], ["c", D3]]
    assert [version for version, _ in result["history"]] == [2, 1, 0]
    assert [op for _, op in result["history"]][:2] == [
        f"cobuy replace scores dt in ['{D2}', '{D3}']", f"cobuy replace scores dt in ['{D1}', '{D2}', '{D3}']",
    ]

    # The table is in the bucket (log and data), and delta-rs reads the same rows from S3.
    keys = s3.keys("lake/warehouse/scores/")
    assert "lake/warehouse/scores/_delta_log/00000000000000000002.json" in keys
    assert any(k.startswith(f"lake/warehouse/scores/dt={D2}/") and k.endswith(".parquet") for k in keys)
    assert s3.delta_tables("lake/warehouse") == {"scores": result["location"]}
    table = s3.read_table(result["location"]).sort_by([("dt", "ascending"), ("item_id", "ascending")])
    assert [[r["item_id"], r["score"], r["dt"].isoformat()] for r in table.to_pylist()] == result["after_second"]
    # The report's page goes to the bucket through Hadoop's FileSystem (lib/report/publish.py).
    assert result["page"] == f"s3a://{s3.bucket}/lake/warehouse/_reports/report-2024-03-31.html"
    page = s3.client().get_object(Bucket=s3.bucket, Key="lake/warehouse/_reports/report-2024-03-31.html")
    assert page["Body"].read().decode("utf-8") == "<html>é</html>" and result["page_bytes"] == 15
    assert not (ROOT / "lake").exists() and not Path("/lake").exists()  # nothing went to a local path
