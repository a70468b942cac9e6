"""Tables written by the ingest job besides the canonical `events` and `items`, and its reasons."""

from pyspark.sql import types as T

QUARANTINE = "quarantine"
INGEST_AUDIT = "ingest_audit"

SOURCES = ("generic", "online_retail", "retailrocket", "taobao")

# Quarantine reasons, in the order the rules are checked (a row gets the first that applies).
MALFORMED_LINE = "malformed_line"  # wrong column count, broken quoting, invalid JSON
UNDECODABLE_TEXT = "undecodable_text"  # bytes that are not valid in the configured encoding
MISSING_PREFIX = "missing_"  # + canonical field: missing_item_id, missing_event_time, ...
BAD_TIMESTAMP = "bad_timestamp"  # present but not in the configured format
TIMESTAMP_BEFORE_FLOOR = "timestamp_before_floor"
FUTURE_TIMESTAMP = "future_timestamp"
DATE_MISMATCH = "date_mismatch"  # event date differs from the date in the file's path
UNKNOWN_EVENT_TYPE = "unknown_event_type"
BAD_NUMBER = "bad_number"  # quantity or price present but not a number
NON_PRODUCT_ITEM = "non_product_item"  # excluded by the source's list / pattern
NON_POSITIVE_QUANTITY = "non_positive_quantity"
NON_POSITIVE_PRICE = "non_positive_price"
QUANTITY_OUTLIER = "quantity_outlier"

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("dt", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("source_file", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),
        T.StructField("raw_record", T.StringType(), True),
    ]
)

INGEST_AUDIT_SCHEMA = T.StructType(
    [
        T.StructField("dt", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("input_path", T.StringType(), False),
        T.StructField("run_started_at", T.TimestampType(), False),
        T.StructField("input_rows", T.LongType(), False),
        T.StructField("accepted", T.LongType(), False),
        T.StructField("duplicates", T.LongType(), False),
        T.StructField("quarantined", T.LongType(), False),
        T.StructField("quarantined_by_reason", T.MapType(T.StringType(), T.LongType(), False), False),
    ]
)

# The contract between a source adapter and the cleaning rules: every adapter returns exactly these
# columns (one output row per input row, nothing dropped), plus the reader's `_`-prefixed columns.
STAGED_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), True),  # null: derived from the record later
        T.StructField("event_time", T.TimestampType(), True),  # null: missing or unparseable
        T.StructField("event_time_raw", T.StringType(), True),
        T.StructField("user_id", T.StringType(), True),  # still in clear here
        T.StructField("session_id", T.StringType(), True),
        T.StructField("order_id", T.StringType(), True),
        T.StructField("item_id", T.StringType(), True),
        T.StructField("event_type", T.StringType(), True),  # canonical, null when unknown
        T.StructField("event_type_raw", T.StringType(), True),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("quantity_raw", T.StringType(), True),
        T.StructField("unit_price", T.DoubleType(), True),
        T.StructField("unit_price_raw", T.StringType(), True),
        T.StructField("title", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("category_path", T.StringType(), True),
    ]
)
STAGED_COLUMNS = tuple(f.name for f in STAGED_SCHEMA.fields)

# Columns the reader adds and every later step carries along.
SOURCE_FILE = "_source_file"
FILE_DT = "_file_dt"
RAW = "_raw"  # struct of the raw columns, all strings
RAW_RECORD = "_raw_record"  # the record as text (dedup key); the verbatim line when malformed
CORRUPT = "_corrupt_record"
READER_COLUMNS = (SOURCE_FILE, FILE_DT, RAW, RAW_RECORD, CORRUPT)
