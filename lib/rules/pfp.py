"""Parallel FP-growth (PFP) as MLlib partitions it, with a compiled miner (pyfim) per item group.

1. Frequent items are counted in Spark (built-ins) and ranked: most frequent first, ties by item id.
2. Items are assigned to groups (`assign_groups`): round-robin by rank, like MLlib's
   `HashPartitioner` over ranks, then a group whose estimated load exceeds `max_group_load` is split
   into more groups (longest-first onto the least-loaded group).
3. Each basket keeps its frequent items sorted by rank and, for every group that has an item in it,
   emits the prefix ending at its last (least frequent) item of that group (numpy on Arrow batches
   in `mapInArrow`: an item's rank is a hash lookup, where Spark's map lookup scans every key).
4. Each group's prefixes are mined by pyfim's compiled FP-growth/Eclat inside `applyInArrow`; an
   itemset is kept only by the group of its least frequent item. That group saw every basket that
   contains the itemset, with all of the itemset's items in the prefix, so its count is exact, and no
   other group reports it: nothing is counted twice and nothing is lost.

Memory of one group (one Arrow table in one Python worker) is its prefixes: at most
`sum over its items x of count(x) * (rank(x) + 1)` item slots (4 bytes each in Arrow, ~36 in the
Python lists pyfim reads, then pyfim's tree; docs/speed.md). `assign_groups` keeps each group at or
below `max_group_load` slots except a group of one item whose own load is larger: a single item's
conditional database cannot be split without losing exactness, so that bound is
`count(x) * (rank(x) + 1)` for the heaviest item.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

PFP_MINERS = ("fpgrowth", "eclat")
PFP_ITEMSETS = ("all", "closed", "maximal")

GROUP_PREFIXES_SCHEMA = T.StructType(
    [
        T.StructField("group", T.IntegerType(), False),
        T.StructField("prefix", T.ArrayType(T.IntegerType(), False), False),  # item ranks, ascending
    ]
)
PFP_ITEMSETS_SCHEMA = T.StructType(
    [
        T.StructField("items", T.ArrayType(T.StringType(), False), False),  # sorted
        T.StructField("size", T.IntegerType(), False),
        T.StructField("count", T.LongType(), False),
    ]
)
# The same two schemas as the Arrow batches the Python workers return.
GROUP_PREFIXES_ARROW = pa.schema([
    pa.field("group", pa.int32(), nullable=False),
    pa.field("prefix", pa.list_(pa.field("element", pa.int32(), nullable=False)), nullable=False),
])
PFP_ITEMSETS_ARROW = pa.schema([
    pa.field("items", pa.list_(pa.field("element", pa.string(), nullable=False)), nullable=False),
    pa.field("size", pa.int32(), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
])


@dataclass(frozen=True)
class PfpParams:
    num_groups: int = 2  # groups mined in parallel; ~ number of cores (each group re-mines shared prefixes)
    max_group_load: int = 20_000_000  # item slots of prefixes per group before it is split (~0.8 GB in the worker)
    miner: str = "fpgrowth"  # pyfim algorithm: fpgrowth | eclat
    itemsets: str = "all"  # the itemsets reported: all | closed | maximal (rules always use all)


def pfp_checks(params: PfpParams) -> list[tuple[str, bool, str, object]]:
    """(key, ok, must, value) checks for the job's `validate` (keys under `pfp.`)."""
    return [
        ("pfp.num_groups", params.num_groups >= 1, "at least 1", params.num_groups),
        ("pfp.max_group_load", params.max_group_load >= 1, "at least 1", params.max_group_load),
        ("pfp.miner", params.miner in PFP_MINERS, " or ".join(PFP_MINERS), params.miner),
        ("pfp.itemsets", params.itemsets in PFP_ITEMSETS, " or ".join(PFP_ITEMSETS), params.itemsets),
    ]


def check_pfp_params(params: PfpParams) -> None:
    for key, ok, must, value in pfp_checks(params):
        if not ok:
            raise ValueError(f"{key} must be {must}, got {value!r}")


# -- 1. frequent items ------------------------------------------------------------------------------


def frequent_item_counts(baskets: DataFrame, min_count: int) -> DataFrame:
    """`item`, `count` of the items in at least `min_count` baskets (an item counts once per basket)."""
    return (
        baskets.select(F.explode(F.array_distinct("items")).alias("item"))
        .filter(F.col("item").isNotNull())
        .groupBy("item")
        .agg(F.count("*").alias("count"))
        .filter(F.col("count") >= min_count)
    )


