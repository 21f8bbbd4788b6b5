"""The student build holds no worked answer: for every exercise, none of its distinctive lines and formulas
(``Exercise.answer_marks``) survives in code, comments or markdown of the built notebook, while the instructor
notebook does contain them; every derivation exercise keeps an empty answer cell for the student."""

import re
from pathlib import Path

import nbformat
import pytest

from dlnlib.exercises import all_exercises
from dlnlib.student import build_student_notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {p.name[:2]: p for p in sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))}


@pytest.fixture(scope="module")
def student_texts(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    built = build_student_notebooks(list(NOTEBOOKS.values()), out)
    return {p.name[:2]: nbformat.read(p, as_version=4) for p in built}


def _text(nb):
    return "\n".join(c.source for c in nb.cells)


def _exercises_in(nb):
    return set(re.findall(r"^#\s*Exercise\s+(\d+\.\d+)", _text(nb), re.M))


def test_no_answer_survives_the_student_build(student_texts):
    found_any = set()
    for ex_id, ex in sorted(all_exercises().items()):
        key = f"{int(ex_id.split('.')[0]):02d}"
        instructor = nbformat.read(NOTEBOOKS[key], as_version=4)
        if ex_id not in _exercises_in(instructor):
            continue
        found_any.add(ex_id)
        present = [m for m in ex.answer_marks if m in _text(instructor)]
        assert present, f"exercise {ex_id}: no answer mark found in the instructor notebook (marks out of date?)"
        leaked = [m for m in ex.answer_marks if m in _text(student_texts[key])]
        assert not leaked, f"exercise {ex_id}: the student notebook contains {leaked}"
    assert len(found_any) >= 14


def test_derivation_exercises_keep_an_answer_cell_without_the_worked_answer(student_texts):
    for key, nb in student_texts.items():
        instructor = nbformat.read(NOTEBOOKS[key], as_version=4)
        derived = [c.metadata.get("dlnlib_exercise") for c in instructor.cells if "derivation" in
                   c.metadata.get("tags", [])]
        for ex_id in derived:
            cells = [c for c in nb.cells if c.metadata.get("dlnlib_exercise") == ex_id]
            assert len(cells) == 1, (key, ex_id)
            assert f"Your derivation (exercise {ex_id})" in cells[0].source
            assert "Worked derivation" not in cells[0].source
        assert "Worked derivation" not in _text(nb)
