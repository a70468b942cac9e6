"""Tables of the text job (jobs/embed.py), all partitioned by `dt` (the run date), and the frames
its library functions exchange (lib/text/*)."""

from pyspark.sql import types as T

ITEM_EMBEDDINGS = "item_embeddings"
ITEM_FAMILIES = "item_families"
SIMILAR_ITEMS_TEXT = "similar_items_text"

SOURCE_TEXT = "text"  # the `source` of recommendations made in text space (lib.text.recommend)

_VECTOR = T.ArrayType(T.FloatType(), False)

ITEM_EMBEDDINGS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("model", T.StringType(), False),  # config name, e.g. minilm-l6-int8
        T.StructField("model_version", T.StringType(), False),  # another version = other vectors
        T.StructField("dimension", T.IntegerType(), False),
        T.StructField("vector", _VECTOR, False),  # unit length (cosine = dot product)
        T.StructField("text_hash", T.StringType(), False),  # sha-256 of the normalised text embedded
        T.StructField("embedded_dt", T.DateType(), False),  # run that computed the vector (carried over since)
        T.StructField("dt", T.DateType(), False),
    ]
)

ITEM_TEXT_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("text", T.StringType(), False),
        T.StructField("text_hash", T.StringType(), False),
    ]
)

ITEM_FAMILIES_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("family_id", T.IntegerType(), False),
        T.StructField("family", T.StringType(), False),  # name: the family's most representative title words
        T.StructField("family_size", T.LongType(), False),
        T.StructField("distance", T.DoubleType(), False),  # item to family centre (cosine distance)
        T.StructField("k", T.IntegerType(), False),  # number of families of the run
        T.StructField("silhouette", T.DoubleType(), True),  # of the chosen k; null when k came from config
        T.StructField("dt", T.DateType(), False),
    ]
)

SIMILAR_ITEMS_TEXT_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),  # 1 = most similar
        T.StructField("similar_item_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),  # cosine
        T.StructField("dt", T.DateType(), False),
    ]
)

# (query_id, rank, candidate_id, score): a blocked exact top-k cosine result (lib.text.similar).
TOP_K_SCHEMA = T.StructType(
    [
        T.StructField("query_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),
        T.StructField("candidate_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),
    ]
)
