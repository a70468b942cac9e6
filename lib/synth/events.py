"""Synthetic shopping sessions: users view, favourite, add to cart and buy; orders, repeat purchases,
weekly seasonality and planted bundles. Everything is a Spark expression of hashed keys: no Python
loop over rows, and the same seed gives the same shop."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.synth.bundles import bundle_members, plan_bundles
from lib.synth.catalog import leaf_count
from lib.synth.paths import path_members, path_purchases, plan_paths
from lib.synth.randomness import geometric_count, uniform, zipf_rank
from lib.synth.spec import ShopSpec

SECONDS_PER_VIEW = 40
EVENT_COLUMNS = ("event_id", "event_time", "user_number", "session_id", "order_id", "item_number",
                 "event_type", "quantity")


def _weekday_weight(date: Column, weights: tuple[float, ...]) -> Column:
    if len(weights) != 7:
        raise ValueError(f"weekday_weights needs 7 values (Mon..Sun), got {len(weights)}")
    monday_first = (F.dayofweek(date) + 5) % 7 + 1  # Spark: 1 = Sunday
    return F.element_at(F.array(*[F.lit(float(w)) for w in weights]), monday_first)


def generate_sessions(spark: SparkSession, spec: ShopSpec, end_date: dt.date) -> DataFrame:
    """One row per session: date, session_id, user_number, start, views, converts, preferred leaf."""
    seed = spec.seed
    days = spark.range(spec.days).select(
        F.date_sub(F.lit(end_date), (spec.days - 1 - F.col("id")).cast("int")).alias("date"),
    )
    per_day = F.round(
        spec.sessions_per_day * _weekday_weight(F.col("date"), spec.weekday_weights)
        * (0.9 + 0.2 * uniform(seed, "day", F.col("date")))
    ).cast("int")
    sessions = days.select("date", F.explode(F.sequence(F.lit(0), per_day - 1)).alias("n"))
    key = (F.col("date"), F.col("n"))
    user_number = F.floor(spec.users * F.pow(uniform(seed, "user", *key), spec.user_activity_exponent))
    hour_seconds = F.floor(3600 * (7 + 16 * F.pow(uniform(seed, "hour", *key), 0.8)))
    return sessions.select(
        "date",
        F.format_string("s%s-%06d", F.date_format("date", "yyyyMMdd"), F.col("n")).alias("session_id"),
        user_number.cast("long").alias("user_number"),
        (F.col("date").cast("timestamp") + F.make_interval(secs=hour_seconds)).alias("start"),
        geometric_count(uniform(seed, "views", *key), spec.mean_views_per_session, spec.max_views_per_session)
        .alias("views"),
        (uniform(seed, "converts", *key) < spec.purchase_rate).alias("converts"),
        F.pmod(F.xxhash64(F.lit(seed), F.lit("pref"), user_number), F.lit(leaf_count(spec))).alias("pref_leaf"),
    )


def _item_in_leaf(u: Column, leaf: Column, spec: ShopSpec) -> Column:
    leaves = leaf_count(spec)
    in_leaf = F.ceil((F.lit(spec.items) - leaf) / leaves).cast("long")
    return zipf_rank(u, in_leaf, spec.popularity_exponent) * leaves + leaf


def generate_views(sessions: DataFrame, spec: ShopSpec) -> DataFrame:
    """One row per viewed item, with the session's decisions about it (fav, cart, purchase)."""
    seed = spec.seed
    views = sessions.select("*", F.explode(F.sequence(F.lit(0), F.col("views") - 1)).alias("v"))
    key = (F.col("session_id"), F.col("v"))
    in_preferred = uniform(seed, "pref_view", *key) < spec.preference_share
    u_item = uniform(seed, "item", *key)
    item_number = F.when(in_preferred, _item_in_leaf(u_item, F.col("pref_leaf"), spec)).otherwise(
        zipf_rank(u_item, spec.items, spec.popularity_exponent)
    )
    # A converting session always carts its first view, so every order has at least one item.
    carted = (uniform(seed, "cart", *key) < spec.cart_rate) | ((F.col("v") == 0) & F.col("converts"))
    return views.select(
        "date", "session_id", "user_number", "converts", "views", "v",
        item_number.alias("item_number"),
        (F.col("start") + F.make_interval(secs=F.col("v") * SECONDS_PER_VIEW)).alias("view_time"),
        (uniform(seed, "fav", *key) < spec.fav_rate).alias("faved"),
        carted.alias("carted"),
        (F.lit(1) + F.floor(F.pow(uniform(seed, "qty", *key), 4) * spec.max_quantity)).cast("int").alias("qty"),
    )


def _checkout_time(views: Column) -> Column:
    return F.col("start") + F.make_interval(secs=views * SECONDS_PER_VIEW + 60)


def _event(event_type: str, time: Column, keep: Column, quantity: Column) -> Column:
    return F.struct(
        F.lit(event_type).alias("event_type"), time.alias("event_time"), keep.alias("keep"),
        quantity.alias("quantity"),
    )


