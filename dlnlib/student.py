"""Build student notebooks from the instructor notebooks (``make student``).

    python -m dlnlib.student notebooks/*.ipynb --out student

In every code cell, each block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a
stub at the same indentation: ``...`` and ``raise NotImplementedError("Exercise X.Y: ...")``, the id
taken from the cell's ``# Exercise X.Y`` comment. Markdown cells tagged ``solution`` (or text between
the same markers in markdown) are removed. Outputs of solution cells, and of every later cell that
uses a name a solution cell defines, are cleared. The instructor notebooks are never modified.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

__all__ = ["BEGIN", "END", "strip_solutions", "make_student", "build_student_notebooks", "main"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_EX_ID = re.compile(r"#\s*Exercise\s+(\d+\.\d+)")


def strip_solutions(source: str, *, default_id: str | None = None) -> tuple[str, bool]:
    """Replace solution blocks in one code cell's source with stubs; return (new source, changed)."""
    if BEGIN not in source:
        return source, False
    m = _EX_ID.search(source)
    ex_id = m.group(1) if m else default_id
    if ex_id is None:
        raise ValueError("source: a cell with a solution block needs a '# Exercise X.Y' comment naming it")
    out, inside, indent = [], False, ""
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ValueError(f"source: nested {BEGIN!r} in exercise {ex_id}")
            inside, indent = True, line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}# your code here")
            out.append(f"{indent}...")
            out.append(f'{indent}raise NotImplementedError("Exercise {ex_id}: replace ... with your code")')
            continue
        if stripped.startswith(END):
            if not inside:
                raise ValueError(f"source: {END!r} without {BEGIN!r} in exercise {ex_id}")
            inside = False
            continue
        if not inside:
            out.append(line)
    if inside:
        raise ValueError(f"source: {BEGIN!r} without {END!r} in exercise {ex_id}")
    return "\n".join(out), True


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


def _used_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _strip_markdown(source: str) -> str:
    return re.sub(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n?", "", source, flags=re.S)


def _clear(cell) -> None:
    cell.outputs = []
    cell.execution_count = None


def make_student(nb):
    """A student copy of an instructor notebook object (the input is left unchanged)."""
    nb = copy.deepcopy(nb)
    cells, tainted = [], set()
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if cell.cell_type == "markdown":
            if "solution" in tags:
                continue
            cell.source = _strip_markdown(cell.source)
            cells.append(cell)
            continue
        if cell.cell_type != "code":
            cells.append(cell)
            continue
        new, changed = strip_solutions(cell.source)
        if changed:
            tainted |= _defined_names(cell.source)
            cell.source = new
            _clear(cell)
        elif _used_names(cell.source) & tainted:
            tainted |= _defined_names(cell.source)
            _clear(cell)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["dlnlib_student"] = True
    return nb


def build_student_notebooks(paths, out_dir) -> list[Path]:
    """Write the student version of each notebook in ``paths`` into ``out_dir``; return the new paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p in map(Path, paths):
        if not p.is_file() or p.suffix != ".ipynb":
            raise ValueError(f"paths: got {str(p)!r}, expected existing .ipynb files")
        nb = nbformat.read(p, as_version=4)
        target = out / p.name
        nbformat.write(make_student(nb), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Build student notebooks (solutions replaced by stubs).")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--out", default="student")
    args = ap.parse_args(argv)
    for path in build_student_notebooks(args.paths, args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
