"""Exact top-k cosine between two sets of unit vectors, as blocked matrix products on the executors.

Both sides are cut into blocks by a hash of the id; each block becomes ONE row (its ids and its
float32 matrix packed as bytes, by `applyInPandas`). The block rows are paired (query blocks ×
candidate blocks rows — never items × items), and each pair is one numpy matrix product in chunks of
`chunk_rows` queries inside `mapInPandas`, keeping every query's top k of that candidate block. A
window keeps the top k over all blocks. Exact; flops O(queries · candidates · d) in BLAS, memory per
task O(block · d + chunk_rows · block), rows shuffled O(queries · k · candidate blocks).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.text import TOP_K_SCHEMA

_BLOCK_SCHEMA = T.StructType(
    [
        T.StructField("block", T.IntegerType(), False),
        T.StructField("ids", T.ArrayType(T.StringType(), False), False),
        T.StructField("dimension", T.IntegerType(), False),
        T.StructField("matrix", T.BinaryType(), False),  # float32, row-major, len(ids) × dimension
    ]
)
_PAIR_SCHEMA = T.StructType([f for f in TOP_K_SCHEMA.fields if f.name != "rank"])


def pack_blocks(vectors: DataFrame, id_col: str, vector_col: str, num_blocks: int) -> DataFrame:
    """(id, vector) -> one row per block: (block, ids, dimension, matrix bytes)."""
    block = F.pmod(F.xxhash64(F.col(id_col)), F.lit(num_blocks)).cast("int")

    def pack(frame: pd.DataFrame) -> pd.DataFrame:
        # rows in id order: the shuffle's row order varies between runs, and a float32 matrix product
        # can differ in the last bit with a row's position, so the same inputs give the same scores
        frame = frame.sort_values("id", kind="stable")
        matrix = np.stack([np.asarray(v, dtype=np.float32) for v in frame["vector"]])
        return pd.DataFrame({"block": [int(frame["block"].iloc[0])], "ids": [frame["id"].tolist()],
                             "dimension": [matrix.shape[1]], "matrix": [matrix.tobytes()]})

    return (
        vectors.select(block.alias("block"), F.col(id_col).alias("id"), F.col(vector_col).alias("vector"))
        .groupBy("block")
        .applyInPandas(pack, _BLOCK_SCHEMA)
    )


def unpack(ids: object, dimension: int, matrix: bytes) -> tuple[np.ndarray, np.ndarray]:
    values = np.frombuffer(matrix, dtype=np.float32).reshape(-1, int(dimension))
    return np.asarray(list(ids), dtype=object), values


def _top_k_positions(scores: np.ndarray, keep: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of each row's `keep` greatest scores; a tie at the cut goes to the smaller column
    (candidates are in id order, so: the smaller id), as the final window ranks them."""
    if keep >= scores.shape[1]:
        rows, cols = np.indices(scores.shape)
        return rows.reshape(-1), cols.reshape(-1)
    cut = np.partition(scores, scores.shape[1] - keep, axis=1)[:, scores.shape[1] - keep]
    rows, cols = np.nonzero(scores >= cut[:, None])  # the top k and every tie with the k-th
    order = np.lexsort((cols, -scores[rows, cols], rows))
    rows, cols = rows[order], cols[order]
    first = np.searchsorted(rows, rows)  # where each row's run starts (rows are sorted)
    kept = np.arange(len(rows)) - first < keep
    return rows[kept], cols[kept]


def block_top_k(query_ids: np.ndarray, queries: np.ndarray, candidate_ids: np.ndarray, candidates: np.ndarray,
                k: int, exclude_same_id: bool, chunk_rows: int = 2048) -> pd.DataFrame:
    """Each query's top `k` dot products among `candidates` (a candidate with the query's id skipped)."""
    keep = min(k, len(candidate_ids))
    frames = []
    positions = pd.Index(candidate_ids)
    for start in range(0, len(query_ids), chunk_rows):
        ids = query_ids[start:start + chunk_rows]
        scores = queries[start:start + chunk_rows] @ candidates.T
        if exclude_same_id:
            same = positions.get_indexer(pd.Index(ids))
            rows = np.nonzero(same >= 0)[0]
            scores[rows, same[rows]] = -np.inf
        rows, cols = _top_k_positions(scores, keep)
        values = scores[rows, cols]
        valid = np.isfinite(values)
        frames.append(pd.DataFrame({"query_id": ids[rows[valid]], "candidate_id": candidate_ids[cols[valid]],
                                    "score": values[valid].astype(np.float64)}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["query_id", "candidate_id", "score"])


def top_k_cosine(queries: DataFrame, candidates: DataFrame, k: int, num_blocks: int = 4,
                 exclude_same_id: bool = True, query_id: str = "item_id", candidate_id: str = "item_id",
                 vector: str = "vector", chunk_rows: int = 2048) -> DataFrame:
    """TOP_K_SCHEMA: each query's `k` candidates with the greatest dot product (cosine: both sides
    unit vectors). Ties: candidate_id ascending. A query with no candidate has no row."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
    left = pack_blocks(queries, query_id, vector, num_blocks).select(
        F.col("block").alias("qb"), F.col("ids").alias("q_ids"), F.col("dimension").alias("q_dim"),
        F.col("matrix").alias("q_matrix"))
    right = pack_blocks(candidates, candidate_id, vector, num_blocks).select(
        F.col("block").alias("cb"), F.col("ids").alias("c_ids"), F.col("dimension").alias("c_dim"),
        F.col("matrix").alias("c_matrix"))
    pairs = left.crossJoin(right).repartition(num_blocks * num_blocks, "qb", "cb")

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for row in batch.itertuples(index=False):
                if row.q_dim != row.c_dim:
                    raise ValueError(f"vectors of different dimensions: {row.q_dim} and {row.c_dim}")
                q_ids, q = unpack(row.q_ids, row.q_dim, row.q_matrix)
                c_ids, c = unpack(row.c_ids, row.c_dim, row.c_matrix)
                yield block_top_k(q_ids, q, c_ids, c, k, exclude_same_id, chunk_rows)

    by_score = Window.partitionBy("query_id").orderBy(F.col("score").desc(), F.col("candidate_id").asc())
    return (
        pairs.mapInPandas(score, _PAIR_SCHEMA)
        .withColumn("rank", F.row_number().over(by_score))
        .where(F.col("rank") <= F.lit(k))
        .select("query_id", F.col("rank").cast("int"), "candidate_id", F.col("score").cast("double"))
    )


def similar_items_text(embeddings: DataFrame, k: int = 10, num_blocks: int = 4) -> DataFrame:
    """(item_id, rank, similar_item_id, score): each item's `k` nearest other items by cosine of the
    text embeddings (item_embeddings rows of one model version; unit vectors)."""
    vectors = embeddings.select("item_id", "vector")
    return top_k_cosine(vectors, vectors, k, num_blocks, exclude_same_id=True).select(
        F.col("query_id").alias("item_id"), "rank", F.col("candidate_id").alias("similar_item_id"), "score"
    )
