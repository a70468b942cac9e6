"""Item text as the encoder sees it: title, category path and description, cleaned, with a hash.

Built-in Spark functions only. The hash is of the exact text embedded, so a changed title, category
or description (or a change to this normalisation) makes the item be embedded again.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

PART_SEPARATOR = " | "


def clean_text(text: Column) -> Column:
    """Control characters to spaces, runs of white space to one, trimmed; empty -> null."""
    spaced = F.regexp_replace(F.regexp_replace(text, r"[\p{Cntrl}]", " "), r"\s+", " ")
    cleaned = F.trim(spaced)
    return F.when(F.length(cleaned) > 0, cleaned).otherwise(F.lit(None).cast("string"))


def category_text(path: Column) -> Column:
    """'kitchen/premium/kitchen-premium-2' -> 'kitchen > premium > kitchen premium 2'."""
    parts = F.regexp_replace(F.regexp_replace(path, r"\s*/\s*", " > "), r"[-_]+", " ")
    return clean_text(parts)


def with_item_text(items: DataFrame) -> DataFrame:
    """(item_id, text, text_hash) for the items with any text; `description` is used when present.

    text = title | category path (else category) | description, the null parts skipped.
    """
    category = F.coalesce(category_text(F.col("category_path")), category_text(F.col("category")))
    parts = [clean_text(F.col("title")), category]
    if "description" in items.columns:
        parts.append(clean_text(F.col("description")))
    text = F.concat_ws(PART_SEPARATOR, *parts)
    return (
        items.select("item_id", text.alias("text"))
        .where(F.length("text") > 0)
        .select("item_id", "text", F.sha2(F.col("text"), 256).alias("text_hash"))
    )


def filter_items_without_text(items: DataFrame) -> DataFrame:
    """The items `with_item_text` leaves out (no title, category or description): they get no vector."""
    return items.join(with_item_text(items).select("item_id"), on="item_id", how="left_anti")
