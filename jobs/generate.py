"""Generate a synthetic shop's raw event files (and its planted-bundle ground truth) into landing.

    spark-submit jobs/generate.py --env local --date 2024-03-31 [--set users=50000 --set days=90]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import Observation, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, join_path
from lib.jobkit import config_from_args, job_parser, run_job
from lib.synth.bundles import ground_truth, plan_bundles
from lib.synth.catalog import generate_items
from lib.synth.events import generate_events
from lib.synth.raw import DAY_FOLDER_COLUMN, to_generic_raw
from lib.synth.spec import ShopSpec

JOB = "generate"
GROUND_TRUTH_DIR = "_ground_truth"


def parse_args(argv: Sequence[str]) -> JobConfig[ShopSpec]:
    parser = job_parser(JOB, "Write a synthetic shop's raw events into the landing folder.")
    return config_from_args(JOB, ShopSpec, parser.parse_args(argv))


def run(spark: SparkSession, config: JobConfig[ShopSpec]) -> str:
    spec = config.params
    output = join_path(config.storage.landing, spec.landing_subdir)
    items = generate_items(spark, spec)
    raw = to_generic_raw(generate_events(spark, spec, config.run_date), items)
    observed = Observation("generated")
    raw = raw.observe(
        observed,
        F.count(F.lit(1)).alias("events"),
        F.sum(F.when(F.col("event_type") == "purchase", 1).otherwise(0)).alias("purchases"),
    )
    # Dynamic partition overwrite, for this write only: just the generated days' folders are replaced.
    (raw.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(DAY_FOLDER_COLUMN)
     .option("header", True).csv(output))
    truth = ground_truth(spark, plan_bundles(spec), spec.bundle_strength)
    truth.coalesce(1).write.mode("overwrite").option("header", True).csv(join_path(output, GROUND_TRUTH_DIR))
    counts = observed.get
    return (
        f"{counts['events']} events ({counts['purchases']} purchase lines) "
        f"over {spec.days} days ending {config.run_date} -> {output}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
