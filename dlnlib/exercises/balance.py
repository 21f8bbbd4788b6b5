"""Exercises of notebook 03 (layers are automatically balanced; Du, Hu & Lee 2018).

3.1  The proof's cancellation as code: under gradient flow of a two-layer linear network, return
     ``d/dt (W1 W1^T)`` and ``d/dt (W2^T W2)``; ``check`` compares each with the time derivative obtained
     from autograd's gradient and then the two with each other.
3.2  One gradient-descent step: return the exact change of the imbalance ``W2^T W2 - W1 W1^T``
     (the O(lr) terms cancel, an O(lr^2) term remains).

Both use the loss ``L = 1/(2n) sum_i ||y_i - W2 W1 x_i||^2`` with X (n, d0) and Y (n, d2) as rows.
"""

from __future__ import annotations

import torch

from . import Exercise, call_student, compare, register

__all__ = ["gram_rates", "gd_imbalance_change", "EXERCISES"]


def gram_rates(W1, W2, X, Y):
    """Reference for 3.1: (d/dt W1 W1^T, d/dt W2^T W2) under gradient flow of the two-layer squared loss."""
    n = X.shape[0]
    G = (W2 @ W1 @ X.T - Y.T) @ X / n  # dL/dW for the end-to-end matrix W = W2 W1
    W1_dot = -W2.T @ G  # -dL/dW1
    W2_dot = -G @ W1.T  # -dL/dW2
    d_gram1 = W1_dot @ W1.T + W1 @ W1_dot.T
    d_gram2 = W2_dot.T @ W2 + W2.T @ W2_dot
    return d_gram1, d_gram2


def gd_imbalance_change(W1, W2, X, Y, lr):
    """Reference for 3.2: D(after one GD step) - D(before), D = W2^T W2 - W1 W1^T; equals lr^2 (G2^T G2 - G1 G1^T)."""
    n = X.shape[0]
    G = (W2 @ W1 @ X.T - Y.T) @ X / n
    G1 = W2.T @ G
    G2 = G @ W1.T
    return lr**2 * (G2.T @ G2 - G1 @ G1.T)


def _loss(W1, W2, X, Y):
    r = X @ W1.T @ W2.T - Y
    return 0.5 * (r * r).sum() / X.shape[0]


def _autograd_grads(W1, W2, X, Y):
    w1 = W1.detach().clone().requires_grad_(True)
    w2 = W2.detach().clone().requires_grad_(True)
    g1, g2 = torch.autograd.grad(_loss(w1, w2, X, Y), (w1, w2))
    return g1, g2


def _autograd_rates(W1, W2, X, Y):
    # Velocity from autograd, then the time derivative of each Gram matrix by forward-mode autodiff.
    g1, g2 = _autograd_grads(W1, W2, X, Y)
    _, d1 = torch.autograd.functional.jvp(lambda a: a @ a.T, W1, -g1)
    _, d2 = torch.autograd.functional.jvp(lambda b: b.T @ b, W2, -g2)
    return d1, d2


def _cases(with_lr: bool):
    # (d0, hidden, d2, n): square and non-square widths, few and many samples.
    shapes = [(3, 4, 2, 10), (5, 2, 3, 7), (4, 4, 4, 20), (2, 6, 5, 3), (6, 3, 1, 12)]
    for k, (d0, h, d2, n) in enumerate(shapes):
        gen = torch.Generator().manual_seed(301 + k)
        case = {
            "W1": torch.randn(h, d0, generator=gen, dtype=torch.float64) / d0**0.5,
            "W2": torch.randn(d2, h, generator=gen, dtype=torch.float64) / h**0.5,
            "X": torch.randn(n, d0, generator=gen, dtype=torch.float64),
            "Y": torch.randn(n, d2, generator=gen, dtype=torch.float64),
        }
        if with_lr:
            case["lr"] = (0.5, 0.1, 0.03, 0.2, 0.05)[k]
        yield case


