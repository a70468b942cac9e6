"""Print what the pipeline wrote: every Delta table in the warehouse with its row counts, then the
highlights (strongest rules, sample recommendations, evaluation) where those tables exist.

    spark-submit jobs/summary.py --env local --date 2024-03-31
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, resolve_location
from lib.jobkit import config_from_args, job_parser, run_job
from lib.rules.report import format_rule_lines, top_rules
from lib.schemas.rules import ASSOCIATION_RULES
from lib.storage import TableStore
from lib.summary import TableOverview, render_overview

JOB = "summary"


@dataclass(frozen=True)
class SummaryParams:
    top_n: int = 10
    report_file: str = ""  # also write the report here (relative to the project root)


def parse_args(argv: Sequence[str]) -> JobConfig[SummaryParams]:
    parser = job_parser(JOB, "Print the tables a run wrote and its highlights.")
    return config_from_args(JOB, SummaryParams, parser.parse_args(argv))


def warehouse_tables(warehouse: str) -> list[str]:
    root = Path(warehouse)
    return sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir()) if root.is_dir() else []


def overview(store: TableStore, table: str, config: JobConfig[SummaryParams]) -> TableOverview:
    frame = store.read(table)
    version = store.history(table, 1)[0].get("version", 0)
    on_date = None
    if "dt" in frame.columns:
        counts = frame.agg(F.count("*"), F.sum(F.when(F.col("dt") == config.run_date, 1).otherwise(0))).first()
        total, on_date = counts[0], counts[1] or 0
    else:
        total = frame.count()
    return TableOverview(table, int(version), int(total), on_date)


def highlights(store: TableStore, config: JobConfig[SummaryParams]) -> list[str]:
    """The run's headline results, for each output table that exists."""
    day, top_n = config.run_date, config.params.top_n
    sections = []
    if store.exists(ASSOCIATION_RULES):
        rules = store.read(ASSOCIATION_RULES, start=day, end=day)
        lines = format_rule_lines(top_rules(rules, top_n).collect())  # at most top_n rows
        sections.append(f"=== the {len(lines)} strongest kept rules (dt={day}) ===\n" + "\n".join(lines))
    return sections


def run(spark: SparkSession, config: JobConfig[SummaryParams]) -> str:
    store = TableStore(spark, config.storage.warehouse, config.storage.engine)
    tables = warehouse_tables(config.storage.warehouse)
    sections = [
        f"=== cobuy: tables in {config.storage.warehouse} ({store.engine_name} Delta engine) ===",
        render_overview([overview(store, t, config) for t in tables], str(config.run_date)),
    ]
    sections.extend(highlights(store, config))
    report = "\n\n".join(sections) + "\n"
    print(report)
    if config.params.report_file:
        target = Path(resolve_location(config.params.report_file))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(report)
    return f"{len(tables)} tables summarised"


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
