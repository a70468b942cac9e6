"""Recommenders: implicit-feedback inputs, stable ids, baselines, ALS, a hybrid and similar items.

All functions are pure DataFrame transforms (no table IO, no session building). Every recommender
returns `lib.schemas.recs.RECOMMENDATIONS_SCHEMA`: (user_id, rank, item_id, score, source), top-K per user.
"""
