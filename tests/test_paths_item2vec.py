"""lib.paths.item2vec: the training sentences by hand, and Word2Vec separating two behaviour groups."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from lib.paths.item2vec import Item2VecParams, fit_item2vec, purchase_sentences, session_sentences, similar_by_behaviour
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.paths import USER_BASKETS_SCHEMA


def test_purchase_and_session_sentences(spark):
    t = dt.datetime(2024, 3, 1, 12)
    baskets = spark.createDataFrame(
        [("u1", "o2", t, t.date(), 2, 3, ["c"]), ("u1", "o1", t, t.date(), 1, None, ["a", "b"]),
         ("u2", "o3", t, t.date(), 1, None, ["d"])],
        USER_BASKETS_SCHEMA,
    )
    assert_df_equality(purchase_sentences(baskets), spark.createDataFrame([(["a", "b", "c"],), (["d"],)],
                       "sentence array<string>"), ignore_row_order=True, ignore_nullable=True)

    def ev(i: int, session: str | None, item: str, kind: str, minute: int) -> tuple:
        time = t + dt.timedelta(minutes=minute)
        return (f"e{i}", time, "u1", session, None, item, kind, None, None, "test", time.date())

    events = spark.createDataFrame(
        [ev(1, "s1", "b", "view", 2), ev(2, "s1", "a", "view", 1), ev(3, "s1", "a", "cart", 1),  # a a: once
         ev(4, "s1", "a", "view", 3),  # a again after b: kept
         ev(5, "s1", "z", "fav", 4),  # not a sentence event type
         ev(6, None, "q", "view", 1)],  # no session
        EVENTS_SCHEMA,
    )
    actual = session_sentences(events, ("view", "cart"))
    assert_df_equality(actual, spark.createDataFrame([(["a", "b", "a"],)], "sentence array<string>"),
                       ignore_nullable=True)


def test_item2vec_puts_co_used_items_together(spark):
    groups = [["a", "b", "c", "d"], ["w", "x", "y", "z"]]
    corpus = [(g[i:] + g[:i],) for g in groups for i in range(4)] * 30  # rotations of each group
    sentences = spark.createDataFrame(corpus, "sentence array<string>")
    params = Item2VecParams(vector_size=8, window_size=3, min_count=1, max_iter=3, num_partitions=1, seed=7)
    embeddings = fit_item2vec(sentences, params)
    similar = similar_by_behaviour(embeddings, k=3, num_blocks=2)
    same_group = {(item, other) for g in groups for item in g for other in g if other != item}
    pairs = {(r["item_id"], r["similar_item_id"]) for r in similar.collect()}  # 8 items x 3 rows
    assert pairs == same_group
    assert embeddings.count() == 8 and len(embeddings.first()["features"]) == 8
