"""Resolve the JVM artifacts of deploy/maven-jars.txt with Maven into jars/<section>/ (`make setup`).

    python deploy/fetch_jars.py [--list deploy/maven-jars.txt] [--out jars]

Maven resolves each section's coordinates with their runtime dependencies into the local repository
(~/.m2); jars/<section>/ then holds a link to every resolved jar except those Spark already ships
in pyspark/jars (matched by artifactId, any version: Spark's copy wins, no clashes) and the
`exclude`d ones. jars/maven-jars.txt is a copy of the list the folder was built from: the session
refuses a folder built from another list (lib/session.py), so an edited list means `make setup`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LIST = ROOT / "deploy" / "maven-jars.txt"
DEFAULT_OUT = ROOT / "jars"
STAMP_NAME = "maven-jars.txt"
JAR_NAME = re.compile(r"^(?P<artifact>.+?)-(?P<version>\d[^/]*)\.jar$")
COORDINATE = re.compile(r"^[\w.\-]+:[\w.\-]+:[\w.\-]+$")


@dataclass
class Section:
    name: str
    coordinates: list[str] = field(default_factory=list)
    excludes: set[str] = field(default_factory=set)  # "group:artifact"


def parse_list(text: str, source: str = "maven-jars.txt") -> list[Section]:
    sections: list[Section] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append(Section(line[1:-1].strip()))
        elif not sections:
            raise SystemExit(f"{source}:{number}: '{line}' comes before any [section]")
        elif line.startswith("exclude "):
            sections[-1].excludes.add(line.removeprefix("exclude ").strip())
        elif COORDINATE.match(line):
            sections[-1].coordinates.append(line)
        else:
            raise SystemExit(f"{source}:{number}: expected group:artifact:version or 'exclude group:artifact', got '{line}'")
    return sections


def pom(coordinates: list[str]) -> str:
    dependencies = "".join(
        f"<dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"
        for g, a, v in (c.split(":") for c in coordinates)
    )
    return (
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>cobuy</groupId><artifactId>cobuy-jars</artifactId><version>0</version><packaging>pom</packaging>"
        f"<dependencies>{dependencies}</dependencies></project>"
    )


def resolve(coordinates: list[str]) -> list[Path]:
    """The jars Maven resolves for `coordinates` (runtime scope), as paths in the local repository."""
    with tempfile.TemporaryDirectory(prefix="cobuy-jars-") as work:
        (Path(work) / "pom.xml").write_text(pom(coordinates))
        classpath = Path(work) / "classpath.txt"
        command = [
            "mvn", "-q", "-B", "-f", str(Path(work) / "pom.xml"), "dependency:build-classpath",
            "-DincludeScope=runtime", f"-Dmdep.outputFile={classpath}",
        ]
        try:
            subprocess.run(command, check=True)
        except FileNotFoundError:
            raise SystemExit("fetch_jars: Maven (mvn) is not installed: apt-get install maven") from None
        except subprocess.CalledProcessError as error:
            raise SystemExit(f"fetch_jars: Maven could not resolve {', '.join(coordinates)} (exit {error.returncode})") from None
        return [Path(p) for p in classpath.read_text().strip().split(":") if p]


def group_artifact(jar: Path) -> str:
    """group:artifact of a jar in a Maven repository (<group dirs>/<artifact>/<version>/<file>)."""
    parts = jar.parts
    repository = parts.index("repository") if "repository" in parts else 0
    return ".".join(parts[repository + 1 : -3]) + ":" + parts[-3]


def spark_artifacts() -> set[str]:
    """The artifactIds of the jars Spark ships with pyspark."""
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    names = set()
    for jar in jars.glob("*.jar"):
        match = JAR_NAME.match(jar.name)
        names.add(match["artifact"] if match else jar.stem)
    return names


def build(list_file: Path, out: Path) -> dict[str, list[str]]:
    text = list_file.read_text()
    shipped = spark_artifacts()
    kept: dict[str, list[str]] = {}
    for section in parse_list(text, str(list_file)):
        target = out / section.name
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        kept[section.name] = []
        for jar in resolve(section.coordinates) if section.coordinates else []:
            key = group_artifact(jar)
            if key.split(":")[1] in shipped or key in section.excludes:
                continue
            (target / jar.name).symlink_to(jar.resolve())
            kept[section.name].append(jar.name)
    (out / STAMP_NAME).write_text(text)
    return kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, default=DEFAULT_LIST)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    for section, jars in build(args.list, args.out).items():
        print(f"jars/{section}: {len(jars)} jars: {', '.join(jars)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
