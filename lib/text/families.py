"""Product families for shops without a category tree: clusters of the text embeddings, named by
their most representative title words, and a category column for the category rules from them.

Clustering is MLlib KMeans (or BisectingKMeans) on the unit vectors (Euclidean on unit vectors
ranks like cosine). k comes from config, or is the candidate with the best cosine silhouette.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.clustering import BisectingKMeans, KMeans
from pyspark.ml.evaluation import ClusteringEvaluator
from pyspark.ml.functions import array_to_vector, vector_to_array
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

ALGORITHMS = ("kmeans", "bisecting_kmeans")
STOP_WORDS = ("and", "the", "for", "with", "set", "of", "in", "a", "an", "to", "on", "by", "pack", "size")


@dataclass(frozen=True)
class FamilyParams:
    k: int = 0  # 0 = choose from k_candidates by silhouette
    k_candidates: tuple[int, ...] = (8, 16, 32)
    algorithm: str = "kmeans"
    max_iter: int = 20
    seed: int = 7
    name_words: int = 3


def _clusterer(algorithm: str, k: int, max_iter: int, seed: int):
    if algorithm == "kmeans":
        return KMeans(k=k, maxIter=max_iter, seed=seed, featuresCol="features", predictionCol="family_id")
    if algorithm == "bisecting_kmeans":
        return BisectingKMeans(k=k, maxIter=max_iter, seed=seed, featuresCol="features", predictionCol="family_id")
    raise ValueError(f"unknown clustering algorithm '{algorithm}' (known: {', '.join(ALGORITHMS)})")


def cluster_items(embeddings: DataFrame, params: FamilyParams) -> tuple[DataFrame, int, float | None]:
    """(item_id, family_id, distance) for each embedded item, the k used and its silhouette (None
    when k came from config). distance = cosine distance to the family's centre."""
    features = embeddings.select("item_id", array_to_vector("vector").alias("features")).persist()
    n = features.count()
    if n == 0:
        features.unpersist()
        raise ValueError("no item embeddings to cluster")
    evaluator = ClusteringEvaluator(featuresCol="features", predictionCol="family_id", distanceMeasure="cosine")
    if params.k > 0:
        k, silhouette = min(params.k, n), None
        model = _clusterer(params.algorithm, k, params.max_iter, params.seed).fit(features)
    else:
        best = None
        for candidate in sorted({min(c, n) for c in params.k_candidates if c >= 2 and n > 2}):
            fitted = _clusterer(params.algorithm, candidate, params.max_iter, params.seed).fit(features)
            score = evaluator.evaluate(fitted.transform(features))
            if best is None or score > best[0]:
                best = (score, candidate, fitted)
        if best is None:  # one or two items: one family
            k, silhouette = 1, None
            model = _clusterer(params.algorithm, 1, params.max_iter, params.seed).fit(features)
        else:
            silhouette, k, model = best
    centres = features.sparkSession.createDataFrame(
        [(i, [float(x) for x in c]) for i, c in enumerate(model.clusterCenters())], "family_id int, centre array<double>"
    )
    assigned = model.transform(features).select("item_id", F.col("family_id").cast("int"),
                                               vector_to_array("features").alias("vector"))
    result = assigned.join(F.broadcast(centres), on="family_id", how="inner").select(
        "item_id", "family_id", (F.lit(1.0) - cosine(F.col("vector"), F.col("centre"))).alias("distance")
    )
    return result, k, silhouette


def cosine(a: Column, b: Column) -> Column:
    dot = F.aggregate(F.zip_with(a, b, lambda x, y: x * y), F.lit(0.0).cast("double"), lambda s, x: s + x)
    norm_a = F.sqrt(F.aggregate(a, F.lit(0.0).cast("double"), lambda s, x: s + x * x))
    norm_b = F.sqrt(F.aggregate(b, F.lit(0.0).cast("double"), lambda s, x: s + x * x))
    return F.when((norm_a > 0) & (norm_b > 0), dot / (norm_a * norm_b)).otherwise(F.lit(0.0))


