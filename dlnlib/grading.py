"""Build an nbgrader course ``source/`` folder from the instructor notebooks (``make nbgrader``).

    python -m dlnlib.grading notebooks/*.ipynb --course nbgrader-course

Each notebook becomes one nbgrader assignment, ``<course>/source/<notebook stem>/<notebook>.ipynb``
(``--assignment NAME`` puts them all into one). Cell by cell:

- a code cell with a ``### BEGIN SOLUTION`` / ``### END SOLUTION`` block and a ``# Exercise X.Y``
  comment becomes an nbgrader solution cell (grade id ``exX_Y``); nbgrader itself replaces the block
  with its stub when it generates the student version;
- a code cell that calls ``check("X.Y", answer)`` on an exercise solved in this notebook becomes a
  locked autograded test cell (grade id ``exX_Y_test``, ``points`` each): the call is rewritten to
  print the checker's one-line verdict and to ``assert`` it, so a wrong answer fails the test and the
  verdict (which names the mistake) appears in the graded feedback;
- a markdown cell tagged ``derivation`` is a written derivation: a manually graded answer cell
  (grade id ``derivX_Y`` from its ``Exercise X.Y``, else ``derivation_K``); nbgrader replaces its text
  with "YOUR ANSWER HERE" in the student version, or only a marked region if it has one;
- markdown cells tagged ``solution`` (worked answers) are left out, as in ``dlnlib.student``.

Outputs are cleared (nbgrader releases unexecuted notebooks). The instructor notebooks are not changed.
"""

from __future__ import annotations

import argparse
import copy
import math
import numbers
import re
import sys
from pathlib import Path

import nbformat

from .execute import _folder_arg, _paths_arg, _read_notebook, expand_paths
from .student import BEGIN, END, _check_notebook

__all__ = ["CHECK_CALL", "nbgrader_notebook", "build_course", "main"]

# A whole line `check("X.Y", name)` (optionally `result = ...`): the cell's verdict line.
CHECK_CALL = re.compile(
    r'^(?P<indent>\s*)(?:\w+\s*=\s*)?check\(\s*["\'](?P<id>\d+\.\d+)["\']\s*,\s*(?P<arg>[^)]*)\)\s*$', re.M)
_EX_ID = re.compile(r"Exercise\s+(\d+\.\d+)")
_CONFIG = """\
# nbgrader configuration written by `python -m dlnlib.grading`; edit freely.
c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
# Slider cells and the longer experiments take a few seconds; a cell over 120 s is a hang.
c.Execute.timeout = 120
"""


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if grade:
        meta["points"] = points
    return meta


def _test_source(source: str) -> str:
    """Rewrite each ``check("X.Y", f)`` line into a printed verdict and an assertion that fails on a wrong answer."""
    def repl(m):
        ind, ex, arg = m.group("indent"), m.group("id"), m.group("arg").strip()
        return (f'{ind}_verdict = check("{ex}", {arg})\n'
                f"{ind}print(_verdict)\n"
                f"{ind}assert _verdict.ok, _verdict.message")
    return CHECK_CALL.sub(repl, source)


def _check_points(points, derivation_points) -> None:
    for name, value in (("points", points), ("derivation_points", derivation_points)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
            raise ValueError(f"{name}: got {value!r}, expected a finite number > 0")
    if not points > 0 or not derivation_points > 0:
        raise ValueError(f"points, derivation_points: got {points!r}, {derivation_points!r}, expected > 0")


def nbgrader_notebook(nb, *, points: float = 1.0, derivation_points: float = 2.0):
    """An nbgrader source copy of an instructor notebook object (the input is left unchanged).

    points: points of each autograded exercise; derivation_points: of each derivation answer cell.
    """
    _check_notebook(nb)
    _check_points(points, derivation_points)
    nb = copy.deepcopy(nb)
    cells, solved, derivations = [], set(), 0
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        cell.metadata.pop("nbgrader", None)
        if cell.cell_type == "markdown":
            if "solution" in tags:
                continue
            if "derivation" in tags:
                derivations += 1
                m = _EX_ID.search(cell.source)
                ex = cell.metadata.get("dlnlib_exercise") or (m.group(1) if m else None)  # set by the answer cells
                gid = f"deriv{str(ex).replace('.', '_')}" if ex else f"derivation_{derivations}"
                cell.metadata["nbgrader"] = _meta(gid, solution=True, grade=True, locked=False,
                                                  points=derivation_points)
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        cell.outputs, cell.execution_count = [], None
        if BEGIN in cell.source:
            m = re.search(r"#\s*" + _EX_ID.pattern, cell.source)
            if m is None:
                raise ValueError("nb: a cell with a solution block needs a '# Exercise X.Y' comment naming it; got\n"
                                 + cell.source[:200])
            if END not in cell.source:
                raise ValueError(f"nb: exercise {m.group(1)} has {BEGIN!r} without {END!r}")
            solved.add(m.group(1))
            cell.metadata["nbgrader"] = _meta(f"ex{m.group(1).replace('.', '_')}", solution=True, grade=False,
                                              locked=False)
        else:
            ids = {m.group("id") for m in CHECK_CALL.finditer(cell.source)} & solved
            if ids:
                if len(ids) > 1:
                    raise ValueError(f"nb: one cell checks several exercises ({sorted(ids)}); split it")
                ex = ids.pop()
                cell.source = _test_source(cell.source)
                cell.metadata["nbgrader"] = _meta(f"ex{ex.replace('.', '_')}_test", solution=False, grade=True,
                                                  locked=True, points=points)
        cells.append(cell)
    nb.cells = cells
    return nb


def build_course(paths, course_dir, *, assignment: str | None = None, points: float = 1.0,
                 derivation_points: float = 2.0) -> list[Path]:
    """Write nbgrader source notebooks for ``paths`` into ``course_dir/source/``; return the written paths.

    assignment: one assignment name for every notebook (default: one assignment per notebook, named by
    its stem). Writes ``course_dir/nbgrader_config.py`` unless one exists.
    """
    paths = _paths_arg("paths", paths)
    course = _folder_arg("course_dir", course_dir)
    if assignment is not None and (not isinstance(assignment, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", assignment)
                                   or not assignment.strip(".")):
        raise ValueError(f"assignment: got {assignment!r}, expected letters, digits, '_', '.' or '-' (not only dots)")
    _check_points(points, derivation_points)
    notebooks = [(p, nbgrader_notebook(_read_notebook("paths", p), points=points, derivation_points=derivation_points))
                 for p in paths]  # every input checked before anything is written
    written = []
    for p, nb in notebooks:
        target = course / "source" / (assignment or p.stem) / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    config = course / "nbgrader_config.py"
    if not config.exists():
        config.write_text(_CONFIG)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Write an nbgrader course source/ folder from the instructor notebooks.")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--course", default="nbgrader-course", help="course directory (default: nbgrader-course)")
    ap.add_argument("--assignment", default=None, help="one assignment for all notebooks (default: one per notebook)")
    ap.add_argument("--points", type=float, default=1.0, help="points per autograded exercise")
    args = ap.parse_args(argv)
    for path in build_course(expand_paths(args.paths), args.course, assignment=args.assignment, points=args.points):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
