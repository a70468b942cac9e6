"""Tables written by the ingest job besides the canonical `events` and `items`, and its reasons."""

from pyspark.sql import types as T

QUARANTINE = "quarantine"
INGEST_AUDIT = "ingest_audit"
INGEST_FILES = "ingest_files"  # raw line counts per input file, counted apart from the parser
EVENT_SEQUENCES = "event_sequences"  # position of an event in its basket (cart order), when exported

SOURCES = ("generic", "online_retail", "retailrocket", "taobao")

# Quarantine reasons, in the order the rules are checked (a row gets the first that applies).
MALFORMED_LINE = "malformed_line"  # wrong column count, broken quoting, invalid JSON
ORDER_NOT_FOUND = "order_not_found"  # a line of a two-file export whose order is not in the orders file
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
        T.StructField("event_time_from", T.StringType(), True),  # column(s), "run date ..." or "constant ..."
        T.StructField("repeated_lines", T.StringType(), True),  # collapse | sum (duplicates = lines folded)
    ]
)

# One row per input file; dt = the date in the file's path when inside the run, else the run's first date.
# raw_lines counts the file's bytes split on "\n"; it must equal header_lines + blank_lines + parsed_rows.
INGEST_FILES_SCHEMA = T.StructType(
    [
        T.StructField("dt", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("file", T.StringType(), False),
        T.StructField("role", T.StringType(), False),  # events | orders (the orders file of a two-file export)
        T.StructField("raw_lines", T.LongType(), True),  # null for Parquet (no lines)
        T.StructField("header_lines", T.LongType(), False),
        T.StructField("blank_lines", T.LongType(), False),
        T.StructField("parsed_rows", T.LongType(), False),
        T.StructField("orders_without_lines", T.LongType(), True),  # orders file only
    ]
)

EVENT_SEQUENCES_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("order_id", T.StringType(), True),
        T.StructField("sequence", T.IntegerType(), False),
        T.StructField("dt", T.DateType(), False),
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
        T.StructField("sequence", T.IntegerType(), True),  # position in the basket (cart order)
        T.StructField("sequence_raw", T.StringType(), True),
    ]
)
STAGED_COLUMNS = tuple(f.name for f in STAGED_SCHEMA.fields)

# Columns the reader adds and every later step carries along.
SOURCE_FILE = "_source_file"
FILE_DT = "_file_dt"
RAW = "_raw"  # struct of the raw columns, all strings
RAW_RECORD = "_raw_record"  # the record as text (dedup key); the verbatim line when malformed
CORRUPT = "_corrupt_record"
ORDER_FOUND = "_order_found"  # two-file exports: false when the line's order is not in the orders file
READER_COLUMNS = (SOURCE_FILE, FILE_DT, RAW, RAW_RECORD, CORRUPT, ORDER_FOUND)