def view_events(views: DataFrame) -> DataFrame:
    """Explode each view into its view / fav / cart / purchase events in one pass."""
    checkout = F.col("view_time") + F.make_interval(
        secs=(F.col("views") - F.col("v")) * SECONDS_PER_VIEW + 60
    )
    candidates = F.array(
        _event("view", F.col("view_time"), F.lit(True), F.lit(None).cast("int")),
        _event("fav", F.col("view_time") + F.expr("INTERVAL 5 SECONDS"), F.col("faved"), F.lit(None).cast("int")),
        _event("cart", F.col("view_time") + F.expr("INTERVAL 10 SECONDS"), F.col("carted"), F.lit(1)),
        _event("purchase", checkout, F.col("carted") & F.col("converts"), F.col("qty")),
    )
    exploded = views.select(
        "date", "session_id", "user_number", "item_number", "v",
        F.explode(F.filter(candidates, lambda e: e["keep"])).alias("e"),
    )
    return exploded.select(
        F.concat_ws("-", "session_id", F.format_string("%03d", F.col("v")), F.col("e.event_type")).alias("event_id"),
        F.col("e.event_time").alias("event_time"),
        "user_number", "session_id",
        F.when(F.col("e.event_type") == "purchase", F.concat(F.lit("o"), F.col("session_id"))).alias("order_id"),
        "item_number",
        F.col("e.event_type").alias("event_type"),
        F.col("e.quantity").alias("quantity"),
        "date",
    )


def repeat_purchases(sessions: DataFrame, spec: ShopSpec) -> DataFrame:
    """Converting sessions that re-buy one of the user's few staple items (cart + purchase)."""
    seed = spec.seed
    key = (F.col("session_id"),)
    slot = F.floor(uniform(seed, "staple_slot", *key) * spec.staples_per_user)
    staple = _item_in_leaf(uniform(seed, "staple", F.col("user_number"), slot), F.col("pref_leaf"), spec)
    buyers = sessions.where(F.col("converts") & (uniform(seed, "repeat", *key) < spec.repeat_purchase_rate))
    checkout = _checkout_time(F.col("views"))
    rows = buyers.select(
        "date", "session_id", "user_number", staple.alias("item_number"),
        F.explode(F.array(
            _event("cart", checkout - F.expr("INTERVAL 30 SECONDS"), F.lit(True), F.lit(1)),
            _event("purchase", checkout, F.lit(True), F.lit(1)),
        )).alias("e"),
    )
    return rows.select(
        F.concat_ws("-", "session_id", F.lit("r"), F.col("e.event_type")).alias("event_id"),
        F.col("e.event_time").alias("event_time"),
        "user_number", "session_id",
        F.when(F.col("e.event_type") == "purchase", F.concat(F.lit("o"), F.col("session_id"))).alias("order_id"),
        "item_number", F.col("e.event_type").alias("event_type"), F.col("e.quantity").alias("quantity"), "date",
    )


def bundle_purchases(
    purchases: DataFrame, members: DataFrame, spec: ShopSpec, first_date: dt.date | None = None
) -> DataFrame:
    """Companion purchases added to orders that contain a bundle's anchor, with P = bundle_strength.

    One draw per (order, bundle), so a bundle's companions join an order together. With `first_date`
    (the first generated day), a bundle joins orders only on the days it runs (`first_day`, `stop_day`).
    """
    anchors = purchases.select("date", "session_id", "user_number", "order_id", "event_time", "item_number").join(
        F.broadcast(members), F.col("item_number") == F.col("anchor_number"), how="inner"
    )
    if first_date is not None:
        day = F.datediff(F.col("date"), F.lit(first_date))
        runs = (day >= F.col("first_day")) & (F.col("stop_day").isNull() | (day < F.col("stop_day")))
        anchors = anchors.where(runs)
    anchors = anchors.dropDuplicates(["order_id", "bundle_id", "companion_number"])
    chosen = anchors.where(
        uniform(spec.seed, "bundle", F.col("order_id"), F.col("bundle_id")) < spec.bundle_strength
    )
    return chosen.select(
        F.concat_ws("-", "session_id", F.lit("b"), F.col("companion_number").cast("string"), F.lit("purchase"))
        .alias("event_id"),
        "event_time", "user_number", "session_id", "order_id",
        F.col("companion_number").alias("item_number"),
        F.lit("purchase").alias("event_type"),
        F.lit(1).alias("quantity"),
        "date",
    )


def generate_events(spark: SparkSession, spec: ShopSpec, end_date: dt.date) -> DataFrame:
    """All events of the shop's `spec.days` days ending at `end_date` (item and user as numbers)."""
    sessions = generate_sessions(spark, spec, end_date)
    organic = view_events(generate_views(sessions, spec)).unionByName(repeat_purchases(sessions, spec))
    members = bundle_members(spark, plan_bundles(spec))
    first_date = end_date - dt.timedelta(days=spec.days - 1)
    planted = bundle_purchases(organic.where(F.col("event_type") == "purchase"), members, spec, first_date)
    if spec.paths == 0:
        return organic.unionByName(planted)
    after = path_purchases(organic.where(F.col("event_type") == "purchase"), path_members(spark, plan_paths(spec)),
                           spec, end_date)
    return organic.unionByName(planted).unionByName(after)
