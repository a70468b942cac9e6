"""Stable integer ids for ALS: ids already handed out never change; new keys get the next ones.

The mapping lives in the warehouse (`id_map_users`, `id_map_items`); a rerun of any date maps every
known key to the same integer, so factors of different runs can be compared row by row.
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

MAX_ID = 2**31 - 1  # MLlib ALS takes ids as Int
PARTITION_ID_SHIFT = 33  # monotonically_increasing_id = (partition id << 33) + row number in partition


def assign_ids(existing_mapping: DataFrame, keys: DataFrame, key_col: str, id_col: str) -> DataFrame:
    """The full mapping (key_col string, id_col int): existing rows unchanged plus ids for new keys.

    New keys (distinct, not null, not yet mapped) get max(existing id) + 1, + 2, ... in ascending
    key order, so the result depends only on the inputs, not on partitioning. An empty mapping
    starts at 0.
    """
    existing = existing_mapping.select(F.col(key_col).cast("string"), F.col(id_col).cast("int"))
    next_id = existing.agg(F.coalesce(F.max(id_col) + 1, F.lit(0)).alias("next_id"))
    new_keys = (
        keys.select(F.col(key_col).cast("string"))
        .where(F.col(key_col).isNotNull())
        .distinct()
        .join(existing, on=key_col, how="left_anti")
    )
    numbered = with_dense_index(new_keys, key_col, "position")
    new_id = F.col("next_id") + F.col("position")
    checked = F.when(new_id <= F.lit(MAX_ID), new_id).otherwise(
        F.raise_error(F.lit(f"{id_col}: more than {MAX_ID + 1} keys; ALS ids must fit in an int"))
    )
    assigned = numbered.crossJoin(F.broadcast(next_id)).select(F.col(key_col), checked.alias(id_col))
    return existing.unionByName(assigned.select(F.col(key_col), F.col(id_col).cast("int")))


def with_dense_index(frame: DataFrame, order_col: str, index_col: str) -> DataFrame:
    """Add `index_col` = 0, 1, 2, ... in ascending `order_col` order, without a single-partition window.

    The frame is range-sorted; each row's index is its row number inside its partition plus the
    number of rows in all earlier partitions (a table with one row per partition).
    """
    sorted_frame = frame.orderBy(order_col).select(
        "*",
        F.spark_partition_id().alias("_part"),
        F.monotonically_increasing_id().alias("_mono"),
    )
    sorted_frame = sorted_frame.localCheckpoint(eager=True)  # one sort, then a stable numbering
    counts = sorted_frame.groupBy("_part").agg(F.count(F.lit(1)).alias("_n")).collect()
    offsets, running = [], 0
    for row in sorted(counts, key=lambda r: r["_part"]):
        offsets.append((row["_part"], running))
        running += row["_n"]
    schema = T.StructType(
        [T.StructField("_part", T.IntegerType(), False), T.StructField("_offset", T.LongType(), False)]
    )
    offset_frame = frame.sparkSession.createDataFrame(offsets, schema)
    in_partition = F.col("_mono") - F.shiftleft(F.col("_part").cast("long"), PARTITION_ID_SHIFT)
    return sorted_frame.join(F.broadcast(offset_frame), on="_part", how="inner").select(
        *[F.col(c) for c in frame.columns], (F.col("_offset") + in_partition).alias(index_col)
    )
