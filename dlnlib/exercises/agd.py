"""Exercises of notebook 05 (Aligned Gradient Descent).

5.1  the optimal shallow learning rate ``eta* = 2 / (lambda_max + lambda_min^eff)`` from the data X;
5.2  the round-robin update of the deep scalars Theta^(2..L) in Algorithm 1, checked against
     ``dlnlib.agd.round_robin``.
"""

from __future__ import annotations

import torch

from ..agd import optimal_lr, round_robin
from . import Exercise, call_student, compare, register

__all__ = ["eta_star_reference", "round_robin_reference"]


def eta_star_reference(X):
    """eta* = 2 / (lambda_max + lambda_min^eff), lambdas = nonzero eigenvalues of X X^T / n."""
    n, d = X.shape
    gram = X.T @ X / n if n > d else X @ X.T / n  # same nonzero eigenvalues, smaller matrix
    lam = torch.linalg.eigvalsh(gram)
    lam = lam[lam > 1e-10 * lam.max()]  # Definition 1: skip the zero eigenvalues
    return 2.0 / (lam.max() + lam.min())


def _cases_5_1():
    specs = [(8, 3, 1.0), (3, 7, 1.0), (6, 6, 0.5), (40, 4, 3.0), (2, 5, 0.2), (25, 10, 1.0)]
    for seed, (n, d, spread) in enumerate(specs):
        gen = torch.Generator().manual_seed(500 + seed)
        # columns of unequal scale, so lambda_max and lambda_min differ clearly
        cols = torch.exp(spread * torch.linspace(-1.0, 1.0, d, dtype=torch.float64))
        yield {"X": torch.randn(n, d, generator=gen, dtype=torch.float64) * cols}


def _judge_5_1(student, reference, case):
    X = case["X"]
    n, d = X.shape
    got = call_student(student, X.clone())
    expected = torch.as_tensor(optimal_lr(X), dtype=torch.float64)
    lam = torch.linalg.eigvalsh(X @ X.T / n)
    alternatives = {
        "forgot the 1/n: the lambdas are the eigenvalues of X X^T / n (or of X^T X / n)": expected / n,
        "got 2 / lambda_max: lambda_min^eff is missing, or a zero eigenvalue was taken as lambda_min "
        f"(Definition 1 uses the smallest NONZERO one; here n={n}, d={d})": 2.0 / lam.max(),
    }
    return compare(got, expected, name="eta*", alternatives=alternatives)


register(Exercise(
    id="5.1",
    title="The optimal learning rate of shallow GD",
    reference=eta_star_reference,
    cases=_cases_5_1,
    judge=_judge_5_1,
    hints=[
        "The error recursion is E <- (I - eta K) E with K = X X^T / n, so each eigen-direction shrinks by "
        "|1 - eta lambda_i|. The best eta balances the slowest (smallest nonzero lambda) and the fastest "
        "(largest lambda) direction: 1 - eta lambda_min = -(1 - eta lambda_max).",
        "torch.linalg.eigvalsh(X @ X.T / n) gives the lambdas; drop the (numerically) zero ones with a "
        "relative threshold such as lam > 1e-10 * lam.max(), then return 2 / (lam.max() + lam.min()).",
    ],
))


def round_robin_reference(scales, h, y):
    """Layers 2..L of Algorithm 1 in turn: Theta^(l) -= 1/2 Theta^(l)^2 dL/dTheta^(l), at the current iterate."""
    scales = scales.clone()
    n = y.shape[0]
    for k in range(scales.shape[-1]):
        s = scales.prod(-1)  # Theta^(2:L) now (earlier layers already moved)
        others = torch.cat([scales[..., :k], scales[..., k + 1:]], -1).prod(-1)
        resid = s[..., None] * h - y  # yhat - y, with yhat = Theta^(2:L) h
        grad = (resid * h).sum(-1) / n * others  # dL/dTheta^(l) = 1/n sum_i (yhat_i - y_i) h_i * others
        scales[..., k] = scales[..., k] - 0.5 * scales[..., k] ** 2 * grad
    return scales


def _simultaneous(scales, h, y):
    s = scales.prod(-1, keepdim=True)
    resid = s * h - y
    grad = (resid * h).sum(-1, keepdim=True) / y.shape[0] * s / scales
    return scales - 0.5 * scales**2 * grad


def _loop(scales, h, y, factor, order=None):
    # the reference loop with another step factor or layer order (typical mistakes)
    scales = scales.clone()
    n = y.shape[0]
    ks = range(scales.shape[-1]) if order is None else order
    for k in ks:
        s = scales.prod(-1)
        others = torch.cat([scales[..., :k], scales[..., k + 1:]], -1).prod(-1)
        grad = ((s[..., None] * h - y) * h).sum(-1) / n * others
        scales[..., k] = scales[..., k] - factor * scales[..., k] ** 2 * grad
    return scales


def _cases_5_2():
    specs = [((), 3, 2), ((), 4, 5), ((3,), 2, 3), ((2, 2), 7, 4), ((), 1, 1), ((4,), 5, 9)]
    for seed, (batch, deep, n) in enumerate(specs):
        gen = torch.Generator().manual_seed(520 + seed)
        yield {
            "scales": 1.0 + 0.3 * torch.randn(*batch, deep, generator=gen, dtype=torch.float64),
            "h": torch.randn(*batch, n, generator=gen, dtype=torch.float64),
            "y": torch.randn(n, generator=gen, dtype=torch.float64),
        }


def _judge_5_2(student, reference, case):
    scales, h, y = case["scales"], case["h"], case["y"]
    got = call_student(student, scales.clone(), h.clone(), y.clone())
    expected = round_robin(scales, h, y)
    deep = scales.shape[-1]
    alternatives = {
        "the step size is (Theta^(l))^2 / 2, not (Theta^(l))^2": _loop(scales, h, y, 1.0),
    }
    if deep > 1:
        alternatives["every layer used the gradient at Theta_t (a simultaneous update); in Algorithm 1 layer l "
                     "sees the layers 2..l-1 already updated"] = _simultaneous(scales, h, y)
        alternatives["the layers must be updated in the order 2, 3, ..., L"] = _loop(
            scales, h, y, 0.5, order=range(deep - 1, -1, -1))
    return compare(got, expected, name="new scales", alternatives=alternatives)


register(Exercise(
    id="5.2",
    title="Round-robin updates of the deep scalars (Algorithm 1)",
    reference=round_robin_reference,
    cases=_cases_5_2,
    judge=_judge_5_2,
    hints=[
        "With width 1, yhat_i = Theta^(2:L) h_i, so dL/dTheta^(l) = 1/n sum_i (yhat_i - y_i) h_i times the "
        "product of every deep scalar except Theta^(l). Loop over l = 2..L (columns 0..L-2 of scales) and "
        "recompute that gradient from the CURRENT scales inside the loop.",
        "In the loop: s = scales.prod(-1); others = product of the other columns (torch.cat of the slices "
        "before and after k, then .prod(-1)); grad = ((s[..., None] * h - y) * h).sum(-1) / n * others; "
        "scales[..., k] -= 0.5 * scales[..., k] ** 2 * grad. Work on a clone of scales.",
    ],
))
