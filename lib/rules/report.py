"""What a person reads first: the strongest kept rules, with titles."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.schemas.rules import KEPT

TOP_RULE_COLUMNS = (
    "antecedent_titles", "consequent_title", "antecedent", "consequent",
    "n_ab", "support", "confidence", "lift", "p_adjusted",
)


def top_rules(rules: DataFrame, n: int = 10) -> DataFrame:
    """The `n` strongest kept rules of an association_rules frame: by lift, then confidence, then
    n_ab (ties broken by the rule itself, so the order is stable). Pure: no action is run."""
    ordering = [
        F.col("lift").desc(), F.col("confidence").desc(), F.col("n_ab").desc(),
        F.col("consequent").asc(), F.array_join("antecedent", "\u0001").asc(),
    ]
    return (
        rules.filter(F.col("status") == KEPT)
        .orderBy(*ordering)
        .limit(n)
        .select(*TOP_RULE_COLUMNS)
    )


def format_rule_lines(rows: list) -> list[str]:
    """Rows of `top_rules` (already collected, at most n) as printable lines."""

    def name(title: str | None, item_id: str) -> str:
        return title if title else item_id

    lines = []
    for row in rows:
        left = " + ".join(name(t, i) for t, i in zip(row["antecedent_titles"], row["antecedent"]))
        right = name(row["consequent_title"], row["consequent"])
        lines.append(
            f"{left} -> {right}  (lift {row['lift']:.2f}, confidence {row['confidence']:.2f}, "
            f"baskets {row['n_ab']}, q {row['p_adjusted']:.2g})"
        )
    return lines
