"""The evaluation job's table: one row per (run, window, model, params, view, slice, metric)."""

from pyspark.sql import types as T

EVALUATION_METRICS = "evaluation_metrics"

# Windows: hyperparameters are chosen on "tuning"; "final" (later, never seen while tuning) is reported.
WINDOW_TUNING, WINDOW_FINAL = "tuning", "final"
# Views of the test days: every purchase of the test window, or each user's first basket after the split.
VIEW_WINDOW, VIEW_NEXT_BASKET = "window", "next_basket"
VIEWS = (VIEW_WINDOW, VIEW_NEXT_BASKET)
# Slices of a view's truth: every test purchase; only items the user had not bought in training;
# only items nobody bought in training.
SLICE_ALL, SLICE_NEW_ITEMS, SLICE_COLD_ITEMS = "all", "new_items", "cold_items"
SLICES = (SLICE_ALL, SLICE_NEW_ITEMS, SLICE_COLD_ITEMS)

EVALUATION_METRICS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("window", T.StringType(), False),  # tuning | final
        T.StructField("model", T.StringType(), False),  # a candidate source (popularity, buy_again, ...) or hybrid
        T.StructField("params", T.StringType(), False),  # JSON object, keys sorted
        T.StructField("selected", T.BooleanType(), False),  # the chosen point of the grid (all final rows)
        T.StructField("view", T.StringType(), False),  # window | next_basket
        T.StructField("slice", T.StringType(), False),  # all | new_items | cold_items
        T.StructField("metric", T.StringType(), False),  # precision recall ndcg map hit_rate coverage novelty
        T.StructField("k", T.IntegerType(), False),
        T.StructField("value", T.DoubleType(), True),  # null when the slice has no user
        T.StructField("users", T.LongType(), False),  # users the value averages over
        T.StructField("train_start", T.DateType(), True),  # null: all history before train_end
        T.StructField("train_end", T.DateType(), False),  # last training day (inclusive)
        T.StructField("test_start", T.DateType(), False),
        T.StructField("test_end", T.DateType(), False),  # inclusive
        T.StructField("dt", T.DateType(), False),  # the run date
    ]
)
