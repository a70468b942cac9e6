"""The docs say what the code does: every `--set` example parses, every recommender key exists."""

from __future__ import annotations

import dataclasses
import importlib
import re
import shlex
import typing
from pathlib import Path

import pytest

from lib.recs.serving import RecommenderConfig

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
JOB_LINE = re.compile(r"jobs/(\w+)\.py(.*)$")


def job_examples() -> list[tuple[str, str, str]]:
    """(doc, job, arguments) of every command line in the docs that runs a job with --set."""
    found = []
    for doc in DOCS:
        for line in doc.read_text().splitlines():
            spans = [s for s in re.findall(r"`([^`]*jobs/[^`]*)`", line)] or [line]  # table cells: the code
            for span in spans:
                match = JOB_LINE.search(span)
                if match and "--set" in match.group(2) and "$" not in span:
                    found.append((doc.name, match.group(1), match.group(2).split(" # ")[0]))
    return found


@pytest.mark.parametrize("doc, job, arguments", job_examples())
def test_every_set_example_parses(doc, job, arguments):
    argv = shlex.split(arguments)
    if "--date" not in argv and "--from" not in argv:
        argv += ["--date", "2024-03-31"]
    module = importlib.import_module(f"jobs.{job}")
    module.parse_args(argv)  # a ConfigError (unknown key, bad value) fails the test


def test_the_docs_have_examples():
    assert {job for _, job, _ in job_examples()} >= {"fpgrowth", "als", "evaluate"}


def _has_key(cls: type, dotted: list[str]) -> bool:
    hints = typing.get_type_hints(cls)
    head, *rest = dotted
    if head not in hints:
        return False
    if not rest:
        return True
    target = hints[head]
    if dataclasses.is_dataclass(target):
        return _has_key(target, rest)
    return typing.get_origin(target) is not None  # a mapping: any sub-key (weights.<source>)


def test_every_recommender_key_the_docs_mention_exists():
    mentioned = set()
    for doc in DOCS:
        mentioned |= set(re.findall(r"recommender\.([a-z_][a-z_.]*[a-z_])", doc.read_text()))
    mentioned -= {"toml"}
    assert mentioned, "the docs mention no recommender key"
    missing = sorted(key for key in mentioned if not _has_key(RecommenderConfig, key.split(".")))
    assert missing == []
