"""Regenerate the notify golden files: ``python tests/golden/notify/regen.py`` from the repo root.

Each file is the exact output of a renderer on the deterministic incidents in
``tests/plugins/notify_samples.py``; ``tests/unit/notify/test_golden.py`` compares them byte for byte.
Review the diff (``git diff tests/golden/notify``) before committing regenerated files.
"""
from __future__ import annotations

import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path[:0] = [str(ROOT / "lib"), str(ROOT / "tests")]
os.environ.setdefault("MPLBACKEND", "Agg")

from plugins.notify_samples import golden_outputs  # noqa: E402


def main() -> int:
    for name, content in sorted(golden_outputs().items()):
        (HERE / name).write_text(content, encoding="utf-8")
        sys.stdout.write(f"wrote {name} ({len(content)} chars)\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
