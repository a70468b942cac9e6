"""The whole mining pipeline against brute-force counting in plain Python."""

from __future__ import annotations

import random
from itertools import combinations

from pyspark.sql import types as T

from lib.rules.pipeline import MiningParams, mine_rules
from lib.rules.pruning import PruningParams

BASKETS_SCHEMA = T.StructType(
    [
        T.StructField("basket_id", T.StringType(), False),
        T.StructField("items", T.ArrayType(T.StringType(), False), False),
    ]
)
MIN_COUNT = 4
MAX_RULE_LENGTH = 4


def make_baskets(seed: int = 11, n: int = 40) -> list[list[str]]:
    """Small random baskets over 9 items; items 'a'..'c' often together so triples are frequent."""
    rng = random.Random(seed)
    baskets = []
    for _ in range(n):
        basket = {item for item in "abcdefghi" if rng.random() < 0.3}
        if rng.random() < 0.35:
            basket |= {"a", "b", "c"}
        baskets.append(sorted(basket))  # some are empty: they still count in n
    return baskets


def brute_force_counts(baskets: list[list[str]]) -> dict[tuple[str, ...], int]:
    counts: dict[tuple[str, ...], int] = {}
    for basket in baskets:
        for size in range(1, len(basket) + 1):
            for subset in combinations(basket, size):
                counts[subset] = counts.get(subset, 0) + 1
    return counts


def test_itemsets_and_rules_have_exactly_the_brute_force_counts(spark):
    baskets = make_baskets()
    n = len(baskets)
    counts = brute_force_counts(baskets)
    frequent = {items: c for items, c in counts.items() if c >= MIN_COUNT}
    assert any(len(items) == 4 for items in frequent)  # the data exercises 3-item antecedents

    frame = spark.createDataFrame([(f"b{i}", items) for i, items in enumerate(baskets)], BASKETS_SCHEMA)
    params = MiningParams(min_count=MIN_COUNT, min_confidence=0.0, min_lift=0.0,
                          max_rule_length=MAX_RULE_LENGTH, num_partitions=2, fdr_buckets=4)
    pruning = PruningParams(fdr=False, privacy=False, redundant=True, min_improvement=0.0)
    result = mine_rules(frame, n, params, pruning)
    try:
        mined = {tuple(r["items"]): (r["count"], r["size"], r["support"]) for r in result.itemsets.collect()}
        rules = result.rules.collect()
    finally:
        result.unpersist()

    # Every frequent itemset, none missing, none extra, each with its exact count.
    assert mined == {items: (c, len(items), c / n) for items, c in frequent.items()}

    # Every rule X\{c} -> c of every frequent itemset of 2..4 items, with exact counts.
    expected_rules = {}
    for items, n_ab in frequent.items():
        if 2 <= len(items) <= MAX_RULE_LENGTH:
            for consequent in items:
                antecedent = tuple(i for i in items if i != consequent)
                expected_rules[(antecedent, consequent)] = (n_ab, counts[antecedent], counts[(consequent,)], n)
    actual_rules = {
        (tuple(r["antecedent"]), r["consequent"]): (r["n_ab"], r["n_a"], r["n_b"], r["n"]) for r in rules
    }
    assert actual_rules == expected_rules

    # Redundancy against every proper non-empty sub-antecedent, by brute force.
    def conf(antecedent: tuple[str, ...], consequent: str) -> float:
        return counts[tuple(sorted(antecedent + (consequent,)))] / counts[antecedent]

    for r in rules:
        antecedent, consequent = tuple(r["antecedent"]), r["consequent"]
        subs = [s for k in range(1, len(antecedent)) for s in combinations(antecedent, k)]
        best = max((conf(s, consequent) for s in subs), default=None)
        assert r["max_sub_confidence"] == best, (antecedent, consequent)
        expected_status = "redundant" if best is not None and best >= r["confidence"] else "kept"
        assert r["status"] == expected_status, (antecedent, consequent)