def rank_items(counts: Sequence[tuple[str, int]]) -> tuple[list[str], list[int]]:
    """Items ordered most frequent first, ties by item id: (items, counts); an item's rank is its index."""
    ordered = sorted(counts, key=lambda pair: (-pair[1], pair[0]))
    return [item for item, _ in ordered], [count for _, count in ordered]


# -- 2. groups --------------------------------------------------------------------------------------


def item_loads(counts: Sequence[int]) -> list[int]:
    """Upper bound of the prefix item slots each item (by rank) brings to its group: count * (rank + 1)."""
    return [count * (rank + 1) for rank, count in enumerate(counts)]


def assign_groups(counts: Sequence[int], num_groups: int, max_group_load: int) -> list[int]:
    """Group of each item (by rank). `num_groups` groups, round-robin by rank as MLlib does, unless
    the estimated load needs more: then ceil(total / max_group_load) groups (at least the number of
    items heavier than the cap, each alone), filled heaviest item first onto the least-loaded group."""
    loads = item_loads(counts)
    if not loads:
        return []
    total = sum(loads)
    needed = max(num_groups, math.ceil(total / max_group_load))
    if needed == num_groups and all(
        sum(loads[r] for r in range(g, len(loads), num_groups)) <= max_group_load for g in range(num_groups)
    ):
        return [rank % num_groups for rank in range(len(loads))]
    groups = [0] * len(loads)
    heap = [(0, g) for g in range(min(needed, len(loads)))]
    for rank in sorted(range(len(loads)), key=lambda r: (-loads[r], r)):
        load, g = heapq.heappop(heap)
        groups[rank] = g
        heapq.heappush(heap, (load + loads[rank], g))
    return groups


# -- 3. group-dependent prefixes --------------------------------------------------------------------


def group_prefixes(baskets: pa.Array, ranked_items: pa.Array, group_of: np.ndarray) -> pa.RecordBatch:
    """`group`, `prefix` of a batch of baskets (a list<string> array): each basket's distinct frequent
    items as ascending ranks and, for every group with an item in the basket, the prefix ending at its
    last item of that group. Null and empty baskets, null and infrequent items emit nothing.

    Vectorised (pyarrow and numpy, no per-basket Python): an item's rank is a hash lookup
    (`index_in`); Spark's map lookup is a linear scan per item, 11 s on retail.dat (docs/speed.md)."""
    flat = pc.list_flatten(baskets)
    basket = np.asarray(pc.list_parent_indices(baskets), dtype=np.int64)
    ranks = pc.index_in(flat, value_set=ranked_items.cast(flat.type))
    frequent = np.asarray(ranks.is_valid(), dtype=bool)
    basket, rank = basket[frequent], np.asarray(ranks.filter(ranks.is_valid()), dtype=np.int64)
    order = np.lexsort((rank, basket))
    basket, rank = basket[order], rank[order]
    distinct = np.ones(len(rank), dtype=bool)
    distinct[1:] = (basket[1:] != basket[:-1]) | (rank[1:] != rank[:-1])
    basket, rank = basket[distinct], rank[distinct]
    group = group_of[rank]
    position = np.arange(len(rank))
    first_of_basket = np.ones(len(rank), dtype=bool)
    first_of_basket[1:] = basket[1:] != basket[:-1]
    basket_start = np.flatnonzero(first_of_basket)[np.cumsum(first_of_basket) - 1]
    # The last position of each (basket, group): sorted by basket, group, position, the end of each run.
    by_group = np.lexsort((position, group, basket))
    b, g = basket[by_group], group[by_group]
    run_end = np.ones(len(rank), dtype=bool)
    run_end[:-1] = (b[1:] != b[:-1]) | (g[1:] != g[:-1])
    ends, groups = by_group[run_end], g[run_end]
    starts = basket_start[ends]
    lengths = ends - starts + 1
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    slots = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
    prefixes = pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(rank[slots], pa.int32()))
    return pa.RecordBatch.from_arrays(
        [pa.array(groups, pa.int32()), prefixes.cast(GROUP_PREFIXES_ARROW.field("prefix").type)],
        schema=GROUP_PREFIXES_ARROW,
    )


