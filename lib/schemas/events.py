"""The canonical shop tables written by ingest and read by every analysis job."""

from pyspark.sql import types as T

EVENTS = "events"
ITEMS = "items"

# Canonical event types; returns carry a positive quantity and subtract in the analyses.
VIEW, CART, FAV, PURCHASE, RETURN = "view", "cart", "fav", "purchase", "return"
EVENT_TYPES = (VIEW, CART, FAV, PURCHASE, RETURN)

EVENTS_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("event_time", T.TimestampType(), False),
        T.StructField("user_id", T.StringType(), True),  # pseudonymised; null when the shop has none
        T.StructField("session_id", T.StringType(), True),
        T.StructField("order_id", T.StringType(), True),
        T.StructField("item_id", T.StringType(), False),
        T.StructField("event_type", T.StringType(), False),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("unit_price", T.DoubleType(), True),
        T.StructField("source", T.StringType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)

ITEMS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("title", T.StringType(), True),
        T.StructField("category", T.StringType(), True),  # the leaf category
        T.StructField("category_path", T.StringType(), True),  # "top/sub/leaf" where known
        T.StructField("latest_price", T.DoubleType(), True),
        T.StructField("first_seen", T.DateType(), False),
        T.StructField("last_seen", T.DateType(), False),
    ]
)
