"""Purchase-path tables written by jobs/paths.py (all partitioned by `dt`, the run date), and the
frames the lib.paths functions exchange."""

from pyspark.sql import types as T

PURCHASE_PATHS = "purchase_paths"
NEXT_ITEMS = "next_items"
ITEM_BEHAVIOUR_EMBEDDINGS = "item_behaviour_embeddings"
SIMILAR_BEHAVIOUR_ITEMS = "similar_behaviour_items"

# `source` of the next-purchase recommender's rows (RECOMMENDATIONS_SCHEMA in lib.schemas.recs).
SOURCE_NEXT_PURCHASE = "next_purchase"

_STR_ARRAY = T.ArrayType(T.StringType(), False)
_STEPS = T.ArrayType(_STR_ARRAY, False)

# One row per (user, basket) of purchases, in the user's time order (lib.paths.sequences.user_baskets).
USER_BASKETS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("basket_id", T.StringType(), False),
        T.StructField("basket_time", T.TimestampType(), False),  # the basket's first purchase event
        T.StructField("basket_date", T.DateType(), False),
        T.StructField("seq", T.IntegerType(), False),  # 1 = the user's first basket in the window
        T.StructField("gap_days", T.IntegerType(), True),  # days since the previous basket; null for the first
        T.StructField("items", _STR_ARRAY, False),  # sorted, unique
    ]
)

# One row per user episode: consecutive baskets no more than max_gap_days apart (lib.paths.sequences).
SEQUENCES_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("episode", T.IntegerType(), False),  # 1 = the user's first episode in the window
        T.StructField("first_date", T.DateType(), False),
        T.StructField("last_date", T.DateType(), False),
        T.StructField("n_baskets", T.IntegerType(), False),
        T.StructField("steps", _STEPS, False),  # baskets in time order, each a sorted item list
        T.StructField("gaps", T.ArrayType(T.IntegerType(), True), False),  # gap_days per step, first null
    ]
)

PURCHASE_PATHS_SCHEMA = T.StructType(
    [
        T.StructField("path", _STEPS, False),  # steps in order; each step a sorted item set
        T.StructField("path_length", T.IntegerType(), False),  # number of steps (>= 2)
        T.StructField("prefix", _STEPS, False),  # the path without its last step
        T.StructField("next_step", _STR_ARRAY, False),  # the last step
        T.StructField("n_path", T.LongType(), False),  # sequences containing the path (in order)
        T.StructField("n_prefix", T.LongType(), False),  # sequences containing the prefix
        T.StructField("n_next", T.LongType(), False),  # sequences containing the next step anywhere
        T.StructField("n_sequences", T.LongType(), False),
        T.StructField("support", T.DoubleType(), False),  # n_path / n_sequences
        T.StructField("confidence", T.DoubleType(), False),  # P(next step later | prefix) = n_path / n_prefix
        T.StructField("lift", T.DoubleType(), False),  # confidence / (n_next / n_sequences)
        T.StructField("p_value", T.DoubleType(), False),  # one-sided Fisher exact, as for the rules
        T.StructField("p_adjusted", T.DoubleType(), False),  # Benjamini-Hochberg over all paths of the run
        T.StructField("status", T.StringType(), False),  # kept | privacy | not_significant
        T.StructField("dt", T.DateType(), False),
    ]
)

NEXT_ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),  # 1 = best; kept rows rank before pruned ones
        T.StructField("next_item_id", T.StringType(), False),
        T.StructField("next_item_title", T.StringType(), True),
        T.StructField("within_days", T.IntegerType(), False),  # N of "bought after within N days"
        T.StructField("n_ab", T.LongType(), False),  # eligible users who bought next_item within N days after item
        T.StructField("n_a", T.LongType(), False),  # eligible users: first bought item >= N days before the end
        T.StructField("n_b", T.LongType(), False),  # users who bought next_item
        T.StructField("n", T.LongType(), False),  # users with a basket in the window
        T.StructField("confidence", T.DoubleType(), False),  # n_ab / n_a
        T.StructField("lift", T.DoubleType(), False),  # confidence / (n_b / n)
        T.StructField("median_days", T.IntegerType(), False),  # days from item to next_item (approx. median)
        T.StructField("p_value", T.DoubleType(), False),
        T.StructField("p_adjusted", T.DoubleType(), False),
        T.StructField("status", T.StringType(), False),  # kept | privacy | not_significant
        T.StructField("dt", T.DateType(), False),
    ]
)

ITEM_BEHAVIOUR_EMBEDDINGS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("features", T.ArrayType(T.FloatType(), False), False),  # Word2Vec vector
        T.StructField("dt", T.DateType(), False),
    ]
)

SIMILAR_BEHAVIOUR_ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("similar_item_id", T.StringType(), False),
        T.StructField("similar_item_title", T.StringType(), True),
        T.StructField("score", T.DoubleType(), False),  # cosine of the two items' behaviour embeddings
        T.StructField("dt", T.DateType(), False),
    ]
)
