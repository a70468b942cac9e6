"""Layered, typed job configuration: job file < environment overlay < --set.

Every job declares its parameters as a frozen dataclass. The loader merges the TOML layers, checks
every key against that dataclass (unknown, missing and wrongly typed keys are errors that name the
key and the file it came from) and returns a frozen `JobConfig`. No Spark is needed to load config.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised only on Python 3.10
    import tomli as tomllib

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONF_DIR_ENV = "COBUY_CONF_DIR"
SET_SOURCE = "--set"
ENGINES = ("auto", "embedded", "delta-spark")

P = TypeVar("P")


class ConfigError(ValueError):
    """A configuration problem, always naming the key and the file (or --set) it came from."""


ValueCheck = tuple[str, bool, str, Any]  # key, whether its value is allowed, what it must be, the value


def require(checks: Iterable[ValueCheck], source: str = "") -> None:
    """The first check that fails is a ConfigError: "<source>: key 'k' must be <must>, got <value>"."""
    for key, allowed, must, value in checks:
        if not allowed:
            where = f"{source}: " if source else ""
            raise ConfigError(f"{where}key '{key}' must be {must}, got {value!r}")


@dataclass(frozen=True)
class StorageConfig:
    """Where tables and raw files live and which Delta engine commits the writes."""

    warehouse: str
    landing: str
    engine: str = "auto"
    allow_schema_evolution: bool = False
    checkpoint_dir: str = ""


@dataclass(frozen=True)
class JobConfig(Generic[P]):
    job: str
    env: str
    run_date: dt.date
    storage: StorageConfig
    spark_conf: Mapping[str, str]
    params: P
    sources: tuple[str, ...] = ()
    tables: Mapping[str, str] = dataclasses.field(default_factory=dict)  # logical -> warehouse name

    def catalog(self):  # -> lib.catalog.Catalog (imported here: lib.catalog needs pyspark)
        from lib.catalog import catalog

        return catalog(self.tables)

    def table_path(self, table_name: str) -> str:
        return join_path(self.storage.warehouse, table_name)


def join_path(root: str, *parts: str) -> str:
    """Join path segments for local paths and URIs (s3a://, abfss://, dbfs:/) alike."""
    return "/".join([root.rstrip("/"), *[p.strip("/") for p in parts]])


def conf_dir() -> Path:
    return Path(os.environ.get(CONF_DIR_ENV, PROJECT_ROOT / "conf"))


# ---------------------------------------------------------------------------------------------
# Loading and merging


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def _merge(
    base: dict[str, Any], base_origin: dict[str, str], layer: Mapping[str, Any], source: str, prefix: str = ""
) -> None:
    """Deep-merge `layer` into `base`, remembering which source set each leaf key."""
    for key, value in layer.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], base_origin, value, source, prefix=f"{dotted}.")
        else:
            base[key] = dict(value) if isinstance(value, Mapping) else value
            base_origin[dotted] = source
            if isinstance(value, Mapping):
                for sub in _all_keys(value, f"{dotted}."):
                    base_origin[sub] = source


def _all_keys(mapping: Mapping[str, Any], prefix: str) -> list[str]:
    """Every dotted key in `mapping`, tables included (errors may be about a table as a whole)."""
    keys = []
    for key, value in mapping.items():
        keys.append(f"{prefix}{key}")
        if isinstance(value, Mapping):
            keys.extend(_all_keys(value, f"{prefix}{key}."))
    return keys


def parse_set_value(raw: str) -> Any:
    """`--set` values are TOML literals when they parse as one (numbers, booleans, lists), else strings."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def parse_overrides(pairs: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Turn ["a.b=1", "spark.sql.shuffle.partitions=4"] into a nested dict ('spark.*' stays one key)."""
    nested: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{SET_SOURCE}: expected key=value, got '{pair}'")
        if key.startswith("spark."):
            # Spark settings stay strings ("1e3" must not become "1000.0"); a quoted TOML string is unquoted.
            parsed = parse_set_value(raw)
            nested.setdefault("spark", {})[key] = parsed if isinstance(parsed, str) else raw.strip()
            continue
        node = nested
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{SET_SOURCE}: key '{key}' sets both a value and a table")
        node[leaf] = parse_set_value(raw)
    return nested


