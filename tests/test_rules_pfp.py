"""The pfp engine (lib/rules/pfp.py): same itemsets, counts, rules and metrics as MLlib's FPGrowth."""

from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.rules.mining import mine_itemsets, mine_itemsets_with
from lib.rules.pfp import (
    GROUP_PREFIXES_ARROW, GROUP_PREFIXES_SCHEMA, PFP_ITEMSETS_SCHEMA, PfpParams, assign_groups, check_pfp_params,
    filter_closed, filter_maximal, group_prefixes, item_loads, mine_itemsets_pfp, rank_items, with_group_prefixes,
)
from lib.rules.pipeline import MiningParams, mine_rules
from lib.rules.pruning import PruningParams

BASKETS_SCHEMA = T.StructType(
    [
        T.StructField("basket_id", T.StringType(), False),
        T.StructField("items", T.ArrayType(T.StringType(), True), True),
    ]
)


def baskets_frame(spark, baskets):
    return spark.createDataFrame([(f"b{i}", items) for i, items in enumerate(baskets)], BASKETS_SCHEMA)


def itemsets_frame(spark, rows):
    return spark.createDataFrame([(sorted(i), len(i), c) for i, c in rows], PFP_ITEMSETS_SCHEMA)


def mllib_itemsets(spark, baskets, min_count):
    """The reference: MLlib on the de-duplicated baskets (it rejects repeated items)."""
    clean = [sorted({i for i in b if i is not None}) if b else [] for b in baskets]
    return mine_itemsets(baskets_frame(spark, clean), min_count, len(baskets), 2)


# -- pure parts -------------------------------------------------------------------------------------


def test_rank_items_orders_by_count_then_item_id():
    assert rank_items([("b", 3), ("a", 3), ("c", 5), ("d", 1)]) == (["c", "a", "b", "d"], [5, 3, 3, 1])


def test_assign_groups_is_round_robin_until_a_group_is_too_heavy():
    counts = [10, 8, 8, 5, 2]
    assert item_loads(counts) == [10, 16, 24, 20, 10]
    assert assign_groups(counts, 2, 1_000) == [0, 1, 0, 1, 0]
    # cap 30: total 80 needs 3 groups, heaviest first onto the least loaded group
    split = assign_groups(counts, 2, 30)
    assert split == [2, 2, 0, 1, 1]  # loads: g0 24, g1 20+10, g2 16+10
    assert assign_groups([], 2, 10) == []


def test_group_prefixes_emit_one_prefix_per_group_ending_at_its_last_item(spark):
    ranked_items = ["a", "b", "c", "d"]  # "x" is infrequent
    group_of = [0, 1, 0, 1]
    baskets = baskets_frame(spark, [["d", "a", "x", "c", "a"], [], None, ["x"], ["b"], ["a", None]])
    expected = spark.createDataFrame([(1, [0, 2, 3]), (0, [0, 2]), (1, [1]), (0, [0])], GROUP_PREFIXES_SCHEMA)
    assert_df_equality(with_group_prefixes(baskets, ranked_items, group_of), expected, ignore_row_order=True)


def test_group_prefixes_of_an_arrow_batch_split_anywhere_are_the_same():
    """The numpy body alone: baskets cut into batches at any row give the same prefixes, and a batch
    with no frequent item (or no rows) gives an empty batch of the schema."""
    ranked = pa.array(["a", "b", "c", "d", "e"])
    group_of = np.array([0, 1, 2, 0, 1], dtype=np.int32)
    baskets = [["e", "b", "a"], ["c", "c"], None, ["d", "y", "a", "e"], [], ["y"], ["b", "d", "c"]]
    expected = [
        (0, [0]), (1, [0, 1, 4]),  # e is rank 4 in group 1 with b: the prefix ends at e
        (2, [2]),
        (0, [0, 3]), (1, [0, 3, 4]),
        (1, [1]), (2, [1, 2]), (0, [1, 2, 3]),
    ]

    def prefixes(rows):
        batch = group_prefixes(pa.array(rows, pa.list_(pa.string())), ranked, group_of)
        assert batch.schema == GROUP_PREFIXES_ARROW
        return [(row["group"], row["prefix"]) for row in batch.to_pylist()]

    def as_multiset(found):  # row order is not part of the contract (groupBy follows)
        return sorted((group, tuple(prefix)) for group, prefix in found)

    assert as_multiset(prefixes(baskets)) == as_multiset(expected)
    for cut in range(len(baskets) + 1):
        assert as_multiset(prefixes(baskets[:cut]) + prefixes(baskets[cut:])) == as_multiset(expected)
    assert prefixes([["y"], None, []]) == [] and prefixes([]) == []


