"""Fuzz entries for the tools area: dlnlib.exercises (the checkers students call and the reference answers),
dlnlib.claims, dlnlib.grading, dlnlib.student, dlnlib.setupcell, dlnlib.execute and dlnlib.runchecks.

Everything that writes files works in a temporary folder made here (tiny synthetic notebooks written with
nbformat), never in the repository.
"""

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
import numpy as np
import torch

from dlnlib import claims, execute, grading, runchecks, setupcell, student
from dlnlib import exercises as ex
from dlnlib.exercises import agd as ex_agd
from dlnlib.exercises import balance as ex_balance
from dlnlib.exercises import endtoend as ex_e2e
from dlnlib.exercises import gradients as ex_gradients
from dlnlib.exercises import saxe as ex_saxe

from .common import CHAIN, Entry, tensor

F64 = torch.float64
NAN = float("nan")

# ------------------------------------------------------------------------------------------- files to work on

TMP = Path(tempfile.mkdtemp(prefix="dlnlib-apifuzz-tools-"))
atexit.register(shutil.rmtree, TMP, ignore_errors=True)

_SOLVED = ("# Exercise 1.1\ndef delta(W1, W2, Sigma_xx, Sigma_yx, eta):\n    ### BEGIN SOLUTION\n"
           "    return eta * (Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T\n    ### END SOLUTION")


def _notebook():
    cell = nbformat.v4.new_code_cell
    text = nbformat.v4.new_markdown_cell
    return nbformat.v4.new_notebook(cells=[
        text("# A synthetic notebook"),
        cell("from dlnlib.exercises import check"),
        cell(_SOLVED),
        cell('check("1.1", delta)'),
        text("Exercise 1.1: the derivation ...", metadata={"tags": ["derivation"]}),
        text("The worked answer.", metadata={"tags": ["solution"]}),
        cell("y = delta"),
    ])


NB = _notebook()
NB_PATH = TMP / "01_synthetic.ipynb"
nbformat.write(NB, NB_PATH)
SETUP_NB = TMP / "setup" / "02_setup.ipynb"
SETUP_NB.parent.mkdir()
nbformat.write(_notebook(), SETUP_NB)
RUN_NB = TMP / "run" / "03_run.ipynb"  # executed by a kernel: one trivial cell, nothing imported
RUN_NB.parent.mkdir()
nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), RUN_NB)
NOT_JSON = TMP / "broken.ipynb"
NOT_JSON.write_text("this is not a notebook")
TEXT_FILE = TMP / "notes.txt"
TEXT_FILE.write_text("a file, not a folder")
REPO = TMP / "repo"
REPO.mkdir()
(REPO / "pyproject.toml").write_text('[project]\nname = "x"\n\n[project.urls]\nRepository = "https://github.com/o/r"\n')


def _env_kept(fn):
    """``fn`` with os.environ restored afterwards (checked_env and execute_notebook set the checked environment)."""

    @functools.wraps(fn)
    def call(*args, **kwargs):
        saved = dict(os.environ)
        try:
            return fn(*args, **kwargs)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return call


# ------------------------------------------------------------------------------------------------ exercises


