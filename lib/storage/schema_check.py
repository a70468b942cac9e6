"""Comparing a DataFrame's schema with a table's, column by column."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import types as T


@dataclass(frozen=True)
class SchemaDiff:
    missing: tuple[str, ...]  # in the table, not in the DataFrame
    added: tuple[T.StructField, ...]  # in the DataFrame, not in the table
    changed: tuple[tuple[str, str, str], ...]  # (column, table type, DataFrame type)

    @property
    def is_empty(self) -> bool:
        return not (self.missing or self.added or self.changed)

    @property
    def is_additive(self) -> bool:
        return not (self.missing or self.changed) and bool(self.added)

    def describe(self) -> str:
        parts = []
        if self.missing:
            parts.append("missing columns " + ", ".join(self.missing))
        if self.added:
            parts.append(
                "unexpected columns " + ", ".join(f"{f.name} ({f.dataType.simpleString()})" for f in self.added)
            )
        for name, table_type, frame_type in self.changed:
            parts.append(f"column {name} is {frame_type} but the table has {table_type}")
        return "; ".join(parts)


def _strip_nullability(data_type: T.DataType) -> str:
    # Nullability differs between Spark plans and Delta logs for the same data; types must not.
    return data_type.simpleString()


def diff_schemas(table: T.StructType, frame: T.StructType) -> SchemaDiff:
    table_fields = {f.name: f for f in table.fields}
    frame_fields = {f.name: f for f in frame.fields}
    missing = tuple(name for name in table_fields if name not in frame_fields)
    added = tuple(f for name, f in frame_fields.items() if name not in table_fields)
    changed = tuple(
        (name, _strip_nullability(table_fields[name].dataType), _strip_nullability(f.dataType))
        for name, f in frame_fields.items()
        if name in table_fields
        and _strip_nullability(table_fields[name].dataType) != _strip_nullability(f.dataType)
    )
    return SchemaDiff(missing=missing, added=added, changed=changed)
