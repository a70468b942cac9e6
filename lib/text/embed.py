"""Item embeddings on the executors, incremental across runs.

`embed_texts` runs the encoder in `mapInPandas`: each Python worker loads the model once
(lib.text.model.cached_encoder) and encodes its Arrow batches in sub-batches sorted by length.
`item_embeddings` carries over the previous run's vectors of items whose text hash and model
version are unchanged and embeds only the rest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.text import ITEM_EMBEDDINGS_SCHEMA
from lib.text.model import ModelRef, cached_encoder
from lib.text.normalise import with_item_text

VECTORS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("vector", T.ArrayType(T.FloatType(), False), False),
    ]
)


def embed_texts(texts: DataFrame, model: ModelRef, batch_size: int = 64, num_partitions: int = 2,
                threads_per_worker: int = 1) -> DataFrame:
    """(item_id, text) -> (item_id, vector array<float>, unit length), computed on the executors."""

    def encode(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        encoder = cached_encoder(model, threads_per_worker)
        for batch in batches:
            vectors = encoder.encode(batch["text"].tolist(), batch_size=batch_size)
            yield pd.DataFrame({"item_id": batch["item_id"].to_numpy(), "vector": list(vectors)})

    return (
        texts.select("item_id", "text")
        .repartition(num_partitions, "item_id")
        .mapInPandas(encode, VECTORS_SCHEMA)
    )


def latest_partition(table: DataFrame) -> DataFrame:
    """The rows of `table` with its greatest `dt` (all of them share it); empty stays empty."""
    newest = table.agg(F.max("dt").alias("newest_dt"))
    return table.join(newest, on=F.col("dt") == F.col("newest_dt"), how="inner").drop("newest_dt")


def item_embeddings(items: DataFrame, previous: DataFrame, model: ModelRef, run_date: dt.date,
                    batch_size: int = 64, num_partitions: int = 2) -> DataFrame:
    """ITEM_EMBEDDINGS_SCHEMA rows for every item with text, dt = `run_date`.

    `previous` is an item_embeddings frame (any dts; its latest partition is used). An item keeps its
    previous vector (and embedded_dt) when text_hash, model and model_version all match.
    """
    version = model.version()
    texts = with_item_text(items)
    carried_from = (
        latest_partition(previous)
        .where((F.col("model") == F.lit(model.name)) & (F.col("model_version") == F.lit(version)))
        .select("item_id", "text_hash", "vector", "embedded_dt")
    )
    matched = texts.join(carried_from, on=["item_id", "text_hash"], how="left")
    carried = matched.where(F.col("vector").isNotNull()).select("item_id", "text_hash", "vector", "embedded_dt")
    to_embed = matched.where(F.col("vector").isNull()).select("item_id", "text", "text_hash")
    fresh = (
        embed_texts(to_embed, model, batch_size, num_partitions)
        .join(to_embed.select("item_id", "text_hash"), on="item_id", how="inner")
        .select("item_id", "text_hash", "vector", F.lit(run_date).alias("embedded_dt"))
    )
    return carried.unionByName(fresh).select(
        "item_id",
        F.lit(model.name).alias("model"),
        F.lit(version).alias("model_version"),
        F.lit(model.spec.dimension).cast("int").alias("dimension"),
        F.col("vector"),
        "text_hash",
        F.col("embedded_dt").cast("date"),
        F.lit(run_date).alias("dt"),
    )


def vectors_matrix(vectors: pd.Series) -> np.ndarray:
    """A pandas column of float arrays as a float32 (n, d) matrix."""
    if len(vectors) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in vectors])