def with_group_prefixes(baskets: DataFrame, ranked_items: Sequence[str], group_of: Sequence[int]) -> DataFrame:
    """`group`, `prefix` of every basket (`group_prefixes` per Arrow batch, in `mapInArrow`; the
    ranked items and their groups, one entry per frequent item, travel with the function)."""
    item_array = pa.array(list(ranked_items), pa.string())
    groups = np.asarray(group_of, dtype=np.int32)

    def emit(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield group_prefixes(batch.column(0), item_array, groups)

    return baskets.select("items").mapInArrow(emit, GROUP_PREFIXES_SCHEMA)


# -- 4. mining one group ----------------------------------------------------------------------------


def mine_group(prefixes: pa.Table, min_count: int, items: Sequence[str], group_of: Sequence[int],
               miner: str) -> pa.Table:
    """`applyInArrow` body: every frequent itemset of the group's prefixes whose least frequent item
    (highest rank) is in this group, as item ids (sorted), size and count."""
    import fim  # the compiled miner; imported in the Python worker

    if prefixes.num_rows == 0:
        return PFP_ITEMSETS_ARROW.empty_table()
    group = prefixes.column("group")[0].as_py()
    # pyfim 6.28 leaves out an item that is in every transaction (in a group of one item, that is
    # the item itself); one empty transaction more changes no count and makes it report them.
    transactions = prefixes.column("prefix").to_pylist() + [[]]
    mine = fim.fpgrowth if miner == "fpgrowth" else fim.eclat
    found = mine(transactions, target="s", supp=-min_count, report="a")
    kept = [(itemset, count) for itemset, count in found if group_of[max(itemset)] == group]
    return pa.table(
        [
            [sorted(items[rank] for rank in itemset) for itemset, _ in kept],
            pa.array([len(itemset) for itemset, _ in kept], pa.int32()),
            pa.array([count for _, count in kept], pa.int64()),
        ],
        schema=PFP_ITEMSETS_ARROW,
    )


def mine_itemsets_pfp(baskets: DataFrame, min_count: int, params: PfpParams = PfpParams()) -> DataFrame:
    """Frequent itemsets (`items` sorted, `size`, `count`) of `baskets.items`, exactly as MLlib's
    FPGrowth at the same absolute count. Collects the frequent items (at most
    sum(basket sizes) / min_count rows) to the driver to rank and group them."""
    check_pfp_params(params)
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    items_type = baskets.schema["items"].dataType
    if not isinstance(items_type, T.ArrayType) or items_type.elementType != T.StringType():
        raise ValueError(f"pfp mines baskets whose `items` are array<string> (item ids), got {items_type.simpleString()}")
    spark = baskets.sparkSession
    counted = [(row["item"], row["count"]) for row in frequent_item_counts(baskets, min_count).collect()]
    items, counts = rank_items(counted)
    if not items:
        return spark.createDataFrame([], PFP_ITEMSETS_SCHEMA)
    group_of = assign_groups(counts, params.num_groups, params.max_group_load)
    miner = params.miner
    prefixes = with_group_prefixes(baskets, items, group_of)
    return prefixes.groupBy("group").applyInArrow(
        lambda table: mine_group(table, min_count, items, group_of, miner), PFP_ITEMSETS_SCHEMA
    )


# -- closed and maximal itemsets (of the exact, complete itemsets) ----------------------------------


def _immediate_subsets(itemsets: DataFrame) -> DataFrame:
    """Each itemset of size >= 2 as its subsets with one item dropped: `items`, `superset_count`."""
    drop_one = F.transform(
        F.sequence(F.lit(0), F.col("size") - 1),
        lambda i: F.filter(F.col("items"), lambda _, j: j != i),
    )
    return itemsets.filter(F.col("size") >= 2).select(
        F.explode(drop_one).alias("items"), F.col("count").alias("superset_count")
    )


def filter_closed(itemsets: DataFrame) -> DataFrame:
    """Itemsets no proper superset of which has the same count (checking supersets one item larger
    suffices: counts only fall as itemsets grow). `itemsets` must be all frequent itemsets."""
    same_count = (
        _immediate_subsets(itemsets)
        .join(itemsets.select("items", "count"), on="items", how="inner")
        .filter(F.col("superset_count") == F.col("count"))
        .select("items")
        .distinct()
    )
    return itemsets.join(same_count, on="items", how="left_anti")


def filter_maximal(itemsets: DataFrame) -> DataFrame:
    """Itemsets with no frequent proper superset. `itemsets` must be all frequent itemsets."""
    return itemsets.join(_immediate_subsets(itemsets).select("items").distinct(), on="items", how="left_anti")


def report_itemsets(itemsets: DataFrame, kind: str) -> DataFrame:
    """all | closed | maximal itemsets of the complete frequent itemsets."""
    if kind == "all":
        return itemsets
    if kind == "closed":
        return filter_closed(itemsets)
    if kind == "maximal":
        return filter_maximal(itemsets)
    raise ValueError(f"itemsets must be one of {', '.join(PFP_ITEMSETS)}, got {kind!r}")
