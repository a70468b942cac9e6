"""lib.graph.arrays: dense-vector column helpers."""

from __future__ import annotations

from chispa import assert_approx_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.graph.arrays import unit

SCHEMA = T.StructType([T.StructField("id", T.StringType(), False),
                       T.StructField("v", T.ArrayType(T.FloatType(), True), True)])
EXPECTED = T.StructType([T.StructField("id", T.StringType(), False),
                         T.StructField("u", T.ArrayType(T.DoubleType(), True), True)])


def test_unit_divides_by_the_length_and_is_null_without_a_direction(spark):
    frame = spark.createDataFrame(
        [("a", [3.0, 4.0]), ("b", [0.0, -2.0, 0.0]), ("zero", [0.0, 0.0]), ("null", None), ("one", [5.0])], SCHEMA)
    result = frame.select("id", unit(F.col("v")).alias("u"))
    expected = spark.createDataFrame(
        [("a", [0.6, 0.8]), ("b", [0.0, -1.0, 0.0]), ("zero", None), ("null", None), ("one", [1.0])], EXPECTED)
    assert_approx_df_equality(result, expected, precision=1e-12, ignore_row_order=True)


def test_unit_computes_the_length_once_per_vector_not_once_per_element(spark):
    # A length column inside the element lambda is re-evaluated for every element (d^2 per vector):
    # the squared length must be the one aggregate, bound in its finish function.
    assert str(unit(F.col("v"))).lower().count("aggregate") == 1
