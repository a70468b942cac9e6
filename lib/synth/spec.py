"""What a synthetic shop looks like: every knob of the generator, typed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShopSpec:
    seed: int = 42
    days: int = 28  # the generated days end at the run date
    users: int = 2_000
    items: int = 600
    top_categories: int = 6
    subcategories_per_top: int = 3
    leaves_per_subcategory: int = 2
    sessions_per_day: int = 700
    mean_views_per_session: float = 5.0
    max_views_per_session: int = 40
    popularity_exponent: float = 1.1  # Zipf exponent of item popularity
    user_activity_exponent: float = 1.6  # larger: a few heavy users make more sessions
    preference_share: float = 0.6  # share of views inside the user's preferred category
    cart_rate: float = 0.3
    fav_rate: float = 0.05
    purchase_rate: float = 0.45  # share of sessions with a cart that end in an order
    repeat_purchase_rate: float = 0.2  # converting sessions that also re-buy a user's staple item
    staples_per_user: int = 3
    max_quantity: int = 4
    weekday_weights: tuple[float, ...] = (1.0, 0.95, 0.95, 1.0, 1.1, 1.35, 1.25)  # Mon..Sun
    bundles: int = 8
    bundle_strength: float = 0.6  # P(companions in the order | anchor in the order)
    # Days count from 0 = the first generated day. 0 switches each off (every bundle runs every day).
    appearing_bundle_day: int = 0  # the last bundle starts on this day (rule trends: "appeared")
    vanishing_bundle_day: int = 0  # the second-to-last bundle stops on this day ("vanished")
    paths: int = 0  # planted "A then B within path_max_days" paths (lib/synth/paths.py)
    path_strength: float = 0.5  # P(a B order follows an A order within path_max_days)
    path_max_days: int = 14
    landing_subdir: str = "shop"
