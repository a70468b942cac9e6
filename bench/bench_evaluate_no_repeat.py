"""Benchmark: the evaluation on a data set without repeat purchases (MovieLens-style: one purchase
per user and item), made from the demo shop.

    .venv/bin/python bench/bench_evaluate_no_repeat.py [--warehouse /tmp/cobuy-bench-shop] [--with-repeats]

- the shop: `make demo`'s synthetic shop (jobs/generate.py, 28 days to 2024-03-31) through
  jobs/ingest.py and jobs/embed.py into `--warehouse`, when it has no `items` yet;
- the copy: each (user, item) kept once, at its first purchase; views, carts, favourites, returns and
  anonymous lines dropped (`<warehouse>-no-repeat`, `items` and `item_embeddings` copied as they are);
- jobs/evaluate.py on the copy with the project's config (conf/evaluate.toml, conf/recommender.toml:
  7 test days, tuned on the 7 days before them, every source), as the demo runs it;
  `--with-repeats` evaluates the shop itself as well.

It prints the final window's table (every model, view and slice) and whether the hybrid is at least
as good as its best single part on the selection slice (issue 10: "not worse than its best part on a
data set without repeat purchases").
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

from evaluation_bench import build_no_repeat, final_figures, has_table, print_final_table, run_job_timed

RUN_DATE = dt.date(2024, 3, 31)
DAYS = 28


def build_shop(warehouse: str) -> None:
    """events + items of the demo shop by jobs/generate.py and jobs/ingest.py, embeddings by jobs/embed.py."""
    storage = ["--set", f"storage.warehouse={warehouse}", "--set", f"storage.landing={warehouse}-landing"]
    if not has_table(warehouse, "items"):
        first = RUN_DATE - dt.timedelta(days=DAYS - 1)
        run_job_timed("generate", "--date", str(RUN_DATE), "--set", f"days={DAYS}", *storage)
        run_job_timed("ingest", "--from", str(first), "--to", str(RUN_DATE), *storage)
    if not has_table(warehouse, "item_embeddings"):
        run_job_timed("embed", "--date", str(RUN_DATE), *storage)


def evaluate(warehouse: str, label: str, overrides: list[str]) -> bool:
    run_id = f"bench-{label}-{int(time.time())}"
    elapsed = run_job_timed("evaluate", "--date", str(RUN_DATE), "--set", f"storage.warehouse={warehouse}",
                            "--set", f"run_id={run_id}", *[x for o in overrides for x in ("--set", o)])
    print(f"\n{label}: jobs/evaluate.py (tuning grid + final window, incl. JVM start) took {elapsed:.1f}s")
    return print_final_table(final_figures(warehouse, run_id, RUN_DATE))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="/tmp/cobuy-bench-shop", help="the demo shop's warehouse (built when empty)")
    parser.add_argument("--with-repeats", action="store_true", help="evaluate the shop itself too")
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="extra evaluate config override")
    args = parser.parse_args(argv)
    warehouse = str(Path(args.warehouse).resolve())
    build_shop(warehouse)
    no_repeat = f"{warehouse}-no-repeat"
    build_no_repeat(warehouse, no_repeat)
    holds = evaluate(no_repeat, "no-repeat", args.overrides)
    if args.with_repeats:
        evaluate(warehouse, "with-repeats", args.overrides)
    print(f"\nno-repeat copy: the hybrid {'is not worse than' if holds else 'is WORSE than'} its best part")
    return 0


if __name__ == "__main__":
    sys.exit(main())
