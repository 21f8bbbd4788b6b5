"""Exercises of notebook 03 (layers are automatically balanced; Du, Hu & Lee 2018).

3.1  The proof's cancellation (seed 003, matrix invariant), derived and encoded: under gradient flow of a
     two-layer linear network, return ``d/dt (W1 W1^T)`` and ``d/dt (W2^T W2)``; ``check`` compares each
     with the time derivative obtained from autograd's gradient.
3.2  One gradient-descent step: return the exact change of the imbalance ``W2^T W2 - W1 W1^T``.

Both use the loss ``L = 1/(2n) sum_i ||y_i - W2 W1 x_i||^2`` with X (n, d0) and Y (n, d2) as rows.
"""

from __future__ import annotations

import torch

from .. import balance as _balance
from . import Exercise, _checked_reference, register

__all__ = ["gram_rates", "gd_imbalance_change", "EXERCISES"]


@_checked_reference(W1="h i", W2="o h", X="n i", Y="n o")
def gram_rates(W1, W2, X, Y):
    """Reference for 3.1: (d/dt W1 W1^T, d/dt W2^T W2) under gradient flow of the two-layer squared loss."""
    n = X.shape[0]
    G = (W2 @ W1 @ X.T - Y.T) @ X / n  # dL/dW for the end-to-end matrix W = W2 W1
    W1_dot = -W2.T @ G  # -dL/dW1
    W2_dot = -G @ W1.T  # -dL/dW2
    d_gram1 = W1_dot @ W1.T + W1 @ W1_dot.T
    d_gram2 = W2_dot.T @ W2 + W2.T @ W2_dot
    return d_gram1, d_gram2


@_checked_reference(W1="h i", W2="o h", X="n i", Y="n o", lr="real")
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


def _autograd_rates(case):
    # Velocity from autograd, then the time derivative of each Gram matrix by forward-mode autodiff.
    W1, W2 = case["W1"], case["W2"]
    g1, g2 = _autograd_grads(W1, W2, case["X"], case["Y"])
    _, d1 = torch.autograd.functional.jvp(lambda a: a @ a.T, W1, -g1)
    _, d2 = torch.autograd.functional.jvp(lambda b: b.T @ b, W2, -g2)
    return d1, d2


def _cases(with_lr: bool):
    # (d0, hidden, d2, n): all widths different first (so d0 != d2 != hidden), then equal widths
    shapes = [(3, 4, 2, 10), (5, 2, 3, 7), (2, 6, 5, 3), (6, 3, 1, 12), (4, 4, 4, 20)]
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


def _velocities(W1, W2, X, Y, *, scale=1.0, G_transposed=False):
    n = X.shape[0]
    if G_transposed:
        G = X.T @ (X @ W1.T @ W2.T - Y) / n  # (d0, d2): the layout of the data, not of W
    else:
        G = (W2 @ W1 @ X.T - Y.T) @ X / n
    G = G * scale
    return -W2.T @ G, -G @ W1.T


def _rates(W1, W2, X, Y, *, terms="both", sign=1.0, scale=1.0, G_transposed=False, outer=False):
    """The rates with one of the typical slips switched on (for the mistake table)."""
    V1, V2 = _velocities(W1, W2, X, Y, scale=scale, G_transposed=G_transposed)
    first1, second1 = V1 @ W1.T, W1 @ V1.T
    first2, second2 = V2.T @ W2, W2.T @ V2
    if outer:  # d/dt (W2 W2^T) instead of d/dt (W2^T W2)
        first2, second2 = V2 @ W2.T, W2 @ V2.T
    if terms == "first":
        return sign * first1, sign * first2
    if terms == "second":
        return sign * second1, sign * second2
    return sign * (first1 + second1), sign * (first2 + second2)