def _a11(W1, W2, Sigma_xx, Sigma_yx, eta):  # a student's correct answer to 1.1
    return eta * (Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T


def _stub(*args):
    raise NotImplementedError("Exercise 1.1: replace ... with your code")


def _verdict(result):
    """check returns a one-line verdict; only the correct answer is accepted."""
    return (isinstance(result, ex.CheckResult) and isinstance(result.message, str)
            and (not result.ok or "correct on all" in result.message))


def _double(x):
    return 2 * x


def _double_cases():
    return [{"x": torch.arange(3.0, dtype=F64)}]


def _spd(n, seed):
    a = tensor(n, n, seed=seed)
    return a @ a.T / n + torch.eye(n, dtype=F64)


T22 = tensor(2, 2, seed=5)

# ---------------------------------------------------------------------------------------------------- claims


def _ledger_call(method):
    """A Claims method on a fresh ledger each call (an id can be recorded once per ledger)."""

    @functools.wraps(method)
    def call(**kwargs):
        return method(claims.Claims("03", "a test ledger"), **kwargs)

    return call


def _nan_never_passes(criterion):
    """A NaN measurement (alone, in a mapping, in a list, as a tensor) is refused, never a verdict 'holds'."""
    for value in (NAN, {"a": NAN, "b": 1.0}, [NAN, 1.0], torch.tensor(NAN), np.float64(NAN)):
        try:
            if criterion.holds(value):
                return False
        except ValueError:
            pass
    return True


_GOOD_CLAIM = {"id": "03.1", "claim": "a residual vanishes", "source": "a paper", "reported": "proof"}

KINDS = {
    "tools.exercise_id": ["nonsense", 3, None, "", 1.1, [], "9.9", " 1.1", b"1.1"],
    "tools.answer": [3, "abc", None, 3.0, torch.ones(2, dtype=F64), np.zeros((2, 2)), ...,
                     lambda *a: 1 / 0, lambda: 0.0, lambda *a: None, lambda *a: NAN, lambda *a: [1.0],
                     lambda W1, W2, Sxx, Syx, eta: W2 * NAN, lambda *a: _a11(*a).float(),
                     lambda *a: torch.zeros(2, 2, dtype=torch.complex128), _stub,
                     lambda *a: ex_gradients.delta_w2_reference(*a), lambda *a: (_a11(*a), _a11(*a)),
                     lambda *a: -_a11(*a), lambda *a: _a11(*a).T],
    "tools.alternatives": [3, "abc", [1.0], {3: T22}, {"m": "abc"}, {"m": object()}, {"m": 1j}],
    "tools.strings": ["abc", [3], 3, None, [None]],
    "tools.mistakes": [3, "abc", {"m": 3}, {3: _double}, [("m", _double)]],
    "tools.forbidden": [3, "abc", [3], [len], (None,)],
    "tools.claim_id": [3, None, "", "03", "04.1", "03.x", "3.1", ["03.1"]],
    "tools.cases": [{}, {"a": NAN}, {"a": "x"}, "abc", 3, [], {"a": float("inf")}, {"a": torch.tensor(NAN)}],
    "tools.default_id": [3, "abc", "", "1.1.1", 1.1, ["1.1"]],
    "tools.paths": [3, None, "abc", [3], [None], b"x", [""], Path("x.ipynb")],
    "tools.folder": [3, [], b"x", "", "/nonexistent/dir/and/file.xyz", str(TEXT_FILE)],
    "tools.assignment": [3, "", "a b", "..", "../x", [], "a/b"],
    "tools.timeout": [-1, 0, 2.5, "3", None, True, NAN, [1]],
}

ENTRIES = {
    # the exercise machinery
    "dlnlib.exercises.Exercise": Entry(
        ex.Exercise, {"id": "9.1", "title": "double", "reference": _double, "cases": _double_cases, "args": ("x",),
                      "expected": lambda case: 2 * case["x"]},
        {"id": "tools.exercise_id", "title": "text", "reference": "callable", "cases": "callable",
         "args": "tools.strings", "expected": "callable", "mistakes": "tools.mistakes", "case_mistakes": "callable",
         "hints": "tools.strings",
         "name": "text", "rtol": "number", "atol": "number", "forbidden": "tools.forbidden", "normalize": "callable",
         "derivation": "text", "answer_marks": "tools.strings", "judge": "callable", "kind": "text"}),
    "dlnlib.exercises.register": Entry(ex.register, {"ex": ex.get("1.1")}, {"ex": "object"}),
    "dlnlib.exercises.get": Entry(ex.get, {"exercise_id": "1.1"}, {"exercise_id": "tools.exercise_id"}),
    "dlnlib.exercises.check": Entry(ex.check, {"exercise_id": "1.1", "answer": _a11},
                                    {"exercise_id": "tools.exercise_id", "answer": "tools.answer"}, check=_verdict),
    "dlnlib.exercises.hint": Entry(ex.hint, {"exercise_id": "1.1", "level": 1},
                                   {"exercise_id": "tools.exercise_id", "level": "count"}),
    "dlnlib.exercises.solution": Entry(ex.solution, {"exercise_id": "2.6"}, {"exercise_id": "tools.exercise_id"},
                                       check=lambda text: "def end_point_reference" in text and "@" not in text),
    "dlnlib.exercises.compare": Entry(ex.compare, {"got": T22, "expected": T22, "name": "x",
                                                   "alternatives": {"doubled": 2 * T22}, "rtol": 1e-6, "atol": 1e-9},
                                      {"got": "tensor", "expected": "tensor", "name": "text",
                                       "alternatives": "tools.alternatives", "rtol": "number", "atol": "number"},
                                      extra_bad={"got": [..., lambda: 0, object(), (T22,), torch.Size([2, 2])],
                                                 "expected": [(), (NAN,), (T22, None), object()]}),
    "dlnlib.exercises.all_exercises": Entry(ex.all_exercises, {}, {}),
    "dlnlib.exercises.call_student": Entry(ex.call_student, {"fn": lambda: torch.ones(2, dtype=F64)},
                                           {"fn": "callable"}),
    "dlnlib.exercises.describe": Entry(ex.describe, {"case": {"x": T22, "n": 3, "t": torch.tensor(0.5), "_hidden": 1}},
                                       {"case": "object"},
                                       extra_bad={"case": [{"z": torch.tensor(1j)}, {3: 1.0}, {"x": NAN}]}),
    # the reference answers (notebook 01)
    "dlnlib.exercises.gradients.delta_w2_reference": Entry(
        ex_gradients.delta_w2_reference,
        {"W1": tensor(3, 2, seed=1), "W2": tensor(2, 3, seed=2), "Sigma_xx": _spd(2, 3), "Sigma_yx": T22, "eta": 0.1},
        {"W1": "tensor", "W2": "tensor", "Sigma_xx": "tensor", "Sigma_yx": "tensor", "eta": "number"}),
    "dlnlib.exercises.gradients.layer_gradient_reference": Entry(
        ex_gradients.layer_gradient_reference, {"chain": CHAIN, "grad_W": T22, "j": 1},
        {"chain": "chain", "grad_W": "tensor", "j": "count"}),
    # notebook 02
    "dlnlib.exercises.saxe.w2bar_dot_reference": Entry(
        ex_saxe.w2bar_dot_reference,
        {"W1bar": tensor(3, 2, seed=1), "W2bar": tensor(2, 3, seed=2), "S": T22, "tau": 1.5},
        {"W1bar": "tensor", "W2bar": "tensor", "S": "tensor", "tau": "positive"}),
    "dlnlib.exercises.saxe.b_dot_reference": Entry(
        ex_saxe.b_dot_reference, {"i": 1, "a": tensor(2, 3, seed=1), "b": tensor(2, 3, seed=2),
                                  "s": torch.tensor([2.0, 1.0], dtype=F64), "tau": 1.5},
        {"i": "count", "a": "tensor", "b": "tensor", "s": "tensor", "tau": "positive"}),
    "dlnlib.exercises.saxe.energy_reference": Entry(
        ex_saxe.energy_reference, {"a": tensor(2, 3, seed=1), "b": tensor(2, 3, seed=2),
                                   "s": torch.tensor([2.0, 1.0], dtype=F64), "tau": 1.5},
        {"a": "tensor", "b": "tensor", "s": "tensor", "tau": "positive"}),
    "dlnlib.exercises.saxe.jacobian_ab_reference": Entry(
        ex_saxe.jacobian_ab_reference, {"a": 1.2, "b": -0.4, "s": 0.5, "tau": 0.8},
        {"a": "number", "b": "number", "s": "number", "tau": "positive"}),
    "dlnlib.exercises.saxe.classify_reference": Entry(
        ex_saxe.classify_reference, {"a": 2.0, "b": 0.5, "s": 1.0, "tau": 0.5},
        {"a": "number", "b": "number", "s": "number", "tau": "positive"}),
    "dlnlib.exercises.saxe.end_point_reference": Entry(
        ex_saxe.end_point_reference, {"a0": 2.0, "b0": 0.1, "s": 1.0},
        {"a0": "number", "b0": "number", "s": "positive"}),
    # notebook 03
    "dlnlib.exercises.balance.gram_rates": Entry(
        ex_balance.gram_rates, {"W1": tensor(3, 2, seed=1), "W2": tensor(2, 3, seed=2), "X": tensor(5, 2, seed=3),
                                "Y": tensor(5, 2, seed=4)},
        {"W1": "tensor", "W2": "tensor", "X": "tensor", "Y": "tensor"}),
    "dlnlib.exercises.balance.gd_imbalance_change": Entry(
        ex_balance.gd_imbalance_change, {"W1": tensor(3, 2, seed=1), "W2": tensor(2, 3, seed=2),
                                         "X": tensor(5, 2, seed=3), "Y": tensor(5, 2, seed=4), "lr": 0.1},
        {"W1": "tensor", "W2": "tensor", "X": "tensor", "Y": "tensor", "lr": "number"}),
    # notebook 04
    "dlnlib.exercises.endtoend.psd_power_reference": Entry(
        ex_e2e.psd_power_reference, {"S": _spd(3, 1), "alpha": 0.5}, {"S": "tensor", "alpha": "number"},
        extra_bad={"S": [tensor(3, 3, seed=2), -torch.eye(2, dtype=F64)]}),
    "dlnlib.exercises.endtoend.preconditioned_gradient_reference": Entry(
        ex_e2e.preconditioned_gradient_reference, {"W": tensor(2, 3, seed=1), "grad": tensor(2, 3, seed=2), "N": 3},
        {"W": "tensor", "grad": "tensor", "N": "count"}),
    "dlnlib.exercises.endtoend.single_output_reference": Entry(
        ex_e2e.single_output_reference, {"w": tensor(1, 3, seed=1), "grad": tensor(1, 3, seed=2), "N": 3},
        {"w": "tensor", "grad": "tensor", "N": "count"}),
    "dlnlib.exercises.endtoend.polar_from_svd_reference": Entry(
        ex_e2e.polar_from_svd_reference, {"W": tensor(3, 2, seed=1)}, {"W": "tensor"}),
    "dlnlib.exercises.endtoend.product_velocity_reference": Entry(
        ex_e2e.product_velocity_reference, {"chain": CHAIN, "G": T22}, {"chain": "chain", "G": "tensor"}),
    # notebook 05
    "dlnlib.exercises.agd.eta_star_reference": Entry(
        ex_agd.eta_star_reference, {"X": tensor(5, 3, seed=1)}, {"X": "tensor"},
        extra_bad={"X": [torch.zeros(4, 2, dtype=F64)]}),
    "dlnlib.exercises.agd.round_robin_reference": Entry(
        ex_agd.round_robin_reference, {"scales": 1.0 + 0.1 * tensor(3, seed=1), "h": tensor(4, seed=2),
                                       "y": tensor(4, seed=3)},
        {"scales": "tensor", "h": "tensor", "y": "tensor"}, extra_bad={"h": [tensor(2, 4, seed=4)]}),
    "dlnlib.exercises.agd.deep_substep_error_reference": Entry(
        ex_agd.deep_substep_error_reference, {"E": tensor(4, seed=1), "yhat": tensor(4, seed=2)},
        {"E": "tensor", "yhat": "tensor"}),
    # claims: the criteria, the ledger and its methods
    "dlnlib.claims.Criterion": Entry(claims.Criterion, {"text": "not negative", "test": lambda v: not v < 0},
                                     {"text": "text", "test": "callable", "gap_text": "callable", "bound": "number"},
                                     check=_nan_never_passes),
    "dlnlib.claims.Criterion.holds": Entry(claims.at_most(1.0).holds, {"value": 0.5}, {"value": "number"}),
    "dlnlib.claims.at_least": Entry(claims.at_least, {"bound": 1.0}, {"bound": "number", "what": "text"},
                                    check=_nan_never_passes),
    "dlnlib.claims.at_most": Entry(claims.at_most, {"bound": 1.0}, {"bound": "number", "what": "text"},
                                   check=_nan_never_passes),
    "dlnlib.claims.between": Entry(claims.between, {"lo": -1.0, "hi": 1.0},
                                   {"lo": "number", "hi": "number", "what": "text"}, check=_nan_never_passes),
    "dlnlib.claims.close_to": Entry(claims.close_to, {"target": 1.0, "rel": 0.1},
                                    {"target": "number", "rel": "number", "abs": "number", "what": "text"},
                                    check=_nan_never_passes),
    "dlnlib.claims.less_than": Entry(claims.less_than, {"a": "a", "b": "b", "factor": 2.0},
                                     {"a": "text", "b": "text", "factor": "number"}, check=_nan_never_passes),
    "dlnlib.claims.greater_than": Entry(claims.greater_than, {"a": "a", "b": "b", "factor": 2.0},
                                        {"a": "text", "b": "text", "factor": "number"}, check=_nan_never_passes),
    "dlnlib.claims.is_true": Entry(claims.is_true, {"text": "every run converges"}, {"text": "text"},
                                   check=_nan_never_passes),
    "dlnlib.claims.below": Entry(claims.below, {"value": 2e-14, "bound": 1e-12},
                                 {"value": "number", "bound": "positive"}),
    "dlnlib.claims.Claims": Entry(claims.Claims, {"notebook": "03", "title": "a paper"},
                                  {"notebook": "tools.claim_id", "title": "text"}),
    "dlnlib.claims.Claims.add": Entry(
        _ledger_call(claims.Claims.add), {**_GOOD_CLAIM, "measured": 1e-12, "criterion": claims.at_most(1e-10)},
        {"id": "tools.claim_id", "claim": "text", "source": "text", "reported": "text", "measured": "number",
         "criterion": "object", "kind": "name", "where": "text", "resolution": "positive"},
        extra_bad={"measured": [{"a": NAN}, torch.tensor(NAN), np.float64(NAN), [NAN]]}),
    "dlnlib.claims.Claims.add[cases]": Entry(
        _ledger_call(claims.Claims.add),
        {**_GOOD_CLAIM, "cases": {"a": 0.5, "b": 2.0}, "criterion": claims.at_most(1.0)},
        {"cases": "tools.cases"}),
    "dlnlib.claims.Claims.not_tested": Entry(
        _ledger_call(claims.Claims.not_tested), {**_GOOD_CLAIM, "reason": "no GPU here"},
        {"id": "tools.claim_id", "claim": "text", "source": "text", "reported": "text", "reason": "text",
         "where": "text"}),
    # student builds and the nbgrader course (in the temporary folder)
    "dlnlib.student.strip_solutions": Entry(student.strip_solutions, {"source": _SOLVED},
                                            {"source": "text", "default_id": "tools.default_id"}),
    "dlnlib.student.make_student": Entry(student.make_student, {"nb": NB}, {"nb": "object"},
                                         extra_bad={"nb": [{"cells": 3}, nbformat.from_dict({"cells": [3]}),
                                                           nbformat.from_dict({"worksheets": []})]}),
    "dlnlib.student.build_student_notebooks": Entry(
        student.build_student_notebooks, {"paths": [NB_PATH], "out_dir": TMP / "student"},
        {"paths": "tools.paths", "out_dir": "tools.folder"},
        extra_bad={"paths": [[TMP / "missing.ipynb"], [NOT_JSON], [TEXT_FILE]], "out_dir": [None]}),
    "dlnlib.grading.nbgrader_notebook": Entry(grading.nbgrader_notebook, {"nb": NB},
                                              {"nb": "object", "points": "positive", "derivation_points": "positive"},
                                              extra_bad={"nb": [{"cells": 3}, nbformat.from_dict({"cells": [3]})]}),
    "dlnlib.grading.build_course": Entry(
        grading.build_course, {"paths": [NB_PATH], "course_dir": TMP / "course"},
        {"paths": "tools.paths", "course_dir": "tools.folder", "assignment": "tools.assignment",
         "points": "positive", "derivation_points": "positive"},
        extra_bad={"paths": [[TMP / "missing.ipynb"], [NOT_JSON]], "course_dir": [None]}),
    # the setup cell, notebook execution, the check runner
    "dlnlib.setupcell.cell_source": Entry(setupcell.cell_source, {"repo": "https://github.com/o/r"}, {"repo": "text"},
                                          extra_bad={"repo": ["git@github.com:o/r", 'https://a"b', "https://a b"]}),
    "dlnlib.setupcell.repository_url": Entry(setupcell.repository_url, {"root": REPO}, {"root": "path"},
                                             extra_bad={"root": [TEXT_FILE, ""]}),
    "dlnlib.setupcell.write_setup_cell": Entry(setupcell.write_setup_cell,
                                               {"path": SETUP_NB, "source": setupcell.cell_source("")},
                                               {"path": "path", "source": "text"},
                                               extra_bad={"path": [NOT_JSON, TEXT_FILE, TMP]}),
    "dlnlib.execute.checked_env": Entry(_env_kept(execute.checked_env), {}, {}),
    "dlnlib.execute.expand_paths": Entry(execute.expand_paths, {"paths": [str(TMP / "*.ipynb")]},
                                         {"paths": "tools.paths"},
                                         extra_bad={"paths": [[str(TMP / "nothing*.xyz")]]}),
    "dlnlib.execute.execute_notebook": Entry(
        _env_kept(execute.execute_notebook), {"path": RUN_NB, "save": False},
        {"path": "path", "timeout": "tools.timeout", "allow_errors": "flag", "save": "flag", "figures": "tools.folder"},
        extra_bad={"path": [NOT_JSON, TEXT_FILE, TMP]}),
    "dlnlib.runchecks.commands": Entry(runchecks.commands, {"paths": ["tests/test_claims.py"]},
                                       {"paths": "tools.paths", "unit": "flag", "lint": "flag"}),
}

_CLI = "command-line entry point main(argv): argparse reports bad arguments itself and exits (SystemExit 2)"
EXEMPT = {
    "dlnlib.exercises.CheckResult": "the verdict record check() fills in; students print it, never build it",
    "dlnlib.claims.Claim": "one table row that Claims.add/not_tested builds (and fuzzed there); notebooks only read it",
    "dlnlib.claims.ClaimsTable": "the rendered table Claims.table() returns; notebooks only display it",
    "dlnlib.student.main": _CLI,
    "dlnlib.grading.main": _CLI,
    "dlnlib.setupcell.main": _CLI,
    "dlnlib.execute.main": _CLI,
    "dlnlib.runchecks.main": _CLI,
}