def title_words(title: Column) -> Column:
    """Lower-case words of 3+ letters (digits, codes and punctuation dropped), stop words out."""
    words = F.split(F.lower(F.regexp_replace(title, r"[^A-Za-z\-' ]+", " ")), r"\s+")
    cleaned = F.transform(words, lambda w: F.regexp_replace(w, r"^[\-']+|[\-']+$", ""))
    stop = F.array(*[F.lit(w) for w in STOP_WORDS])
    return F.array_distinct(F.filter(cleaned, lambda w: (F.length(w) >= 3) & ~F.array_contains(stop, w)))


def family_names(assigned: DataFrame, items: DataFrame, name_words: int) -> DataFrame:
    """(family_id, family): the `name_words` words of the family's titles that are most typical of it
    (score = p(w | family) * log(p(w | family) / p(w)), ties alphabetical), joined by spaces; a family
    with no usable words is called 'family <id>'. Names are unique (a repeated one gets ' <id>')."""
    words = (
        assigned.join(items.select("item_id", "title"), on="item_id", how="left")
        .select("family_id", F.explode(title_words(F.col("title"))).alias("word"))
    )
    n_items = assigned.count()
    sizes = assigned.groupBy("family_id").agg(F.count(F.lit(1)).alias("size"))
    overall = words.groupBy("word").agg(F.count(F.lit(1)).alias("n_word"))
    p_in = F.col("n_in") / F.col("size")
    scored = (
        words.groupBy("family_id", "word").agg(F.count(F.lit(1)).alias("n_in"))
        .join(sizes, on="family_id", how="inner")
        .join(overall, on="word", how="inner")
        .select("family_id", "word", (p_in * F.log(p_in / (F.col("n_word") / F.lit(n_items)))).alias("score"))
    )
    by_score = Window.partitionBy("family_id").orderBy(F.col("score").desc(), F.col("word").asc())
    top = scored.withColumn("pos", F.row_number().over(by_score)).where(F.col("pos") <= name_words)
    named = top.groupBy("family_id").agg(
        F.array_join(F.transform(F.array_sort(F.collect_list(F.struct("pos", "word"))), lambda s: s["word"]), " ")
        .alias("words")
    )
    base = sizes.join(named, on="family_id", how="left").select(
        "family_id", F.coalesce("words", F.concat(F.lit("family "), F.col("family_id").cast("string"))).alias("base")
    )
    same_name = Window.partitionBy("base").orderBy("family_id").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return base.withColumn("nth", F.row_number().over(same_name)).select(
        "family_id",
        F.when(F.col("nth") == 1, F.col("base")).otherwise(F.concat_ws(" ", "base", F.col("family_id").cast("string")))
        .alias("family"),
    )


def item_families(embeddings: DataFrame, items: DataFrame, params: FamilyParams) -> DataFrame:
    """(item_id, family_id, family, family_size, distance, k, silhouette): ITEM_FAMILIES_SCHEMA without dt."""
    assigned, k, silhouette = cluster_items(embeddings, params)
    assigned = assigned.localCheckpoint()
    names = family_names(assigned, items, params.name_words)
    sizes = assigned.groupBy("family_id").agg(F.count(F.lit(1)).alias("family_size"))
    return (
        assigned.join(names, on="family_id", how="inner")
        .join(sizes, on="family_id", how="inner")
        .select(
            "item_id", "family_id", "family", F.col("family_size").cast("long"), F.col("distance").cast("double"),
            F.lit(k).cast("int").alias("k"), F.lit(silhouette).cast("double").alias("silhouette"),
        )
    )


def with_family_categories(items: DataFrame, families: DataFrame) -> DataFrame:
    """The hook for fpgrowth's category rules: items whose `category_path` and `category` are both
    null get their family as both (a one-level path, so rules between families are cross-category).
    Items that have a category keep it; items without a family stay uncategorised."""
    family = families.select("item_id", F.regexp_replace("family", "/", " ").alias("_family"))
    uncategorised = F.col("category_path").isNull() & F.col("category").isNull()
    joined = items.join(family, on="item_id", how="left")
    return joined.select(
        *[
            F.when(uncategorised, F.col("_family")).otherwise(F.col(c)).alias(c) if c in ("category", "category_path")
            else F.col(c)
            for c in items.columns
        ]
    )
