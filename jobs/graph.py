"""The product graph: fused item-item edges, communities and hubs, bridges, bundles, propagated embeddings.

    spark-submit jobs/graph.py --env local --date 2024-03-31 [--set fusion.top_k=10 ...]

Reads `events` of the window ending at --date, `items`, and whichever signal tables exist (latest
partition up to --date): association_rules (else bought_together), similar_items (else item_factors),
item_embeddings, item_behaviour_embeddings, next_items. Writes item_graph, item_communities,
cross_category_bridges, graph_bundles and item_graph_embeddings with dt = --date (re-runs replace),
and prints the three strongest bridges with their evidence.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import ConfigError, JobConfig
from lib.graph.pipeline import GraphInputs, GraphParams, graph_tables
from lib.jobkit import config_from_args, job_parser, run_job
from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.graph import (
    CROSS_CATEGORY_BRIDGES, CROSS_CATEGORY_BRIDGES_SCHEMA, EVIDENCE_COLUMNS, GRAPH_BUNDLES, GRAPH_BUNDLES_SCHEMA,
    ITEM_BEHAVIOUR_EMBEDDINGS, ITEM_COMMUNITIES, ITEM_COMMUNITIES_SCHEMA, ITEM_EMBEDDINGS, ITEM_GRAPH,
    ITEM_GRAPH_EMBEDDINGS, ITEM_GRAPH_EMBEDDINGS_SCHEMA, ITEM_GRAPH_SCHEMA, NEXT_ITEMS,
)
from lib.schemas.recs import ITEM_FACTORS, SIMILAR_ITEMS
from lib.schemas.rules import ASSOCIATION_RULES, BOUGHT_TOGETHER
from lib.storage import TableStore

JOB = "graph"
log = logging.getLogger(f"cobuy.{JOB}")
SCHEMAS = {
    ITEM_GRAPH: ITEM_GRAPH_SCHEMA, ITEM_COMMUNITIES: ITEM_COMMUNITIES_SCHEMA,
    CROSS_CATEGORY_BRIDGES: CROSS_CATEGORY_BRIDGES_SCHEMA, GRAPH_BUNDLES: GRAPH_BUNDLES_SCHEMA,
    ITEM_GRAPH_EMBEDDINGS: ITEM_GRAPH_EMBEDDINGS_SCHEMA,
}


@dataclass(frozen=True)
class GraphJobParams:
    window_days: int = 90
    graph: GraphParams = field(default_factory=GraphParams)


def parse_args(argv: Sequence[str]) -> JobConfig[GraphJobParams]:
    args = job_parser(JOB, "Build the product graph and its analytics for the window ending at --date.").parse_args(argv)
    config = config_from_args(JOB, GraphJobParams, args)
    source = config.sources[0] if config.sources else JOB
    if config.params.window_days < 1:
        raise ConfigError(f"{source}: key 'window_days' must be at least 1, got {config.params.window_days}")
    try:
        config.params.graph.validate()
    except ValueError as error:
        raise ConfigError(f"{source}: {error}") from None
    return config


def latest(store: TableStore, table: str, as_of: dt.date) -> DataFrame | None:
    """The table's latest dt partition up to `as_of` (the whole table if it has no dt); None if missing."""
    if not store.exists(table):
        log.info("signal table '%s' does not exist: that signal is missing", table)
        return None
    frame = store.read(table)
    if "dt" not in frame.columns:
        return frame
    newest = frame.where(F.col("dt") <= F.lit(as_of)).agg(F.max("dt").alias("d")).first()["d"]
    if newest is None:
        log.info("signal table '%s' has no partition up to %s: that signal is missing", table, as_of)
        return None
    return frame.where(F.col("dt") == F.lit(newest)).drop("dt")


def read_inputs(store: TableStore, params: GraphJobParams, run_date: dt.date) -> GraphInputs:
    start = run_date - dt.timedelta(days=params.window_days - 1)
    factors = latest(store, ITEM_FACTORS, run_date)
    return GraphInputs(
        events=store.read(EVENTS, start=start, end=run_date, empty_schema=EVENTS_SCHEMA),
        items=store.read(ITEMS, empty_schema=ITEMS_SCHEMA),
        association_rules=latest(store, ASSOCIATION_RULES, run_date),
        bought_together=latest(store, BOUGHT_TOGETHER, run_date),
        als_pairs=latest(store, SIMILAR_ITEMS, run_date),
        als_factors=None if factors is None else factors.select("item_id", F.col("features").alias("vector")),
        text=latest(store, ITEM_EMBEDDINGS, run_date),
        behaviour=latest(store, ITEM_BEHAVIOUR_EMBEDDINGS, run_date),
        next_items=latest(store, NEXT_ITEMS, run_date),
    )


def describe_bridge(row) -> str:
    evidence = ", ".join(f"{c}={row[c]:.3g}" if isinstance(row[c], float) else f"{c}={row[c]}"
                         for c in EVIDENCE_COLUMNS if row[c] is not None)
    return (f"  {row['rank']}. {row['title_a'] or row['item_a']} ({row['category_a']}) <-> "
            f"{row['title_b'] or row['item_b']} ({row['category_b']}): {row['kind']}, weight {row['weight']:.3f}; {evidence}")


def run(spark: SparkSession, config: JobConfig[GraphJobParams]) -> dict[str, object]:
    params, run_date, storage = config.params, config.run_date, config.storage
    store = TableStore(spark, storage.warehouse, storage.engine, storage.allow_schema_evolution)
    tables = graph_tables(read_inputs(store, params, run_date), params.graph)
    for table, frame in tables.items():
        frame = frame if frame is not None else spark.createDataFrame([], SCHEMAS[table]).drop("dt")
        store.replace_partitions(table, frame.withColumn("dt", F.lit(run_date)), dates=[run_date])
    written = {table: store.read(table, start=run_date, end=run_date) for table in SCHEMAS}
    strongest = written[CROSS_CATEGORY_BRIDGES].orderBy("rank").limit(3).collect()
    print(f"graph {run_date}: the three strongest bridges" + ("" if strongest else ": none"))
    for row in strongest:
        print(describe_bridge(row))
    summary: dict[str, object] = {table: frame.count() for table, frame in written.items()}
    summary["communities"] = written[ITEM_COMMUNITIES].select("community_id").distinct().count()
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
