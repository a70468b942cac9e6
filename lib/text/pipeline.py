"""The embed job's flow: item text -> embeddings (incremental) -> similar products and families."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.schemas.text import ITEM_EMBEDDINGS, ITEM_FAMILIES, SIMILAR_ITEMS_TEXT
from lib.text.embed import item_embeddings
from lib.text.families import FamilyParams, item_families
from lib.text.model import ModelRef
from lib.text.similar import similar_items_text


@dataclass(frozen=True)
class TextFlowParams:
    model: ModelRef
    batch_size: int = 64
    num_partitions: int = 2
    similar_k: int = 10  # 0 = no similar_items_text
    similar_num_blocks: int = 4
    families: FamilyParams | None = FamilyParams()  # None = no item_families


def text_tables(items: DataFrame, previous: DataFrame, run_date: dt.date, params: TextFlowParams) -> dict[str, DataFrame]:
    """{table: frame with dt = run_date}. The embeddings are computed once (checkpointed here, so the
    similar-items and families steps do not run the encoder again)."""
    embeddings = item_embeddings(items, previous, params.model, run_date, params.batch_size,
                                 params.num_partitions).localCheckpoint()
    tables = {ITEM_EMBEDDINGS: embeddings}
    if params.similar_k > 0:
        tables[SIMILAR_ITEMS_TEXT] = similar_items_text(embeddings, params.similar_k, params.similar_num_blocks).withColumn(
            "dt", F.lit(run_date))
    if params.families is not None and not embeddings.isEmpty():
        tables[ITEM_FAMILIES] = item_families(embeddings, items, params.families).withColumn("dt", F.lit(run_date))
    return tables
