"""Top-K recommendation metrics as pure Spark transforms (built-in functions only, no UDFs).

Inputs
- `recs`: one row per recommended item, `(user_id, rank, item_id)` (other columns are ignored). Ranks are
  ordered, not necessarily dense: the list is re-numbered 1, 2, ... by `(rank, item_id)`. An item listed
  twice for a user counts once, at its best rank.
- `truth`: the relevant items, `(user_id, item_id)` (e.g. the test-window purchases); duplicates count
  once. Rows with a null `user_id` or `item_id` identify no user or item and carry no relevance; the
  evaluation split drops (and counts) them before it gets here.

The evaluated population is the users with at least one relevant item. A user of that population with
no recommendation scores 0 on every ranking metric; recommendations for users outside it are ignored.

Definitions at cut-off K (binary relevance; `hits` = relevant items among the user's first K; `|R|` =
number of relevant items; `pos` = 1-based position), matching Spark's `RankingMetrics`, which is what
`pyspark.ml.evaluation.RankingEvaluator` computes (the unit tests check this):
- precision@K = hits / K (divided by K even when the list is shorter, as Spark does);
- recall@K    = hits / |R|;
- NDCG@K      = sum over hits of 1/log2(pos + 1), divided by the ideal sum over pos = 1..min(|R|, K);
- AP@K        = sum over hits of (hits up to pos / pos), divided by min(|R|, K); MAP@K is its mean
  (Spark's `meanAveragePrecisionAtK`);
- hit rate@K  = 1 if hits > 0 else 0.
Per-user values are averaged with equal weight per user.

Beyond accuracy:
- catalogue coverage@K = distinct catalogue items in the evaluated users' top-K lists / catalogue size;
- novelty@K = mean over evaluated users of the mean self-information `-log2(share)` of their top-K items,
  where `share` = the fraction of training users who bought the item (Zhou et al. 2010). An item nobody
  bought in training is treated as bought by one user (the least popular an item can be).
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate")
BEYOND_ACCURACY_METRICS = ("coverage", "novelty")
ALL_METRICS = (*RANKING_METRICS, *BEYOND_ACCURACY_METRICS)

PER_USER_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("n_relevant", T.LongType(), False),
        T.StructField("hits", T.LongType(), False),
        T.StructField("precision", T.DoubleType(), False),
        T.StructField("recall", T.DoubleType(), False),
        T.StructField("ndcg", T.DoubleType(), False),
        T.StructField("map", T.DoubleType(), False),
        T.StructField("hit_rate", T.DoubleType(), False),
    ]
)

METRICS_SCHEMA = T.StructType(
    [
        T.StructField("metric", T.StringType(), False),
        T.StructField("k", T.IntegerType(), False),
        T.StructField("value", T.DoubleType(), True),  # null when no user was evaluated
        T.StructField("users", T.LongType(), False),
    ]
)


def _check_k(k: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"cut-off k must be a positive integer, got {k!r}")


def _require(frame: DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {', '.join(missing)} (has: {', '.join(frame.columns)})")


def top_k(recs: DataFrame, k: int, by: Sequence[str] = ()) -> DataFrame:
    """(*by, user_id, position, item_id): each user's first k distinct items, positions 1..k (one
    list per user and value of `by`, e.g. per model when `recs` holds several models' lists)."""
    _check_k(k)
    _require(recs, ("user_id", "rank", "item_id", *by), "recommendations")
    by_rank = Window.partitionBy(*by, "user_id").orderBy(F.col("best_rank").asc(), F.col("item_id").asc())
    return (
        recs.where(F.col("user_id").isNotNull() & F.col("item_id").isNotNull())
        .groupBy(*by, "user_id", "item_id")
        .agg(F.min("rank").alias("best_rank"))
        .withColumn("position", F.row_number().over(by_rank))
        .where(F.col("position") <= k)
        .select(*by, "user_id", F.col("position").cast("int").alias("position"), "item_id")
    )


def relevant_items(truth: DataFrame, by: Sequence[str] = ()) -> DataFrame:
    """(*by, user_id, item_id) distinct relevant pairs; null ids carry no relevance."""
    _require(truth, ("user_id", "item_id", *by), "truth")
    return (
        truth.where(F.col("user_id").isNotNull() & F.col("item_id").isNotNull())
        .select(*by, "user_id", "item_id")
        .distinct()
    )


