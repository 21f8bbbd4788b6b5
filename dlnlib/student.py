"""Build student notebooks from the instructor notebooks (``make student``).

    python -m dlnlib.student notebooks/*.ipynb --out student

In every code cell, each block between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes a
stub at the same indentation: inside a function ``...`` and ``raise NotImplementedError("Exercise X.Y:
...")``, the id taken from the cell's ``# Exercise X.Y`` comment; at the top level ``name = ...`` for each
name the solution binds (nothing raises, so "Run All" goes on; ``check`` answers "not attempted yet").
Markdown cells tagged ``solution`` (or text between the same markers in markdown) are removed. Outputs of
solution cells, and of every later cell whose result depends on a name a solution cell defines, are
cleared: the dependence is followed statement by statement (a name bound from a solution's result is
tainted; one rebound from clean values, like the throwaway ``_``, is clean again; binding a name is not
using it). The instructor notebooks are never modified.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

from .execute import _folder_arg, _paths_arg, _read_notebook

__all__ = ["BEGIN", "END", "strip_solutions", "make_student", "build_student_notebooks", "main"]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
_EX_ID = re.compile(r"#\s*Exercise\s+(\d+\.\d+)")


def strip_solutions(source: str, *, default_id: str | None = None) -> tuple[str, bool]:
    """Replace solution blocks in one code cell's source with stubs; return (new source, changed).

    Inside a function the stub raises ``NotImplementedError("Exercise X.Y: ...")``, which ``check``
    reports as "not attempted yet". At the top level of a cell (an answer that is a value, not a function)
    nothing may raise, or "Run All" would stop there: each name the solution binds becomes ``name = ...``
    (Ellipsis), which ``check`` also reports as "not attempted yet".
    """
    if not isinstance(source, str):
        raise TypeError(f"source: got {type(source).__name__}, expected a cell's source (str)")
    if default_id is not None and (not isinstance(default_id, str) or not re.fullmatch(r"\d+\.\d+", default_id)):
        raise ValueError(f"default_id: got {default_id!r}, expected None or an exercise id such as '1.2'")
    if BEGIN not in source:
        return source, False
    m = _EX_ID.search(source)
    ex_id = m.group(1) if m else default_id
    if ex_id is None:
        raise ValueError("source: a cell with a solution block needs a '# Exercise X.Y' comment naming it")
    out, inside, indent, block = [], False, "", []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            if inside:
                raise ValueError(f"source: nested {BEGIN!r} in exercise {ex_id}")
            inside, indent, block = True, line[: len(line) - len(line.lstrip())], []
            continue
        if stripped.startswith(END):
            if not inside:
                raise ValueError(f"source: {END!r} without {BEGIN!r} in exercise {ex_id}")
            inside = False
            out += _stub(ex_id, indent, block)
            continue
        if inside:
            block.append(line)
        else:
            out.append(line)
    if inside:
        raise ValueError(f"source: {BEGIN!r} without {END!r} in exercise {ex_id}")
    return "\n".join(out), True


def _stub(ex_id: str, indent: str, block: list[str]) -> list[str]:
    if indent:
        return [f"{indent}# your code here", f"{indent}...",
                f'{indent}raise NotImplementedError("Exercise {ex_id}: replace ... with your code")']
    try:
        names = sorted(_names(*ast.parse("\n".join(block)).body)[1])
    except SyntaxError:
        names = []
    return ["# your answer here (replace each ...)"] + ([f"{n} = ..." for n in names] or ["..."])


class _Names(ast.NodeVisitor):
    """Names one top-level statement reads from and binds in the notebook's namespace.

    Function and lambda bodies and comprehensions have their own scope: their parameters and local
    variables are neither reads nor bindings of the notebook (their free names are reads). Binding a
    name (``_``, a loop variable) is not reading it. An item or attribute assignment (``d[k] = v``,
    ``obj.x = v``) changes the object, so its base name counts as bound too. (A method call that stores
    a solution's result, ``lst.append(f())``, is not followed: ``plt.plot(...)`` would taint ``plt``.)
    """

    def __init__(self):
        self.reads: set[str] = set()
        self.binds: set[str] = set()

    def visit_Name(self, node):
        (self.reads if isinstance(node.ctx, ast.Load) else self.binds).add(node.id)

    def _base(self, node):
        while isinstance(node, (ast.Subscript, ast.Attribute, ast.Starred)):
            node = node.value
        return node.id if isinstance(node, ast.Name) else None

    def _mutated(self, target):
        base = self._base(target) if isinstance(target, (ast.Subscript, ast.Attribute)) else None
        if base is not None:
            self.binds.add(base)

    def visit_Assign(self, node):
        for t in node.targets:
            self._mutated(t)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._mutated(node.target)
        if isinstance(node.target, ast.Name):
            self.reads.add(node.target.id)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._mutated(node.target)
        self.generic_visit(node)

    def visit_Import(self, node):
        for alias in node.names:
            self.binds.add((alias.asname or alias.name).split(".")[0])

    visit_ImportFrom = visit_Import

    def _scope(self, node, params, body, name=None):
        inner = _Names()
        for b in body:
            inner.visit(b)
        local = set(params) | inner.binds
        self.reads |= inner.reads - local
        if name is not None:
            self.binds.add(name)

    def _function(self, node):
        outer = getattr(node, "decorator_list", []) + node.args.defaults
        for d in outer + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(d)
        a = node.args
        params = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
        params += [x.arg for x in (a.vararg, a.kwarg) if x is not None]
        body = node.body if isinstance(node.body, list) else [node.body]
        self._scope(node, params, body, getattr(node, "name", None))

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_ClassDef(self, node):
        for d in node.decorator_list + node.bases:
            self.visit(d)
        self._scope(node, [], node.body, node.name)

    def _comprehension(self, node):
        inner = _Names()
        for gen in node.generators:
            inner.visit(gen)
        for part in ("elt", "key", "value"):
            if getattr(node, part, None) is not None:
                inner.visit(getattr(node, part))
        self.reads |= inner.reads - inner.binds
        self.reads |= _Names._reads_of(node.generators[0].iter)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension

    @staticmethod
    def _reads_of(node) -> set[str]:
        v = _Names()
        v.visit(node)
        return v.reads


def _names(*nodes) -> tuple[set[str], set[str]]:
    v = _Names()
    for node in nodes:
        if node is not None:
            v.visit(node)
    return v.reads, v.binds


# Statements that always rebind their names when they run.
_UNCONDITIONAL = (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                  ast.ClassDef)


def _flow(stmts, tainted: set[str]) -> tuple[set[str], bool]:
    """Follow solution-defined names through a block of statements, in order.

    A statement that reads a tainted name taints every name it binds, and makes the cell's output depend
    on a solution; an assignment, import or definition that does not rebinds its names to clean values
    (``_ = 0`` after ``_ = f()`` is clean again). A loop's target is clean when what it iterates over is;
    its body is followed twice (a value may come round from the previous iteration). A branch on a
    tainted condition taints everything either branch binds; otherwise a name stays tainted if either
    branch leaves it so. Returns (tainted names after the block, whether anything read a tainted name).
    """
    tainted, depends = set(tainted), False
    for s in stmts:
        if isinstance(s, (ast.For, ast.AsyncFor)):
            reads, _ = _names(s.iter)
            _, target = _names(s.target)
            if reads & tainted:
                depends, tainted = True, tainted | target
            else:
                tainted -= target
            before = set(tainted)
            for _ in range(2):
                tainted, dep = _flow(s.body, tainted)
                depends |= dep
            tainted |= before  # the loop may run zero times
            tainted, dep = _flow(s.orelse, tainted)
            depends |= dep
        elif isinstance(s, (ast.If, ast.While)):
            reads, _ = _names(s.test)
            if reads & tainted:
                _, binds = _names(*s.body, *s.orelse)
                depends, tainted = True, tainted | binds
                continue
            t1, d1 = _flow(s.body, tainted)
            if isinstance(s, ast.While):
                t1, d1b = _flow(s.body, t1 | tainted)
                d1 |= d1b
                t1 |= tainted
            t2, d2 = _flow(s.orelse, tainted)
            tainted, depends = t1 | t2, depends or d1 or d2
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                reads, _ = _names(item.context_expr)
                _, binds = _names(item.optional_vars)
                if reads & tainted:
                    depends, tainted = True, tainted | binds
                else:
                    tainted -= binds
            tainted, dep = _flow(s.body, tainted)
            depends |= dep
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            t_body, d = _flow(s.body + s.orelse, tainted)
            outs, depends = [t_body, tainted], depends or d
            for h in s.handlers:
                t_h, d = _flow(h.body, tainted | t_body)
                outs.append(t_h)
                depends |= d
            tainted, d = _flow(s.finalbody, set().union(*outs))
            depends |= d
        else:
            reads, binds = _names(s)
            if reads & tainted:
                depends, tainted = True, tainted | binds
            elif isinstance(s, _UNCONDITIONAL):
                tainted -= binds
    return tainted, depends


def _defined_names(source: str) -> set[str]:
    """Every name a cell binds in the notebook's namespace."""
    try:
        return _names(*ast.parse(source).body)[1]
    except SyntaxError:
        return set()


def _propagate(source: str, tainted: set[str]) -> tuple[set[str], bool]:
    """(tainted names after one code cell, whether the cell's output depends on a solution)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # not Python (a %magic, a syntax error): it depends if it mentions a tainted name
        return tainted, bool(set(re.findall(r"[A-Za-z_]\w*", source)) & tainted)
    return _flow(tree.body, tainted)


def _strip_markdown(source: str) -> str:
    return re.sub(rf"{re.escape(BEGIN)}.*?{re.escape(END)}\n?", "", source, flags=re.S)


def _clear(cell) -> None:
    cell.outputs = []
    cell.execution_count = None


def _check_notebook(nb, name: str = "nb") -> None:
    """TypeError naming ``name`` unless ``nb`` is an nbformat 4 notebook object (cells with a type and a source)."""
    cells = nb.get("cells") if isinstance(nb, nbformat.NotebookNode) else None
    if not isinstance(cells, list) or not all(
            isinstance(c, nbformat.NotebookNode) and isinstance(c.get("cell_type"), str)
            and isinstance(c.get("source"), str) for c in cells):
        raise TypeError(f"{name}: got {type(nb).__name__}, expected a notebook object as "
                        "nbformat.read(path, as_version=4) returns it")


def make_student(nb):
    """A student copy of an instructor notebook object (the input is left unchanged)."""
    _check_notebook(nb)
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
        else:
            tainted, depends = _propagate(cell.source, tainted)
            if depends:
                _clear(cell)
        cells.append(cell)
    nb.cells = cells
    nb.metadata["dlnlib_student"] = True
    return nb


def build_student_notebooks(paths, out_dir) -> list[Path]:
    """Write the student version of each notebook in ``paths`` into ``out_dir``; return the new paths."""
    paths = _paths_arg("paths", paths)
    out = _folder_arg("out_dir", out_dir)
    notebooks = [(p, _read_notebook("paths", p)) for p in paths]  # every input checked before anything is written
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for p, nb in notebooks:
        target = out / p.name
        nbformat.write(make_student(nb), target)
        written.append(target)
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Build student notebooks (solutions replaced by stubs).")
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--out", default="student")
    args = ap.parse_args(argv)
    from .execute import expand_paths

    for path in build_student_notebooks(expand_paths(args.paths), args.out):
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
