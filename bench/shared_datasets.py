"""Where the public shop data sets are: `../shared/datasets/` beside the project root.

(A git worktree one level deeper also finds them.) Benchmarks read them in place; never copy them.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATASETS = next(
    (p / "shared" / "datasets" for p in (PROJECT_ROOT.parent, PROJECT_ROOT.parent.parent)
     if (p / "shared" / "datasets").is_dir()),
    PROJECT_ROOT.parent / "shared" / "datasets",
)
