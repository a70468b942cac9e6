"""Association rules: which products are bought together, how strongly, and which findings to trust.

    spark-submit jobs/fpgrowth.py --env local --date 2024-03-31 [--set min_count=20 ...]

Reads `events` over the `window_days` ending at --date, `items` (items without a category take their
product family from `item_families` when jobs/embed.py has run); writes frequent_itemsets,
association_rules, bought_together, category_rules and bundles with dt = --date (re-runs replace).
The flow is `lib.rules.flow.rules_outputs`; the parameters and their checks are `FPGrowthParams`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import SparkSession

from lib.config import JobConfig
from lib.dates import window_first_day
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.rules.flow import FPGrowthParams, rules_outputs
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.text import ITEM_FAMILIES
from lib.text.embed import latest_partition
from lib.text.families import with_family_categories

JOB = "fpgrowth"


def parse_args(argv: Sequence[str]) -> JobConfig[FPGrowthParams]:
    parser = job_parser(JOB, "Mine association rules from the baskets of the window ending at --date.")
    return config_from_args(JOB, FPGrowthParams, parser.parse_args(argv))


def run(spark: SparkSession, config: JobConfig[FPGrowthParams]) -> dict[str, object]:
    run_date, params, tables = config.run_date, config.params, config.catalog()
    job_run = start_run(JOB, run_date)
    store = open_store(spark, config)
    first_day = window_first_day(run_date, params.window_days)
    events, _ = read_consistent(store, tables, EVENTS, start=first_day, end=run_date, empty_if_missing=True)
    items, _ = read_consistent(store, tables, ITEMS, empty_if_missing=True)
    families, _ = read_consistent(store, tables, ITEM_FAMILIES, end=run_date, empty_if_missing=True)
    result = rules_outputs(events, with_family_categories(items, latest_partition(families)), run_date, params)
    try:
        record = write_outputs(store, tables, result.outputs, job_run)
    finally:
        result.release()
    return {**result.summary, "run_id": record.run_id}


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
