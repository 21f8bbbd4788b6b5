"""Execution time of each notebook, run the way CI runs it (fresh kernel, outputs not saved).

    python benchmarks/notebooks.py [notebooks/*.ipynb]     # target: < 60 s each on a 2-core CPU
"""

from __future__ import annotations

import sys
from pathlib import Path

from dlnlib.execute import execute_notebook


def main(argv=None) -> int:
    paths = (argv if argv else None) or sorted(Path("notebooks").glob("[0-9][0-9]_*.ipynb"))
    total = 0.0
    print(f"{'notebook':<40} {'seconds':>8}")
    for path in paths:
        _, seconds = execute_notebook(path, save=False)
        total += seconds
        print(f"{Path(path).name:<40} {seconds:>8.1f}")
    print(f"{'all notebooks':<40} {total:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