def _pair(got, name):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return None, f"{name} should be a pair (d/dt W1 W1^T, d/dt W2^T W2), got {type(got).__name__}"
    return got, None


def _judge_rates(student, reference, case):
    got, msg = _pair(call_student(student, **case), "your result")
    if msg:
        return msg
    W1, W2, X, Y = case["W1"], case["W2"], case["X"], case["Y"]
    auto1, auto2 = _autograd_rates(W1, W2, X, Y)
    n = X.shape[0]
    g1, g2 = _autograd_grads(W1, W2, X, Y)
    # The two halves of each product rule, e.g. W1' W1^T and W1 W1'^T, are the typical slip.
    halves = ((-g1 @ W1.T, "W1' W1^T", "W1 W1'^T"), (-W2.T @ g2, "W2^T W2'", "W2'^T W2"))
    for k, (name, auto) in enumerate((("d/dt(W1 W1^T)", auto1), ("d/dt(W2^T W2)", auto2))):
        half, first, second = halves[k]
        diag = compare(got[k], auto, name=name, alternatives={
            "missing the 1/n of the loss (it is a mean over samples)": n * auto,
            f"only the term {first} of the product rule (the rate must be symmetric)": half,
            f"only the term {second} of the product rule (the rate must be symmetric)": half.T,
        })
        if diag is not None:
            return diag
    # The point of the exercise: the two rates are equal, which is Theorem 2.2 for two layers.
    return compare(got[0], got[1], name="d/dt(W1 W1^T) - d/dt(W2^T W2)")


def _judge_step(student, reference, case):
    got = call_student(student, **case)
    W1, W2, X, Y, lr = case["W1"], case["W2"], case["X"], case["Y"], case["lr"]
    g1, g2 = _autograd_grads(W1, W2, X, Y)
    n1, n2 = W1 - lr * g1, W2 - lr * g2
    actual = (n2.T @ n2 - n1 @ n1.T) - (W2.T @ W2 - W1 @ W1.T)
    q = g2.T @ g2 - g1 @ g1.T
    return compare(got, actual, name="the change of W2^T W2 - W1 W1^T", alternatives={
        "zero: the O(lr) terms cancel, but lr^2 (G2^T G2 - G1 G1^T) does not": torch.zeros_like(actual),
        "one power of lr too few (the surviving term is quadratic in the step)": lr * q,
        "missing the lr^2 factor": q,
    })


EXERCISES = [
    register(Exercise(
        id="3.1",
        title="Gram-matrix rates under gradient flow (the cancellation behind Theorem 2.2)",
        reference=gram_rates,
        cases=lambda: _cases(False),
        judge=_judge_rates,
        hints=[
            "Under gradient flow dW1/dt = -dL/dW1 and dW2/dt = -dL/dW2. With G = dL/dW for the end-to-end "
            "W = W2 W1 (notebook 01: G = (W Sigma_xx - Sigma_yx)), dL/dW1 = W2^T G and dL/dW2 = G W1^T.",
            "Product rule: d/dt (W1 W1^T) = W1' W1^T + W1 W1'^T and d/dt (W2^T W2) = W2'^T W2 + W2^T W2'. "
            "In code G = (W2 @ W1 @ X.T - Y.T) @ X / n.",
            "Both come out as -(W2^T G W1^T + W1 G^T W2): the same matrix, which is why their difference is conserved.",
        ],
    )),
    register(Exercise(
        id="3.2",
        title="The imbalance change of one gradient-descent step",
        reference=gd_imbalance_change,
        cases=lambda: _cases(True),
        judge=_judge_step,
        hints=[
            "Write the step as W1 - lr G1, W2 - lr G2 with G1 = dL/dW1, G2 = dL/dW2, and expand "
            "(W2 - lr G2)^T (W2 - lr G2) - (W1 - lr G1)(W1 - lr G1)^T.",
            "The terms linear in lr are exactly lr times d/dt of the imbalance from exercise 3.1, which is zero.",
            "What remains is lr**2 * (G2.T @ G2 - G1 @ G1.T).",
        ],
    )),
]
