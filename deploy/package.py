"""Build what a cluster needs into one folder (stdlib only): `make package` runs it.

    python deploy/package.py [--out dist/cobuy] [--no-wheel]

dist/cobuy/
    lib.zip                       the `lib` package for --py-files (byte-for-byte reproducible)
    cobuy-<version>-py3-none-any.whl   the same code as a wheel (Databricks libraries, images)
    jobs/<job>.py                 the thin job entry points (the spark-submit application files)
    conf/                         job configs and environment overlays (--conf-dir in client mode)
    conf.zip                      the same, for --archives conf.zip#cobuy-conf in cluster mode
    submit.py, submit.sh          the submit wrapper, so the folder is all a gateway host needs
    airflow/dags/                 the DAG and its pipeline.toml, to copy into Airflow's dags folder
    MANIFEST.json                 version, git commit and a sha256 of every file
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "dist" / "cobuy"
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries carry no build time: same code, same bytes
SKIP_PARTS = {"__pycache__", ".pytest_cache"}


def _files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        p for p in folder.rglob("*")
        if p.is_file() and p.suffix in suffixes and not SKIP_PARTS.intersection(p.parts)
    )


def write_zip(target: Path, base: Path, files: list[Path], prefix: str = "") -> None:
    """A deterministic zip: sorted entries, fixed timestamps and permissions."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            info = zipfile.ZipInfo(prefix + path.relative_to(base).as_posix(), date_time=FIXED_ZIP_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())


def build_wheel(out: Path) -> Path:
    """`pip wheel` of the project (no dependencies: the cluster's runtime brings pyspark)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(ROOT)],
        check=True,
    )
    wheels = sorted(out.glob("cobuy-*.whl"))
    if not wheels:
        raise SystemExit(f"package: pip wheel wrote no cobuy wheel into {out}")
    with zipfile.ZipFile(wheels[-1]) as archive:
        in_wheel = set(archive.namelist())
    missing = [p.relative_to(ROOT).as_posix() for p in _files(ROOT / "lib", (".py",))]
    missing = [name for name in missing if name not in in_wheel]
    if missing:
        print(
            f"package: WARNING {wheels[-1].name} lacks {len(missing)} lib module(s), e.g. {missing[0]}: "
            "pyproject.toml must list lib's subpackages (lib.zip is complete)",
            file=sys.stderr,
        )
    return wheels[-1]


def git_commit() -> str:
    result = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() if result.returncode == 0 else "unknown"


def build(out: Path, wheel: bool = True) -> Path:
    lib_files = _files(ROOT / "lib", (".py",))
    job_files = sorted((ROOT / "jobs").glob("*.py"))
    conf_files = _files(ROOT / "conf", (".toml",))
    if not lib_files or not job_files or not conf_files:
        raise SystemExit(f"package: lib/, jobs/ and conf/ must exist under {ROOT}")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    write_zip(out / "lib.zip", ROOT, lib_files)
    write_zip(out / "conf.zip", ROOT / "conf", conf_files)
    for path in job_files:
        (out / "jobs").mkdir(exist_ok=True)
        shutil.copy2(path, out / "jobs" / path.name)
    for path in conf_files:
        target = out / "conf" / path.relative_to(ROOT / "conf")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    for name in ("submit.py", "submit.sh"):
        shutil.copy2(ROOT / "deploy" / name, out / name)
    shutil.copytree(
        ROOT / "deploy" / "airflow" / "dags", out / "airflow" / "dags",
        ignore=shutil.ignore_patterns(*SKIP_PARTS),
    )
    if wheel:
        build_wheel(out)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    manifest = {
        "name": project["name"],
        "version": project["version"],
        "git_commit": git_commit(),
        "jobs": sorted(p.stem for p in job_files),
        "files": {
            p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()
        },
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the cobuy cluster package.")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-wheel", action="store_true", help="skip the wheel (lib.zip is enough for spark-submit)")
    args = parser.parse_args(argv)
    out = build(args.out.resolve(), wheel=not args.no_wheel)
    manifest = json.loads((out / "MANIFEST.json").read_text())
    print(f"package: {out} ({len(manifest['files'])} files, jobs: {', '.join(manifest['jobs'])})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
