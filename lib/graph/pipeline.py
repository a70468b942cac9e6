"""The graph job's flow: signals -> fused edges -> PageRank, communities, bridges, bundles, embeddings.

Pure: DataFrames and plain values in, {table name: DataFrame without dt} out. Every optional input may
be None (the table does not exist yet): that signal is simply missing from the fusion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.arrays import cut_lineage
from lib.graph.bridges import cross_category_bridges
from lib.graph.bundles import BundleParams, community_cliques, graph_bundles
from lib.graph.communities import CommunityParams, detect_communities, graph_nodes, name_communities
from lib.graph.fusion import FusionParams, fuse_edges, symmetric_weights
from lib.graph.pagerank import PageRankParams, pagerank
from lib.graph.propagation import PropagationParams, initial_vectors, propagate
from lib.graph.signals import (
    basket_items, co_occurrence_signal, cosine_pairs, cosine_signal, next_item_signal,
    rule_pairs_from_association_rules, rule_pairs_from_bought_together, rule_signal,
)
from lib.schemas.graph import (
    CROSS_CATEGORY_BRIDGES, GRAPH_BUNDLES, ITEM_COMMUNITIES, ITEM_GRAPH, ITEM_GRAPH_EMBEDDINGS, SIGNAL_ALS,
    SIGNAL_BEHAVIOUR, SIGNAL_CO_OCCURRENCE, SIGNAL_NEXT_ITEM, SIGNAL_RULES, SIGNAL_TEXT,
)


@dataclass(frozen=True)
class SignalParams:
    max_basket_items: int = 100  # larger baskets are left out of co-occurrence (pairs grow quadratically)
    min_co_count: int = 2  # co-occurrence pairs seen in fewer baskets are left out
    cosine_k: int = 20  # nearest neighbours per item for the embedding signals
    cosine_method: str = "exact_blocked"  # lib.recs.similar: exact_blocked | lsh
    cosine_num_blocks: int = 8

    def validate(self) -> None:
        if self.max_basket_items < 2 or self.min_co_count < 1 or self.cosine_k < 1 or self.cosine_num_blocks < 1:
            raise ValueError("signals: max_basket_items >= 2, min_co_count, cosine_k, cosine_num_blocks >= 1")


@dataclass(frozen=True)
class BridgeParams:
    min_weight: float = 0.3
    top_n: int = 100

    def validate(self) -> None:
        if self.top_n < 1 or self.min_weight < 0:
            raise ValueError("bridges: top_n must be >= 1 and min_weight >= 0")


@dataclass(frozen=True)
class GraphParams:
    signals: SignalParams = field(default_factory=SignalParams)
    fusion: FusionParams = field(default_factory=FusionParams)
    communities: CommunityParams = field(default_factory=CommunityParams)
    pagerank: PageRankParams = field(default_factory=PageRankParams)
    bridges: BridgeParams = field(default_factory=BridgeParams)
    bundles: BundleParams = field(default_factory=BundleParams)
    propagation: PropagationParams = field(default_factory=PropagationParams)

    def validate(self) -> None:
        for part in (self.signals, self.fusion, self.communities, self.pagerank, self.bridges, self.bundles,
                     self.propagation):
            part.validate()


@dataclass(frozen=True)
class GraphInputs:
    """What the graph is built from; all but events and items are optional (None = missing signal)."""

    events: DataFrame  # canonical events of the window
    items: DataFrame  # ITEMS_SCHEMA
    association_rules: DataFrame | None = None
    bought_together: DataFrame | None = None  # used when association_rules is missing
    als_pairs: DataFrame | None = None  # similar_items: (item_id, similar_item_id, score)
    als_factors: DataFrame | None = None  # item_factors as (item_id, vector): pairs when als_pairs is None
    text: DataFrame | None = None  # item_embeddings (item_id, vector)
    behaviour: DataFrame | None = None  # item_behaviour_embeddings (item_id, vector)
    next_items: DataFrame | None = None  # (item_id, next_item_id, confidence, count)


def build_signals(inputs: GraphInputs, params: SignalParams) -> dict[str, DataFrame]:
    signals = {
        SIGNAL_CO_OCCURRENCE: co_occurrence_signal(inputs.events, params.max_basket_items, params.min_co_count),
    }
    if inputs.association_rules is not None:
        signals[SIGNAL_RULES] = rule_signal(rule_pairs_from_association_rules(inputs.association_rules))
    elif inputs.bought_together is not None:
        signals[SIGNAL_RULES] = rule_signal(rule_pairs_from_bought_together(inputs.bought_together))
    if inputs.next_items is not None:
        signals[SIGNAL_NEXT_ITEM] = next_item_signal(inputs.next_items)

    def knn(frame: DataFrame) -> DataFrame:
        return cosine_pairs(frame, params.cosine_k, params.cosine_method, params.cosine_num_blocks)

    als_pairs = inputs.als_pairs if inputs.als_pairs is not None else (
        knn(inputs.als_factors) if inputs.als_factors is not None else None
    )
    for name, pairs in ((SIGNAL_ALS, als_pairs),
                        (SIGNAL_TEXT, knn(inputs.text) if inputs.text is not None else None),
                        (SIGNAL_BEHAVIOUR, knn(inputs.behaviour) if inputs.behaviour is not None else None)):
        if pairs is not None:
            signals[name] = cosine_signal(pairs, name)
    return signals


def build_item_graph(inputs: GraphInputs, params: GraphParams) -> DataFrame:
    """EDGES_SCHEMA: the fused, capped edge table (materialised)."""
    return cut_lineage(fuse_edges(build_signals(inputs, params.signals), params.fusion))


def propagated_embeddings(
    text: DataFrame | None, behaviour: DataFrame | None, symmetric: DataFrame, params: PropagationParams
) -> DataFrame:
    """(item_id, vector array<float>): z of lib.graph.propagation."""
    z = propagate(initial_vectors(text, behaviour, params), symmetric, params)
    return z.select("item_id", F.col("vector").cast("array<float>").alias("vector"))


def graph_tables(inputs: GraphInputs, params: GraphParams) -> Mapping[str, DataFrame | None]:
    """{table: frame without dt}; ITEM_GRAPH_EMBEDDINGS is None without text or behaviour embeddings."""
    params.validate()
    edges = build_item_graph(inputs, params)
    symmetric = cut_lineage(symmetric_weights(edges))
    nodes = cut_lineage(graph_nodes(edges))
    ranks = pagerank(nodes, edges.select("src_item_id", "dst_item_id", "weight"), params.pagerank)
    assignments = detect_communities(nodes, symmetric, params.communities)
    communities = cut_lineage(name_communities(assignments, ranks, inputs.items, params.communities.hubs))
    bridges = cross_category_bridges(edges, communities, params.bridges.min_weight, params.bridges.top_n)
    baskets = cut_lineage(basket_items(inputs.events, params.signals.max_basket_items))
    cliques = community_cliques(symmetric, communities, params.bundles)
    bundles = graph_bundles(cliques, baskets, inputs.items, baskets.select("basket_id").distinct().count(),
                            params.bundles.privacy_min_count)
    behaviour = inputs.behaviour if inputs.behaviour is not None else inputs.als_factors
    embeddings = (
        propagated_embeddings(inputs.text, behaviour, symmetric, params.propagation)
        if inputs.text is not None or behaviour is not None else None
    )
    return {
        ITEM_GRAPH: edges,
        ITEM_COMMUNITIES: communities,
        CROSS_CATEGORY_BRIDGES: bridges,
        GRAPH_BUNDLES: bundles,
        ITEM_GRAPH_EMBEDDINGS: embeddings,
    }


def graph_candidates(
    training: DataFrame,
    items: DataFrame,
    users: DataFrame,
    as_of,
    graph_params: GraphParams,
    rec_params,
    behaviour: DataFrame | None = None,
    text: DataFrame | None = None,
) -> DataFrame:
    """The graph recommender as an evaluation candidate source: RECOMMENDATIONS_SCHEMA.

    Builds the item graph from the training events only (co-occurrence; ALS cosine from `behaviour`
    when given, e.g. the window's ALS item factors as (item_id, vector); text cosine from `text`), so
    nothing after the split leaks, then `recommend_propagated`. `rec_params` is a GraphRecParams.
    """
    from lib.graph.recommend import recommend_propagated

    inputs = GraphInputs(events=training, items=items, als_factors=behaviour, text=text)
    edges = build_item_graph(inputs, graph_params)
    return recommend_propagated(training, edges, text, behaviour, users, as_of, rec_params)
