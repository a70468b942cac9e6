"""The parameters jobs/evaluate.py chose, as `--set` overrides for jobs/als.py (no Spark needed)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lib.config import ConfigError, read_toml

TUNED_SECTIONS = ("als", "hybrid")


def tuned_overrides(path: Path) -> list[str]:
    """`key=value` strings for every leaf of the file's [als] and [hybrid] tables.

    Any other top-level key is an error naming the file: a tuned file only carries tuned values.
    """
    values = read_toml(path)
    unknown = sorted(set(values) - set(TUNED_SECTIONS))
    if unknown:
        raise ConfigError(
            f"{path}: unexpected key '{unknown[0]}' in a tuned config (allowed tables: {', '.join(TUNED_SECTIONS)})"
        )
    not_tables = sorted(k for k, v in values.items() if not isinstance(v, Mapping))
    if not_tables:
        raise ConfigError(f"{path}: '{not_tables[0]}' must be a table ([{not_tables[0]}])")
    return [f"{key}={literal}" for key, literal in _leaves(values, "")]


def _leaves(values: Mapping[str, Any], prefix: str) -> list[tuple[str, str]]:
    out = []
    for key, value in values.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.extend(_leaves(value, f"{dotted}."))
        else:
            out.append((dotted, _toml_literal(value)))
    return out


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    raise ConfigError(f"tuned config: unsupported value {value!r}")
