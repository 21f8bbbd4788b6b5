"""Run All on every student notebook completes: no cell raises, every slider cell shows its widget, and every
check of the notebook's own (unsolved) exercises answers "Exercise X.Y: not attempted yet"."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dlnlib.student import BEGIN, make_student

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))
WIDGET = "application/vnd.jupyter.widget-view+json"
CHECK = re.compile(r"""^\s*check\(\s*["'](\d+\.\d+)["']""", re.M)
EXERCISE = re.compile(r"#\s*Exercise\s+(\d+\.\d+)")


def _widget_shown(cell) -> bool:
    return any(WIDGET in out.get("data", {}) for out in cell.get("outputs", []))


def _first_line(cell) -> str:
    return next((line for line in cell.source.splitlines() if line.strip()), "")[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_student_notebook_runs_all_cells(path):
    instructor = nbformat.read(path, as_version=4)
    own = {m.group(1) for c in instructor.cells if c.cell_type == "code" and BEGIN in c.source
           for m in [EXERCISE.search(c.source)] if m}
    sliders = {c.source for c in instructor.cells if c.cell_type == "code" and _widget_shown(c)}
    student = make_student(instructor)
    NotebookClient(student, timeout=300, kernel_name="python3", allow_errors=True, store_widget_state=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    code = [(k, c) for k, c in enumerate(student.cells) if c.cell_type == "code"]

    errors = [f"cell {k} ({_first_line(c)!r}): {o.ename}: {o.evalue[:120]}"
              for k, c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, "Run All stops at:\n" + "\n".join(errors)

    slider_cells = [(k, c) for k, c in code if c.source in sliders]
    assert len(slider_cells) == len(sliders)
    missing = [k for k, c in slider_cells if not _widget_shown(c)]
    assert not missing, f"slider cells without a widget: {missing}"

    checks = [(k, c, m.group(1)) for k, c in code for m in [CHECK.search(c.source)] if m and m.group(1) in own]
    assert {ex for _, _, ex in checks} == own, "every exercise of this notebook has a check cell"
    for k, c, ex in checks:
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in c.outputs)
        assert f"Exercise {ex}: not attempted yet" in text, (k, text[:200])
