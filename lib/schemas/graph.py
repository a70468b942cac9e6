"""Tables of the product graph (jobs/graph.py), all partitioned by `dt`, the run date.

item_graph: one row per ordered pair (src_item_id, dst_item_id). Symmetric signals (rules,
co-occurrence, cosines) appear in both directions with the same evidence; the next-item signal only
from src to dst (`directed` = true when it contributes). Null evidence = the signal has no such pair.
"""

from pyspark.sql import types as T

ITEM_GRAPH = "item_graph"
ITEM_COMMUNITIES = "item_communities"
CROSS_CATEGORY_BRIDGES = "cross_category_bridges"
GRAPH_BUNDLES = "graph_bundles"
ITEM_GRAPH_EMBEDDINGS = "item_graph_embeddings"

# Optional inputs written by other jobs (a missing table is a missing signal).
ITEM_EMBEDDINGS = "item_embeddings"  # text embeddings: item_id, vector array<float>
ITEM_BEHAVIOUR_EMBEDDINGS = "item_behaviour_embeddings"  # item_id, vector array<float>
NEXT_ITEMS = "next_items"  # item_id -> next_item_id, confidence, count

# Signal names: keys of [fusion.weights] in conf/graph.toml.
SIGNAL_RULES, SIGNAL_CO_OCCURRENCE, SIGNAL_NEXT_ITEM = "rules", "co_occurrence", "next_item"
SIGNAL_ALS, SIGNAL_TEXT, SIGNAL_BEHAVIOUR = "als", "text", "behaviour"
SIGNALS = (SIGNAL_RULES, SIGNAL_CO_OCCURRENCE, SIGNAL_NEXT_ITEM, SIGNAL_ALS, SIGNAL_TEXT, SIGNAL_BEHAVIOUR)

BRIDGE_COMMUNITY, BRIDGE_CATEGORY, BRIDGE_BOTH = "community", "category", "community_and_category"
SOURCE_GRAPH = "graph"  # the `source` of graph bundles and the recommendations' source prefix
SOURCE_GRAPH_PROPAGATION = "graph_propagation"

_STR_ARRAY = T.ArrayType(T.StringType(), True)
_FLOAT_ARRAY = T.ArrayType(T.FloatType(), False)

# The evidence of one edge, per signal; shared by item_graph and cross_category_bridges.
EVIDENCE_FIELDS = [
    T.StructField("rule_lift", T.DoubleType(), True),  # best lift of a kept 1-item rule either way
    T.StructField("rule_confidence", T.DoubleType(), True),  # confidence of the rule src -> dst
    T.StructField("rule_n_ab", T.LongType(), True),  # baskets with both
    T.StructField("co_count", T.LongType(), True),  # baskets with both (events of the window)
    T.StructField("co_cosine", T.DoubleType(), True),  # co_count / sqrt(n_src * n_dst)
    T.StructField("next_confidence", T.DoubleType(), True),  # P(next = dst | src), directed
    T.StructField("next_count", T.LongType(), True),
    T.StructField("als_cosine", T.DoubleType(), True),
    T.StructField("text_cosine", T.DoubleType(), True),
    T.StructField("behaviour_cosine", T.DoubleType(), True),
]
EVIDENCE_COLUMNS = tuple(f.name for f in EVIDENCE_FIELDS)

# The graph as the library exchanges it (no dt).
EDGES_SCHEMA = T.StructType(
    [
        T.StructField("src_item_id", T.StringType(), False),
        T.StructField("dst_item_id", T.StringType(), False),
        *EVIDENCE_FIELDS,
        T.StructField("directed", T.BooleanType(), False),  # the next-item signal contributes
        T.StructField("weight", T.DoubleType(), False),  # fused weight (docs/graph.md)
        T.StructField("rank", T.IntegerType(), False),  # 1 = src's strongest edge
    ]
)
ITEM_GRAPH_SCHEMA = T.StructType([*EDGES_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])

ITEM_COMMUNITIES_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("title", T.StringType(), True),
        T.StructField("top_category", T.StringType(), True),  # first segment of category_path
        T.StructField("community_id", T.StringType(), False),  # the label: one member's item id
        T.StructField("community_name", T.StringType(), False),
        T.StructField("community_size", T.LongType(), False),
        T.StructField("pagerank", T.DoubleType(), False),  # sums to 1 over the graph's items
        T.StructField("hub_rank", T.IntegerType(), False),  # rank by pagerank within the community
        T.StructField("is_hub", T.BooleanType(), False),  # among the top hubs of the whole graph
        T.StructField("dt", T.DateType(), False),
    ]
)

CROSS_CATEGORY_BRIDGES_SCHEMA = T.StructType(
    [
        T.StructField("rank", T.IntegerType(), False),  # 1 = strongest bridge
        T.StructField("item_a", T.StringType(), False),  # item_a < item_b
        T.StructField("item_b", T.StringType(), False),
        T.StructField("title_a", T.StringType(), True),
        T.StructField("title_b", T.StringType(), True),
        T.StructField("community_a", T.StringType(), False),
        T.StructField("community_b", T.StringType(), False),
        T.StructField("category_a", T.StringType(), True),
        T.StructField("category_b", T.StringType(), True),
        T.StructField("kind", T.StringType(), False),  # community | category | community_and_category
        T.StructField("weight", T.DoubleType(), False),  # the stronger direction's fused weight
        *EVIDENCE_FIELDS,
        T.StructField("dt", T.DateType(), False),
    ]
)

GRAPH_BUNDLES_SCHEMA = T.StructType(
    [
        T.StructField("items", _STR_ARRAY, False),  # sorted ascending; a clique of strong edges
        T.StructField("titles", _STR_ARRAY, False),
        T.StructField("size", T.IntegerType(), False),
        T.StructField("community_id", T.StringType(), False),
        T.StructField("min_weight", T.DoubleType(), False),  # weakest edge inside the bundle
        T.StructField("count", T.LongType(), False),  # baskets containing every item
        T.StructField("support", T.DoubleType(), False),  # count / baskets
        T.StructField("all_confidence", T.DoubleType(), False),  # count / max single-item count
        T.StructField("bundle_price", T.DoubleType(), True),  # null if any price unknown
        T.StructField("status", T.StringType(), False),  # kept | privacy (lib.schemas.rules.ITEMSET_STATUSES)
        T.StructField("source", T.StringType(), False),  # graph
        T.StructField("dt", T.DateType(), False),
    ]
)

EMBEDDINGS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("vector", _FLOAT_ARRAY, False),
    ]
)
ITEM_GRAPH_EMBEDDINGS_SCHEMA = T.StructType([*EMBEDDINGS_SCHEMA.fields, T.StructField("dt", T.DateType(), False)])

NEXT_ITEMS_INPUT_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("next_item_id", T.StringType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("count", T.LongType(), True),
    ]
)