def _ideal_dcg(n_relevant: F.Column, k: int) -> F.Column:
    """sum_{pos=1..min(|R|,k)} 1/log2(pos+1), built-in higher-order functions (no UDF)."""
    positions = F.sequence(F.lit(1), F.least(n_relevant.cast("int"), F.lit(k)))
    return F.aggregate(positions, F.lit(0.0), lambda acc, pos: acc + 1.0 / F.log2(pos + 1))


def ranking_metrics_per_user(recs: DataFrame, truth: DataFrame, k: int) -> DataFrame:
    """One row per user with a relevant item: `PER_USER_SCHEMA`."""
    return _per_user(top_k(recs, k), relevant_items(truth), k, ())


def _per_user(listed: DataFrame, relevant: DataFrame, k: int, by: Sequence[str]) -> DataFrame:
    """`PER_USER_SCHEMA` (after `by`) per (*by, user) of `relevant`, from top-k `listed` rows."""
    keys = [*by, "user_id"]
    n_relevant = relevant.groupBy(*keys).agg(F.count(F.lit(1)).alias("n_relevant"))
    upto_here = Window.partitionBy(*keys).orderBy("position").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    hit_rows = (
        listed.join(relevant, on=[*keys, "item_id"], how="inner")
        .withColumn("hits_so_far", F.count(F.lit(1)).over(upto_here))
        .groupBy(*keys)
        .agg(
            F.count(F.lit(1)).alias("hits"),
            F.sum(1.0 / F.log2(F.col("position") + 1)).alias("dcg"),
            F.sum(F.col("hits_so_far") / F.col("position")).alias("precision_sum"),
        )
    )
    hits = F.coalesce(F.col("hits"), F.lit(0)).cast("long")
    return n_relevant.join(hit_rows, on=keys, how="left").select(
        *by,
        F.col("user_id"),
        F.col("n_relevant").cast("long").alias("n_relevant"),
        hits.alias("hits"),
        (hits / F.lit(float(k))).alias("precision"),
        (hits / F.col("n_relevant")).alias("recall"),
        (F.coalesce(F.col("dcg"), F.lit(0.0)) / _ideal_dcg(F.col("n_relevant"), k)).alias("ndcg"),
        (
            F.coalesce(F.col("precision_sum"), F.lit(0.0))
            / F.least(F.col("n_relevant"), F.lit(k)).cast("double")
        ).alias("map"),
        F.when(hits > 0, 1.0).otherwise(0.0).alias("hit_rate"),
    )


def mean_ranking_metrics(per_user: DataFrame, k: int) -> DataFrame:
    """Long `METRICS_SCHEMA` rows: the user-averaged value of each of `RANKING_METRICS`."""
    return _mean_ranking(per_user, k, (), None)


def _mean_ranking(per_user: DataFrame, k: int, by: Sequence[str], groups: DataFrame | None) -> DataFrame:
    _check_k(k)
    means = per_user.groupBy(*by).agg(F.count(F.lit(1)).alias("users"), *[F.avg(m).alias(m) for m in RANKING_METRICS])
    return _melt(_every_group(means, by, groups, ("users",)), RANKING_METRICS, k, by)


def _every_group(stats: DataFrame, by: Sequence[str], groups: DataFrame | None, counts: Sequence[str]) -> DataFrame:
    """`stats` with a row for every group of `groups` (counts 0 where a group had no rows). Without
    groups, an aggregate over no rows is already one row."""
    if groups is None:
        return stats
    return groups.join(stats, on=list(by), how="left").fillna(0, subset=list(counts))


