"""lib.graph.signals + fusion: each signal's evidence, the fused weight formula and the per-node cap."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from chispa import assert_approx_df_equality

from builders import event_at
from lib.graph.fusion import FusionParams, fuse_edges
from lib.graph.signals import co_occurrence_signal, cosine_signal, next_item_signal, rule_signal
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.graph import NEXT_ITEMS_INPUT_SCHEMA

DAY = dt.date(2024, 3, 30)
C = 2 / math.sqrt(6)  # co_cosine of a-b and a-c: 2 baskets / sqrt(3 * 2)


def purchase(i, order, item):
    return event_at(f"e{i}", dt.datetime(2024, 3, 30, 12, 0) + dt.timedelta(minutes=i), "u1", item, order)


@pytest.fixture
def signals(spark):
    rules = spark.createDataFrame([("a", "b", 2.0, 0.5, 4)], "item_id string, other_id string, lift double, "
                                  "confidence double, n_ab long")
    baskets = {"o1": "abc", "o2": "ab", "o3": "ac", "big": "abcdefg"}  # big > max_basket_items: left out
    events = [purchase(i, o, item) for i, (o, items) in enumerate(baskets.items()) for item in items]
    events.append(purchase(99, None, "a"))  # no order: in no basket
    events = spark.createDataFrame(events, EVENTS_SCHEMA)
    next_items = spark.createDataFrame([("b", "c", 0.8, 3)], NEXT_ITEMS_INPUT_SCHEMA)
    text = spark.createDataFrame([("c", "d", 0.6), ("d", "c", 0.5), ("a", "d", -0.2)],
                                 "item_id string, similar_item_id string, score double")
    return {
        "rules": rule_signal(rules),
        "co_occurrence": co_occurrence_signal(events, max_basket_items=5, min_count=1),
        "next_item": next_item_signal(next_items),
        "text": cosine_signal(text, "text"),
    }


WEIGHTS = {"rules": 1.0, "co_occurrence": 1.0, "next_item": 0.5, "text": 0.5}
COLUMNS = ("src_item_id", "dst_item_id", "rule_lift", "rule_confidence", "co_count", "co_cosine",
           "next_confidence", "text_cosine", "directed", "weight", "rank")
SCHEMA = ("src_item_id string, dst_item_id string, rule_lift double, rule_confidence double, co_count long, "
          "co_cosine double, next_confidence double, text_cosine double, directed boolean, weight double, rank int")


def test_fused_weights_evidence_and_direction(spark, signals):
    # weight = 1 * (1 - 1/lift) + 1 * co_cosine + 0.5 * next_confidence + 0.5 * max(text cosine, 0)
    got = fuse_edges(signals, FusionParams(weights=WEIGHTS, top_k=2)).select(*COLUMNS)
    expected = spark.createDataFrame([
        ("a", "b", 2.0, 0.5, 2, C, None, None, False, 0.5 + C, 1),
        ("b", "a", 2.0, None, 2, C, None, None, False, 0.5 + C, 1),
        ("a", "c", None, None, 2, C, None, None, False, C, 2),
        ("c", "a", None, None, 2, C, None, None, False, C, 1),
        ("b", "c", None, None, 1, 0.5, 0.8, None, True, 0.5 + 0.4, 2),  # next-item: only b -> c
        ("c", "b", None, None, 1, 0.5, None, None, False, 0.5, 2),
        ("c", "d", None, None, None, None, None, 0.6, False, 0.3, 3),  # kept: c is d's top edge
        ("d", "c", None, None, None, None, None, 0.6, False, 0.3, 1),
        # a-d: cosine -0.2 scores 0, weight 0: dropped
    ], SCHEMA)
    assert_approx_df_equality(got, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True)


def pairs(frame):
    return {(r["src_item_id"], r["dst_item_id"]) for r in frame.collect()}


def test_cap_union_keeps_a_pair_in_either_top_k_and_mutual_only_in_both(spark, signals):
    union = fuse_edges(signals, FusionParams(weights=WEIGHTS, top_k=1, cap_mode="union"))
    assert pairs(union) == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a"), ("c", "d"), ("d", "c")}
    mutual = fuse_edges(signals, FusionParams(weights=WEIGHTS, top_k=1, cap_mode="mutual"))
    assert pairs(mutual) == {("a", "b"), ("b", "a")}


def test_a_missing_signal_is_simply_absent_and_bad_weights_are_rejected(spark, signals):
    only_rules = fuse_edges({"rules": signals["rules"]}, FusionParams(weights={"rules": 2.0}))
    assert {(r["src_item_id"], r["dst_item_id"], r["weight"]) for r in only_rules.collect()} == {
        ("a", "b", 1.0), ("b", "a", 1.0)}
    with pytest.raises(ValueError, match="unknown signal 'price'"):
        FusionParams(weights={"price": 1.0}).validate()
    with pytest.raises(ValueError, match="cap_mode"):
        FusionParams(cap_mode="both").validate()
