"""Exercise checkers: each accepts its reference and rejects typical mistakes with an actionable message."""

import pytest
import torch

from dlnlib.exercises import all_exercises, check, compare, get, hint, solution
from dlnlib.exercises.gradients import delta_w2_reference, layer_gradient_reference


def test_every_exercise_accepts_its_reference_and_has_two_hint_levels():
    exercises = all_exercises()
    assert {"1.1", "1.2"} <= set(exercises)
    for ex_id, ex in exercises.items():
        res = check(ex_id, ex.reference)
        assert res.ok, res.message
        assert res.message.startswith(f"Exercise {ex_id}: correct on all")
        assert len(ex.hints) >= 2
        assert hint(ex_id, 1) != hint(ex_id, 2)


def test_1_1_rejects_typical_mistakes():
    def no_sigma_xx(W1, W2, Sigma_xx, Sigma_yx, eta):
        return eta * (Sigma_yx - W2 @ W1) @ W1.T

    def sign(W1, W2, Sigma_xx, Sigma_yx, eta):
        return -delta_w2_reference(W1, W2, Sigma_xx, Sigma_yx, eta)

    def twice(W1, W2, Sigma_xx, Sigma_yx, eta):
        return 2 * delta_w2_reference(W1, W2, Sigma_xx, Sigma_yx, eta)

    def transposed(W1, W2, Sigma_xx, Sigma_yx, eta):
        return delta_w2_reference(W1, W2, Sigma_xx, Sigma_yx, eta).T

    def crashes(W1, W2, Sigma_xx, Sigma_yx, eta):
        return W1.outer_product(W2)  # no such tensor method

    assert "ignores Sigma_xx" in check("1.1", no_sigma_xx).message
    assert "sign flipped" in check("1.1", sign).message
    assert "off by a factor 2" in check("1.1", twice).message
    msg = check("1.1", transposed).message
    assert "transpose" in msg and "expected" in msg
    res = check("1.1", crashes)
    assert not res.ok and "your code raised AttributeError" in res.message
    assert "W1.outer_product(W2)" in res.details  # the student's own traceback line


def test_1_2_rejects_typical_mistakes():
    def no_transpose(chain, grad_W, j):
        left = grad_W
        for W in reversed(chain[j:]):
            left = W @ left
        right = None
        for W in chain[: j - 1]:
            right = W if right is None else W @ right
        return left if right is None else left @ right

    def off_by_one(chain, grad_W, j):
        return layer_gradient_reference(chain, grad_W, j + 1 if j < len(chain) else j - 1)

    assert "must be transposed" in check("1.2", no_transpose).message
    assert "off by one" in check("1.2", off_by_one).message
    assert not check("1.2", lambda c, g, j: g).ok


def test_not_attempted_stub_is_reported_as_such():
    def stub(*args):
        raise NotImplementedError("Exercise 1.1: replace ... with your code")

    res = check("1.1", stub)
    assert not res.ok and "not attempted yet" in res.message
    assert "expected a function" in check("1.1", 3.0).message


def test_compare_messages():
    a = torch.arange(6.0).reshape(2, 3)
    assert compare(a, a) is None
    assert "shape (3, 2), expected (2, 3): a transpose?" in compare(a.T, a)
    assert "NaN" in compare(a * float("nan"), a)
    assert compare([1.0, 2.0], torch.tensor([1.0, 2.0])) is None
    assert "is a str" in compare("x", a)


def test_lookup_errors_and_solution_text():
    with pytest.raises(ValueError, match=r"exercise_id: got '9.9', expected one of"):
        get("9.9")
    with pytest.raises(ValueError, match=r"level: got 0, expected an integer >= 1"):
        get("1.1").hint(0)
    assert "def delta_w2_reference" in solution("1.1")
