"""Serving = measuring: the one function that turns training events into the lists users see.

The ALS job writes `serve(context, sources)` to `user_recommendations`; the evaluation measures each
model's list through the same `serve_candidates` with the same settings (exclusion of bought
items, cold start, hybrid blend, re-ranking), so what is reported is what is served.

Candidate sources are pluggable: a source is a function `(context, depth) -> recommendations`
(RECOMMENDATIONS_SCHEMA: user_id, rank, item_id, score, source) plus the names of the inputs it
reads from `context.inputs`. Add a model by adding one entry to a sources mapping:

    sources = {**DEFAULT_SOURCES, "text": CandidateSource(recommend_text, inputs=("item_embeddings",))}

Every source is searched on its own and inside the hybrid by jobs/evaluate.py.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.recommend import GraphRecParams
from lib.paths.recommend import NextPurchaseParams, validate_next_purchase
from lib.recs.als import AlsParams
from lib.recs.baselines import (
    bought_together_from_baskets,
    recommend_buy_again,
    recommend_co_occurrence,
    recommend_popularity,
)
from lib.recs.hybrid import NORMALISATIONS, recommend_hybrid
from lib.recs.interactions import purchases
from lib.recs.pipeline import als_training_set, recommend_als_with_cold_start, train_als
from lib.recs.ranking import filter_bought, rerank
from lib.schemas.recs import SOURCE_HYBRID

HYBRID = SOURCE_HYBRID
ITEMS_INPUT = "items"  # the items table (cold start)
COMPANIONS_INPUT = "companions"  # (item_id, companion_item_id, score); default: the training baskets'
ALS_FIT = "als"  # context.fitted key: an AlsFit the ALS job made (it also writes the factors)


@dataclass(frozen=True)
class HybridSettings:
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"popularity": 0.0, "buy_again": 0.0, "co_occurrence": 0.5, "als": 1.0}
    )
    normalisation: str = "rank"  # rank | minmax

    def __post_init__(self) -> None:
        if self.normalisation not in NORMALISATIONS:
            raise ValueError(f"key 'normalisation' must be one of {', '.join(NORMALISATIONS)}, got {self.normalisation!r}")
        negative = sorted(k for k, w in self.weights.items() if w < 0)
        if negative:
            raise ValueError(f"key 'weights.{negative[0]}' must be >= 0, got {self.weights[negative[0]]}")

    def used(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, weight in self.weights.items() if weight > 0))

    def as_dict(self) -> dict[str, Any]:
        return {"weights": {k: float(v) for k, v in sorted(self.weights.items())}, "normalisation": self.normalisation}


@dataclass(frozen=True)
class RecommenderConfig:
    """conf/recommender.toml [recommender]: read by jobs/als.py and jobs/evaluate.py alike."""

    window_days: int = 180  # training events: D - window_days + 1 .. D
    active_days: int = 30  # (als job) users with an event in these days get recommendations
    k: int = 10
    exclude_bought: bool = True  # drop items the user bought in the window, after every other step
    serve: str = "als"  # a candidate source, or "hybrid"
    candidate_depth: int = 50  # rows per user each source produces
    overfetch_cap: int = 200  # ALS scores K + min(most items bought by a user, cap) when excluding
    popularity_window_days: int = 90
    buy_again_half_life_days: float = 60.0
    co_occurrence_recent_items: int = 20
    co_occurrence_top_n: int = 50
    co_occurrence_max_basket_items: int = 100
    confidence_half_life_days: float = 90.0
    min_user_items: int = 2  # users with fewer positive items are served by the cold-start path
    event_weights: Mapping[str, float] = field(
        default_factory=lambda: {"view": 1.0, "cart": 3.0, "fav": 2.0, "purchase": 5.0, "return": 5.0}
    )
    # The candidate sources computed (lib.recs.sources.ALL_SOURCES): both jobs serve and measure these.
    sources: tuple[str, ...] = ("popularity", "buy_again", "co_occurrence", "als")
    text_half_life_days: float = 60.0  # text: the user's profile = decayed mean of bought items' embeddings
    als: AlsParams = AlsParams()
    hybrid: HybridSettings = HybridSettings()
    next_purchase: NextPurchaseParams = field(default_factory=NextPurchaseParams)
    graph: GraphRecParams = field(default_factory=GraphRecParams)

    def __post_init__(self) -> None:
        for name in ("window_days", "active_days", "k", "candidate_depth", "popularity_window_days",
                     "co_occurrence_recent_items", "co_occurrence_top_n"):
            if getattr(self, name) < 1:
                raise ValueError(f"key '{name}' must be >= 1, got {getattr(self, name)}")
        if self.candidate_depth < self.k:
            raise ValueError(f"key 'candidate_depth' ({self.candidate_depth}) must be >= k ({self.k})")
        self.als.validate()
        if not self.sources or len(set(self.sources)) != len(self.sources):
            raise ValueError(f"key 'sources' must name each source once, got {list(self.sources)}")
        if not self.text_half_life_days > 0:
            raise ValueError(f"key 'text_half_life_days' must be > 0, got {self.text_half_life_days}")
        validate_next_purchase(self.next_purchase)
        self.graph.validate()


@dataclass(frozen=True)
class SourceContext:
    """What a candidate source may read: training events up to `as_of` and declared inputs."""

    events: DataFrame  # training events (event time <= as_of)
    users: DataFrame  # (user_id) to recommend for
    as_of: dt.date
    settings: RecommenderConfig
    inputs: Mapping[str, DataFrame] = field(default_factory=dict)  # items, companions, embeddings, ...
    fitted: Mapping[str, Any] = field(default_factory=dict)  # models fitted by the caller (ALS_FIT)

    def bought(self) -> DataFrame:
        """(user_id, item_id, ...) purchases up to as_of: what exclude_bought removes."""
        return purchases(self.events.where(F.to_date(F.col("event_time")) <= F.lit(self.as_of)))

    def require(self, name: str) -> DataFrame:
        if name not in self.inputs:
            raise KeyError(f"candidate source input '{name}' was not given (given: {', '.join(self.inputs) or 'none'})")
        return self.inputs[name]


@dataclass(frozen=True)
class CandidateSource:
    build: Callable[[SourceContext, int], DataFrame]  # (context, depth) -> RECOMMENDATIONS_SCHEMA rows
    inputs: tuple[str, ...] = ()  # keys of SourceContext.inputs it reads (catalogue table names or derived)


def popularity_source(ctx: SourceContext, depth: int) -> DataFrame:
    s = ctx.settings
    return recommend_popularity(ctx.events, ctx.users, ctx.as_of, s.popularity_window_days, depth)


def buy_again_source(ctx: SourceContext, depth: int) -> DataFrame:
    return recommend_buy_again(ctx.events, ctx.users, ctx.as_of, depth, ctx.settings.buy_again_half_life_days)


def co_occurrence_source(ctx: SourceContext, depth: int) -> DataFrame:
    s = ctx.settings
    companions = ctx.inputs.get(COMPANIONS_INPUT)
    if companions is None:
        companions = bought_together_from_baskets(ctx.events, s.co_occurrence_top_n, s.co_occurrence_max_basket_items)
    return recommend_co_occurrence(ctx.events, ctx.users, companions, depth, s.co_occurrence_recent_items)


def fit_als_for(ctx: SourceContext):
    """The AlsFit of the context (the caller's, else one fitted on the training events)."""
    if ALS_FIT in ctx.fitted:
        return ctx.fitted[ALS_FIT]
    s = ctx.settings
    training = als_training_set(ctx.events, ctx.as_of, s.event_weights, s.confidence_half_life_days, s.min_user_items)
    return train_als(training, s.als)


def als_source(ctx: SourceContext, depth: int) -> DataFrame:
    """ALS for users the model knows, cold start (category best sellers, then global) for the others."""
    s = ctx.settings
    return recommend_als_with_cold_start(
        fit_als_for(ctx), ctx.events, ctx.require(ITEMS_INPUT), ctx.users, ctx.as_of, depth,
        s.exclude_bought, s.popularity_window_days, s.overfetch_cap,
    )


DEFAULT_SOURCES: Mapping[str, CandidateSource] = {
    "popularity": CandidateSource(popularity_source),
    "buy_again": CandidateSource(buy_again_source),
    "co_occurrence": CandidateSource(co_occurrence_source, inputs=(COMPANIONS_INPUT,)),
    "als": CandidateSource(als_source, inputs=(ITEMS_INPUT,)),
}


def models_served(settings: RecommenderConfig) -> tuple[str, ...]:
    """The sources `serve` computes for these settings."""
    return settings.hybrid.used() if settings.serve == HYBRID else (settings.serve,)


def check_sources(settings: RecommenderConfig, sources: Mapping[str, CandidateSource]) -> None:
    if settings.serve != HYBRID and settings.serve not in sources:
        raise ValueError(f"key 'serve' must be hybrid or one of {', '.join(sources)}, got {settings.serve!r}")
    unknown = sorted(set(settings.hybrid.weights) - set(sources))
    if unknown:
        raise ValueError(f"hybrid weight for unknown source '{unknown[0]}' (known: {', '.join(sources)})")
    if settings.serve == HYBRID and not settings.hybrid.used():
        raise ValueError("serve = hybrid but every hybrid weight is 0")


def candidate_lists(
    ctx: SourceContext, sources: Mapping[str, CandidateSource], names: tuple[str, ...]
) -> dict[str, DataFrame]:
    """Each named source's list, `candidate_depth` rows per user."""
    return {name: sources[name].build(ctx, ctx.settings.candidate_depth) for name in names}


def serve_candidates(
    candidates: Mapping[str, DataFrame], settings: RecommenderConfig, bought: DataFrame
) -> DataFrame:
    """The served top-K: one source's list or the hybrid blend, bought items removed (every row,
    cold start included) when `exclude_bought`, re-ranked 1..k."""
    if settings.serve == HYBRID:
        used = {name: candidates[name] for name in settings.hybrid.used()}
        weights = {name: settings.hybrid.weights[name] for name in used}
        blended = recommend_hybrid(used, weights, settings.candidate_depth, settings.hybrid.normalisation)
    else:
        blended = candidates[settings.serve]
    kept = filter_bought(blended, bought) if settings.exclude_bought else blended
    return rerank(kept, settings.k)


def serve(ctx: SourceContext, sources: Mapping[str, CandidateSource] = DEFAULT_SOURCES) -> DataFrame:
    """What users are shown (RECOMMENDATIONS_SCHEMA, top k per user of ctx.users)."""
    check_sources(ctx.settings, sources)
    candidates = candidate_lists(ctx, sources, models_served(ctx.settings))
    return serve_candidates(candidates, ctx.settings, ctx.bought())


def with_model(settings: RecommenderConfig, model: str, hybrid: HybridSettings | None = None) -> RecommenderConfig:
    """`settings` serving `model` (a source or hybrid with `hybrid`)."""
    return dataclasses.replace(settings, serve=model, hybrid=hybrid or settings.hybrid)