def _coverage(listed: DataFrame, catalogue: DataFrame, k: int, by: Sequence[str], groups: DataFrame | None) -> DataFrame:
    """One `METRICS_SCHEMA` row per group: distinct catalogue items in the top-k lists / catalogue
    size; `users` is the number of users with a list. Items outside `catalogue` do not count."""
    items = catalogue.where(F.col("item_id").isNotNull()).select("item_id").distinct()
    shown = (
        listed.select(*by, "item_id").distinct().join(items, on="item_id", how="inner")
        .groupBy(*by).agg(F.count(F.lit(1)).alias("shown"))
    )
    users = listed.groupBy(*by).agg(F.countDistinct("user_id").alias("users"))
    per_group = shown.join(users, on=list(by), how="full") if by else shown.crossJoin(users)
    stats = (
        _every_group(per_group, by, groups, ("shown", "users"))
        .crossJoin(items.agg(F.count(F.lit(1)).alias("catalogue")))
        .select(*by, "users", F.try_divide(F.col("shown"), F.col("catalogue")).alias("coverage"))
    )
    return _melt(stats, ("coverage",), k, by)


def item_self_information(train_purchases: DataFrame) -> DataFrame:
    """(item_id, self_information = -log2(buyers of the item / all buyers)) over training purchases."""
    _require(train_purchases, ("user_id", "item_id"), "training purchases")
    pairs = relevant_items(train_purchases)
    buyers = pairs.agg(F.countDistinct("user_id").alias("all_buyers"))
    return (
        pairs.groupBy("item_id")
        .agg(F.count(F.lit(1)).alias("item_buyers"))
        .crossJoin(buyers)
        .select("item_id", (-F.log2(F.col("item_buyers") / F.col("all_buyers"))).alias("self_information"))
    )


def _novelty(listed: DataFrame, self_information: DataFrame, k: int, by: Sequence[str], groups: DataFrame | None) -> DataFrame:
    """One `METRICS_SCHEMA` row per group: the user-averaged mean self-information of the top-k items.

    Items missing from `self_information` get the value of an item with a single buyer,
    -log2(1 / all buyers) = the largest value in the table's population.
    """
    all_buyers_info = self_information.agg(F.max("self_information").alias("unseen_information"))
    per_user = (
        listed.join(self_information, on="item_id", how="left")
        .crossJoin(all_buyers_info)
        .groupBy(*by, "user_id")
        .agg(F.avg(F.coalesce(F.col("self_information"), F.col("unseen_information"))).alias("novelty"))
    )
    stats = per_user.groupBy(*by).agg(F.count(F.lit(1)).alias("users"), F.avg("novelty").alias("novelty"))
    return _melt(_every_group(stats, by, groups, ("users",)), ("novelty",), k, by)


def evaluate_at_k(
    recs: DataFrame, truth: DataFrame, catalogue: DataFrame, self_information: DataFrame, k: int,
    groups: DataFrame | None = None,
) -> DataFrame:
    """All of `ALL_METRICS` for the users in `truth`: `METRICS_SCHEMA` rows.

    Coverage and novelty are measured on the lists shown to the evaluated users only.
    With `groups` (one row per group, e.g. its columns view and slice), `truth` carries the group
    columns and every group is measured on its own users in one pass over the lists: the rows start
    with the group columns, and a group with no truth rows still gets its rows (null means, 0 users).
    A group column that `recs` has too (e.g. `model`, several models' lists in one frame) splits the
    lists as well: each group is measured on its own lists.
    """
    by = tuple(groups.columns) if groups is not None else ()
    list_keys = [c for c in by if c in recs.columns]
    relevant = relevant_items(truth, by)
    evaluated_users = relevant.select(*by, "user_id").distinct()
    listed = top_k(recs, k, list_keys).join(evaluated_users, on=[*list_keys, "user_id"], how="inner")
    return (
        _mean_ranking(_per_user(listed, relevant, k, by), k, by, groups)
        .unionByName(_coverage(listed, catalogue, k, by, groups))
        .unionByName(_novelty(listed, self_information, k, by, groups))
    )


def _melt(wide: DataFrame, metrics: tuple[str, ...], k: int, by: Sequence[str] = ()) -> DataFrame:
    """One row per metric (after the group columns `by`) from a frame with `users` and a column per metric."""
    pairs = F.array(
        *[F.struct(F.lit(m).alias("metric"), F.col(m).cast("double").alias("value")) for m in metrics]
    )
    return (
        wide.select(*by, F.col("users").cast("long").alias("users"), F.explode(pairs).alias("m"))
        .select(
            *by,
            F.col("m.metric").alias("metric"),
            F.lit(k).cast("int").alias("k"),
            F.col("m.value").alias("value"),
            F.col("users"),
        )
    )
