"""Generator throughput: events per second when writing a synthetic shop of ~10 million events.

    .venv/bin/python bench/bench_generate.py [--events 10000000] [--landing /tmp/cobuy-bench-landing]

Prints the figures; asserts nothing. Sizing: events ~ days * sessions_per_day * ~7.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import shutil
import tempfile
import time

from pyspark.sql import functions as F

from lib.session import build_session
from lib.synth.catalog import generate_items
from lib.synth.events import generate_events
from lib.synth.raw import DAY_FOLDER_COLUMN, to_generic_raw
from lib.synth.spec import ShopSpec

EVENTS_PER_SESSION = 7.2  # measured on the default spec; used only to size the run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--landing", default=None)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    landing = args.landing or tempfile.mkdtemp(prefix="cobuy-bench-landing-")
    spec = dataclasses.replace(
        ShopSpec(), days=args.days, users=200_000, items=20_000,
        top_categories=8, subcategories_per_top=5, leaves_per_subcategory=4, bundles=40,
        sessions_per_day=int(args.events / args.days / EVENTS_PER_SESSION),
    )
    spark = build_session("bench-generate", {
        "spark.master": args.master, "spark.driver.memory": "6g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "8",
    })
    spark.sparkContext.setLogLevel("ERROR")
    try:
        started = time.perf_counter()
        raw = to_generic_raw(generate_events(spark, spec, dt.date(2024, 3, 31)), generate_items(spark, spec))
        raw.write.mode("overwrite").partitionBy(DAY_FOLDER_COLUMN).option("header", True).csv(landing)
        elapsed = time.perf_counter() - started
        events = spark.read.option("header", True).csv(landing).agg(F.count("*")).first()[0]
        print(f"spec: days={spec.days} users={spec.users} items={spec.items} sessions/day={spec.sessions_per_day}")
        print(f"events written:  {events:,}")
        print(f"generate+write:  {elapsed:.1f} s")
        print(f"throughput:      {events / elapsed:,.0f} events/s  (master {args.master})")
    finally:
        spark.stop()
        if args.landing is None:
            shutil.rmtree(landing, ignore_errors=True)


if __name__ == "__main__":
    main()
