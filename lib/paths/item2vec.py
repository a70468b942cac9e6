"""Behaviour embeddings (item2vec): MLlib Word2Vec trained on ordered item sequences.

Sentences are a user's purchases in basket order (items of one basket sorted, baskets in time order)
and/or a session's viewed/carted items in time order with consecutive repeats removed. Items that
are used together or one after another get nearby vectors; "similar by behaviour" is the cosine top K
(lib.recs.similar, exact and blocked).

`num_partitions`: MLlib's Word2Vec trains one model copy per partition and averages them after every
iteration, which loses accuracy for more than one partition (measured in bench/bench_paths.py and
docs/paths.md); 1 is the default.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.feature import Word2Vec
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.recs.similar import similar_items

SENTENCE_SOURCES = ("purchases", "sessions")


@dataclass(frozen=True)
class Item2VecParams:
    enabled: bool = True
    sentences: tuple[str, ...] = ("purchases", "sessions")
    session_event_types: tuple[str, ...] = ("view", "cart", "purchase")
    vector_size: int = 32
    window_size: int = 5
    min_count: int = 5  # occurrences an item needs to get a vector
    max_iter: int = 1
    step_size: float = 0.025
    num_partitions: int = 1
    max_sentence_length: int = 1000
    seed: int = 42
    similar_k: int = 10


def purchase_sentences(baskets: DataFrame) -> DataFrame:
    """(sentence array<string>): per user, the items of their baskets in `seq` order."""
    ordered = baskets.groupBy("user_id").agg(F.array_sort(F.collect_list(F.struct("seq", "items"))).alias("_b"))
    return ordered.select(F.flatten(F.transform("_b", lambda b: b["items"])).alias("sentence"))


def session_sentences(events: DataFrame, event_types: tuple[str, ...]) -> DataFrame:
    """(sentence array<string>): per session, its items in event order without consecutive repeats."""
    in_order = Window.partitionBy("session_id").orderBy("event_time", "event_id")
    steps = (
        events.where(F.col("session_id").isNotNull() & F.col("event_type").isin(*event_types))
        .withColumn("_previous", F.lag("item_id").over(in_order))
        .where(F.col("_previous").isNull() | (F.col("_previous") != F.col("item_id")))
    )
    grouped = steps.groupBy("session_id").agg(
        F.array_sort(F.collect_list(F.struct("event_time", "event_id", "item_id"))).alias("_e")
    )
    return grouped.select(F.transform("_e", lambda e: e["item_id"]).alias("sentence"))


def sentences(events: DataFrame, baskets: DataFrame, params: Item2VecParams) -> DataFrame:
    """The training sentences of the configured sources; one-item sentences teach nothing and are dropped."""
    unknown = sorted(set(params.sentences) - set(SENTENCE_SOURCES))
    if unknown or not params.sentences:
        raise ValueError(f"sentences must be a non-empty subset of {SENTENCE_SOURCES}, got {params.sentences}")
    parts = []
    if "purchases" in params.sentences:
        parts.append(purchase_sentences(baskets))
    if "sessions" in params.sentences:
        parts.append(session_sentences(events, params.session_event_types))
    union = parts[0] if len(parts) == 1 else parts[0].unionByName(parts[1])
    return union.where(F.size("sentence") >= 2)


def in_a_fixed_order(sentence_frame: DataFrame) -> DataFrame:
    """The sentences sorted into one partition: Word2Vec's single training partition then sees them in
    the same order on any master (a shuffle's fetch order differs between a cluster and local[2]), so
    the same events give the same vectors; Word2Vec reshuffles into one partition anyway."""
    return sentence_frame.select("sentence").orderBy("sentence").coalesce(1)


def fit_item2vec(sentence_frame: DataFrame, params: Item2VecParams) -> DataFrame:
    """(item_id, features array<float>): one Word2Vec vector per item seen >= min_count times.

    No item seen that often (a tiny or empty window): no vectors, rather than MLlib's empty-vocabulary error.
    """
    vocabulary = (
        sentence_frame.select(F.explode("sentence").alias("item_id")).groupBy("item_id").count()
        .where(F.col("count") >= F.lit(params.min_count))
    )
    if not vocabulary.limit(1).count():
        return sentence_frame.sparkSession.createDataFrame([], "item_id string, features array<float>")
    model = Word2Vec(
        vectorSize=params.vector_size, windowSize=params.window_size, minCount=params.min_count,
        maxIter=params.max_iter, stepSize=params.step_size, numPartitions=params.num_partitions,
        maxSentenceLength=params.max_sentence_length, seed=params.seed, inputCol="sentence", outputCol="_v",
    ).fit(in_a_fixed_order(sentence_frame) if params.num_partitions == 1 else sentence_frame)
    return model.getVectors().select(
        F.col("word").alias("item_id"), vector_to_array("vector", "float32").alias("features")
    )


def similar_by_behaviour(embeddings: DataFrame, k: int, num_blocks: int = 4) -> DataFrame:
    """(item_id, rank, similar_item_id, score=cosine): each item's k nearest items by behaviour."""
    return similar_items(embeddings.select("item_id", "features"), k, method="exact_blocked", num_blocks=num_blocks)
