"""The table catalogue: every table's name, schema, partitioning, producing job and meaning, in one place.

    from lib.catalog import catalog
    tables = catalog(config.tables)          # the names configured in conf/tables.toml (+ overlays, --set)
    tables.physical("events")                # the warehouse name a reader or writer uses
    tables.table("events").schema            # StructType with nullability

Jobs never spell a table name: they key their outputs by the logical name (the constants in
`lib.schemas.*`), `lib.outputs.write_outputs` conforms each frame to its catalogue schema and writes
it under the configured name, and readers resolve names through the same catalogue.
`render_markdown()` renders docs/tables.md (a test keeps it current).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.sql import types as T

from lib.schemas import evaluation as S_EVAL
from lib.schemas import graph as S_GRAPH
from lib.schemas import paths as S_PATHS
from lib.schemas import events as S_EVENTS
from lib.schemas import ingest as S_INGEST
from lib.schemas import maintenance as S_MAINTENANCE
from lib.schemas import recs as S_RECS
from lib.schemas import report as S_REPORT
from lib.schemas import rules as S_RULES
from lib.schemas import runs as S_RUNS
from lib.schemas import text as S_TEXT

# How the shared writer writes a table.
REPLACE = "replace"  # replace the run's dt partitions (re-runs replace, other dates stay)
OVERWRITE = "overwrite"  # the whole table (state tables without dt: items, id maps)
APPEND = "append"  # add rows (job_runs)
WRITE_MODES = (REPLACE, OVERWRITE, APPEND)
ANY_JOB = "(every job)"


@dataclass(frozen=True)
class Table:
    name: str  # the logical name (the default warehouse name)
    schema: T.StructType
    partition_by: tuple[str, ...]
    producer: str  # the job that writes it
    description: str
    write: str = REPLACE

    def __post_init__(self) -> None:
        if self.write not in WRITE_MODES:
            raise ValueError(f"table '{self.name}': write mode '{self.write}' is not one of {WRITE_MODES}")
        missing = [c for c in self.partition_by if c not in self.schema.names]
        if missing:
            raise ValueError(f"table '{self.name}': partition column(s) {missing} are not in its schema")
        if self.write == REPLACE and self.partition_by != ("dt",):
            raise ValueError(f"table '{self.name}': replace needs partition_by = ('dt',)")


DT = ("dt",)

TABLES: tuple[Table, ...] = (
    Table(S_EVENTS.EVENTS, S_EVENTS.EVENTS_SCHEMA, DT, "ingest",
          "Canonical shop events (view, cart, fav, purchase, return), user ids pseudonymised."),
    Table(S_EVENTS.ITEMS, S_EVENTS.ITEMS_SCHEMA, (), "ingest",
          "One row per item: latest title, category and price, first and last day seen.", OVERWRITE),
    Table(S_INGEST.QUARANTINE, S_INGEST.QUARANTINE_SCHEMA, DT, "ingest",
          "Input rows that were not accepted, each with its reason and the raw record."),
    Table(S_INGEST.INGEST_AUDIT, S_INGEST.INGEST_AUDIT_SCHEMA, DT, "ingest",
          "Per date and run: input rows = accepted + duplicates + quarantined (by reason)."),
    Table(S_INGEST.INGEST_FILES, S_INGEST.INGEST_FILES_SCHEMA, DT, "ingest",
          "Per input file and run: raw lines (counted apart from the parser) = header + blank + parsed rows."),
    Table(S_INGEST.EVENT_SEQUENCES, S_INGEST.EVENT_SEQUENCES_SCHEMA, DT, "ingest",
          "Position of an event inside its basket (cart order), for exports that have one."),
    Table(S_RULES.FREQUENT_ITEMSETS, S_RULES.FREQUENT_ITEMSETS_SCHEMA, DT, "fpgrowth",
          "Frequent itemsets of the window's baskets with count, support and privacy status."),
    Table(S_RULES.ASSOCIATION_RULES, S_RULES.ASSOCIATION_RULES_SCHEMA, DT, "fpgrowth",
          "Item rules with every metric, Fisher p-value, BH adjustment and pruning status."),
    Table(S_RULES.BOUGHT_TOGETHER, S_RULES.BOUGHT_TOGETHER_SCHEMA, DT, "fpgrowth",
          "Top companions per item from the kept rules; the ALS job's co-occurrence source reads it."),
    Table(S_RULES.CATEGORY_RULES, S_RULES.CATEGORY_RULES_SCHEMA, DT, "fpgrowth",
          "The same mining with items rolled up to their category path."),
    Table(S_RULES.BUNDLES, S_RULES.BUNDLES_SCHEMA, DT, "fpgrowth",
          "Itemsets of at least bundles.min_size items with all-confidence and bundle price."),
    Table(S_RECS.ID_MAP_USERS, S_RECS.ID_MAP_USERS_SCHEMA, (), "als",
          "Stable integer ids of users for ALS (old ids kept across runs).", OVERWRITE),
    Table(S_RECS.ID_MAP_ITEMS, S_RECS.ID_MAP_ITEMS_SCHEMA, (), "als",
          "Stable integer ids of items for ALS (old ids kept across runs).", OVERWRITE),
    Table(S_RECS.USER_FACTORS, S_RECS.USER_FACTORS_SCHEMA, DT, "als", "ALS user factors of the run."),
    Table(S_RECS.ITEM_FACTORS, S_RECS.ITEM_FACTORS_SCHEMA, DT, "als", "ALS item factors of the run."),
    Table(S_RECS.USER_RECOMMENDATIONS, S_RECS.USER_RECOMMENDATIONS_SCHEMA, DT, "als",
          "Top-K served per active user, through the same serving function evaluate measures."),
    Table(S_RECS.SIMILAR_ITEMS, S_RECS.SIMILAR_ITEMS_SCHEMA, DT, "als",
          "Most similar items per item (cosine of ALS item factors)."),
    Table(S_EVAL.EVALUATION_METRICS, S_EVAL.EVALUATION_METRICS_SCHEMA, DT, "evaluate",
          "Time-split metrics per window, model, parameters, view and slice."),
    Table(S_RUNS.TUNED_PARAMETERS, S_RUNS.TUNED_PARAMETERS_SCHEMA, DT, "evaluate",
          "Every point evaluate searched on the tuning window; `selected` rows are what als serves."),
    Table(S_TEXT.ITEM_EMBEDDINGS, S_TEXT.ITEM_EMBEDDINGS_SCHEMA, DT, "embed",
          "Sentence embedding of each item's title and category (pretrained MiniLM), carried over when unchanged."),
    Table(S_TEXT.SIMILAR_ITEMS_TEXT, S_TEXT.SIMILAR_ITEMS_TEXT_SCHEMA, DT, "embed",
          "Most similar items per item by text (exact top-k cosine of the embeddings)."),
    Table(S_TEXT.ITEM_FAMILIES, S_TEXT.ITEM_FAMILIES_SCHEMA, DT, "embed",
          "Product families: clusters of the embeddings, named by their most typical title words."),
    Table(S_PATHS.PURCHASE_PATHS, S_PATHS.PURCHASE_PATHS_SCHEMA, DT, "paths",
          "Frequent purchase paths (PrefixSpan): support, P(next step | prefix), lift, FDR and privacy status."),
    Table(S_PATHS.NEXT_ITEMS, S_PATHS.NEXT_ITEMS_SCHEMA, DT, "paths",
          "Bought after: per item, the items its buyers most often buy in a later basket within N days."),
    Table(S_PATHS.ITEM_BEHAVIOUR_EMBEDDINGS, S_PATHS.ITEM_BEHAVIOUR_EMBEDDINGS_SCHEMA, DT, "paths",
          "item2vec: MLlib Word2Vec vectors trained on the ordered item sequences."),
    Table(S_PATHS.SIMILAR_BEHAVIOUR_ITEMS, S_PATHS.SIMILAR_BEHAVIOUR_ITEMS_SCHEMA, DT, "paths",
          "Most similar items per item by behaviour (cosine of the item2vec vectors)."),
    Table(S_GRAPH.ITEM_GRAPH, S_GRAPH.ITEM_GRAPH_SCHEMA, DT, "graph",
          "The product graph: one edge per item pair with each signal's evidence and the fused weight."),
    Table(S_GRAPH.ITEM_COMMUNITIES, S_GRAPH.ITEM_COMMUNITIES_SCHEMA, DT, "graph",
          "Communities of the graph's strong edges with a readable name, PageRank and hub flags."),
    Table(S_GRAPH.CROSS_CATEGORY_BRIDGES, S_GRAPH.CROSS_CATEGORY_BRIDGES_SCHEMA, DT, "graph",
          "Strong edges between communities or top categories, ranked, with their evidence."),
    Table(S_GRAPH.GRAPH_BUNDLES, S_GRAPH.GRAPH_BUNDLES_SCHEMA, DT, "graph",
          "Bundle candidates from cliques of strong edges, counted in baskets, with privacy status."),
    Table(S_GRAPH.ITEM_GRAPH_EMBEDDINGS, S_GRAPH.ITEM_GRAPH_EMBEDDINGS_SCHEMA, DT, "graph",
          "Text and behaviour embeddings propagated over the normalised graph (LightGCN style)."),
    Table(S_REPORT.RULE_TRENDS, S_REPORT.RULE_TRENDS_SCHEMA, DT, "report",
          "Rules of the run date against a week before: appeared, vanished, strengthened, weakened, stable."),
    Table(S_MAINTENANCE.MAINTENANCE_LOG, S_MAINTENANCE.MAINTENANCE_LOG_SCHEMA, DT, "maintenance",
          "Per maintenance run and table: files compacted, files vacuumed, retention and version after."),
    Table(S_RUNS.JOB_RUNS, S_RUNS.JOB_RUNS_SCHEMA, DT, ANY_JOB,
          "One row per finished job run with the version of every table it wrote.", APPEND),
)


@dataclass(frozen=True)
class Catalog:
    tables: Mapping[str, Table]  # logical name -> table
    names: Mapping[str, str]  # logical name -> warehouse name (every table present)

    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise KeyError(f"table '{name}' is not in the catalogue (known: {', '.join(self.tables)})") from None

    def physical(self, name: str) -> str:
        self.table(name)
        return self.names[name]

    def logical(self, physical: str) -> str | None:
        return next((name for name, value in self.names.items() if value == physical), None)

    def produced_by(self, job: str) -> tuple[Table, ...]:
        return tuple(t for t in self.tables.values() if t.producer == job)

    def with_tables(self, *extra: Table) -> Catalog:
        """This catalogue plus `extra` tables (a branch's new tables, a test's table)."""
        tables = {**self.tables, **{t.name: t for t in extra}}
        return Catalog(types.MappingProxyType(tables), types.MappingProxyType({**{t: t for t in tables}, **self.names}))


def catalog(names: Mapping[str, str] | None = None, tables: tuple[Table, ...] = TABLES) -> Catalog:
    """The catalogue with warehouse names overridden by `names` (logical -> physical); unknown keys fail."""
    by_name = {t.name: t for t in tables}
    renames = dict(names or {})
    unknown = sorted(set(renames) - set(by_name))
    if unknown:
        raise KeyError(f"[tables]: unknown table '{unknown[0]}' (known: {', '.join(by_name)})")
    resolved = {name: renames.get(name, name) for name in by_name}
    clashes = sorted({v for v in resolved.values() if list(resolved.values()).count(v) > 1})
    if clashes:
        raise ValueError(f"[tables]: two tables would be written as '{clashes[0]}'")
    return Catalog(types.MappingProxyType(by_name), types.MappingProxyType(resolved))


def _column_doc(field: T.StructField) -> str:
    return f"| `{field.name}` | `{field.dataType.simpleString()}` | {'yes' if field.nullable else 'no'} |"


def render_markdown(tables: Catalog | None = None) -> str:
    """docs/tables.md: one section per table (regenerate with `python -m lib.catalog > docs/tables.md`)."""
    tables = tables or catalog()
    lines = [
        "# Tables",
        "",
        "Generated from `lib/catalog.py` (`python -m lib.catalog > docs/tables.md`); a test fails when it",
        "is out of date. Rename a table in `conf/tables.toml` (`[tables]`, or `--set tables.<name>=...`):",
        "writers and readers both resolve names there. Every write is conformed to the schema below and",
        "fails, writing nothing, on a mismatch.",
        "",
        "| table | producer | partitioned by | written by | description |",
        "|---|---|---|---|---|",
    ]
    for t in tables.tables.values():
        parts = ", ".join(t.partition_by) or "-"
        lines.append(f"| [`{t.name}`](#{t.name}) | {t.producer} | {parts} | {t.write} | {t.description} |")
    for t in tables.tables.values():
        lines += ["", f"## {t.name}", "", t.description, "",
                  f"Producer: `{t.producer}`; partitioned by: {', '.join(t.partition_by) or 'nothing'}; "
                  f"write: {t.write}.", "", "| column | type | nullable |", "|---|---|---|"]
        lines += [_column_doc(f) for f in t.schema.fields]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(render_markdown(), end="")
