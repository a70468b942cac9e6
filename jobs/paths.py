"""Purchase paths: what customers buy next — sequential patterns, "bought after" and behaviour embeddings.

    spark-submit jobs/paths.py --env local --date 2024-03-31 [--set patterns.min_count=20 ...]

Reads `events` over the `window_days` ending at --date and `items`; writes purchase_paths, next_items,
item_behaviour_embeddings and similar_behaviour_items with dt = --date (re-runs replace).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import SparkSession

from lib.config import JobConfig, require
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.paths.flow import purchase_paths_flow, top_paths
from lib.paths.item2vec import SENTENCE_SOURCES, Item2VecParams
from lib.paths.next_items import RANKING_METRICS, NextItemsParams
from lib.paths.patterns import PathPruningParams, PatternParams
from lib.paths.sequences import SequenceParams
from lib.rules.baskets import window_start
from lib.schemas.events import EVENT_TYPES, EVENTS, ITEMS
from lib.schemas.paths import PURCHASE_PATHS

JOB = "paths"


@dataclass(frozen=True)
class PathsParams:
    window_days: int = 90
    top_paths_in_summary: int = 5
    sequences: SequenceParams = field(default_factory=SequenceParams)
    patterns: PatternParams = field(default_factory=PatternParams)
    next_items: NextItemsParams = field(default_factory=NextItemsParams)
    item2vec: Item2VecParams = field(default_factory=Item2VecParams)
    pruning: PathPruningParams = field(default_factory=PathPruningParams)


def validate(params: PathsParams, source: str) -> PathsParams:
    """Value checks the type checks cannot do; each error names the key and the file."""
    s, p, n, w = params.sequences, params.patterns, params.next_items, params.item2vec
    checks = [
        ("window_days", params.window_days >= 1, "at least 1", params.window_days),
        ("sequences.max_basket_items", s.max_basket_items >= 0, ">= 0 (0 = no cap)", s.max_basket_items),
        ("sequences.max_baskets_per_user", s.max_baskets_per_user >= 0, ">= 0 (0 = no cap)", s.max_baskets_per_user),
        ("sequences.max_gap_days", s.max_gap_days >= 0, ">= 0", s.max_gap_days),
        ("patterns.min_count", p.min_count >= 1, "at least 1", p.min_count),
        ("patterns.max_pattern_length", 2 <= p.max_pattern_length <= 8, "between 2 and 8", p.max_pattern_length),
        ("patterns.max_local_proj_db_size", p.max_local_proj_db_size >= 1, "at least 1", p.max_local_proj_db_size),
        ("next_items.within_days", n.within_days >= 1, "at least 1", n.within_days),
        ("next_items.within_days", n.within_days < params.window_days, "shorter than window_days", n.within_days),
        ("next_items.min_count", n.min_count >= 1, "at least 1", n.min_count),
        ("next_items.top_k", n.top_k >= 1, "at least 1", n.top_k),
        ("next_items.metric", n.metric in RANKING_METRICS, f"one of {', '.join(RANKING_METRICS)}", n.metric),
        ("item2vec.sentences", bool(w.sentences) and set(w.sentences) <= set(SENTENCE_SOURCES),
         f"a non-empty subset of {SENTENCE_SOURCES}", w.sentences),
        ("item2vec.session_event_types", bool(w.session_event_types)
         and set(w.session_event_types) <= set(EVENT_TYPES), f"a non-empty subset of {EVENT_TYPES}",
         w.session_event_types),
        ("item2vec.vector_size", w.vector_size >= 2, "at least 2", w.vector_size),
        ("item2vec.num_partitions", w.num_partitions >= 1, "at least 1", w.num_partitions),
        ("item2vec.min_count", w.min_count >= 1, "at least 1", w.min_count),
        ("item2vec.similar_k", w.similar_k >= 1, "at least 1", w.similar_k),
        ("pruning.fdr_alpha", 0.0 < params.pruning.fdr_alpha < 1.0, "in (0, 1)", params.pruning.fdr_alpha),
        ("pruning.privacy_min_count", params.pruning.privacy_min_count >= 1, "at least 1",
         params.pruning.privacy_min_count),
    ]
    require(checks, source)
    return params


def parse_args(argv: Sequence[str]) -> JobConfig[PathsParams]:
    parser = job_parser(JOB, "Mine purchase paths and behaviour embeddings from the window ending at --date.")
    return config_from_args(JOB, PathsParams, parser.parse_args(argv), validate=validate)


def run(spark: SparkSession, config: JobConfig[PathsParams]) -> dict[str, object]:
    params, run_date, tables = config.params, config.run_date, config.catalog()
    job_run, store = start_run(JOB, run_date), open_store(spark, config)
    start = window_start(run_date, params.window_days)
    events, _ = read_consistent(store, tables, EVENTS, start=start, end=run_date, empty_if_missing=True)
    items, _ = read_consistent(store, tables, ITEMS, empty_if_missing=True)
    output = purchase_paths_flow(events, items, run_date, params.sequences, params.patterns, params.next_items,
                                 params.item2vec, params.pruning)
    try:
        record = write_outputs(store, tables, output.tables, job_run)
        summary = {"top_paths": top_paths(output.tables[PURCHASE_PATHS], params.top_paths_in_summary),
                   "window": f"{start}..{run_date}", "baskets": output.n_baskets, "sequences": output.n_sequences,
                   "unplaced_purchase_lines": dict(output.unplaced), "run_id": record.run_id,
                   "rows": {name: frame.count() for name, frame in output.tables.items()}}
    finally:
        output.unpersist()
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
