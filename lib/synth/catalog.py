"""The synthetic catalogue: items in a category tree, with Zipf popularity, titles and prices.

Item number k has popularity rank k and sits in leaf category k mod L, so the popular items are spread
over the whole tree and the items of leaf c are c, c + L, c + 2L, ... in order of popularity.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.synth.randomness import standard_normal, uniform
from lib.synth.spec import ShopSpec

TOP_CATEGORIES = ("kitchen", "garden", "toys", "fashion", "electronics", "books", "beauty", "sports",
                  "home", "pets", "office", "outdoor")
SUBCATEGORIES = ("essentials", "premium", "classic", "outdoor", "compact", "vintage", "eco", "pro")
NOUNS = {
    "kitchen": ("Mug", "Teapot", "Saucepan", "Cutting Board", "Whisk", "Bread Bin"),
    "garden": ("Trowel", "Watering Can", "Planter", "Seed Tray", "Hose Reel", "Bird Feeder"),
    "toys": ("Puzzle", "Kite", "Building Set", "Plush Bear", "Yo-Yo", "Train Set"),
    "fashion": ("Scarf", "Tote Bag", "Beanie", "Belt", "Gloves", "Sunglasses"),
    "electronics": ("Charger", "Headphones", "Cable", "Power Bank", "Speaker", "Mouse"),
    "books": ("Cookbook", "Notebook", "Atlas", "Novel", "Sketchbook", "Diary"),
    "beauty": ("Soap", "Lip Balm", "Hand Cream", "Candle", "Bath Salts", "Comb"),
    "sports": ("Water Bottle", "Yoga Mat", "Jump Rope", "Ball", "Sweatband", "Gym Bag"),
    "home": ("Cushion", "Lamp", "Throw", "Frame", "Clock", "Vase"),
    "pets": ("Lead", "Bowl", "Chew Toy", "Pet Bed", "Brush", "Treat Jar"),
    "office": ("Stapler", "Pen Set", "Desk Tidy", "Lamp", "Folder", "Planner"),
    "outdoor": ("Tent Peg", "Lantern", "Flask", "Camp Chair", "Compass", "Rain Poncho"),
}
ADJECTIVES = ("Rustic", "Classic", "Modern", "Vintage", "Bright", "Cosy", "Deluxe", "Handmade",
              "Nordic", "Retro", "Mini", "Large")


def leaf_count(spec: ShopSpec) -> int:
    return spec.top_categories * spec.subcategories_per_top * spec.leaves_per_subcategory


def item_id(item_number: Column) -> Column:
    return F.format_string("i%05d", item_number)


def _pick(options: tuple[str, ...], index: Column) -> Column:
    return F.element_at(F.array(*[F.lit(o) for o in options]), (index % len(options) + 1).cast("int"))


def generate_items(spark: SparkSession, spec: ShopSpec) -> DataFrame:
    """One row per item: item_number, item_id, leaf, top_index, category_path, category, title, price."""
    if spec.top_categories > len(TOP_CATEGORIES):
        raise ValueError(f"top_categories is at most {len(TOP_CATEGORIES)}, got {spec.top_categories}")
    leaves = leaf_count(spec)
    per_top = spec.subcategories_per_top * spec.leaves_per_subcategory
    number = F.col("id")
    leaf = number % leaves
    top_index = (leaf / per_top).cast("int")
    sub_index = ((leaf / spec.leaves_per_subcategory).cast("int") % spec.subcategories_per_top).cast("int")
    leaf_index = (leaf % spec.leaves_per_subcategory).cast("int")
    top_name = _pick(TOP_CATEGORIES, top_index)
    noun = F.element_at(
        F.array(*[F.array(*[F.lit(n) for n in NOUNS[t]]) for t in TOP_CATEGORIES]), top_index + 1
    )
    noun_index = (F.abs(F.xxhash64(F.lit(spec.seed), F.lit("noun"), number)) % 6 + 1).cast("int")
    adjective = _pick(ADJECTIVES, F.abs(F.xxhash64(F.lit(spec.seed), F.lit("adj"), number)))
    category = F.concat_ws("-", top_name, _pick(SUBCATEGORIES, sub_index), (leaf_index + 1).cast("string"))
    log_price = (
        F.lit(2.2) + (top_index % 4) * 0.35
        + 0.45 * standard_normal(uniform(spec.seed, "price1", number), uniform(spec.seed, "price2", number))
    )
    return spark.range(spec.items).select(
        number.alias("item_number"),
        item_id(number).alias("item_id"),
        leaf.cast("int").alias("leaf"),
        top_index.alias("top_index"),
        F.concat_ws("/", top_name, _pick(SUBCATEGORIES, sub_index), category).alias("category_path"),
        category.alias("category"),
        F.concat_ws(" ", adjective, F.element_at(noun, noun_index), F.format_string("#%d", number)).alias("title"),
        F.round(F.greatest(F.exp(log_price), F.lit(0.5)), 2).alias("price"),
    )
