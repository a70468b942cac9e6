"""The purchase-paths flow of jobs/paths.py: events of the window -> every output table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.paths.item2vec import Item2VecParams, fit_item2vec, sentences, similar_by_behaviour
from lib.paths.next_items import NextItemsParams, next_items
from lib.paths.patterns import PathPruningParams, PatternParams, purchase_paths
from lib.paths.sequences import SequenceParams, unplaced_purchases, user_baskets, user_sequences
from lib.schemas.paths import (
    ITEM_BEHAVIOUR_EMBEDDINGS, ITEM_BEHAVIOUR_EMBEDDINGS_SCHEMA, NEXT_ITEMS, NEXT_ITEMS_SCHEMA, PURCHASE_PATHS,
    PURCHASE_PATHS_SCHEMA, SIMILAR_BEHAVIOUR_ITEMS, SIMILAR_BEHAVIOUR_ITEMS_SCHEMA,
)

TABLE_SCHEMAS: Mapping[str, T.StructType] = {
    PURCHASE_PATHS: PURCHASE_PATHS_SCHEMA,
    NEXT_ITEMS: NEXT_ITEMS_SCHEMA,
    ITEM_BEHAVIOUR_EMBEDDINGS: ITEM_BEHAVIOUR_EMBEDDINGS_SCHEMA,
    SIMILAR_BEHAVIOUR_ITEMS: SIMILAR_BEHAVIOUR_ITEMS_SCHEMA,
}


@dataclass(frozen=True)
class PathsOutput:
    tables: Mapping[str, DataFrame]  # table name -> frame in its schema, dt = the run date
    n_baskets: int
    n_sequences: int
    unplaced: Mapping[str, int]  # purchase lines left out of the sequences, by reason

    def unpersist(self) -> None:
        for frame in self.tables.values():
            frame.unpersist()


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def _with_dt(frame: DataFrame, run_date: dt.date) -> DataFrame:
    return frame.withColumn("dt", F.lit(run_date).cast("date"))


def _with_title(frame: DataFrame, items: DataFrame, id_col: str, title_col: str) -> DataFrame:
    titles = items.select(F.col("item_id").alias(id_col), F.col("title").alias(title_col))
    return frame.join(titles, on=id_col, how="left")


def empty_tables(spark_frame: DataFrame) -> dict[str, DataFrame]:
    spark = spark_frame.sparkSession
    return {name: spark.createDataFrame([], schema) for name, schema in TABLE_SCHEMAS.items()}


def purchase_paths_flow(
    events: DataFrame, items: DataFrame, run_date: dt.date, sequence: SequenceParams, patterns: PatternParams,
    after: NextItemsParams, item2vec: Item2VecParams, pruning: PathPruningParams,
) -> PathsOutput:
    """`events` of the window ending at `run_date` (canonical), `items` (for titles) -> the four tables.

    Runs a few actions (counts, the PrefixSpan and Word2Vec fits); the returned frames are persisted.
    """
    rules_pruning = pruning.as_rules_pruning()
    unplaced = unplaced_purchases(events, sequence.max_basket_items, sequence.max_baskets_per_user).first()
    baskets = user_baskets(events, sequence.max_basket_items, sequence.max_baskets_per_user).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    seqs = user_sequences(baskets, sequence.max_gap_days).persist(StorageLevel.MEMORY_AND_DISK)
    n_baskets, n_sequences = baskets.count(), seqs.count()
    tables = empty_tables(events)
    if n_sequences:
        paths = purchase_paths(seqs, n_sequences, patterns, rules_pruning)
        tables[PURCHASE_PATHS] = conform(_with_dt(paths, run_date), PURCHASE_PATHS_SCHEMA)
        after_items = _with_title(next_items(baskets, run_date, after, rules_pruning), items,
                                  "next_item_id", "next_item_title")
        tables[NEXT_ITEMS] = conform(_with_dt(after_items, run_date), NEXT_ITEMS_SCHEMA)
        if item2vec.enabled:
            embeddings = fit_item2vec(sentences(events, baskets, item2vec), item2vec).persist()
            tables[ITEM_BEHAVIOUR_EMBEDDINGS] = conform(_with_dt(embeddings, run_date),
                                                        ITEM_BEHAVIOUR_EMBEDDINGS_SCHEMA)
            similar = _with_title(similar_by_behaviour(embeddings, item2vec.similar_k), items,
                                  "similar_item_id", "similar_item_title")
            tables[SIMILAR_BEHAVIOUR_ITEMS] = conform(_with_dt(similar, run_date), SIMILAR_BEHAVIOUR_ITEMS_SCHEMA)
    persisted = {name: frame.persist(StorageLevel.MEMORY_AND_DISK) for name, frame in tables.items()}
    return PathsOutput(persisted, n_baskets, n_sequences, unplaced.asDict())


def top_paths(paths: DataFrame, n: int) -> list[str]:
    """The `n` best kept paths by lift as short strings ("a+b > c: conf 0.52, lift 31.0, 40 seq")."""
    best = paths.where(F.col("status") == F.lit("kept")).orderBy(
        F.col("lift").desc(), F.col("n_path").desc()
    ).limit(n).collect()
    return [
        " > ".join("+".join(step) for step in row["path"])
        + f": conf {row['confidence']:.2f}, lift {row['lift']:.1f}, {row['n_path']} seq"
        for row in best
    ]
