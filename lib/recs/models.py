"""Every recommender in one import; each returns RECOMMENDATIONS_SCHEMA top-K per user.

    from lib.recs.models import recommend_popularity, recommend_buy_again, ...
"""

from lib.recs.als import AlsParams, fit_als, item_factors, recommend_als, user_factors, with_int_ids
from lib.recs.baselines import (
    best_sellers,
    bought_together_from_baskets,
    recommend_buy_again,
    recommend_co_occurrence,
    recommend_cold_start,
    recommend_popularity,
)
from lib.recs.hybrid import normalised_scores, recommend_hybrid
from lib.recs.ids import assign_ids
from lib.recs.interactions import confidence_scores, purchases
from lib.recs.pipeline import AlsFit, als_training_set, recommend_als_with_cold_start, train_als
from lib.recs.ranking import filter_bought, rerank, top_k_per_user
from lib.recs.similar import SimilarItemsParams, similar_items
from lib.schemas.recs import RECOMMENDATIONS_SCHEMA

__all__ = [
    "RECOMMENDATIONS_SCHEMA",
    "AlsFit",
    "AlsParams",
    "SimilarItemsParams",
    "als_training_set",
    "assign_ids",
    "best_sellers",
    "bought_together_from_baskets",
    "confidence_scores",
    "filter_bought",
    "fit_als",
    "item_factors",
    "normalised_scores",
    "purchases",
    "recommend_als",
    "recommend_als_with_cold_start",
    "recommend_buy_again",
    "recommend_co_occurrence",
    "recommend_cold_start",
    "recommend_hybrid",
    "recommend_popularity",
    "rerank",
    "similar_items",
    "top_k_per_user",
    "train_als",
    "user_factors",
    "with_int_ids",
]
