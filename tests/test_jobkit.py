"""`run_job`: exit codes 0 / 1 / 2, and it never stops a session it did not create."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from chispa import assert_df_equality

from lib.config import JobConfig
from lib.jobkit import EXIT_BAD_CONFIG, EXIT_FAILED, EXIT_OK, config_from_args, job_parser, run_job

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclasses.dataclass(frozen=True)
class FakeParams:
    fail: bool = False
    rows: int = 3


FAKE_JOB = textwrap.dedent(
    """
    import dataclasses, sys
    from lib.jobkit import config_from_args, job_parser, run_job

    @dataclasses.dataclass(frozen=True)
    class FakeParams:
        fail: bool = False
        rows: int = 3

    def parse_args(argv):
        return config_from_args("fake", FakeParams, job_parser("fake", "a fake job").parse_args(argv))

    def run(spark, config):
        if config.params.fail:
            raise RuntimeError("asked to fail")
        return {"rows": spark.range(config.params.rows).count()}

    def main(argv=None):
        return run_job("fake", parse_args, run, argv)

    if __name__ == "__main__":
        sys.exit(main())
    """
)


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    conf = tmp_path / "conf"
    (conf / "env").mkdir(parents=True)
    (conf / "fake.toml").write_text("fail = false\n")
    (conf / "env" / "local.toml").write_text(
        textwrap.dedent(
            """
            [storage]
            warehouse = "warehouse"
            landing = "landing"
            engine = "embedded"

            [spark]
            "spark.master" = "local[1]"
            "spark.ui.enabled" = "false"
            "spark.cobuy.logLevel" = "ERROR"
            """
        )
    )
    return conf


def parse_args(argv: list[str]) -> JobConfig[FakeParams]:
    return config_from_args("fake", FakeParams, job_parser("fake", "a fake job").parse_args(argv))


def test_bad_config_exits_2_without_starting_spark(conf_dir, caplog):
    started = []

    code = run_job(
        "fake", parse_args, lambda spark, config: None,
        ["--date", "2024-03-31", "--conf-dir", str(conf_dir), "--set", "rows=many"],
        session_factory=lambda *args: started.append(args),
    )

    assert (code, started) == (EXIT_BAD_CONFIG, [])
    assert "fake: bad configuration: --set: key 'rows' must be int" in caplog.text


def test_bad_arguments_exit_2(conf_dir):
    code = run_job("fake", parse_args, lambda spark, config: None, ["--date", "31.03.2024"])

    assert code == EXIT_BAD_CONFIG


def test_a_failing_run_exits_1_and_leaves_the_callers_session_running(spark, conf_dir, caplog):
    def run(session, config):
        raise RuntimeError("the transform broke")

    code = run_job(
        "fake", parse_args, run, ["--date", "2024-03-31", "--conf-dir", str(conf_dir)],
        session_factory=lambda name, conf: spark,
    )

    assert code == EXIT_FAILED
    assert "fake 2024-03-31 failed: the transform broke" in caplog.text
    assert_df_equality(spark.range(2), spark.createDataFrame([(0,), (1,)], "id long"), ignore_nullable=True)


def test_a_run_gets_the_session_and_config_and_exits_0(spark, conf_dir, caplog):
    seen = []

    def run(session, config):
        seen.append((session, config.run_date, config.params))
        return {"rows": 3}

    with caplog.at_level(logging.INFO, logger="cobuy"):
        code = run_job(
            "fake", parse_args, run, ["--date", "2024-03-31", "--conf-dir", str(conf_dir), "--set", "rows=5"],
            session_factory=lambda name, conf: spark,
        )

    assert code == EXIT_OK
    assert seen == [(spark, dt.date(2024, 3, 31), FakeParams(rows=5))]
    assert "fake 2024-03-31 ok in" in caplog.text and "{'rows': 3}" in caplog.text


def test_the_default_session_builder_does_not_stop_a_running_session(spark, conf_dir):
    """`main(argv)` called in-process (an end-to-end test) must not kill the suite's session."""
    code = run_job(
        "fake", parse_args, lambda session, config: session.range(1).collect(),
        ["--date", "2024-03-31", "--conf-dir", str(conf_dir)],
    )

    assert code == EXIT_OK
    assert_df_equality(spark.range(2), spark.createDataFrame([(0,), (1,)], "id long"), ignore_nullable=True)


@pytest.mark.slow
def test_the_job_runs_as_a_script_and_its_exit_code_reaches_the_shell(tmp_path, conf_dir):
    script = tmp_path / "fake.py"
    script.write_text(FAKE_JOB)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable}

    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script), "--date", "2024-03-31", "--conf-dir", str(conf_dir), *args],
            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300,
        )

    bad = call("--set", "colour=red")
    failed = call("--set", "fail=true")

    assert bad.returncode == 2, bad.stderr[-2000:]
    assert "unknown key 'colour'" in bad.stderr
    assert failed.returncode == 1, failed.stderr[-2000:]
    assert "fake 2024-03-31 failed: asked to fail" in failed.stderr
