"""The nbgrader course builder: cell metadata, and real nbgrader end to end in a temporary course
(generate_assignment, then autograde and generate_feedback on a solved, an unsolved and a mistaken
submission). The end-to-end test needs the optional `nbgrader` package (extra `grade`; CI installs it)."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from dlnlib.exercises import check
from dlnlib.grading import build_course, nbgrader_notebook
from dlnlib.student import BEGIN, END

ROOT = Path(__file__).resolve().parents[1]
NB01 = ROOT / "notebooks" / "01_gradients.ipynb"
# The typical 1.1 mistake (seed 002's homework): Sigma_xx dropped from the residual.
MISTAKE_11 = "    return eta * (Sigma_yx - W2 @ W1) @ W1.T\n"
DERIVATION_TEXT = "Since E = ..., dE/dW2 = -(Sigma_yx - W2 W1 Sigma_xx) W1^T, so Delta W2 = ..."


def synthetic_notebook():
    """A small notebook with a written derivation (markdown tagged `derivation`) and its code exercise."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Derivation practice\nExercise 1.1: derive Delta W2 = -eta dE/dW2 on paper."),
        nbformat.v4.new_markdown_cell("**Exercise 1.1, your derivation.** Write it here.",
                                      metadata={"tags": ["derivation"]}),
        nbformat.v4.new_markdown_cell("The worked derivation (instructors only).", metadata={"tags": ["solution"]}),
        nbformat.v4.new_code_cell("from dlnlib.exercises import check"),
        nbformat.v4.new_code_cell(
            "# Exercise 1.1: Delta W2 from your derivation\ndef delta_W2(W1, W2, Sigma_xx, Sigma_yx, eta):\n"
            f"    {BEGIN}\n    return eta * (Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T\n    {END}"),
        nbformat.v4.new_code_cell('check("1.1", delta_W2)'),
    ]
    return nb


def test_source_notebook_carries_nbgrader_metadata():
    nb = nbgrader_notebook(nbformat.read(NB01, as_version=4))
    meta = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    assert set(meta) == {"ex1_1", "ex1_1_test", "ex1_2", "ex1_2_test", "deriv1_1"}  # 1.1 has a written derivation
    assert meta["ex1_1"].metadata["nbgrader"] == {"grade": False, "grade_id": "ex1_1", "locked": False,
                                                  "schema_version": 3, "solution": True}
    test = meta["ex1_2_test"]
    assert test.metadata["nbgrader"]["points"] == 1.0 and test.metadata["nbgrader"]["locked"]
    assert test.source.splitlines() == ['_verdict = check("1.2", layer_gradient)', "print(_verdict)",
                                        "assert _verdict.ok, _verdict.message"]
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")


def test_derivation_cells_become_manually_graded_and_worked_answers_are_dropped():
    nb = nbgrader_notebook(synthetic_notebook(), derivation_points=3)
    deriv = [c for c in nb.cells if "derivation" in c.metadata.get("tags", [])]
    assert len(deriv) == 1
    assert deriv[0].metadata["nbgrader"] == {"grade": True, "grade_id": "deriv1_1", "locked": False, "points": 3,
                                             "schema_version": 3, "solution": True}
    assert not any("instructors only" in c.source for c in nb.cells)


def test_builder_rejects_bad_input(tmp_path):
    nb = synthetic_notebook()
    nb.cells[4].source = nb.cells[4].source.replace("# Exercise 1.1", "# no id")
    with pytest.raises(ValueError, match="needs a '# Exercise X.Y' comment"):
        nbgrader_notebook(nb)
    with pytest.raises(ValueError, match="points, derivation_points: got 0"):
        nbgrader_notebook(synthetic_notebook(), points=0)
    with pytest.raises(ValueError, match=r"paths: got '.*missing.ipynb', expected existing \.ipynb files"):
        build_course([tmp_path / "missing.ipynb"], tmp_path)
    with pytest.raises(ValueError, match="assignment: got 'a b'"):
        build_course([NB01], tmp_path, assignment="a b")


# ---------------------------------------------------------------- real nbgrader, end to end


def nbgrader(course: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DLNLIB_PROGRESS": "0", "PYTHONHASHSEED": "0",
           "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg",
           # nbgrader runs the `alembic` script of its own environment by name
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"


def solve(released: nbformat.NotebookNode, source: nbformat.NotebookNode, overrides: dict) -> None:
    """Fill each solution cell of a released notebook with the instructor's code (markers dropped),
    or with ``overrides[grade_id]`` (a replacement body for the solution block)."""
    reference = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if "nbgrader" in c.metadata}
    for cell in released.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        gid = meta["grade_id"]
        if cell.cell_type == "markdown":
            cell.source = DERIVATION_TEXT
            continue
        lines, out, inside = reference[gid].splitlines(keepends=True), [], False
        for line in lines:
            if BEGIN in line:
                inside = True
                if gid in overrides:
                    out.append(overrides[gid])
            elif END in line:
                inside = False
            elif not inside or gid not in overrides:
                out.append(line)
        cell.source = "".join(out)


