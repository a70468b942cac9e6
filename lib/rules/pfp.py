"""Parallel FP-growth (PFP) as MLlib partitions it, with a compiled miner (pyfim) per item group.

1. Frequent items are counted in Spark (built-ins) and ranked: most frequent first, ties by item id.
2. Items are assigned to groups (`assign_groups`): round-robin by rank, like MLlib's
   `HashPartitioner` over ranks, then a group whose estimated load exceeds `max_group_load` is split
   into more groups (longest-first onto the least-loaded group).
3. Each basket keeps its frequent items sorted by rank and, for every group that has an item in it,
   emits the prefix ending at its last (least frequent) item of that group (Spark built-ins).
4. Each group's prefixes are mined by pyfim's compiled FP-growth/Eclat inside `applyInPandas`; an
   itemset is kept only by the group of its least frequent item. That group saw every basket that
   contains the itemset, with all of the itemset's items in the prefix, so its count is exact, and no
   other group reports it: nothing is counted twice and nothing is lost.

Memory of one group (one pandas frame in one Python worker) is its prefixes: at most
`sum over its items x of count(x) * (rank(x) + 1)` item slots (8 bytes each, plus pyfim's tree, about
the same again). `assign_groups` keeps each group at or below `max_group_load` slots except a group
of one item whose own load is larger: a single item's conditional database cannot be split without
losing exactness, so that bound is `count(x) * (rank(x) + 1)` for the heaviest item.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
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


@dataclass(frozen=True)
class PfpParams:
    num_groups: int = 2  # groups mined in parallel; ~ number of cores (each group re-mines shared prefixes)
    max_group_load: int = 20_000_000  # item slots of prefixes per group before it is split (~160 MB)
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


def with_group_prefixes(baskets: DataFrame, rank_of: dict[str, int], group_of: Sequence[int]) -> DataFrame:
    """`group`, `prefix`: each basket's frequent items as ranks (ascending: most frequent first) and,
    for every group with an item in the basket, the prefix ending at its last item of that group.
    Built-in functions only (the rank and group tables are literals in the plan, one entry per
    frequent item); empty and null baskets and infrequent items emit nothing."""
    rank_map = F.create_map(*[F.lit(v) for item, rank in rank_of.items() for v in (item, rank)])
    groups = F.array(*[F.lit(g) for g in group_of])
    ranks = F.array_sort(F.filter(
        F.transform(F.array_distinct(F.coalesce(F.col("items"), F.array())), lambda x: F.try_element_at(rank_map, x)),
        lambda r: r.isNotNull(),
    ))
    with_groups = F.transform(F.col("ranks"), lambda r: F.element_at(F.col("groups"), r + 1))

    def is_last_of_its_group(group: F.Column, i: F.Column) -> F.Column:
        # 1-based position of `group` in the reversed groups = distance of its last item from the end
        return F.size("gs") - F.array_position(F.reverse("gs"), group) == i

    prefixes = F.filter(
        F.transform(F.col("gs"), lambda g, i: F.struct(
            g.alias("group"), F.slice("ranks", 1, i + 1).alias("prefix"), is_last_of_its_group(g, i).alias("last"),
        )),
        lambda entry: entry["last"],
    )
    return (
        baskets.select(ranks.alias("ranks"), groups.alias("groups"))
        .filter(F.size("ranks") > 0)
        .select("ranks", with_groups.alias("gs"))
        .select(F.explode(prefixes).alias("entry"))
        .select(F.col("entry.group").cast("int").alias("group"), F.col("entry.prefix").alias("prefix"))
    )


# -- 4. mining one group ----------------------------------------------------------------------------


def mine_group(frame: pd.DataFrame, min_count: int, items: Sequence[str], group_of: Sequence[int],
               miner: str) -> pd.DataFrame:
    """`applyInPandas` body: every frequent itemset of the group's prefixes whose least frequent item
    (highest rank) is in this group, as item ids (sorted), size and count."""
    import fim  # the compiled miner; imported in the Python worker

    if frame.empty:
        return pd.DataFrame({"items": [], "size": [], "count": []})
    group = int(frame["group"].iloc[0])
    # pyfim 6.28 leaves out an item that is in every transaction (in a group of one item, that is
    # the item itself); one empty transaction more changes no count and makes it report them.
    transactions = [prefix.tolist() for prefix in frame["prefix"]] + [[]]
    mine = fim.fpgrowth if miner == "fpgrowth" else fim.eclat
    found = mine(transactions, target="s", supp=-min_count, report="a")
    kept = [(itemset, count) for itemset, count in found if group_of[max(itemset)] == group]
    return pd.DataFrame({
        "items": [sorted(items[rank] for rank in itemset) for itemset, _ in kept],
        "size": pd.Series([len(itemset) for itemset, _ in kept], dtype="int32"),
        "count": pd.Series([count for _, count in kept], dtype="int64"),
    })


def mine_itemsets_pfp(baskets: DataFrame, min_count: int, params: PfpParams = PfpParams()) -> DataFrame:
    """Frequent itemsets (`items` sorted, `size`, `count`) of `baskets.items`, exactly as MLlib's
    FPGrowth at the same absolute count. Collects the frequent items (at most
    sum(basket sizes) / min_count rows) to the driver to rank and group them."""
    check_pfp_params(params)
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    spark = baskets.sparkSession
    counted = [(row["item"], row["count"]) for row in frequent_item_counts(baskets, min_count).collect()]
    items, counts = rank_items(counted)
    if not items:
        return spark.createDataFrame([], PFP_ITEMSETS_SCHEMA)
    rank_of = {item: rank for rank, item in enumerate(items)}
    group_of = assign_groups(counts, params.num_groups, params.max_group_load)
    miner = params.miner
    prefixes = with_group_prefixes(baskets, rank_of, group_of)
    return prefixes.groupBy("group").applyInPandas(
        lambda frame: mine_group(frame, min_count, items, group_of, miner), PFP_ITEMSETS_SCHEMA
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
