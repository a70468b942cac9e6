"""The product graph: fused item-item edges, communities and hubs, bridges, bundles, propagated embeddings.

    spark-submit jobs/graph.py --env local --date 2024-03-31 [--set graph.fusion.top_k=10 ...]

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
from lib.catalog import Catalog
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.graph import (
    CROSS_CATEGORY_BRIDGES, CROSS_CATEGORY_BRIDGES_SCHEMA, EVIDENCE_COLUMNS, GRAPH_BUNDLES, GRAPH_BUNDLES_SCHEMA,
    ITEM_BEHAVIOUR_EMBEDDINGS, ITEM_COMMUNITIES, ITEM_COMMUNITIES_SCHEMA, ITEM_EMBEDDINGS, ITEM_GRAPH,
    ITEM_GRAPH_EMBEDDINGS, ITEM_GRAPH_EMBEDDINGS_SCHEMA, ITEM_GRAPH_SCHEMA, NEXT_ITEMS,
)
from lib.schemas.recs import ITEM_FACTORS, SIMILAR_ITEMS
from lib.schemas.rules import ASSOCIATION_RULES, BOUGHT_TOGETHER, KEPT
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


def text_vectors(embeddings: DataFrame | None) -> DataFrame | None:
    """item_embeddings as (item_id, vector)."""
    return None if embeddings is None else embeddings.select("item_id", "vector")


def latest(store: TableStore, tables: Catalog, name: str, as_of: dt.date) -> DataFrame | None:
    """A signal table's newest dt partition up to `as_of`, as its producer's latest complete run left it
    (the whole table if it has no dt); None when it does not exist yet (that signal is missing)."""
    if not store.exists(tables.physical(name)):
        log.info("signal table '%s' does not exist: that signal is missing", name)
        return None
    frame, _ = read_consistent(store, tables, name, end=as_of)
    if "dt" not in frame.columns:
        return frame
    newest = frame.agg(F.max("dt").alias("d")).first()["d"]
    if newest is None:
        log.info("signal table '%s' has no partition up to %s: that signal is missing", name, as_of)
        return None
    return frame.where(F.col("dt") == F.lit(newest)).drop("dt")


def read_inputs(store: TableStore, tables: Catalog, params: GraphJobParams, run_date: dt.date) -> GraphInputs:
    start = run_date - dt.timedelta(days=params.window_days - 1)
    factors = latest(store, tables, ITEM_FACTORS, run_date)
    behaviour = latest(store, tables, ITEM_BEHAVIOUR_EMBEDDINGS, run_date)
    next_items = latest(store, tables, NEXT_ITEMS, run_date)
    return GraphInputs(
        events=read_consistent(store, tables, EVENTS, start=start, end=run_date, empty_if_missing=True)[0],
        items=read_consistent(store, tables, ITEMS, empty_if_missing=True)[0],
        association_rules=latest(store, tables, ASSOCIATION_RULES, run_date),
        bought_together=latest(store, tables, BOUGHT_TOGETHER, run_date),
        als_pairs=latest(store, tables, SIMILAR_ITEMS, run_date),
        als_factors=None if factors is None else factors.select("item_id", F.col("features").alias("vector")),
        text=text_vectors(latest(store, tables, ITEM_EMBEDDINGS, run_date)),
        behaviour=None if behaviour is None else behaviour.select("item_id", F.col("features").alias("vector")),
        next_items=None if next_items is None else next_items.where(F.col("status") == KEPT).select(
            "item_id", "next_item_id", "confidence", F.col("n_ab").alias("count")),
    )


def describe_bridge(row) -> str:
    evidence = ", ".join(f"{c}={row[c]:.3g}" if isinstance(row[c], float) else f"{c}={row[c]}"
                         for c in EVIDENCE_COLUMNS if row[c] is not None)
    return (f"  {row['rank']}. {row['title_a'] or row['item_a']} ({row['category_a']}) <-> "
            f"{row['title_b'] or row['item_b']} ({row['category_b']}): {row['kind']}, weight {row['weight']:.3f}; {evidence}")


def run(spark: SparkSession, config: JobConfig[GraphJobParams]) -> dict[str, object]:
    params, run_date, tables = config.params, config.run_date, config.catalog()
    job_run, store = start_run(JOB, run_date), open_store(spark, config)
    # Spark 4.2's localCheckpoint of the graph's iterations fails with adaptive execution on (a
    # NullPointerException in SparkPlan.session, seen in the demo); their plans are small joins.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    graph = graph_tables(read_inputs(store, tables, params, run_date), params.graph)
    outputs = {
        name: (frame if frame is not None else spark.createDataFrame([], SCHEMAS[name]).drop("dt"))
        .withColumn("dt", F.lit(run_date))
        for name, frame in graph.items()
    }
    record = write_outputs(store, tables, outputs, job_run)
    written = {name: read_consistent(store, tables, name, start=run_date, end=run_date)[0] for name in SCHEMAS}
    strongest = written[CROSS_CATEGORY_BRIDGES].orderBy("rank").limit(3).collect()
    print(f"graph {run_date}: the three strongest bridges" + ("" if strongest else ": none"))
    for row in strongest:
        print(describe_bridge(row))
    summary: dict[str, object] = {name: frame.count() for name, frame in written.items()}
    summary["communities"] = written[ITEM_COMMUNITIES].select("community_id").distinct().count()
    return {**summary, "run_id": record.run_id}


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