@pytest.fixture(scope="module")
def graded_course(tmp_path_factory):
    """A course with notebook 01 and the synthetic derivation notebook, graded for three students."""
    pytest.importorskip("nbgrader", reason="nbgrader is not installed (pip install nbgrader; extra `grade`)")
    course = tmp_path_factory.mktemp("course")
    build_course([NB01], course, assignment="hw")
    synth = course / "synthetic.ipynb"
    nbformat.write(synthetic_notebook(), synth)
    build_course([synth], course, assignment="hw")
    nbgrader(course, "generate_assignment", "hw", "--force")
    release = course / "release" / "hw"
    sources = {p.name: nbformat.read(course / "source" / "hw" / p.name, as_version=4) for p in release.glob("*.ipynb")}
    students = {"solved": {}, "unsolved": None, "mistaken": {"ex1_1": MISTAKE_11}}
    for student, overrides in students.items():
        folder = course / "submitted" / student / "hw"
        folder.mkdir(parents=True)
        for name, src in sources.items():
            nb = nbformat.read(release / name, as_version=4)
            if overrides is not None:
                solve(nb, src, overrides)
            nbformat.write(nb, folder / name)
    nbgrader(course, "autograde", "hw", "--force")
    nbgrader(course, "generate_feedback", "hw", "--force")
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        scores = {(s, nb, g.name): (g.auto_score, g.needs_manual_grade, g.max_score)
                  for s in students for nb in ("01_gradients", "synthetic")
                  for g in gb.find_submission_notebook(nb, "hw", s).grades}
    return course, scores


def test_released_notebook_has_nbgrader_stubs_and_no_solution(graded_course):
    course, _ = graded_course
    released = nbformat.read(course / "release" / "hw" / "01_gradients.ipynb", as_version=4)
    text = "\n".join(c.source for c in released.cells)
    assert "raise NotImplementedError()" in text and BEGIN not in text
    assert "W2 @ W1 @ Sigma_xx" not in text  # the 1.1 solution line is gone
    synth = nbformat.read(course / "release" / "hw" / "synthetic.ipynb", as_version=4)
    assert "YOUR ANSWER HERE" in [c.source for c in synth.cells if c.cell_type == "markdown"]


def test_reference_answers_get_full_marks(graded_course):
    _, scores = graded_course
    for nb, gid in (("01_gradients", "ex1_1_test"), ("01_gradients", "ex1_2_test"), ("synthetic", "ex1_1_test")):
        auto, manual, maximum = scores[("solved", nb, gid)]
        assert (auto, manual, maximum) == (1.0, False, 1.0), (nb, gid)
    # the written derivation waits for the instructor
    assert scores[("solved", "synthetic", "deriv1_1")] == (None, True, 2.0)


def test_unsolved_notebook_scores_zero_without_crashing(graded_course):
    course, scores = graded_course
    for nb, gid in (("01_gradients", "ex1_1_test"), ("01_gradients", "ex1_2_test"), ("synthetic", "ex1_1_test")):
        assert scores[("unsolved", nb, gid)][0] == 0.0
    graded = nbformat.read(course / "autograded" / "unsolved" / "hw" / "01_gradients.ipynb", as_version=4)
    code = [c for c in graded.cells if c.cell_type == "code"]
    assert len(code) > 10 and all(c.execution_count is not None for c in code)  # ran to the end
    out = "".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.outputs)
    assert "Exercise 1.2: not attempted yet" in out


def test_typical_mistake_fails_its_test_with_the_checkers_diagnosis(graded_course):
    course, scores = graded_course
    assert scores[("mistaken", "01_gradients", "ex1_1_test")][0] == 0.0
    assert scores[("mistaken", "01_gradients", "ex1_2_test")][0] == 1.0
    namespace: dict = {}
    exec("def delta_W2(W1, W2, Sigma_xx, Sigma_yx, eta):\n" + MISTAKE_11, namespace)
    diagnosis = check("1.1", namespace["delta_W2"]).message
    assert "Sigma_xx is missing" in diagnosis
    feedback = (course / "feedback" / "mistaken" / "hw" / "01_gradients.html").read_text()
    assert html.escape(diagnosis, quote=False) in feedback or diagnosis in feedback
    solved = (course / "feedback" / "solved" / "hw" / "01_gradients.html").read_text()
    assert "Sigma_xx is missing" not in solved


def test_course_folder_is_written_where_asked(tmp_path):
    written = build_course([NB01], tmp_path / "c")
    assert written == [tmp_path / "c" / "source" / "01_gradients" / "01_gradients.ipynb"]
    assert (tmp_path / "c" / "nbgrader_config.py").read_text().startswith("# nbgrader configuration")
    shutil.rmtree(tmp_path / "c")