# ---------------------------------------------------------------------------------------------
# Typed validation against dataclasses


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str, origin: dict[str, str], default_source: str) -> Any:
    source = origin.get(key, default_source)
    fail = ConfigError(
        f"{source}: key '{key}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}"
    )
    type_origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if type_origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, option, key, origin, default_source)
            except ConfigError as error:
                errors.append(error)
        raise fail
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise fail
        return build_dataclass(tp, value, origin, default_source, prefix=f"{key}.")
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise fail
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise fail
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise fail
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float, dt.date)) and not isinstance(value, bool):
            return str(value)
        raise fail
    if tp is dt.date:
        if isinstance(value, dt.datetime):
            raise fail  # a TOML date-time is not a date; silently dropping the time would hide a typo
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value))
        except ValueError:
            raise fail from None
    if type_origin is tuple:
        from_string = isinstance(value, str)
        items = [item.strip() for item in value.split(",") if value.strip()] if from_string else value
        if not isinstance(items, (list, tuple)):
            raise fail
        if len(args) == 2 and args[1] is Ellipsis:
            item_types = [args[0]] * len(items)
        elif args:
            if len(items) != len(args):
                raise fail
            item_types = list(args)
        else:
            item_types = [Any] * len(items)
        if from_string:
            # A comma-separated string (handy with --set a=x,y): non-string items are TOML literals,
            # like --set values.
            items = [item if item_type is str else parse_set_value(item) for item, item_type in zip(items, item_types)]
        return tuple(
            _coerce(item, item_type, key, origin, default_source) for item, item_type in zip(items, item_types)
        )
    if type_origin in (Mapping, dict, typing.Mapping):
        if not isinstance(value, Mapping):
            raise fail
        key_type, value_type = args if args else (str, Any)
        return types.MappingProxyType(
            {
                str(k): _coerce(v, value_type, f"{key}.{k}", origin, default_source)
                for k, v in value.items()
            }
        )
    if tp is Any:
        return value
    raise ConfigError(f"{source}: key '{key}' has an unsupported declared type {tp!r}")


