"""The association-rules tables written by jobs/fpgrowth.py (all partitioned by `dt`, the run date)."""

from pyspark.sql import types as T

FREQUENT_ITEMSETS = "frequent_itemsets"
ASSOCIATION_RULES = "association_rules"
BOUGHT_TOGETHER = "bought_together"
CATEGORY_RULES = "category_rules"
BUNDLES = "bundles"

# The `status` of a rule: kept, or the first pruning step that removed it (in this order of precedence).
KEPT = "kept"
PRIVACY = "privacy"  # n_ab below pruning.privacy_min_count
NOT_SIGNIFICANT = "not_significant"  # BH-adjusted p-value above fdr_alpha
REDUNDANT = "redundant"  # a rule with a proper-subset antecedent is at least as confident
STATUSES = (KEPT, PRIVACY, NOT_SIGNIFICANT, REDUNDANT)
# The `status` of a frequent itemset or bundle: kept, or privacy (count below pruning.privacy_min_count).
ITEMSET_STATUSES = (KEPT, PRIVACY)

_STR_ARRAY = T.ArrayType(T.StringType(), True)

FREQUENT_ITEMSETS_SCHEMA = T.StructType(
    [
        T.StructField("items", _STR_ARRAY, False),  # sorted ascending
        T.StructField("size", T.IntegerType(), False),
        T.StructField("count", T.LongType(), False),  # baskets containing every item
        T.StructField("support", T.DoubleType(), False),  # count / baskets
        T.StructField("status", T.StringType(), False),  # kept | privacy (ITEMSET_STATUSES)
        T.StructField("dt", T.DateType(), False),
    ]
)

# The columns every rule table shares: counts, metrics, significance, pruning.
RULE_METRIC_FIELDS = [
    T.StructField("rule_length", T.IntegerType(), False),  # |antecedent| + 1
    T.StructField("n_ab", T.LongType(), False),
    T.StructField("n_a", T.LongType(), False),
    T.StructField("n_b", T.LongType(), False),
    T.StructField("n", T.LongType(), False),
    T.StructField("support", T.DoubleType(), False),
    T.StructField("confidence", T.DoubleType(), False),
    T.StructField("lift", T.DoubleType(), False),
    T.StructField("antecedent_support", T.DoubleType(), False),
    T.StructField("consequent_support", T.DoubleType(), False),
    T.StructField("leverage", T.DoubleType(), False),
    T.StructField("conviction", T.DoubleType(), True),  # null = infinite (confidence 1)
    T.StructField("zhangs_metric", T.DoubleType(), True),  # null when 0/0
    T.StructField("jaccard", T.DoubleType(), False),
    T.StructField("kulczynski", T.DoubleType(), False),
    T.StructField("certainty_factor", T.DoubleType(), False),
    T.StructField("p_value", T.DoubleType(), False),  # one-sided Fisher exact (positive association)
    T.StructField("p_adjusted", T.DoubleType(), False),  # Benjamini-Hochberg over all candidate rules
    T.StructField("max_sub_confidence", T.DoubleType(), True),  # best proper-subset rule; null if none
    T.StructField("status", T.StringType(), False),
]

ASSOCIATION_RULES_SCHEMA = T.StructType(
    [
        T.StructField("antecedent", _STR_ARRAY, False),  # sorted item ids
        T.StructField("consequent", T.StringType(), False),
        T.StructField("antecedent_titles", _STR_ARRAY, False),  # same order; null element = no title
        T.StructField("consequent_title", T.StringType(), True),
        *RULE_METRIC_FIELDS,
        T.StructField("dt", T.DateType(), False),
    ]
)

CATEGORY_RULES_SCHEMA = T.StructType(
    [
        T.StructField("antecedent", _STR_ARRAY, False),  # sorted category paths
        T.StructField("consequent", T.StringType(), False),
        T.StructField("cross_category", T.BooleanType(), False),  # consequent's top category not in antecedent's
        *RULE_METRIC_FIELDS,
        T.StructField("dt", T.DateType(), False),
    ]
)

BOUGHT_TOGETHER_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("rank", T.IntegerType(), False),  # 1 = best companion
        T.StructField("companion_id", T.StringType(), False),
        T.StructField("companion_title", T.StringType(), True),
        T.StructField("metric", T.StringType(), False),  # the ranking metric's name
        T.StructField("score", T.DoubleType(), True),  # its value (null conviction = infinite, ranked first)
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("lift", T.DoubleType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)

BUNDLES_SCHEMA = T.StructType(
    [
        T.StructField("items", _STR_ARRAY, False),
        T.StructField("titles", _STR_ARRAY, False),
        T.StructField("size", T.IntegerType(), False),
        T.StructField("count", T.LongType(), False),
        T.StructField("support", T.DoubleType(), False),
        T.StructField("all_confidence", T.DoubleType(), False),  # count / max single-item count
        T.StructField("bundle_price", T.DoubleType(), True),  # sum of latest prices; null if any unknown
        T.StructField("status", T.StringType(), False),  # kept | privacy (ITEMSET_STATUSES)
        T.StructField("dt", T.DateType(), False),
    ]
)
