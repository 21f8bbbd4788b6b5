"""Exercises of notebook 05 (Aligned Gradient Descent).

5.1  the optimal shallow learning rate ``eta* = 2 / (lambda_max + lambda_min^eff)`` from the data X;
5.2  the round-robin update of the deep scalars Theta^(2..L) in Algorithm 1, checked against
     ``dlnlib.agd.round_robin``;
5.3  Theorem 1, Eqs. (6)-(8), derived: the error after one deep sub-step, ``(I - yhat yhat^T / (2n)) E``.
"""

from __future__ import annotations

import torch

from .. import agd as _agd
from ..agd import optimal_lr, round_robin
from . import Exercise, _checked_reference, register

__all__ = ["eta_star_reference", "round_robin_reference", "deep_substep_error_reference"]

F64 = torch.float64


def _nonzero(X):
    if not bool((X != 0).any()):
        raise ValueError(f"X: got an all-zero matrix of shape {tuple(X.shape)}, expected a nonzero X (eta* needs a "
                         "nonzero eigenvalue of X X^T / n)")


def _batch_into(scales, h):
    batch = torch.broadcast_shapes(scales.shape[:-1], h.shape[:-1])
    if batch != scales.shape[:-1]:
        raise ValueError(f"h: got batch shape {tuple(h.shape[:-1])}, expected one that broadcasts into the batch "
                         f"shape {tuple(scales.shape[:-1])} of scales (each column of scales is updated in place)")


@_checked_reference(X="n d", _extra=lambda X: _nonzero(X))
def eta_star_reference(X):
    """eta* = 2 / (lambda_max + lambda_min^eff), lambdas = nonzero eigenvalues of X X^T / n."""
    n, d = X.shape
    gram = X.T @ X / n if n > d else X @ X.T / n  # same nonzero eigenvalues, smaller matrix
    lam = torch.linalg.eigvalsh(gram)
    lam = lam[lam > 1e-10 * lam.max()]  # Definition 1: skip the zero eigenvalues
    return 2.0 / (lam.max() + lam.min())


def _cases_5_1():
    # (n, d, spread): n > d first (X X^T / n has zero eigenvalues), n != d throughout but one case
    specs = [(8, 3, 1.0), (3, 7, 1.0), (40, 4, 3.0), (2, 5, 0.2), (25, 10, 1.0), (6, 6, 0.5)]
    for seed, (n, d, spread) in enumerate(specs):
        gen = torch.Generator().manual_seed(500 + seed)
        # columns of unequal scale, so lambda_max and lambda_min differ clearly
        cols = torch.exp(spread * torch.linspace(-1.0, 1.0, d, dtype=F64))
        yield {"X": torch.randn(n, d, generator=gen, dtype=F64) * cols}


def _spectrum(X, *, scale=None, drop_zeros=True):
    n = X.shape[0]
    lam = torch.linalg.eigvalsh(X @ X.T / (n if scale is None else scale))
    return lam[lam > 1e-10 * lam.max()] if drop_zeros else lam


register(Exercise(
    id="5.1",
    title="The optimal learning rate of shallow GD",
    reference=eta_star_reference,
    cases=_cases_5_1,
    args=("X",),
    expected=lambda case: torch.tensor(optimal_lr(case["X"]), dtype=F64),
    name="eta*",
    mistakes={
        "the 1/n is missing: the lambdas are the eigenvalues of X X^T / n (or of X^T X / n)":
            lambda X: 2.0 / (_spectrum(X, scale=1.0).max() + _spectrum(X, scale=1.0).min()),
        "a zero eigenvalue was taken as lambda_min; Definition 1 uses the smallest NONZERO one (X X^T has zero "
        "eigenvalues when n > d)": lambda X: 2.0 / (_spectrum(X, drop_zeros=False).max()
                                                    + _spectrum(X, drop_zeros=False).min()),
        "1 / lambda_max is not the optimum: eta* balances the slowest and the fastest direction, "
        "2 / (lambda_max + lambda_min^eff)": lambda X: 1.0 / _spectrum(X).max(),
        "the 2 is missing: eta* = 2 / (lambda_max + lambda_min^eff)":
            lambda X: 1.0 / (_spectrum(X).max() + _spectrum(X).min()),
        "the denominator is lambda_max + lambda_min^eff (a sum, not a difference)":
            lambda X: 2.0 / (_spectrum(X).max() - _spectrum(X).min()),
        "divide X X^T by n, the number of samples (rows), not by d": lambda X: 2.0 / (
            _spectrum(X, scale=X.shape[1]).max() + _spectrum(X, scale=X.shape[1]).min()),
    },
    forbidden=(_agd.optimal_lr, _agd.effective_spectral_radius),
    hints=[
        "Shallow GD on the outputs: the error recursion is E <- (I - eta K) E with K = X X^T / n, so each "
        "eigen-direction of K shrinks by the factor |1 - eta lambda_i| per step. Which directions are slowest?",
        "The worst factor is max(|1 - eta lambda_min|, |1 - eta lambda_max|) over the NONZERO lambdas (zero ones "
        "never move and are not part of the error). Choose eta so that the two are equal.",
        "torch.linalg.eigvalsh(X @ X.T / n) gives the lambdas; drop the (numerically) zero ones with a relative "
        "threshold such as lam > 1e-10 * lam.max(). Return a 0-dimensional tensor.",
    ],
    answer_marks=("return 2.0 / (lam.max() + lam.min())",),
))


