"""An S3-compatible server on this machine for the s3a:// proofs (tests/test_s3a_storage.py,
tests/test_cluster.py): moto in server mode (`moto[server]`, a dev extra) on a free port of
127.0.0.1, one bucket, dummy keys; the Spark settings that point S3A (hadoop-aws, jars/s3a/ from
`make setup`) at it, and the delta-rs/boto3 side that reads what Spark wrote without a JVM.

The server is started by its path in the project's venv and stopped by its pid; its log stays in
the folder the caller gives.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
from deltalake import DeltaTable

from deploy_helpers import ROOT, VENV_BIN, free_port

S3A_JARS = ROOT / "jars" / "s3a"
BUCKET = "cobuy-test"
ACCESS_KEY = "cobuy-test-key"  # moto accepts any key; nothing here is a credential
SECRET_KEY = "cobuy-test-secret"
REGION = "us-east-1"
START_TIMEOUT_S = 60


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # http://127.0.0.1:<port>
    bucket: str
    log: Path

    def uri(self, *parts: str) -> str:
        """s3a://<bucket>/<parts...>"""
        return "/".join([f"s3a://{self.bucket}", *[p.strip("/") for p in parts]])

    def spark_conf(self) -> dict[str, str]:
        """What a Spark job needs for `s3a://` on this server: hadoop-aws and the AWS SDK bundle on the
        driver's and the executors' class path (the files on this machine's disk, as a cluster image
        would have them: `spark.jars` would ship the 690 MB bundle to every executor of every job),
        the endpoint, path-style addressing, plain HTTP and the dummy keys."""
        classpath = str(S3A_JARS / "*")
        return {
            "spark.driver.extraClassPath": classpath,
            "spark.executor.extraClassPath": classpath,
            "spark.hadoop.fs.s3a.endpoint": self.endpoint,
            "spark.hadoop.fs.s3a.endpoint.region": REGION,
            "spark.hadoop.fs.s3a.path.style.access": "true",
            "spark.hadoop.fs.s3a.connection.ssl.enabled": "false",
            "spark.hadoop.fs.s3a.aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": ACCESS_KEY,
            "spark.hadoop.fs.s3a.secret.key": SECRET_KEY,
        }

    def storage_options(self) -> dict[str, str]:
        """delta-rs (`deltalake`) options for reading the same tables."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
        }

    def client(self):  # noqa: ANN201 - a boto3 S3 client
        import boto3

        return boto3.client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def keys(self, prefix: str) -> list[str]:
        """Every object key under `prefix` (no leading slash), sorted."""
        paginator = self.client().get_paginator("list_objects_v2")
        return sorted(o["Key"] for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix)
                      for o in page.get("Contents", []))

    def upload_tree(self, source: Path, prefix: str) -> int:
        """Copy the files under `source` to `<bucket>/<prefix>/...`, same relative paths; returns how many."""
        client = self.client()
        files = sorted(p for p in source.rglob("*") if p.is_file())
        for path in files:
            client.upload_file(str(path), self.bucket, f"{prefix.strip('/')}/{path.relative_to(source).as_posix()}")
        return len(files)

    def delta_tables(self, prefix: str) -> dict[str, str]:
        """{table name relative to `prefix`: its s3a:// URI} for every Delta table under `prefix`, without
        the `_`-folders (checkpoints, models, reports), like deploy_helpers.delta_tables."""
        root = prefix.strip("/") + "/"
        names = {key[len(root):].split("/_delta_log/", 1)[0] for key in self.keys(root) if "/_delta_log/" in key}
        return {name: self.uri(root, name) for name in sorted(names)
                if not any(part.startswith("_") for part in name.split("/"))}

    def read_table(self, uri: str) -> pa.Table:
        return DeltaTable(uri, storage_options=self.storage_options()).to_pyarrow_table()


def _answers(endpoint: str) -> bool:
    try:
        with urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=2):
            return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def moto_s3(logs: Path, bucket: str = BUCKET) -> Iterator[S3Server]:
    """moto_server on a free port of 127.0.0.1 with `bucket` created; stopped by its pid at the end
    (SIGTERM, then SIGKILL), also when the caller fails. Its log is `logs/moto.log`."""
    moto = VENV_BIN / "moto_server"
    assert moto.exists(), f"{moto} missing: install the dev extras (pip install -e '.[dev]', moto[server])"
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = logs / "moto.log"
    with log.open("w") as handle:
        process = subprocess.Popen([str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=handle,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _answers(endpoint):
            assert process.poll() is None, f"moto_server exited {process.returncode}; see {log}"
            assert time.monotonic() < deadline, f"moto_server not answering in {START_TIMEOUT_S}s; see {log}"
            time.sleep(0.3)
        server = S3Server(endpoint, bucket, log)
        server.client().create_bucket(Bucket=bucket)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
