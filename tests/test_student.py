"""Student builds: no solution line survives, stubs raise NotImplementedError, and exactly the outputs that
depend on a solution are cleared (tests/test_student_runall.py executes the built notebooks)."""

from pathlib import Path

import nbformat
import pytest

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
    stubs = text.count('raise NotImplementedError("Exercise ') + text.count("# your answer here (replace each ...)")
    assert stubs == n_blocks
    assert BEGIN not in text and END not in text


def _student_outputs(*sources):
    """Build a student notebook from code cells (the first holds the solution); which keep their output."""
    cells = [nbformat.v4.new_code_cell(src, outputs=[nbformat.v4.new_output("stream", text="out")],
                                       execution_count=k + 1) for k, src in enumerate(sources)]
    stu = make_student(nbformat.v4.new_notebook(cells=cells))
    return [bool(c.outputs) for c in stu.cells]


SOLUTION = f"# Exercise 9.2\ndef f(x):\n    {BEGIN}\n    return x + 1\n    {END}"


def test_throwaway_name_rebound_from_clean_values_keeps_outputs():
    kept = _student_outputs(
        SOLUTION,
        "_ = f(1)\nprint(_)",                            # uses the solution: cleared
        "for _ in range(4):\n    pass\nprint(2)",       # binds _ (a loop variable), never reads it: kept
        "k, _ = divmod(7, 2)\nprint(k, _)",              # rebinds _ from clean values, then reads it: kept
        "print(_)",                                       # _ is clean again: kept
        "gen = (0 for _ in range(3))\nprint(sum(gen))",  # a comprehension's own _: kept
    )
    assert kept == [False, False, True, True, True, True]


def test_taint_followed_statement_by_statement():
    kept = _student_outputs(
        SOLUTION,
        "a = 1\nb = f(a)",                                # b depends on the solution: cleared
        "print(a)",                                       # a was bound before the solution was called: kept
        "for i in range(2):\n    c = b + i\nprint(i)",   # c from b inside a loop: cleared
        "print(c)",                                       # c is tainted: cleared
        "d = {}\nd['x'] = f(2)",                          # an item assignment taints the dict: cleared
        "print(d)",                                       # cleared
        "if b > 1:\n    e = 0\nelse:\n    e = 1",         # e depends on a branch on b: cleared
        "print(e)",                                       # cleared
        "def g(b):\n    return b\nprint(g(3))",          # g's parameter b is not the notebook's b: kept
        "h = lambda: f(0)",                               # h calls the solution: cleared
        "print(h is None)",                               # cleared
        "b = 5\nprint(b)",                                # b rebound from a clean value: kept
    )
    assert kept == [False, False, True, False, False, False, False, False, False, True, False, False, True]


def test_defined_names_of_a_solution_cell_are_tainted_and_check_cells_cleared():
    kept = _student_outputs(SOLUTION + "\nSTEP = 0.1", 'check("9.2", f)', "print(STEP)", "print(3)")
    assert kept == [False, False, False, True]


def test_check_reports_a_stub_as_not_attempted_and_names_the_exercise_it_waits_for():
    from dlnlib.exercises import check

    def own_stub(*args):
        raise NotImplementedError("Exercise 1.2: replace ... with your code")

    def calls_another_stub(*args):
        raise NotImplementedError("Exercise 1.1: replace ... with your code")

    res = check("1.2", own_stub)
    assert not res.ok and res.message.startswith("Exercise 1.2: not attempted yet (the stub still raises")
    res = check("1.2", calls_another_stub)
    assert not res.ok
    assert res.message.startswith("Exercise 1.2: not attempted yet: your function calls your exercise 1.1")


def test_top_level_solution_becomes_ellipsis_names_and_check_says_not_attempted():
    from dlnlib.exercises import check

    src = (f"# Exercise 2.5: classify the fixed points\n{BEGIN}\nkinds = {{'origin': 'saddle'}}\n"
           f"a, b = 1.0, 2.0\n{END}\nprint('done')")
    out, changed = strip_solutions(src)
    assert changed and "saddle" not in out and "raise" not in out
    assert out.splitlines()[1:] == ["# your answer here (replace each ...)", "a = ...", "b = ...", "kinds = ...",
                                    "print('done')"]
    namespace = {}
    exec(out, namespace)  # runs through: nothing raises at the top level
    assert namespace["kinds"] is ...
    res = check("2.5", namespace["kinds"])
    assert not res.ok and res.message.startswith("Exercise 2.5: not attempted yet")
    res = check("1.1", ...)
    assert not res.ok and res.message.startswith("Exercise 1.1: not attempted yet")
