"""Tables of the recommender (jobs/als.py) and the frames its library functions exchange.

Every recommender in `lib.recs` returns RECOMMENDATIONS_SCHEMA (top-K rows per user); the job adds
`dt` when it writes `user_recommendations`.
"""

from pyspark.sql import types as T

USER_FACTORS = "user_factors"
ITEM_FACTORS = "item_factors"
USER_RECOMMENDATIONS = "user_recommendations"
SIMILAR_ITEMS = "similar_items"
ID_MAP_USERS = "id_map_users"
ID_MAP_ITEMS = "id_map_items"

# Values of the `source` column: which model (or which cold-start path) produced a row.
SOURCE_POPULARITY = "popularity"
SOURCE_BUY_AGAIN = "buy_again"
SOURCE_CO_OCCURRENCE = "co_occurrence"
SOURCE_ALS = "als"
SOURCE_COLD_START_CATEGORY = "cold_start_category"
SOURCE_COLD_START_POPULAR = "cold_start_popular"
SOURCE_HYBRID = "hybrid"

USER_ID_COL, ITEM_ID_COL = "user_id", "item_id"
USER_IDX_COL, ITEM_IDX_COL = "user_idx", "item_idx"

RECOMMENDATIONS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),  # 1 = best
        T.StructField("item_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),  # comparable only within one source
        T.StructField("source", T.StringType(), False),
    ]
)

CONFIDENCE_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("item_id", T.StringType(), False),
        T.StructField("confidence", T.DoubleType(), False),
    ]
)

PURCHASES_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("item_id", T.StringType(), False),
        T.StructField("event_time", T.TimestampType(), False),
        T.StructField("quantity", T.IntegerType(), True),
    ]
)

# Item-item companions: from the FPGrowth job's `bought_together` table or from basket co-occurrence.
BOUGHT_TOGETHER_INPUT_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("companion_item_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),
    ]
)

ID_MAP_USERS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("user_idx", T.IntegerType(), False),
    ]
)

ID_MAP_ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("item_idx", T.IntegerType(), False),
    ]
)

USER_FACTORS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("user_idx", T.IntegerType(), False),
        T.StructField("features", T.ArrayType(T.FloatType(), False), False),
        T.StructField("dt", T.DateType(), False),
    ]
)

ITEM_FACTORS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("item_idx", T.IntegerType(), False),
        T.StructField("features", T.ArrayType(T.FloatType(), False), False),
        T.StructField("dt", T.DateType(), False),
    ]
)

USER_RECOMMENDATIONS_SCHEMA = T.StructType([*RECOMMENDATIONS_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])

SIMILAR_ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("similar_item_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),  # cosine of the two items' ALS factors
        T.StructField("dt", T.DateType(), False),
    ]
)