@_checked_reference(scales="* L", h="* n", y="n", _extra=lambda scales, h, y: _batch_into(scales, h))
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


def _loop(scales, h, y, *, factor=0.5, order=None, simultaneous=False, norm=True, power=2, others=True):
    """The round-robin loop with one of the typical slips switched on (for the mistake table)."""
    scales = scales.clone()
    start = scales.clone()
    n = y.shape[0]
    for k in (range(scales.shape[-1]) if order is None else order):
        cur = start if simultaneous else scales
        s = cur.prod(-1)
        rest = torch.cat([cur[..., :k], cur[..., k + 1:]], -1).prod(-1) if others else 1.0
        grad = ((s[..., None] * h - y) * h).sum(-1) / (n if norm else 1) * rest
        scales[..., k] = scales[..., k] - factor * cur[..., k] ** power * grad
    return scales


def _cases_5_2():
    # (batch, deep layers, n): n != 2 first (a missing 1/n cannot pass as a factor 1/2), several layers
    specs = [((), 4, 5), ((3,), 3, 3), ((2, 2), 7, 4), ((), 3, 2), ((), 1, 1), ((4,), 5, 9)]
    for seed, (batch, deep, n) in enumerate(specs):
        gen = torch.Generator().manual_seed(520 + seed)
        yield {
            "scales": 1.0 + 0.3 * torch.randn(*batch, deep, generator=gen, dtype=F64),
            "h": torch.randn(*batch, n, generator=gen, dtype=F64),
            "y": torch.randn(n, generator=gen, dtype=F64),
        }


register(Exercise(
    id="5.2",
    title="Round-robin updates of the deep scalars (Algorithm 1)",
    reference=round_robin_reference,
    cases=_cases_5_2,
    args=("scales", "h", "y"),
    expected=lambda case: round_robin(case["scales"], case["h"], case["y"]),
    name="new scales",
    mistakes={
        "the step size is (Theta^(l))^2 / 2, not (Theta^(l))^2": lambda sc, h, y: _loop(sc, h, y, factor=1.0),
        "every layer used the gradient at Theta_t (a simultaneous update); in Algorithm 1 layer l sees the layers "
        "2..l-1 already updated": lambda sc, h, y: _loop(sc, h, y, simultaneous=True),
        "the layers must be updated in the order 2, 3, ..., L":
            lambda sc, h, y: _loop(sc, h, y, order=range(sc.shape[-1] - 1, -1, -1)),
        "the 1/n of the loss is missing in dL/dTheta^(l)": lambda sc, h, y: _loop(sc, h, y, norm=False),
        "the step size is (Theta^(l))^2 / 2 (squared), not Theta^(l) / 2": lambda sc, h, y: _loop(sc, h, y, power=1),
        "dL/dTheta^(l) carries the product of the OTHER deep scalars (chain rule through yhat)":
            lambda sc, h, y: _loop(sc, h, y, others=False),
    },
    forbidden=(_agd.round_robin, _agd._round_robin_core),
    hints=[
        "With width 1, yhat_i = Theta^(2:L) h_i. Differentiate L = 1/(2n) sum_i (yhat_i - y_i)^2 with respect to one "
        "scalar Theta^(l): which factor of the product survives the chain rule?",
        "dL/dTheta^(l) = 1/n sum_i (yhat_i - y_i) h_i times the product of every deep scalar except Theta^(l). Loop "
        "over the columns 0..L-2 of scales and recompute yhat from the CURRENT scales inside the loop.",
        "Work on a clone of scales; the step of column k is 1/2 times its own square times its gradient.",
    ],
    answer_marks=("scales[..., k] - 0.5 * scales[..., k] ** 2 * grad",),
))


# ------------------------------------------------------------------------- 5.3 Theorem 1, Eqs. (6)-(8)


@_checked_reference(E="* n", yhat="* n")
def deep_substep_error_reference(E, yhat):
    """Eq. (6): the output error after the update of one deep layer, E - yhat (yhat . E) / (2n).

    E, yhat: (*B, n), E = y - yhat before the sub-step; yhat the outputs before it.
    """
    n = E.shape[-1]
    return E - yhat * (yhat * E).sum(-1, keepdim=True) / (2 * n)


