"""The exercise machinery: lookups, hints that escalate without giving the result away, solutions that say
they reveal it, refusal of answers that call dlnlib's own implementation, tracebacks of the student's frames."""

import pytest
import torch

import dlnlib
from dlnlib.exercises import all_exercises, check, compare, get, hint, solution

F64 = torch.float64


def test_every_exercise_has_escalating_hints_and_answer_marks():
    exercises = all_exercises()
    assert len(exercises) >= 16
    for ex_id, ex in exercises.items():
        assert len(ex.hints) >= 2, ex_id
        assert hint(ex_id, 1) != hint(ex_id, 2)
        assert ex.answer_marks, ex_id
        first = ex.hints[0]
        for mark in ex.answer_marks:
            assert mark not in first, (ex_id, mark)


def test_derivation_exercises_carry_their_worked_derivation():
    derived = [i for i, ex in all_exercises().items() if ex.derivation]
    assert {"1.1", "2.1", "2.2", "2.3", "2.5", "2.6", "3.1", "3.2", "5.3"} <= set(derived)
    text = solution("2.6")
    assert text.startswith("Exercise 2.6: THIS REVEALS THE COMPLETE ANSWER")
    assert "a^2 - b^2" in text and "def end_point_reference" in text


@pytest.mark.parametrize("ex_id,library", [
    ("4.1", lambda: dlnlib.endtoend.psd_power),
    ("4.2", lambda: dlnlib.endtoend.preconditioned_gradient),
    ("4.3", lambda: dlnlib.endtoend.single_output_update),
    ("5.1", lambda: dlnlib.agd.optimal_lr),
    ("5.2", lambda: dlnlib.agd.round_robin),
    ("2.4", lambda: dlnlib.saxe.ab_jacobian),
    ("2.5", lambda: dlnlib.saxe.ab_fixed_point_type),
    ("1.2", lambda: (lambda chain, G, j: dlnlib.chains.layer_gradients(chain, G)[j - 1])),
])
def test_answers_that_call_dlnlib_are_refused(ex_id, library):
    fn = library()
    res = check(ex_id, fn)
    assert not res.ok and "not accepted: your answer calls dlnlib." in res.message, res.message

    def wrapped(*args):  # hiding the call in a wrapper does not help: the call itself is traced
        return fn(*args)

    assert "dlnlib's own answer to this exercise" in check(ex_id, wrapped).message
    ref = get(ex_id).reference
    assert "dlnlib's own answer" in check(ex_id, lambda *a: ref(*a)).message


def test_an_exercise_may_use_another_exercises_building_block():
    # 4.2 built on dlnlib's psd_power (the answer of 4.1, not of 4.2) is the student's own work
    def pg(W, G, N):
        p = dlnlib.endtoend.psd_power
        L, R = W @ W.transpose(-1, -2), W.transpose(-1, -2) @ W
        return sum(p(L, (j - 1) / N) @ G @ p(R, (N - j) / N) for j in range(1, N + 1))

    assert check("4.2", pg).ok


def test_the_student_traceback_shows_only_the_students_frames():
    def helper(W1):
        return W1.outer_product(W1)  # no such tensor method

    def answer(W1, W2, Sigma_xx, Sigma_yx, eta):
        return helper(W1)

    res = check("1.1", answer)
    assert not res.ok and "your code raised AttributeError" in res.message and "case 1 of 4" in res.message
    assert "W1.outer_product(W1)" in res.details and "return helper(W1)" in res.details
    assert "dlnlib" not in res.details and "torch" not in res.details.replace("'Tensor'", "")
    assert res.details.count('File "') == 2


def test_shape_errors_are_matched_to_the_mistake_that_raises_the_same_way():
    # W1 without transpose cannot multiply on the non-square cases: named, with the error shown as well
    res = check("1.1", lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1 @ Sxx) @ W1)
    assert "W1 must be transposed" in res.message and "RuntimeError" in res.message


def test_not_attempted_stub_and_non_function():
    def stub(*args):
        raise NotImplementedError("Exercise 1.1: replace ... with your code")

    res = check("1.1", stub)
    assert not res.ok and "not attempted yet" in res.message
    assert "expected a function, got float" in check("1.1", 3.0).message


def test_compare_single_values():
    a = torch.arange(6.0, dtype=F64).reshape(2, 3)
    assert compare(a, a) is None
    assert "transpose of the expected matrix" in compare(a.T, a)
    assert "shape (2, 2), expected (2, 3)" in compare(a[:, :2], a)
    assert "NaN" in compare(a * float("nan"), a)
    assert "is a list" in compare([1.0, 2.0], torch.tensor([1.0, 2.0], dtype=F64))
    assert "numpy ndarray" in compare(a.numpy(), a)
    assert "dtype torch.float32" in compare(a.float(), a)
    assert "is complex" in compare(a.to(torch.complex128), a)
    assert "sign is flipped" in compare(-a, a)
    assert "is a str" in compare("x", a)


def test_lookup_errors():
    with pytest.raises(ValueError, match=r"exercise_id: got '9.9', expected one of"):
        get("9.9")
    with pytest.raises(ValueError, match=r"level: got 0, expected an integer >= 1"):
        get("1.1").hint(0)


def test_per_case_judges_still_work_with_refusal_and_stub():
    # the per-case form (judge returns one diagnosis per case), as exercises written before the mistake tables
    from dlnlib.exercises import Exercise, call_student

    def reference(x):
        return 2 * x

    def judge(student, ref, case):
        return compare(call_student(student, case["x"].clone()), ref(case["x"]), name="y",
                       alternatives={"forgot the 2": case["x"]})

    ex = Exercise(id="9.1", title="double", reference=reference, judge=judge,
                  cases=lambda: [{"x": torch.arange(3.0, dtype=F64)}, {"x": torch.ones(2, 2, dtype=F64)}])
    assert ex.check(lambda x: x + x).ok
    assert "forgot the 2" in ex.check(lambda x: x.clone()).message
    assert "dlnlib's own answer" in ex.check(lambda x: reference(x)).message
    assert "not attempted yet" in ex.check(lambda x: (_ for _ in ()).throw(NotImplementedError())).message
    res = ex.check(lambda x: x.nope)
    assert "your code raised AttributeError" in res.message and "x.nope" in res.details