def build_dataclass(
    cls: type[P], values: Mapping[str, Any], origin: dict[str, str], default_source: str, prefix: str = ""
) -> P:
    """Build `cls` from `values`: unknown, missing and mistyped keys raise ConfigError."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = f"{prefix}{unknown[0]}"
        source = origin.get(key, default_source)
        raise ConfigError(
            f"{source}: unknown key '{key}' (known keys here: {', '.join(sorted(fields))})"
        )
    kwargs = {}
    for name, spec in fields.items():
        key = f"{prefix}{name}"
        if name in values:
            kwargs[name] = _coerce(values[name], hints[name], key, origin, default_source)
        elif spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{default_source}: missing required key '{key}'")
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except ValueError as error:
        # A config type validates its values in __post_init__; the message names the key.
        sources = sorted({origin.get(f"{prefix}{name}", default_source) for name in values})
        raise ConfigError(f"{', '.join(sources) or default_source}: {prefix.rstrip('.') or cls.__name__}: {error}") from None


def _spark_conf(values: Mapping[str, Any], origin: dict[str, str], default_source: str) -> dict[str, str]:
    if not isinstance(values, Mapping):
        raise ConfigError(f"{origin.get('spark', default_source)}: 'spark' must be a table of Spark settings")
    conf = {}
    for key, value in values.items():
        if not key.startswith("spark."):
            raise ConfigError(
                f"{origin.get('spark.' + key, default_source)}: Spark setting '{key}' must start with 'spark.'"
            )
        if isinstance(value, Mapping):
            raise ConfigError(f"{default_source}: Spark setting '{key}' must be a single value")
        conf[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return conf


TABLES_FILE = "tables.toml"


def load_job_config(
    job: str,
    params_type: type[P],
    env: str,
    run_date: dt.date,
    overrides: list[str] | tuple[str, ...] = (),
    config_dir: Path | None = None,
    shared: tuple[str, ...] = (),
) -> JobConfig[P]:
    """Merge conf/tables.toml < conf/<shared>.toml < conf/<job>.toml < conf/env/<env>.toml < --set.

    `shared` names config files several jobs read (conf/recommender.toml for als and evaluate); the
    job file may override their keys. Table names (`[tables]`) come from conf/tables.toml, the
    environment overlay's [tables] and `--set tables.<name>=...`.
    """
    directory = Path(config_dir) if config_dir else conf_dir()
    job_file = directory / f"{job}.toml"
    env_file = directory / "env" / f"{env}.toml"
    if not env_file.exists():
        available = sorted(p.stem for p in (directory / "env").glob("*.toml"))
        raise ConfigError(f"{env_file}: no such environment '{env}' (available: {', '.join(available)})")

    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    job_layer = read_toml(job_file)
    env_layer = read_toml(env_file)
    unknown_env = sorted(set(env_layer) - {"storage", "spark", "jobs", "tables"})
    if unknown_env:
        raise ConfigError(f"{env_file}: unknown section '{unknown_env[0]}' (known: jobs, spark, storage, tables)")
    unknown_job = sorted(k for k in ("storage", "jobs", "tables") if k in job_layer)
    if unknown_job:
        where = TABLES_FILE if unknown_job[0] == "tables" else "an environment overlay"
        raise ConfigError(f"{job_file}: section '{unknown_job[0]}' belongs in {where}")

    tables_file = directory / TABLES_FILE
    if tables_file.exists():
        tables_layer = read_toml(tables_file)
        if set(tables_layer) - {"tables"}:
            raise ConfigError(f"{tables_file}: only a [tables] section belongs here")
        _merge(merged, origin, tables_layer, str(tables_file))
    shared_files = [directory / f"{name}.toml" for name in shared]
    for shared_file in shared_files:
        _merge(merged, origin, read_toml(shared_file), str(shared_file))
    _merge(merged, origin, job_layer, str(job_file))
    env_for_merge = {k: v for k, v in env_layer.items() if k != "jobs"}
    _merge(merged, origin, env_for_merge, str(env_file))
    job_overrides = env_layer.get("jobs", {}).get(job, {})
    _merge(merged, origin, job_overrides, str(env_file), prefix="")
    for key in _all_keys(job_overrides, ""):
        origin[key] = f"{env_file} [jobs.{job}]"
    _merge(merged, origin, parse_overrides(overrides), SET_SOURCE)

    storage_values = merged.pop("storage", {})
    spark_values = merged.pop("spark", {})
    table_values = merged.pop("tables", {})
    if not isinstance(table_values, Mapping) or any(not isinstance(v, str) or not v for v in table_values.values()):
        raise ConfigError(f"{origin.get('tables', tables_file)}: [tables] maps table names to non-empty names")
    storage = build_dataclass(StorageConfig, storage_values, origin, str(env_file), prefix="storage.")
    if storage.engine not in ENGINES:
        raise ConfigError(
            f"{origin.get('storage.engine', env_file)}: key 'storage.engine' must be one of "
            f"{', '.join(ENGINES)}, got '{storage.engine}'"
        )
    storage = dataclasses.replace(
        storage,
        warehouse=resolve_location(storage.warehouse, directory.parent),
        landing=resolve_location(storage.landing, directory.parent),
        checkpoint_dir=resolve_location(storage.checkpoint_dir, directory.parent)
        if storage.checkpoint_dir
        else "",
    )
    params = build_dataclass(params_type, merged, origin, str(job_file))
    return JobConfig(
        job=job,
        env=env,
        run_date=run_date,
        storage=storage,
        spark_conf=types.MappingProxyType(_spark_conf(spark_values, origin, str(env_file))),
        params=params,
        sources=(str(job_file), str(env_file), *map(str, shared_files)),
        tables=types.MappingProxyType(dict(table_values)),
    )


def resolve_location(location: str, base: Path = PROJECT_ROOT) -> str:
    """Relative local paths are relative to `base` (the project root); URIs are left alone."""
    if "://" in location or location.startswith("dbfs:"):
        return location
    path = Path(location).expanduser()
    return str(path if path.is_absolute() else (base / path).resolve())