def _cases_5_3():
    # (batch, n, deep layers): n != 2 first; several deep layers; the sub-step is measured, not assumed
    specs = [((), 5, 3), ((3,), 3, 2), ((2,), 7, 4), ((), 1, 2), ((), 4, 1)]
    for seed, (batch, n, deep) in enumerate(specs):
        gen = torch.Generator().manual_seed(530 + seed)
        scales = 1.0 + 0.3 * torch.randn(*batch, deep, generator=gen, dtype=F64)
        h = 0.5 * torch.randn(*batch, n, generator=gen, dtype=F64)
        y = torch.randn(n, generator=gen, dtype=F64)
        yhat = scales.prod(-1, keepdim=True) * h
        yield {"E": y - yhat, "yhat": yhat, "_scales": scales, "_h": h, "_y": y}


def _measured_substep(case):
    # one deep layer (the first column) updated by Algorithm 1, then the new error measured
    scales, h, y = case["_scales"], case["_h"], case["_y"]
    new = round_robin(scales[..., :1].clone(), h * scales[..., 1:].prod(-1, keepdim=True), y)
    return y - new * scales[..., 1:].prod(-1, keepdim=True) * h


register(Exercise(
    id="5.3",
    title="Theorem 1, Eqs. (6)-(8): one deep sub-step of AGD (derivation)",
    reference=deep_substep_error_reference,
    cases=_cases_5_3,
    args=("E", "yhat"),
    expected=_measured_substep,
    name="E after the sub-step",
    mistakes={
        "the factor is 1/(2n): the step 1/2 Theta^2 and the 1/n of the gradient multiply":
            lambda E, yh: E - yh * (yh * E).sum(-1, keepdim=True) / E.shape[-1],
        "the 1/n of the loss is missing (the factor is 1/(2n))":
            lambda E, yh: E - yh * (yh * E).sum(-1, keepdim=True) / 2,
        "the sign: the sub-step removes part of the error along yhat, it does not add to it":
            lambda E, yh: E + yh * (yh * E).sum(-1, keepdim=True) / (2 * E.shape[-1]),
        "the update acts along yhat (a rank-one matrix yhat yhat^T), not on E as a whole":
            lambda E, yh: E * (1 - (yh * yh).sum(-1, keepdim=True) / (2 * E.shape[-1])),
        "the rank-one matrix is yhat yhat^T applied to E, not E E^T applied to yhat":
            lambda E, yh: E - E * (E * yh).sum(-1, keepdim=True) / (2 * E.shape[-1]),
        "the error changes: E is y - yhat and the outputs move along yhat":
            lambda E, yh: E.clone(),
    },
    forbidden=(_agd.round_robin, _agd._round_robin_core, _agd.theorem1_check),
    hints=[
        "Let c be the product of the other deep scalars, so yhat = Theta c h for the layer being updated. Write the "
        "new outputs after Theta <- Theta - 1/2 Theta^2 dL/dTheta as yhat plus a change.",
        "dL/dTheta = (c/n) sum_i (yhat_i - y_i) h_i, so the change of yhat is -1/2 Theta^2 c^2 h (h . (yhat - y)) / n. "
        "Express Theta c h through yhat.",
        "Theta^2 c^2 h h^T = yhat yhat^T, hence E_new = y - yhat_new = (I - yhat yhat^T / (2n)) E. Compute "
        "(yhat * E).sum(-1, keepdim=True) for the batched inner product.",
    ],
    derivation="""
        yhat = Theta c h with c the product of the other deep scalars. dL/dTheta = (c/n) h.(yhat - y) = -(c/n) h.E.
        The step Theta' = Theta + 1/2 Theta^2 (c/n) h.E changes the outputs by (Theta' - Theta) c h =
        (1/(2n)) Theta^2 c^2 h (h.E) = yhat (yhat.E)/(2n). So E' = (I - yhat yhat^T/(2n)) E  (Eq. (6)).
        This matrix is 1 on the complement of yhat and 1 - ||yhat||^2/(2n) along yhat. The proof takes
        ||yhat||^2 < 2n from Corollary 1, which does not hold (notebook 05, Section 4.1, claim 05.18); what does
        follow is ||yhat||^2 < 4n, and 0 < ||yhat||^2 < 4n is exactly when that factor lies in (-1, 1). Then the
        part of E^sol along yhat shrinks and no other part grows: ||E^sol_new|| < ||E^sol|| when E^sol has a
        component along yhat (Eq. (7)). Composing the first-layer step (Eqs. (4)-(5), factor rho^eff) with L-1
        such sub-steps gives Eq. (8).
    """,
    answer_marks=("yhat * (yhat * E).sum(-1, keepdim=True) / (2 * n)",),
))
