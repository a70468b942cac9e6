"""Every candidate rule scored in one Python task, when the itemsets are few enough to hold there.

The distributed path (lib/rules/pipeline.py) needs two joins for the antecedent and consequent
counts, three actions for Benjamini-Hochberg without a global window, and a self-join over every
proper subset of every antecedent for redundancy: about ten Spark jobs, several seconds however
few the rules (docs/speed.md). With the itemsets in one dictionary these are lookups, a sort and
a running minimum: one task, one stage. The numbers are the same: the counts are exact, the p-value
and BH are the same numpy functions (lib/rules/significance.py), a sub-rule's confidence is the same
double division, and the rule metrics are still the Column expressions of lib/rules/metrics.py.

Memory and time of the task: the itemsets (an Arrow table and a dict entry each) and the candidate
rules (at most `max_rule_length` per itemset), ~600 bytes and ~13 µs of Python per rule: 100,000
itemsets with 205,000 rules took 135 MB and 2.7 s, 300,000 with 637,000 rules 370 MB and 9.5 s
(docs/rules.md). `MiningParams.one_task_max_itemsets` (default 100,000) bounds it, well inside the
memory overhead a YARN or Kubernetes executor leaves to Python; above it the distributed path runs
in parallel.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

import numpy as np
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import types as T

from lib.rules.metrics import METRICS, with_n, with_rule_metrics
from lib.rules.significance import bh_adjusted, fisher_greater

SCORED_RULES_SCHEMA = T.StructType(
    [
        T.StructField("antecedent", T.ArrayType(T.StringType(), False), False),  # sorted
        T.StructField("consequent", T.StringType(), False),
        T.StructField("rule_length", T.IntegerType(), False),
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("n_a", T.LongType(), False),
        T.StructField("n_b", T.LongType(), False),
        T.StructField("p_value", T.DoubleType(), True),
        T.StructField("p_adjusted", T.DoubleType(), True),
        T.StructField("max_sub_confidence", T.DoubleType(), True),  # null for one-item antecedents
    ]
)
ITEMSETS_ARROW = pa.schema([
    pa.field("items", pa.list_(pa.field("element", pa.string(), nullable=False)), nullable=False),
    pa.field("count", pa.int64(), nullable=False),
])
SCORED_RULES_ARROW = pa.schema([
    pa.field("antecedent", pa.list_(pa.field("element", pa.string(), nullable=False)), nullable=False),
    pa.field("consequent", pa.string(), nullable=False),
    pa.field("rule_length", pa.int32(), nullable=False),
    pa.field("n_ab", pa.int64(), nullable=False),
    pa.field("n_a", pa.int64(), nullable=False),
    pa.field("n_b", pa.int64(), nullable=False),
    pa.field("p_value", pa.float64()),
    pa.field("p_adjusted", pa.float64()),
    pa.field("max_sub_confidence", pa.float64()),
])


def score_rules(itemsets: pa.Table, n_baskets: int, max_rule_length: int) -> pa.Table:
    """Every rule X\\{c} -> c of every itemset X (`items` sorted, `size`, `count`; all frequent
    itemsets, so every antecedent and consequent is among them) with 2 <= |X| <= max_rule_length:
    counts, Fisher p-value, BH-adjusted p-value over all of them, and the best confidence of a rule
    Y -> c with Y a proper non-empty subset of the antecedent."""
    count_of = dict(zip(map(tuple, itemsets.column("items").to_pylist()), itemsets.column("count").to_pylist()))
    antecedents: list[tuple[str, ...]] = []
    consequents: list[str] = []
    lengths: list[int] = []
    n_ab: list[int] = []
    for items, count in count_of.items():
        if 2 <= len(items) <= max_rule_length:
            for drop, consequent in enumerate(items):
                antecedents.append(items[:drop] + items[drop + 1:])
                consequents.append(consequent)
                lengths.append(len(items))
                n_ab.append(count)
    try:
        n_a = [count_of[antecedent] for antecedent in antecedents]
        n_b = [count_of[(consequent,)] for consequent in consequents]
    except KeyError as missing:
        raise ValueError(
            f"itemset {list(missing.args[0])} is not among the itemsets, but a larger one holding it is: "
            "rules need every frequent itemset (not closed or maximal ones only)"
        ) from None
    confidence = {(a, c): ab / a_count for a, c, ab, a_count in zip(antecedents, consequents, n_ab, n_a)}
    max_sub_confidence = [
        max(confidence[(sub, c)] for size in range(1, len(a)) for sub in combinations(a, size))
        if len(a) >= 2 else None
        for a, c in zip(antecedents, consequents)
    ]
    n = np.full(len(n_ab), n_baskets, dtype=np.int64)
    p_value = fisher_greater(np.asarray(n_ab, np.int64), np.asarray(n_a, np.int64), np.asarray(n_b, np.int64), n)
    return pa.table(
        [
            [list(a) for a in antecedents], consequents, pa.array(lengths, pa.int32()), pa.array(n_ab, pa.int64()),
            pa.array(n_a, pa.int64()), pa.array(n_b, pa.int64()), pa.array(p_value, pa.float64()),
            pa.array(bh_adjusted(p_value), pa.float64()), pa.array(max_sub_confidence, pa.float64()),
        ],
        schema=SCORED_RULES_ARROW,
    )


def score_rules_in_one_task(itemsets: DataFrame, n_baskets: int, max_rule_length: int) -> DataFrame:
    """The candidate rules of `itemsets` with counts, every metric, `p_value`, `p_adjusted` and
    `max_sub_confidence`, in the distributed path's column order, in one task (no shuffle when
    `itemsets` is cached, as lib/rules/pipeline.py does)."""
    if max_rule_length < 2:
        raise ValueError(f"max_rule_length must be at least 2, got {max_rule_length}")
    columns = itemsets.select("items", "count")
    # A cached frame is read into the one task where its blocks are, with no shuffle; otherwise a
    # shuffle keeps the computation of `itemsets` spread over its own partitions.
    one_partition = columns.coalesce(1) if itemsets.storageLevel.useMemory or itemsets.storageLevel.useDisk \
        else columns.repartition(1)

    def score_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        received = list(batches)
        table = pa.Table.from_batches(received) if received else ITEMSETS_ARROW.empty_table()
        yield from score_rules(table, n_baskets, max_rule_length).to_batches()

    scored = one_partition.mapInArrow(score_partition, SCORED_RULES_SCHEMA)
    # Column names from the schemas, not `.columns`: each of those is a round trip to the JVM.
    scores = ["p_value", "p_adjusted", "max_sub_confidence"]
    counts = [name for name in SCORED_RULES_SCHEMA.names if name not in scores]
    return with_rule_metrics(with_n(scored, n_baskets)).select(*counts, "n", *METRICS, *scores)
