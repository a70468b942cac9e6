"""Rules scored in one Python task (lib/rules/one_task.py): the distributed path's numbers exactly."""

from __future__ import annotations

import dataclasses
from itertools import combinations
from math import comb

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_df_equality

from lib.rules.mining import mine_itemsets
from lib.rules.one_task import SCORED_RULES_ARROW, score_rules, score_rules_in_one_task
from lib.rules.pfp import PFP_ITEMSETS_SCHEMA
from lib.rules.pipeline import MiningParams, mine_rules, score_candidates
from lib.rules.pruning import PruningParams, with_max_sub_confidence
from lib.rules.significance import bh_adjusted, with_bh_adjusted
from test_rules_pfp import baskets_frame, random_baskets

# n = 5 baskets: a in 4, b in 3, c in 2; ab 3, ac 2, bc 2, abc 2.
COUNTS = {("a",): 4, ("b",): 3, ("c",): 2, ("a", "b"): 3, ("a", "c"): 2, ("b", "c"): 2, ("a", "b", "c"): 2}
N = 5


def fisher_by_definition(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    """P(X >= n_ab) for X hypergeometric: n_a draws from n baskets of which n_b hold the consequent."""
    return sum(comb(n_b, k) * comb(n - n_b, n_a - k) for k in range(n_ab, min(n_a, n_b) + 1)) / comb(n, n_a)


def bh_by_definition(p: list[float]) -> list[float]:
    m = len(p)
    rank = [sum(q <= x for q in p) for x in p]
    return [min(1.0, min(p[j] * m / rank[j] for j in range(m) if p[j] >= x)) for x in p]


def itemsets_table(counts: dict[tuple[str, ...], int]) -> pa.Table:
    return pa.table({"items": [list(k) for k in counts], "size": [len(k) for k in counts], "count": list(counts.values())})


def test_scores_equal_the_definitions_on_a_hand_counted_shop():
    scored = score_rules(itemsets_table(COUNTS), N, max_rule_length=3)
    assert scored.schema == SCORED_RULES_ARROW
    rows = {(tuple(r["antecedent"]), r["consequent"]): r for r in scored.to_pylist()}
    confidence = {("b", "a"): 3 / 3, ("c", "a"): 2 / 2, ("a", "b"): 3 / 4, ("c", "b"): 2 / 2, ("a", "c"): 2 / 4,
                  ("b", "c"): 2 / 3}
    expected = {  # (antecedent, consequent): rule_length, n_ab, n_a, n_b, max_sub_confidence
        (("b",), "a"): (2, 3, 3, 4, None), (("a",), "b"): (2, 3, 4, 3, None),
        (("c",), "a"): (2, 2, 2, 4, None), (("a",), "c"): (2, 2, 4, 2, None),
        (("c",), "b"): (2, 2, 2, 3, None), (("b",), "c"): (2, 2, 3, 2, None),
        (("b", "c"), "a"): (3, 2, 2, 4, max(confidence[("b", "a")], confidence[("c", "a")])),
        (("a", "c"), "b"): (3, 2, 2, 3, max(confidence[("a", "b")], confidence[("c", "b")])),
        (("a", "b"), "c"): (3, 2, 3, 2, max(confidence[("a", "c")], confidence[("b", "c")])),
    }
    assert {k: (r["rule_length"], r["n_ab"], r["n_a"], r["n_b"], r["max_sub_confidence"]) for k, r in rows.items()} \
        == expected
    keys = list(expected)
    p_values = [fisher_by_definition(*expected[k][1:4], N) for k in keys]
    assert [rows[k]["p_value"] for k in keys] == pytest.approx(p_values, rel=1e-12)
    assert [rows[k]["p_adjusted"] for k in keys] == pytest.approx(bh_by_definition(p_values), rel=1e-12)
    # max_rule_length 2: only the pair rules; no itemset of two or more items: no rules at all
    assert score_rules(itemsets_table(COUNTS), N, max_rule_length=2).num_rows == 6
    assert score_rules(itemsets_table({("a",): 4}), N, max_rule_length=3).num_rows == 0


def test_bh_of_ties_and_of_nothing_follow_the_definition():
    p = [0.01, 0.04, 0.03, 0.04, 0.2, 0.5, 0.5, 1.0]
    assert list(bh_adjusted(np.array(p))) == pytest.approx(bh_by_definition(p), rel=1e-15)
    assert len(bh_adjusted(np.array([]))) == 0


def distinct_baskets(seed: int) -> list[list[str]]:
    return [sorted(set(basket)) for basket in random_baskets(seed)]  # MLlib refuses repeated items


def distributed_scores(itemsets, n, max_rule_length):
    """The distributed path's columns for the same candidates (lib/rules/pipeline.py's stages)."""
    return with_max_sub_confidence(with_bh_adjusted(score_candidates(itemsets, n, max_rule_length), buckets=3))


@pytest.mark.parametrize("seed,min_count,max_rule_length", [(5, 6, 4), (6, 20, 3), (7, 119, 3)])
def test_one_task_equals_the_distributed_stages_row_for_row(spark, seed, min_count, max_rule_length):
    baskets = distinct_baskets(seed)  # min_count 119 of 120 baskets: no frequent pair, no rules
    itemsets = mine_itemsets(baskets_frame(spark, baskets), min_count, len(baskets), 2).persist()
    one_task = score_rules_in_one_task(itemsets, len(baskets), max_rule_length)
    distributed = distributed_scores(itemsets, len(baskets), max_rule_length)
    assert one_task.columns == distributed.columns
    assert_df_equality(one_task, distributed, ignore_row_order=True, ignore_nullable=True)
    itemsets.unpersist()


def test_uncached_itemsets_are_scored_the_same_as_cached_ones(spark):
    """A cached frame is read into the task directly; an uncached one is shuffled there, so that
    its own computation keeps its partitions. Both give the same rules."""
    baskets = distinct_baskets(5)
    uncached = mine_itemsets(baskets_frame(spark, baskets), 6, len(baskets), 2)
    cached = mine_itemsets(baskets_frame(spark, baskets), 6, len(baskets), 2).persist()
    from_cache = score_rules_in_one_task(cached, len(baskets), 4)
    assert "Exchange" not in from_cache._jdf.queryExecution().executedPlan().toString()
    assert_df_equality(score_rules_in_one_task(uncached, len(baskets), 4), from_cache, ignore_row_order=True)
    cached.unpersist()


def test_mine_rules_writes_the_same_rules_whichever_path_scores_them(spark):
    baskets = distinct_baskets(8)
    params = MiningParams(min_count=5, min_confidence=0.3, min_lift=1.0, max_rule_length=4, num_partitions=2)
    frame = baskets_frame(spark, baskets)
    one_task = mine_rules(frame, len(baskets), params, PruningParams(privacy_min_count=8))
    distributed = mine_rules(frame, len(baskets), dataclasses.replace(params, one_task_max_itemsets=0),
                             PruningParams(privacy_min_count=8))
    statuses = {row["status"] for row in one_task.rules.select("status").collect()}
    assert {"kept", "redundant", "privacy"} <= statuses  # every pruning reason is exercised
    assert one_task.candidates.count() == distributed.candidates.count()
    assert_df_equality(one_task.rules, distributed.rules, ignore_row_order=True, ignore_nullable=True)
    one_task.unpersist()
    distributed.unpersist()


def test_itemsets_missing_a_subset_are_refused_naming_it():
    closed_only = {("a",): 4, ("a", "b"): 3}  # ("b",) left out, as a closed-itemsets filter would
    with pytest.raises(ValueError, match=r"itemset \['b'\] is not among the itemsets"):
        score_rules(itemsets_table(closed_only), N, max_rule_length=3)


def test_a_rule_length_below_two_is_refused(spark):
    empty = spark.createDataFrame([], PFP_ITEMSETS_SCHEMA)
    with pytest.raises(ValueError, match="max_rule_length"):
        score_rules_in_one_task(empty, 10, 1)


def test_subsets_of_every_antecedent_are_rules_of_the_run():
    """max_sub_confidence looks every proper subset up: all are candidates (subsets of frequent sets)."""
    counts = {tuple(sorted(s)): 9 - len(s) for size in range(1, 5) for s in combinations("abcd", size)}
    scored = score_rules(itemsets_table(counts), 100, max_rule_length=4).to_pylist()
    assert len(scored) == sum(len(k) for k in counts if len(k) >= 2)
    by_rule = {(tuple(r["antecedent"]), r["consequent"]): r["n_ab"] / r["n_a"] for r in scored}
    for row in scored:
        antecedent, consequent = tuple(row["antecedent"]), row["consequent"]
        subs = [by_rule[(s, consequent)] for k in range(1, len(antecedent)) for s in combinations(antecedent, k)]
        assert row["max_sub_confidence"] == (max(subs) if subs else None)
