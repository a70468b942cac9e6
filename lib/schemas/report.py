"""The report job's table and where its HTML goes (jobs/report.py)."""

from pyspark.sql import types as T

RULE_TRENDS = "rule_trends"
REPORTS_DIR = "_reports"  # under the warehouse: <warehouse>/_reports/report-<dt>.html

# `change` of a rule between the previous run date and the run date.
APPEARED = "appeared"  # kept now, not kept (or not mined) then
VANISHED = "vanished"  # kept then, not kept (or not mined) now
STRENGTHENED = "strengthened"  # kept on both dates, support up and the change significant
WEAKENED = "weakened"  # kept on both dates, support down and the change significant
STABLE = "stable"  # kept on both dates, the change not significant
CHANGES = (APPEARED, VANISHED, STRENGTHENED, WEAKENED, STABLE)

_STR_ARRAY = T.ArrayType(T.StringType(), True)

RULE_TRENDS_SCHEMA = T.StructType(
    [
        T.StructField("antecedent", _STR_ARRAY, False),
        T.StructField("consequent", T.StringType(), False),
        T.StructField("antecedent_titles", _STR_ARRAY, True),
        T.StructField("consequent_title", T.StringType(), True),
        T.StructField("change", T.StringType(), False),  # CHANGES
        T.StructField("rank", T.IntegerType(), False),  # within `change`: significant first, then |delta_lift|
        T.StructField("status", T.StringType(), True),  # association_rules.status on dt; null: not mined
        T.StructField("previous_status", T.StringType(), True),  # ... on previous_dt
        T.StructField("n_ab", T.LongType(), True),
        T.StructField("previous_n_ab", T.LongType(), True),
        T.StructField("n", T.LongType(), True),  # baskets of the window ending at dt; null: no rules then
        T.StructField("previous_n", T.LongType(), True),
        T.StructField("support", T.DoubleType(), True),
        T.StructField("previous_support", T.DoubleType(), True),
        T.StructField("delta_support", T.DoubleType(), False),  # a rule not mined counts as support 0
        T.StructField("confidence", T.DoubleType(), True),
        T.StructField("previous_confidence", T.DoubleType(), True),
        T.StructField("lift", T.DoubleType(), True),
        T.StructField("previous_lift", T.DoubleType(), True),
        T.StructField("delta_lift", T.DoubleType(), False),  # a rule not mined counts as lift 1
        T.StructField("z", T.DoubleType(), True),  # two-proportion z of support; null: undefined
        T.StructField("p_value", T.DoubleType(), True),  # two-sided
        T.StructField("significant", T.BooleanType(), False),  # p_value < alpha
        T.StructField("previous_dt", T.DateType(), False),
        T.StructField("dt", T.DateType(), False),
    ]
)