EXERCISES = [
    register(Exercise(
        id="3.1",
        title="Gram-matrix rates under gradient flow: the cancellation behind Theorem 2.2 (derivation)",
        reference=gram_rates,
        cases=lambda: _cases(False),
        args=("W1", "W2", "X", "Y"),
        expected=_autograd_rates,
        name="(d/dt W1 W1^T, d/dt W2^T W2)",
        mistakes={
            "the 1/n of the loss is missing (it is a mean over samples)":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, scale=X.shape[0]),
            "only the first term of each product rule (e.g. W1' W1^T); the rate of a Gram matrix is symmetric":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, terms="first"),
            "only the second term of each product rule (e.g. W1 W1'^T); the rate of a Gram matrix is symmetric":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, terms="second"),
            "the sign is flipped: gradient flow moves along -dL/dW_j":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, sign=-1.0),
            "G = dL/dW has the shape of W = W2 W1 (d2 x d0); this built its transpose from the data":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, G_transposed=True),
            "the second Gram matrix is W2^T W2 (hidden x hidden), not W2 W2^T":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, outer=True),
            "the loss has 1/(2n), so its gradient has 1/n (this is twice the rate)":
                lambda W1, W2, X, Y: _rates(W1, W2, X, Y, scale=2.0),
        },
        hints=[
            "Under gradient flow dW1/dt = -dL/dW1 and dW2/dt = -dL/dW2. Express both layer gradients through "
            "G = dL/dW of the end-to-end matrix W = W2 W1 (notebook 01 did this for the first layer).",
            "dL/dW1 = W2^T G and dL/dW2 = G W1^T. Product rule: d/dt (W1 W1^T) = W1' W1^T + W1 W1'^T and "
            "d/dt (W2^T W2) = W2'^T W2 + W2^T W2'. Substitute and compare the four terms.",
            "Both rates come out as the same matrix; that is the cancellation. In code, G = (W2 @ W1 @ X.T - Y.T) "
            "@ X / n for the loss with 1/(2n).",
        ],
        derivation="""
            W1' = -W2^T G and W2' = -G W1^T with G = dL/dW (d2 x d0). Then
            d/dt(W1 W1^T) = W1' W1^T + W1 W1'^T = -W2^T G W1^T - W1 G^T W2 and
            d/dt(W2^T W2) = W2'^T W2 + W2^T W2' = -W1 G^T W2 - W2^T G W1^T: the same two terms, so
            d/dt (W2^T W2 - W1 W1^T) = 0 (Du, Hu & Lee's matrix invariant for two linear layers).
        """,
        answer_marks=("W1_dot @ W1.T + W1 @ W1_dot.T", "W2_dot.T @ W2 + W2.T @ W2_dot"),
    )),
    register(Exercise(
        id="3.2",
        title="The imbalance change of one gradient-descent step (derivation)",
        reference=gd_imbalance_change,
        cases=lambda: _cases(True),
        args=("W1", "W2", "X", "Y", "lr"),
        expected=lambda case: _measured_step_change(case),
        name="the change of W2^T W2 - W1 W1^T",
        mistakes={
            "zero: the O(lr) terms cancel, but a term of order lr^2 does not":
                lambda W1, W2, X, Y, lr: torch.zeros(W1.shape[0], W1.shape[0], dtype=torch.float64),
            "one power of lr too few (the surviving term is quadratic in the step)":
                lambda W1, W2, X, Y, lr: _step_formula(W1, W2, X, Y, lr**0.5),
            "the factor lr^2 is missing":
                lambda W1, W2, X, Y, lr: _step_formula(W1, W2, X, Y, 1.0),
            "the sign is flipped: the change is D(after) - D(before), with D = W2^T W2 - W1 W1^T":
                lambda W1, W2, X, Y, lr: -_step_formula(W1, W2, X, Y, lr),
            "the 1/n of the loss is missing in the gradients (it enters squared here)":
                lambda W1, W2, X, Y, lr: _step_formula(W1, W2, X, Y, lr) * X.shape[0] ** 2,
            "the Gram matrices of the gradients act on the hidden layer: G2^T G2 and G1 G1^T (hidden x hidden)":
                lambda W1, W2, X, Y, lr: _outer_grams(W1, W2, X, Y, lr),
        },
        forbidden=(_balance.gradient_imbalance,),
        hints=[
            "Write the step as W1 - lr G1, W2 - lr G2 with G1 = dL/dW1, G2 = dL/dW2, and expand "
            "(W2 - lr G2)^T (W2 - lr G2) - (W1 - lr G1)(W1 - lr G1)^T in powers of lr.",
            "The terms linear in lr are lr times the rate of exercise 3.1 (for G1, G2 in place of the velocities). "
            "What does exercise 3.1 say about them?",
            "Only the lr^2 terms survive: one from each product; mind which one enters with a minus sign.",
        ],
        derivation="""
            (W2 - lr G2)^T (W2 - lr G2) - (W1 - lr G1)(W1 - lr G1)^T - (W2^T W2 - W1 W1^T)
            = -lr (G2^T W2 + W2^T G2 - G1 W1^T - W1 G1^T) + lr^2 (G2^T G2 - G1 G1^T).
            The O(lr) bracket vanishes (G1 = W2^T G, G2 = G W1^T: the cancellation of exercise 3.1), so the
            imbalance changes by lr^2 (G2^T G2 - G1 G1^T) per step: conserved by the flow, drifting under GD.
        """,
        answer_marks=("lr**2 * (G2.T @ G2 - G1 @ G1.T)", "lr^2 (G2^T G2 - G1 G1^T)",
                      r"\eta^2(G_2^\top G_2 - G_1G_1^\top)"),
    )),
]


def _measured_step_change(case):
    W1, W2, X, Y, lr = case["W1"], case["W2"], case["X"], case["Y"], case["lr"]
    g1, g2 = _autograd_grads(W1, W2, X, Y)
    n1, n2 = W1 - lr * g1, W2 - lr * g2
    return (n2.T @ n2 - n1 @ n1.T) - (W2.T @ W2 - W1 @ W1.T)


def _step_formula(W1, W2, X, Y, lr):
    # lr^2 (G2^T G2 - G1 G1^T), written out again so that the mistake table does not call the reference
    n = X.shape[0]
    G = (W2 @ W1 @ X.T - Y.T) @ X / n
    G1, G2 = W2.T @ G, G @ W1.T
    return lr**2 * (G2.T @ G2 - G1 @ G1.T)


def _outer_grams(W1, W2, X, Y, lr):
    n = X.shape[0]
    G = (W2 @ W1 @ X.T - Y.T) @ X / n
    G1, G2 = W2.T @ G, G @ W1.T
    return lr**2 * (G2 @ G2.T - G1.T @ G1)
