"""Print what the pipeline wrote: every catalogued table in the warehouse with its row counts, then the
highlights (strongest rules, sample recommendations, evaluation) where those tables exist.

    spark-submit jobs/summary.py --env local --date 2024-03-31

Every table is read as the latest complete run of its producing job left it (`job_runs`), so a run
that was killed half-way does not show half its outputs.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, resolve_location
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent
from lib.report.publish import write_text
from lib.schemas.evaluation import EVALUATION_METRICS
from lib.schemas.events import ITEMS
from lib.schemas.recs import USER_RECOMMENDATIONS
from lib.schemas.rules import ASSOCIATION_RULES
from lib.summary import TableOverview, evaluation_section, recommendation_section, render_overview, rules_section

JOB = "summary"


@dataclass(frozen=True)
class SummaryParams:
    top_n: int = 10
    report_file: str = ""  # also write the report here: a local path (relative to the project root) or a URI


def parse_args(argv: Sequence[str]) -> JobConfig[SummaryParams]:
    parser = job_parser(JOB, "Print the tables a run wrote and its highlights.")
    return config_from_args(JOB, SummaryParams, parser.parse_args(argv))


def run(spark: SparkSession, config: JobConfig[SummaryParams]) -> str:
    store, tables, day = open_store(spark, config), config.catalog(), config.run_date
    present = [name for name in tables.tables if store.exists(tables.physical(name))]
    frames = {name: read_consistent(store, tables, name) for name in present}
    overviews = []
    for name, (frame, run) in frames.items():
        version = run.table_versions[tables.physical(name)] if run else store.history(tables.physical(name), 1)[0]["version"]
        on_day = F.sum(F.when(F.col("dt") == F.lit(day), 1).otherwise(0)) if "dt" in frame.columns else F.lit(None)
        total, on_date = frame.agg(F.count(F.lit(1)), on_day).first()
        overviews.append(TableOverview(tables.physical(name), int(version), int(total), on_date))
    sections = [f"=== cobuy: tables in {config.storage.warehouse} ({store.engine_name} Delta engine) ===\n"
                + render_overview(overviews, str(day))]
    on_day = {name: frame.where(F.col("dt") == F.lit(day)) for name, (frame, _) in frames.items() if "dt" in frame.columns}
    if ASSOCIATION_RULES in frames:
        sections.append(rules_section(on_day[ASSOCIATION_RULES], config.params.top_n, day))
    if USER_RECOMMENDATIONS in frames and ITEMS in frames:
        sections.append(recommendation_section(on_day[USER_RECOMMENDATIONS], frames[ITEMS][0], day))
    if EVALUATION_METRICS in frames:
        sections.append(evaluation_section(on_day[EVALUATION_METRICS], day))
    report = "\n\n".join(sections) + "\n"
    print(report)
    if config.params.report_file:
        write_text(spark, resolve_location(config.params.report_file), report)  # s3a:// too, not a local "s3a:" folder
    return f"{len(overviews)} tables summarised"


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
