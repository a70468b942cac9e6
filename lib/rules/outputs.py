"""Shaping the job's output tables: titles, bought-together lists, category flags, bundles."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.rules.pruning import PruningParams, with_itemset_status
from lib.schemas.rules import (
    ASSOCIATION_RULES_SCHEMA,
    BOUGHT_TOGETHER_SCHEMA,
    BUNDLES_SCHEMA,
    CATEGORY_RULES_SCHEMA,
    FREQUENT_ITEMSETS_SCHEMA,
    KEPT,
)

# Metrics a bought-together list may be ranked by (higher is better; null conviction = infinite).
RANKING_METRICS = (
    "lift", "confidence", "leverage", "conviction", "zhangs_metric", "jaccard", "kulczynski",
    "certainty_factor", "support", "n_ab",
)


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    """Select and cast to `schema`'s columns in its order (the table contract)."""
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def with_dt(frame: DataFrame, run_date: dt.date) -> DataFrame:
    return frame.withColumn("dt", F.lit(run_date).cast("date"))


def item_titles(items: DataFrame) -> DataFrame:
    return items.select(F.col("item_id"), F.col("title"))


def with_titles(
    frame: DataFrame, array_col: str, out_col: str, key_cols: list[str], titles: DataFrame
) -> DataFrame:
    """Add `out_col`: the title of each element of `array_col`, in the same order (null if unknown).

    `key_cols` identify a row of `frame` uniquely (e.g. antecedent + consequent).
    """
    exploded = frame.select(*key_cols, F.posexplode(array_col).alias("_pos", "item_id"))
    looked_up = (
        exploded.join(titles, on="item_id", how="left")
        .groupBy(*key_cols)
        .agg(F.array_sort(F.collect_list(F.struct(F.col("_pos"), F.col("title")))).alias("_titles"))
        .select(*key_cols, F.transform("_titles", lambda s: s["title"]).alias(out_col))
    )
    return frame.join(looked_up, on=key_cols, how="left")


def with_title(frame: DataFrame, id_col: str, out_col: str, titles: DataFrame) -> DataFrame:
    renamed = titles.select(F.col("item_id").alias(id_col), F.col("title").alias(out_col))
    return frame.join(renamed, on=id_col, how="left")


def frequent_itemsets_table(itemsets: DataFrame, pruning: PruningParams, run_date: dt.date) -> DataFrame:
    """Every frequent itemset, with `status` privacy when its count is below the privacy minimum
    (kept with the reason, like the rules: readers that publish counts filter status = 'kept')."""
    return conform(with_dt(with_itemset_status(itemsets, pruning), run_date), FREQUENT_ITEMSETS_SCHEMA)


def association_rules_table(rules: DataFrame, items: DataFrame, run_date: dt.date) -> DataFrame:
    """Rules with titles: `rules` carries antecedent, consequent, counts, metrics, status."""
    titles = item_titles(items)
    with_names = with_title(
        with_titles(rules, "antecedent", "antecedent_titles", ["antecedent", "consequent"], titles),
        "consequent", "consequent_title", titles,
    )
    return conform(with_dt(with_names, run_date), ASSOCIATION_RULES_SCHEMA)


def score_order(metric: str) -> Column:
    """Descending by the metric; a null conviction is infinite, so it ranks first."""
    if metric not in RANKING_METRICS:
        raise ValueError(f"ranking metric must be one of {', '.join(RANKING_METRICS)}, got '{metric}'")
    column = F.col("score")
    return column.desc_nulls_first() if metric == "conviction" else column.desc_nulls_last()


def bought_together_table(rules: DataFrame, top_k: int, metric: str, run_date: dt.date) -> DataFrame:
    """For each item, its `top_k` companions among the kept rules {item} -> companion.

    `rules` is the association_rules table (with titles). Ties break on n_ab, then companion id.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}")
    pairs = rules.filter((F.col("status") == KEPT) & (F.col("rule_length") == 2)).select(
        F.col("antecedent")[0].alias("item_id"),
        F.col("consequent").alias("companion_id"),
        F.col("consequent_title").alias("companion_title"),
        F.col(metric).cast("double").alias("score"),
        "n_ab", "confidence", "lift",
    )
    ranking = Window.partitionBy("item_id").orderBy(
        score_order(metric), F.col("n_ab").desc(), F.col("companion_id").asc()
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    ranked = pairs.withColumn("rank", F.row_number().over(ranking)).filter(F.col("rank") <= top_k)
    return conform(with_dt(ranked.withColumn("metric", F.lit(metric)), run_date), BOUGHT_TOGETHER_SCHEMA)


def top_category(path: Column) -> Column:
    """'home/kitchen/mugs' -> 'home' (a category without a path is its own top)."""
    return F.split(path, "/", 2)[0]


def category_rules_table(rules: DataFrame, run_date: dt.date) -> DataFrame:
    """Category-level rules; `cross_category` when the consequent's top-level category is not the
    top-level category of any antecedent category (leaf categories always differ by construction)."""
    antecedent_tops = F.transform("antecedent", top_category)
    flagged = rules.withColumn(
        "cross_category", ~F.array_contains(antecedent_tops, top_category(F.col("consequent")))
    )
    return conform(with_dt(flagged, run_date), CATEGORY_RULES_SCHEMA)


def bundles_table(
    itemsets: DataFrame, items: DataFrame, min_size: int, min_all_confidence: float,
    pruning: PruningParams, run_date: dt.date,
) -> DataFrame:
    """Frequent itemsets of at least `min_size` items whose all-confidence (count divided by the
    largest single-item count) is at least `min_all_confidence`, with titles and a bundle price
    (sum of the items' latest prices; null when any price is unknown), and `status` privacy when
    the count is below the privacy minimum (kept, with the reason)."""
    singles = itemsets.filter(F.col("size") == 1).select(
        F.col("items")[0].alias("item_id"), F.col("count").alias("item_count")
    )
    prices = items.select("item_id", "title", "latest_price")
    candidates = itemsets.filter(F.col("size") >= min_size)
    members = (
        candidates.select("items", F.posexplode("items").alias("_pos", "item_id"))
        .join(singles, on="item_id", how="inner")
        .join(prices, on="item_id", how="left")
        .groupBy("items")
        .agg(
            F.max("item_count").alias("max_item_count"),
            F.array_sort(F.collect_list(F.struct(F.col("_pos"), F.col("title")))).alias("_titles"),
            F.sum("latest_price").alias("_price_sum"),
            F.count("latest_price").alias("_priced"),
        )
    )
    bundles = (
        candidates.join(members, on="items", how="inner")
        .withColumn("all_confidence", F.col("count") / F.col("max_item_count"))
        .filter(F.col("all_confidence") >= min_all_confidence)
        .withColumn("titles", F.transform("_titles", lambda s: s["title"]))
        .withColumn("bundle_price", F.when(F.col("_priced") == F.col("size"), F.col("_price_sum")))
        .transform(with_itemset_status, pruning)
    )
    return conform(with_dt(bundles, run_date), BUNDLES_SCHEMA)
