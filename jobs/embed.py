"""Product text embeddings: what each product is, from its title and category, before anyone buys it.

    spark-submit jobs/embed.py --env local --date 2024-03-31 [--set model.name=minilm-l6-int8 ...]

Reads `items` (and the latest `item_embeddings` before --date); writes item_embeddings (only new or
changed texts are embedded, the rest carried over), similar_items_text and item_families with
dt = --date (re-runs replace). See docs/embeddings.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, require
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.schemas.events import ITEMS
from lib.schemas.text import ITEM_EMBEDDINGS, SIMILAR_ITEMS_TEXT
from lib.text.families import ALGORITHMS, FamilyParams
from lib.text.model import MODELS, ModelRef
from lib.text.pipeline import TextFlowParams, text_tables

JOB = "embed"
log = logging.getLogger(f"cobuy.{JOB}")


@dataclass(frozen=True)
class ModelParams:
    name: str = "minilm-l6-int8"
    onnx_path: str = ""  # "" = the model's file from its installed package
    tokenizer_path: str = ""
    batch_size: int = 64
    num_partitions: int = 2


@dataclass(frozen=True)
class SimilarParams:
    k: int = 10  # 0 = do not write similar_items_text
    num_blocks: int = 4


@dataclass(frozen=True)
class FamiliesParams:
    enabled: bool = True
    k: int = 0  # 0 = the best of k_candidates by silhouette
    k_candidates: tuple[int, ...] = (8, 16, 32)
    algorithm: str = "kmeans"
    max_iter: int = 20
    seed: int = 7
    name_words: int = 3


@dataclass(frozen=True)
class EmbedParams:
    model: ModelParams = field(default_factory=ModelParams)
    similar: SimilarParams = field(default_factory=SimilarParams)
    families: FamiliesParams = field(default_factory=FamiliesParams)


def validate(params: EmbedParams, source: str) -> EmbedParams:
    fam = params.families
    checks = [
        ("model.name", params.model.name in MODELS, f"one of {', '.join(sorted(MODELS))}", params.model.name),
        ("model.batch_size", params.model.batch_size >= 1, "at least 1", params.model.batch_size),
        ("model.num_partitions", params.model.num_partitions >= 1, "at least 1", params.model.num_partitions),
        ("similar.k", params.similar.k >= 0, ">= 0", params.similar.k),
        ("similar.num_blocks", params.similar.num_blocks >= 1, "at least 1", params.similar.num_blocks),
        ("families.k", fam.k >= 0, ">= 0", fam.k),
        ("families.k_candidates", fam.k > 0 or (bool(fam.k_candidates) and min(fam.k_candidates) >= 2),
         "non-empty, each at least 2, when families.k is 0", fam.k_candidates),
        ("families.algorithm", fam.algorithm in ALGORITHMS, " or ".join(ALGORITHMS), fam.algorithm),
        ("families.name_words", fam.name_words >= 1, "at least 1", fam.name_words),
    ]
    require(checks, source)
    return params


def parse_args(argv: Sequence[str]) -> JobConfig[EmbedParams]:
    parser = job_parser(JOB, "Embed item texts; similar products and product families by text.")
    return config_from_args(JOB, EmbedParams, parser.parse_args(argv), validate=validate)


def flow_params(params: EmbedParams) -> TextFlowParams:
    fam = params.families
    families = FamilyParams(fam.k, fam.k_candidates, fam.algorithm, fam.max_iter, fam.seed, fam.name_words)
    return TextFlowParams(
        model=ModelRef(params.model.name, params.model.onnx_path, params.model.tokenizer_path),
        batch_size=params.model.batch_size, num_partitions=params.model.num_partitions,
        similar_k=params.similar.k, similar_num_blocks=params.similar.num_blocks,
        families=families if fam.enabled else None,
    )


def run(spark: SparkSession, config: JobConfig[EmbedParams]) -> dict[str, object]:
    run_date, tables = config.run_date, config.catalog()
    job_run, store = start_run(JOB, run_date), open_store(spark, config)
    items, _ = read_consistent(store, tables, ITEMS, empty_if_missing=True)
    previous, _ = read_consistent(store, tables, ITEM_EMBEDDINGS, end=run_date - dt.timedelta(days=1),
                                  empty_if_missing=True)
    outputs = text_tables(items, previous, run_date, flow_params(config.params))
    record = write_outputs(store, tables, outputs, job_run)
    embeddings, _ = read_consistent(store, tables, ITEM_EMBEDDINGS, start=run_date, end=run_date)
    fresh = embeddings.where(F.col("embedded_dt") == F.lit(run_date)).count()
    summary: dict[str, object] = {"items": items.count(), "embedded": fresh, "carried_over": embeddings.count() - fresh,
                                  "run_id": record.run_id}
    if SIMILAR_ITEMS_TEXT in outputs:
        similar, _ = read_consistent(store, tables, SIMILAR_ITEMS_TEXT, start=run_date, end=run_date)
        summary["similar_examples"] = similar_examples(similar, items)
        for line in summary["similar_examples"]:
            log.info("similar by text: %s", line)
    return summary


def similar_examples(similar: DataFrame, items: DataFrame, n_items: int = 2, k: int = 3) -> list[str]:
    """'title -> title; title; title' for the first `n_items` items by id (a bounded sample for the log)."""
    similar = similar.where(F.col("rank") <= k)
    titles = items.select("item_id", "title")
    first = similar.select("item_id").distinct().orderBy("item_id").limit(n_items)
    rows = (
        similar.join(first, on="item_id", how="left_semi")
        .join(titles, on="item_id", how="left")
        .join(titles.select(F.col("item_id").alias("similar_item_id"), F.col("title").alias("similar_title")),
              on="similar_item_id", how="left")
        .orderBy("item_id", "rank")
        .collect()
    )
    lines: dict[str, list[str]] = {}
    for row in rows:
        lines.setdefault(f"{row['title'] or row['item_id']}", []).append(
            f"{row['similar_title'] or row['similar_item_id']} ({row['score']:.2f})")
    return [f"{title} -> {'; '.join(similar)}" for title, similar in lines.items()]


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
