"""Run the repository's checks with the regression-checked environment set by Python itself, so the same
command works in PowerShell, cmd and POSIX shells (what ``make test`` runs, installation excluded).

    python -m dlnlib.runchecks          # ruff, then the unit tests and nbval on every notebook
    python -m dlnlib.runchecks --unit   # unit tests only
    python -m dlnlib.runchecks notebooks/03_balancedness.ipynb   # nbval on one notebook (or any test paths)

Run from the repository root, with the test extra installed (``pip install -e ".[test]"``). Sets
``PYTHONHASHSEED=0``, ``DLNLIB_PROGRESS=0`` and ``OMP_NUM_THREADS=1`` for pytest and the kernels it starts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .core import check_flag
from .execute import CHECKED_ENV, _paths_arg

__all__ = ["NBVAL", "commands", "main"]

NBVAL = ["--nbval", "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg"]


def commands(paths=(), *, unit: bool = False, lint: bool = True) -> list[list[str]]:
    """The commands ``main`` runs, in order (each with this Python)."""
    paths = [str(p) for p in _paths_arg("paths", paths)]
    check_flag("unit", unit)
    check_flag("lint", lint)
    out = []
    if lint:
        out.append([sys.executable, "-m", "ruff", "check", "dlnlib", "tests", "benchmarks"])
    if unit:
        out.append([sys.executable, "-m", "pytest", "-q", "tests"])
    else:
        paths = list(paths) or ["tests", "notebooks"]
        nbval = NBVAL if any(p.endswith(".ipynb") or Path(p).name == "notebooks" for p in paths) else []
        out.append([sys.executable, "-m", "pytest", "-q", *paths, *nbval])
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run ruff and the tests in the regression-checked environment.")
    ap.add_argument("paths", nargs="*", help="test files, folders or notebooks (default: tests and notebooks)")
    ap.add_argument("--unit", action="store_true", help="unit tests only (no notebooks)")
    ap.add_argument("--no-lint", action="store_true", help="skip ruff")
    args = ap.parse_args(argv)
    if args.unit and args.paths:
        ap.error("--unit runs tests/; give either --unit or paths")
    if not Path("tests/nbval_sanitize.cfg").is_file():
        ap.error("run it from the repository root (tests/nbval_sanitize.cfg not found)")
    env = {**os.environ, **CHECKED_ENV}
    for cmd in commands(args.paths, unit=args.unit, lint=not args.no_lint):
        print("$ " + " ".join(cmd[1:]), file=sys.stderr, flush=True)
        rc = subprocess.run(cmd, env=env).returncode
        if rc != 0:
            return rc
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
