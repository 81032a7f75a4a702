"""Builds the deployable function source: ``functions/`` plus the contract files it reads.

Cloud Functions uploads one folder, so the schemas travel inside it (``schemas/`` beside
``main.py``, where ``ingest.config`` looks first). Example documents stay behind: they are
test data. The output is deterministic, so Terraform's content hash changes only with code.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "build" / "function-source"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "examples", ".pytest_cache", "*.egg-info")


def build(out: Path = DEFAULT_OUT) -> Path:
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(REPO / "functions", out, ignore=_IGNORE)
    shutil.copytree(REPO / "schemas", out / "schemas", ignore=_IGNORE)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default: {DEFAULT_OUT})")
    out = build(parser.parse_args().out)
    files = sum(1 for p in out.rglob("*") if p.is_file())
    print(f"function source bundled in {out} ({files} files)")


if __name__ == "__main__":
    main()
