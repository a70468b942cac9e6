"""Tables every job shares: the record of whole runs, and the parameters evaluate tuned for serving."""

from pyspark.sql import types as T

JOB_RUNS = "job_runs"
TUNED_PARAMETERS = "tuned_parameters"

# `status` of a job_runs row: every output committed, or the run stopped after some of them.
RUN_COMPLETE, RUN_FAILED = "complete", "failed"

JOB_RUNS_SCHEMA = T.StructType(
    [
        T.StructField("job", T.StringType(), False),
        T.StructField("run_date", T.DateType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("status", T.StringType(), False),  # complete | failed
        T.StructField("started_at", T.TimestampType(), False),
        T.StructField("finished_at", T.TimestampType(), False),
        # physical table name -> the Delta version this run's write committed
        T.StructField("table_versions", T.MapType(T.StringType(), T.LongType(), False), False),
        T.StructField("details", T.StringType(), True),  # JSON: what the run used (e.g. parameters)
        T.StructField("dt", T.DateType(), False),  # = run_date
    ]
)

TUNED_PARAMETERS_SCHEMA = T.StructType(
    [
        T.StructField("run_date", T.DateType(), False),  # the evaluation's run date
        T.StructField("run_id", T.StringType(), False),
        T.StructField("model", T.StringType(), False),  # a candidate source or "hybrid"
        T.StructField("parameters", T.StringType(), False),  # JSON object, keys sorted
        T.StructField("metric", T.StringType(), False),  # the selection metric, e.g. "ndcg@10 window/new_items"
        T.StructField("value", T.DoubleType(), True),  # its value on the tuning window (null: no user)
        T.StructField("selected", T.BooleanType(), False),  # the point the ALS job serves
        T.StructField("dt", T.DateType(), False),  # = run_date
    ]
)
