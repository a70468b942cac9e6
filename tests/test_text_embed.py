"""lib/text normalisation, the ONNX encoder and the incremental item_embeddings flow."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import numpy as np
import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.events import ITEMS_SCHEMA
from lib.schemas.text import ITEM_EMBEDDINGS_SCHEMA
from lib.text.embed import item_embeddings
from lib.text.model import MINILM_L6_INT8, ModelRef, cached_encoder
from lib.text.normalise import filter_items_without_text, with_item_text

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing may come from a model hub
MODEL = ModelRef(MINILM_L6_INT8.name)
DAY1, DAY2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
SEEN = dt.date(2024, 1, 1)


def items_frame(spark, rows):
    return spark.createDataFrame([(*r, None, SEEN, SEEN) for r in rows], ITEMS_SCHEMA)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_item_text_cleans_joins_and_hashes(spark):
    items = items_frame(spark, [
        ("a", "  WHITE  HANGING\tHEART ", None, None),          # title only, white space squeezed
        ("b", "Mug", "kitchen-premium-2", "kitchen/premium/kitchen-premium-2"),  # path wins
        ("c", None, "garden_tools", None),                      # category only
        ("d", "   ", None, None),                               # nothing: left out
        ("e", None, None, None),                                # nothing: left out
    ])
    expected = spark.createDataFrame(
        [(i, t, sha(t)) for i, t in [
            ("a", "WHITE HANGING HEART"),
            ("b", "Mug | kitchen > premium > kitchen premium 2"),
            ("c", "garden tools"),
        ]],
        T.StructType([T.StructField("item_id", T.StringType(), False), T.StructField("text", T.StringType(), True),
                      T.StructField("text_hash", T.StringType(), True)]),
    )
    assert_df_equality(with_item_text(items), expected, ignore_row_order=True, ignore_nullable=True)
    assert sorted(r.item_id for r in filter_items_without_text(items).collect()) == ["d", "e"]


def test_item_text_uses_a_description_column(spark):
    items = items_frame(spark, [("a", "Mug", None, None)]).withColumn("description", F.lit("Blue  stoneware"))
    assert with_item_text(items).first().text == "Mug | Blue stoneware"


def test_encoder_is_offline_unit_length_batch_independent_and_sensible():
    encoder = cached_encoder(MODEL)
    assert cached_encoder(MODEL) is encoder  # loaded once per process
    texts = ["ALARM CLOCK BAKELIKE RED", "ALARM CLOCK BAKELIKE PINK", "JUMBO BAG RED RETROSPOT",
             "RED RETROSPOT SHOPPING BAG", "SET OF 3 CAKE TINS PANTRY DESIGN"]
    vectors = encoder.encode(texts, batch_size=2)
    assert vectors.shape == (5, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    np.testing.assert_allclose(vectors, one_by_one, atol=1e-5)  # padding does not change a vector
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2] and sims[2, 3] > sims[2, 4]  # clock ~ clock, bag ~ bag
    assert encoder.encode([]).shape == (0, 384)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown text model 'bert-huge'"):
        ModelRef("bert-huge").spec


def test_rerun_embeds_only_new_and_changed_items(spark):
    day1 = items_frame(spark, [("a", "Red alarm clock", None, None), ("b", "Blue mug", None, None),
                               ("c", "Garden trowel", None, None), ("x", None, None, None)])
    empty = spark.createDataFrame([], ITEM_EMBEDDINGS_SCHEMA)
    first = item_embeddings(day1, empty, MODEL, DAY1).collect()
    assert sorted((r.item_id, r.embedded_dt) for r in first) == [("a", DAY1), ("b", DAY1), ("c", DAY1)]
    previous = spark.createDataFrame(first, ITEM_EMBEDDINGS_SCHEMA)
    # b's title changes, c is unchanged, d is new, a has left the catalogue
    day2 = items_frame(spark, [("b", "Blue stoneware mug", None, None), ("c", "Garden trowel", None, None),
                               ("d", "Watering can", None, None)])
    second = {r.item_id: r for r in item_embeddings(day2, previous, MODEL, DAY2).collect()}
    assert {i: r.embedded_dt for i, r in second.items()} == {"b": DAY2, "c": DAY1, "d": DAY2}
    assert all(r.dt == DAY2 and r.dimension == 384 and r.model == MODEL.name for r in second.values())
    old = {r.item_id: r for r in first}
    assert second["c"].vector == old["c"].vector and second["c"].text_hash == old["c"].text_hash
    assert second["b"].text_hash == sha("Blue stoneware mug") != old["b"].text_hash
    expected_d = cached_encoder(MODEL).encode(["Watering can"])[0]
    np.testing.assert_allclose(np.asarray(second["d"].vector), expected_d, atol=1e-5)


def test_another_model_version_embeds_everything_again(spark):
    items = items_frame(spark, [("a", "Red alarm clock", None, None)])
    stale = spark.createDataFrame(
        [("a", MODEL.name, "old-version", 384, [0.0] * 384, sha("Red alarm clock"), DAY1, DAY1)],
        ITEM_EMBEDDINGS_SCHEMA)
    row = item_embeddings(items, stale, MODEL, DAY2).first()
    assert row.embedded_dt == DAY2 and row.model_version == MINILM_L6_INT8.version
