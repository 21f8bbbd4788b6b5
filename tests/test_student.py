"""Student builds: no solution line survives, stubs raise NotImplementedError, and a student notebook
executed up to its last exercise fails only at those stubs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from dlnlib.student import BEGIN, END, build_student_notebooks, make_student, strip_solutions

NOTEBOOKS = sorted(Path(__file__).resolve().parents[1].glob("notebooks/[0-9][0-9]_*.ipynb"))
WITH_EXERCISES = [p for p in NOTEBOOKS if BEGIN in p.read_text()]


def solution_lines(nb):
    lines = []
    for cell in nb.cells:
        inside = False
        for line in cell.source.splitlines():
            s = line.strip()
            if s.startswith(BEGIN):
                inside = True
            elif s.startswith(END):
                inside = False
            elif inside and len(s) > 3:
                lines.append(s)
    return lines


def test_strip_solutions_keeps_indentation_and_names_the_exercise():
    src = ("# Exercise 3.2: do it\ndef f(x):\n    y = 1\n"
           "    ### BEGIN SOLUTION\n    return x + y\n    ### END SOLUTION\n")
    out, changed = strip_solutions(src)
    assert changed
    assert "return x + y" not in out
    assert '    raise NotImplementedError("Exercise 3.2: replace ... with your code")' in out
    assert "    y = 1" in out
    with pytest.raises(ValueError, match="needs a '# Exercise X.Y' comment"):
        strip_solutions("def f():\n    ### BEGIN SOLUTION\n    pass\n    ### END SOLUTION\n")
    with pytest.raises(ValueError, match="without"):
        strip_solutions("# Exercise 1.1\n### BEGIN SOLUTION\nx = 1\n")


def test_markdown_solutions_removed_and_dependent_outputs_cleared():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("Answer: it is 4", metadata={"tags": ["solution"]}),
        nbformat.v4.new_markdown_cell(f"Think first.\n{BEGIN}\nthe answer\n{END}\nDone."),
        nbformat.v4.new_code_cell(f"# Exercise 9.1\ndef f():\n    {BEGIN}\n    return 4\n    {END}"),
        nbformat.v4.new_code_cell("y = f()", outputs=[nbformat.v4.new_output("stream", text="x")],
                                  execution_count=3),
        nbformat.v4.new_code_cell("print(y)", outputs=[nbformat.v4.new_output("stream", text="4")],
                                  execution_count=4),
        nbformat.v4.new_code_cell("print(1)", outputs=[nbformat.v4.new_output("stream", text="1")],
                                  execution_count=5),
    ])
    stu = make_student(nb)
    assert len(stu.cells) == 5
    assert "the answer" not in stu.cells[0].source and "Done." in stu.cells[0].source
    assert stu.cells[2].outputs == [] and stu.cells[3].outputs == []  # depends on f, then on y
    assert stu.cells[4].outputs[0]["text"] == "1"  # independent cell keeps its output
    assert nb.cells[3].outputs  # the instructor notebook is untouched


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_student_build_has_stubs_and_no_solution_line(path, tmp_path):
    (out,) = build_student_notebooks([path], tmp_path)
    instructor = nbformat.read(path, as_version=4)
    student = nbformat.read(out, as_version=4)
    text = "\n".join(c.source for c in student.cells)
    leaked = [line for line in solution_lines(instructor) if line in text]
    assert not leaked, f"solution lines left in the student notebook: {leaked}"
    n_blocks = sum(c.source.count(BEGIN) for c in instructor.cells)
    assert text.count('raise NotImplementedError("Exercise ') == n_blocks
    assert BEGIN not in text and END not in text


@pytest.mark.parametrize("path", WITH_EXERCISES, ids=lambda p: p.name)
def test_student_notebook_fails_only_at_stubs(path):
    student = make_student(nbformat.read(path, as_version=4))
    last = max(i for i, c in enumerate(student.cells)
               if c.cell_type == "code" and ("NotImplementedError" in c.source or "check(" in c.source))
    student.cells = student.cells[: last + 1]
    NotebookClient(student, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in student.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    for err in errors:
        assert err.ename == "NotImplementedError" and err.evalue.startswith("Exercise "), (err.ename, err.evalue)
    checks = [o for c in student.cells if c.cell_type == "code" and c.source.lstrip().startswith("check(")
              for o in c.outputs if o.output_type == "execute_result"]
    assert checks and all("not attempted yet" in o.data["text/plain"] for o in checks)
