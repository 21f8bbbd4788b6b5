"""A run leaves the tree clean: executing a notebook as JupyterLab, Voila or nbval do (a kernel in notebooks/)
changes nothing that git tracks or would add, and rewrites no figure (not even with identical bytes)."""

import subprocess
from pathlib import Path

from dlnlib.execute import execute_notebook

ROOT = Path(__file__).resolve().parents[1]


def _status() -> str:
    # Compared before and after, so the test holds on a tree that already has local changes.
    return subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def _figures() -> dict:
    return {p.name: p.stat().st_mtime_ns for p in (ROOT / "figures").glob("*")}


def test_running_a_notebook_leaves_git_status_and_figures_unchanged(monkeypatch):
    monkeypatch.delenv("DLNLIB_FIGURES", raising=False)
    before, figures = _status(), _figures()
    assert figures
    nb, _ = execute_notebook(ROOT / "notebooks" / "00_start_here.ipynb", save=False)
    assert any("savefig" in c.source for c in nb.cells)  # the notebook does ask for its figure
    assert _status() == before
    assert _figures() == figures


def test_generated_folders_are_ignored():
    paths = ["student/01_gradients.ipynb", "artifacts/browser/00.png", "dist/dlnlib-0.1.0-py3-none-any.whl",
             "build/lib/dlnlib/core.py", "dlnlib.egg-info/PKG-INFO", ".pytest_cache/x", ".ruff_cache/x",
             "dlnlib/__pycache__/core.cpython-311.pyc", "notebooks/.ipynb_checkpoints/00-checkpoint.ipynb",
             ".venv/bin/python"]
    res = subprocess.run(["git", "check-ignore", "--no-index", *paths], cwd=ROOT, capture_output=True, text=True)
    assert sorted(res.stdout.split()) == sorted(paths)
    tracked = ["figures/00_depth_curves.png", "notebooks/00_start_here.ipynb", "dlnlib/core.py"]
    res = subprocess.run(["git", "check-ignore", "--no-index", *tracked], cwd=ROOT, capture_output=True, text=True)
    assert res.stdout == ""
