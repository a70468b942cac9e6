"""Every candidate source cobuy can serve and evaluate, by name; `recommender.sources` picks the ones a
deployment computes (conf/recommender.toml).

The four of lib.recs.serving (popularity, buy_again, co_occurrence, als) plus the sources that come
from the other jobs' understanding of products:
- `text`: never-bought items closest to the user's text profile (lib.text; the `item_embeddings` table);
- `next_purchase`: what follows the user's latest baskets (lib.paths transitions and item2vec);
- `graph`: embeddings propagated over the product graph built from the training events (lib.graph).
Each is fitted on the context's training events only, so the evaluation's split holds.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.pipeline import GraphParams, graph_candidates
from lib.paths.recommend import recommend_next_purchase
from lib.recs.serving import DEFAULT_SOURCES, ITEMS_INPUT, CandidateSource, RecommenderConfig, SourceContext
from lib.schemas.recs import RECOMMENDATIONS_SCHEMA
from lib.schemas.text import ITEM_EMBEDDINGS
from lib.text.cold import cold_items
from lib.text.embed import latest_partition
from lib.text.recommend import recommend_by_text

TEXT, NEXT_PURCHASE, GRAPH = "text", "next_purchase", "graph"
log = logging.getLogger(__name__)


def latest_vectors(embeddings: DataFrame) -> DataFrame:
    """(item_id, vector) of the newest dt partition of item_embeddings (empty when it has none)."""
    return latest_partition(embeddings).select("item_id", "vector")


def text_source(ctx: SourceContext, depth: int) -> DataFrame:
    """Items nobody bought in the training window, for users whose purchases read alike."""
    embeddings = latest_vectors(ctx.require(ITEM_EMBEDDINGS))
    candidates = cold_items(ctx.require(ITEMS_INPUT), ctx.events, ctx.as_of)
    return recommend_by_text(ctx.events, ctx.users, embeddings, candidates, ctx.as_of, depth,
                             ctx.settings.text_half_life_days)


def next_purchase_source(ctx: SourceContext, depth: int) -> DataFrame:
    return recommend_next_purchase(ctx.events, ctx.users, ctx.as_of, depth, ctx.settings.next_purchase)


def graph_source(ctx: SourceContext, depth: int) -> DataFrame:
    """The graph of the training baskets (co-occurrence and text cosine), embeddings propagated over it."""
    text = latest_vectors(ctx.require(ITEM_EMBEDDINGS))
    if not text.limit(1).count():
        log.warning("graph source: no item_embeddings (run jobs/embed.py): it recommends nothing")
        return ctx.events.sparkSession.createDataFrame([], RECOMMENDATIONS_SCHEMA)
    params = dataclasses.replace(ctx.settings.graph, k=depth)
    return (
        graph_candidates(ctx.events, ctx.require(ITEMS_INPUT), ctx.users, ctx.as_of, GraphParams(), params, text=text)
        .withColumn("source", F.lit(GRAPH))
    )


ALL_SOURCES: Mapping[str, CandidateSource] = {
    **DEFAULT_SOURCES,
    TEXT: CandidateSource(text_source, inputs=(ITEMS_INPUT, ITEM_EMBEDDINGS)),
    NEXT_PURCHASE: CandidateSource(next_purchase_source),
    GRAPH: CandidateSource(graph_source, inputs=(ITEMS_INPUT, ITEM_EMBEDDINGS)),
}


def sources_for(settings: RecommenderConfig) -> dict[str, CandidateSource]:
    """The sources `recommender.sources` names, in that order; an unknown name is an error naming it."""
    unknown = [name for name in settings.sources if name not in ALL_SOURCES]
    if unknown:
        raise ValueError(f"key 'sources': unknown source '{unknown[0]}' (known: {', '.join(ALL_SOURCES)})")
    return {name: ALL_SOURCES[name] for name in settings.sources}