def test_baskets_of_non_string_items_are_refused_naming_the_type(spark):
    ints = spark.createDataFrame([("b0", [1, 2])], "basket_id string, items array<int>")
    with pytest.raises(ValueError, match=r"array<string>.*got array<int>"):
        mine_itemsets_pfp(ints, 1)


def test_bad_pfp_params_name_the_key():
    with pytest.raises(ValueError, match="pfp.miner"):
        check_pfp_params(PfpParams(miner="apriori"))
    with pytest.raises(ValueError, match="pfp.num_groups"):
        check_pfp_params(PfpParams(num_groups=0))


# -- against hand-computed counts and against MLlib ------------------------------------------------

EDGE_BASKETS = [
    ["a", "b", "c"], ["a", "b"], ["a", "b", "b", "c"],  # a repeated item counts once
    ["b", "c"], ["c"], ["c"], [], None,  # single-item, empty and null baskets count in n only
    ["d", "e"], ["d", "e"], ["a", "d", "e"],  # d, e tie with a (count 4 vs 3..4)
    ["a", None],
]


def test_pfp_itemsets_equal_hand_counts_with_duplicates_empty_baskets_and_ties(spark):
    expected = itemsets_frame(spark, [
        (["a"], 5), (["b"], 4), (["c"], 5), (["d"], 3), (["e"], 3),
        (["a", "b"], 3), (["b", "c"], 3), (["d", "e"], 3),
    ])
    for num_groups in (1, 2, 3, 7):
        mined = mine_itemsets_pfp(baskets_frame(spark, EDGE_BASKETS), 3, PfpParams(num_groups=num_groups))
        assert_df_equality(mined, expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(mllib_itemsets(spark, EDGE_BASKETS, 3), expected, ignore_row_order=True,
                       ignore_nullable=True)


def random_baskets(seed: int, n: int = 120) -> list[list[str]]:
    rng = random.Random(seed)
    baskets = []
    for _ in range(n):
        basket = [item for item in "abcdefghijkl" if rng.random() < 0.25]
        if rng.random() < 0.3:
            basket += ["a", "b", "c", "d"]  # frequent 4-itemsets; repeats when already drawn
        baskets.append(basket)
    return baskets


@pytest.mark.parametrize("seed,min_count,params", [
    (1, 6, PfpParams()),
    (2, 4, PfpParams(num_groups=3, miner="eclat")),
    (3, 5, PfpParams(num_groups=2, max_group_load=40)),  # forces split groups, one item each at most
    (4, 119, PfpParams()),  # nothing frequent: an empty frame with the schema
])
def test_pfp_itemsets_equal_mllib(spark, seed, min_count, params):
    baskets = random_baskets(seed)
    mined = mine_itemsets_with("pfp", baskets_frame(spark, baskets), min_count, len(baskets), 2, params)
    assert_df_equality(mined, mllib_itemsets(spark, baskets, min_count), ignore_row_order=True,
                       ignore_nullable=True)


def test_pfp_rules_and_metrics_equal_mllib_through_the_pipeline(spark):
    baskets = random_baskets(5)
    clean = [sorted(set(b)) for b in baskets]
    pruning = PruningParams()
    results = {}
    for engine in ("mllib", "pfp"):
        params = MiningParams(min_count=5, min_confidence=0.0, min_lift=0.0, max_rule_length=4,
                              num_partitions=2, fdr_buckets=4, engine=engine)
        result = mine_rules(baskets_frame(spark, clean), len(clean), params, pruning)
        results[engine] = result
    try:
        mllib, pfp = results["mllib"], results["pfp"]
        assert pfp.rules.count() > 10
        assert_approx_df_equality(pfp.rules, mllib.rules, 1e-12, ignore_row_order=True, ignore_nullable=True)
        assert_approx_df_equality(pfp.candidates, mllib.candidates, 1e-12, ignore_row_order=True,
                                  ignore_nullable=True)
    finally:
        for result in results.values():
            result.unpersist()


# -- closed and maximal ------------------------------------------------------------------------------


def test_closed_and_maximal_itemsets_by_hand(spark):
    # a:4 b:3 c:2 ab:3 ac:2 bc:2 abc:2 at min_count 2
    all_sets = itemsets_frame(spark, [
        (["a"], 4), (["b"], 3), (["c"], 2), (["a", "b"], 3), (["a", "c"], 2), (["b", "c"], 2),
        (["a", "b", "c"], 2),
    ])
    closed = itemsets_frame(spark, [(["a"], 4), (["a", "b"], 3), (["a", "b", "c"], 2)])
    maximal = itemsets_frame(spark, [(["a", "b", "c"], 2)])
    assert_df_equality(filter_closed(all_sets), closed, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(filter_maximal(all_sets), maximal, ignore_row_order=True, ignore_nullable=True)


def test_closed_and_maximal_equal_pyfim_single_process(spark):
    import fim

    baskets = random_baskets(6)
    clean = [sorted(set(b)) for b in baskets]
    mined = mine_itemsets_pfp(baskets_frame(spark, clean), 5, PfpParams(num_groups=3)).cache()
    for target, chosen in (("c", filter_closed(mined)), ("m", filter_maximal(mined))):
        expected = itemsets_frame(spark, [(list(s), c) for s, c in fim.fpgrowth(clean, target=target, supp=-5,
                                                                                 report="a")])
        assert_df_equality(chosen, expected, ignore_row_order=True, ignore_nullable=True)
    mined.unpersist()


def test_pipeline_reports_closed_itemsets_but_builds_rules_from_all(spark):
    baskets = [sorted(set(b)) for b in random_baskets(7)]
    frame = baskets_frame(spark, baskets)
    pruning = PruningParams(fdr=False, privacy=False, redundant=False)
    all_params = MiningParams(min_count=5, min_confidence=0.0, min_lift=0.0, max_rule_length=4,
                              num_partitions=2, engine="pfp")
    closed_params = MiningParams(min_count=5, min_confidence=0.0, min_lift=0.0, max_rule_length=4,
                                 num_partitions=2, engine="pfp", pfp=PfpParams(itemsets="closed"))
    full, closed = mine_rules(frame, len(baskets), all_params, pruning), mine_rules(frame, len(baskets),
                                                                                    closed_params, pruning)
    try:
        assert_df_equality(closed.rules, full.rules, ignore_row_order=True, ignore_nullable=True)
        expected = filter_closed(full.itemsets.drop("support")).withColumn(
            "support", F.col("count") / F.lit(float(len(baskets))))
        assert_df_equality(closed.itemsets, expected, ignore_row_order=True, ignore_nullable=True,
                           ignore_column_order=True)
        assert closed.itemsets.count() < full.itemsets.count()
    finally:
        full.unpersist()
        closed.unpersist()


# -- the job ------------------------------------------------------------------------------------------


def test_job_writes_the_same_tables_with_engine_pfp(spark, tmp_path):
    from jobs.fpgrowth import run
    from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
    from lib.storage import TableStore
    from tests.test_fpgrowth_job import ITEMS_ROWS, RUN_DATE, job_config, make_events, read_all

    import datetime as dt

    tables = {}
    for engine in ("mllib", "pfp"):
        warehouse = str(tmp_path / engine)
        store = TableStore(spark, warehouse, engine="embedded")
        store.append(EVENTS, spark.createDataFrame(make_events(), EVENTS_SCHEMA))
        items = [(*row, dt.date(2024, 1, 1), RUN_DATE) for row in ITEMS_ROWS]
        store.overwrite(ITEMS, spark.createDataFrame(items, ITEMS_SCHEMA), partition_by=())
        summary = run(spark, job_config(warehouse, "--set", f"engine={engine}", "--set", "pfp.num_groups=3"))
        assert summary["itemsets"] > 5
        tables[engine] = read_all(store)
    for name, frame in tables["mllib"].items():
        assert_approx_df_equality(tables["pfp"][name], frame, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_bad_engine_and_pfp_keys_are_named():
    from lib.config import ConfigError
    from tests.test_fpgrowth_job import job_config

    with pytest.raises(ConfigError, match="'engine'"):
        job_config("/tmp/unused", "--set", "engine=spark")
    with pytest.raises(ConfigError, match="'pfp.itemsets'"):
        job_config("/tmp/unused", "--set", "engine=pfp", "--set", "pfp.itemsets=frequent")
