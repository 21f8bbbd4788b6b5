"""Exercises of notebook 04 (the end-to-end dynamics; Arora, Cohen & Hazan 2018).

4.1  ``psd_power(S, alpha)``: fractional power of a symmetric PSD matrix, exact for singular S;
4.2  ``preconditioned_gradient(W, grad, N)``: ``sum_j (W W^T)^{(j-1)/N} G (W^T W)^{(N-j)/N}``, against
     dlnlib's eigenbasis implementation (non-square, singular and batched W);
4.3  ``single_output_update(w, grad, N)``: ``||w||^{2-2/N} (g + (N-1) Pr_w g)`` for a 1 x d end-to-end row;
4.4  ``polar_from_svd(W)``: the polar factors ``Q = U V^T``, ``P = V S V^T`` of ``W = Q P`` from the SVD;
4.5  ``product_velocity(chain, G)``: ``sum_j (W_N...W_{j+1}) D_j (W_{j-1}...W_1)`` with ``D_j = dE/dW_j``, the
     velocity that layerwise gradient flow gives the end-to-end matrix (equal to A_W(G) for a balanced chain).
"""

from __future__ import annotations

import torch

from .. import endtoend as _e2e
from ..endtoend import preconditioned_gradient as _library_preconditioned
from ..endtoend import psd_power as _library_psd_power
from . import Exercise, register

__all__ = ["psd_power_reference", "preconditioned_gradient_reference", "single_output_reference",
           "polar_from_svd_reference", "product_velocity_reference"]


def _t(x):
    return x.transpose(-1, -2)


# ----------------------------------------------------------------------------------- 4.1


def psd_power_reference(S, alpha):
    """S^alpha = Q diag(lambda^alpha) Q^T, with eigenvalues below rounding level set to exactly 0."""
    evals, Q = torch.linalg.eigh(S)
    tol = 8 * S.shape[-1] * torch.finfo(S.dtype).eps * evals.abs().amax(-1, keepdim=True)
    evals = torch.where(evals > tol, evals, torch.zeros_like(evals))  # clamp: no NaN from tiny negatives
    return Q @ torch.diag_embed(evals ** alpha) @ Q.transpose(-1, -2)


def _psd(d, rank, batch, gen):
    b = torch.randn(*batch, d, rank, generator=gen, dtype=torch.float64)
    return b @ b.transpose(-1, -2)


def _cases_4_1():
    # (d, rank, batch, alpha): alpha != 1/2 first; singular S (rank < d) with alpha < 1, where tiny eigenvalues matter
    specs = [(4, 4, (), 1 / 3), (3, 1, (), 0.5), (4, 2, (2,), 2 / 3), (5, 3, (3,), 0.25), (2, 2, (), 1.5),
             (3, 3, (), 0.5)]
    for seed, (d, rank, batch, alpha) in enumerate(specs):
        gen = torch.Generator().manual_seed(400 + seed)
        yield {"S": _psd(d, rank, batch, gen), "alpha": alpha}


def _eig_power(S, alpha, *, clamp="threshold", order="QLQt", power=None):
    """The eigen-decomposition power with one of the typical slips switched on (for the mistake table)."""
    evals, Q = torch.linalg.eigh(S)
    if clamp == "threshold":
        tol = 8 * S.shape[-1] * torch.finfo(S.dtype).eps * evals.abs().amax(-1, keepdim=True)
        evals = torch.where(evals > tol, evals, torch.zeros_like(evals))
    elif clamp == "zero":
        evals = evals.clamp(min=0)
    p = alpha if power is None else power
    middle = torch.diag_embed(evals ** p)
    return _t(Q) @ middle @ Q if order == "QtLQ" else Q @ middle @ _t(Q)


register(Exercise(
    id="4.1",
    title="Fractional power of a symmetric positive semi-definite matrix",
    reference=psd_power_reference,
    cases=_cases_4_1,
    args=("S", "alpha"),
    expected=lambda case: _library_psd_power(case["S"], case["alpha"]),
    name="S^alpha",
    rtol=1e-7,
    atol=1e-10,
    mistakes={
        "took the power of every entry (S ** alpha), not of the matrix; diagonalise S instead":
            lambda S, alpha: S ** alpha,
        "NaN on a singular S: eigh returns its zero eigenvalues as tiny numbers of either sign; set them to 0 "
        "before the fractional power": lambda S, alpha: _eig_power(S, alpha, clamp="none"),
        "not exact on a singular S: clamp(min=0) keeps tiny positive eigenvalues (~1e-16, whose power is ~1e-6); "
        "set every eigenvalue below rounding level to exactly 0": lambda S, alpha: _eig_power(S, alpha, clamp="zero"),
        "the eigenvectors are the columns of Q: S^alpha = Q diag(lambda^alpha) Q^T, not Q^T diag Q":
            lambda S, alpha: _eig_power(S, alpha, order="QtLQ"),
        "the eigenvalues are raised to alpha, not 1/alpha": lambda S, alpha: _eig_power(S, alpha, power=1 / alpha),
        "alpha was ignored (this is the square root for every alpha)":
            lambda S, alpha: _eig_power(S, alpha, power=0.5),
    },
    forbidden=(_e2e.psd_power,),
    hints=[
        "Diagonalise: a symmetric S is Q diag(lambda) Q^T with orthonormal Q; a power of S acts on the eigenvalues "
        "only. torch.linalg.eigh works on batches (eigenvalues ascending).",
        "torch.diag_embed builds the diagonal matrices of a batch. For a singular S, eigh returns the zero "
        "eigenvalues as tiny numbers of either sign (about 1e-16 times the largest): what does a fractional power "
        "do to a tiny negative number, and to a tiny positive one?",
        "Set every eigenvalue below 8 * d * eps * lambda_max to exactly 0 (eps = torch.finfo(S.dtype).eps) before "
        "taking the power.",
    ],
    answer_marks=("Q @ torch.diag_embed(evals ** alpha) @ Q.transpose(-1, -2)",),
))


# ----------------------------------------------------------------------------------- 4.2


def preconditioned_gradient_reference(W, grad, N):
    """sum_{j=1}^N (W W^T)^{(j-1)/N} grad (W^T W)^{(N-j)/N}, one fractional power per term."""
    from dlnlib.endtoend import psd_power

    left, right = W @ W.transpose(-1, -2), W.transpose(-1, -2) @ W
    return sum(psd_power(left, (j - 1) / N) @ grad @ psd_power(right, (N - j) / N) for j in range(1, N + 1))


def _cases_4_2():
    # ((m, n), batch, N, rank): non-square and N >= 3 first; singular W; N = 1
    specs = [((2, 4), (), 3, 2), ((4, 2), (2,), 4, 2), ((3, 3), (), 3, 3), ((2, 2), (4,), 2, 2), ((3, 3), (), 3, 1),
             ((3, 3), (2,), 1, 3), ((1, 5), (), 3, 1)]
    for seed, ((m, n), batch, N, rank) in enumerate(specs):
        gen = torch.Generator().manual_seed(420 + seed)
        W = (torch.randn(*batch, m, rank, generator=gen, dtype=torch.float64)
             @ torch.randn(*batch, rank, n, generator=gen, dtype=torch.float64))
        yield {"W": W, "grad": torch.randn(*batch, m, n, generator=gen, dtype=torch.float64), "N": N}


def _precond(W, G, N, *, js=None, left_exp=lambda j, N: (j - 1) / N, right_exp=lambda j, N: (N - j) / N,
             swap=False):
    """The preconditioned gradient with one of the typical slips switched on (for the mistake table)."""
    L, R = W @ _t(W), _t(W) @ W
    if swap:
        L, R = R, L
    js = range(1, N + 1) if js is None else js
    total = torch.zeros_like(G)
    for j in js:
        total = total + _library_psd_power(L, left_exp(j, N)) @ G @ _library_psd_power(R, right_exp(j, N))
    return total


register(Exercise(
    id="4.2",
    title="The end-to-end preconditioned gradient",
    reference=preconditioned_gradient_reference,
    cases=_cases_4_2,
    args=("W", "grad", "N"),
    expected=lambda case: _library_preconditioned(case["W"], case["grad"], case["N"]),
    name="A_W(grad)",
    rtol=1e-7,
    atol=1e-10,
    mistakes={
        "divided by N (that is seed 000's Eq. (1) scaling; Arora et al.'s Theorem 1 has no 1/N)":
            lambda W, G, N: _precond(W, G, N) / N,
        "exponents shifted: W W^T gets (j-1)/N and W^T W gets (N-j)/N for j = 1..N":
            lambda W, G, N: _precond(W, G, N, left_exp=lambda j, N: j / N),
        "W W^T and W^T W swapped: W W^T (m x m) multiplies from the left, W^T W (n x n) from the right":
            lambda W, G, N: _precond(W, G, N, swap=True),
        "off by one: the sum runs over j = 1..N (the term j = N is missing)":
            lambda W, G, N: _precond(W, G, N, js=range(1, N)),
        "the right exponent is (N-j)/N, so the two exponents add up to (N-1)/N":
            lambda W, G, N: _precond(W, G, N, right_exp=lambda j, N: (j - 1) / N),
        "the powers are fractional: (j-1)/N and (N-j)/N, not j-1 and N-j":
            lambda W, G, N: _precond(W, G, N, left_exp=lambda j, N: j - 1, right_exp=lambda j, N: N - j),
    },
    forbidden=(_e2e.preconditioned_gradient, _e2e._preconditioned, _e2e.preconditioner_matrix),
    hints=[
        "Form the two Gram matrices W W^T and W^T W; which of them can multiply grad (m x n) from the left, which "
        "from the right? Write term j of the sum, then sum over j.",
        "Fractional powers come from your psd_power of exercise 4.1. The power 0 is the identity, also for a "
        "singular Gram matrix. Check N = 1: the sum must be grad itself. Use W.transpose(-1, -2), not W.T, so a "
        "leading batch dimension works.",
    ],
    answer_marks=("psd_power(left, (j - 1) / N) @ grad @ psd_power(right, (N - j) / N)",),
))


# ----------------------------------------------------------------------------------- 4.3


def single_output_reference(w, grad, N):
    """||w||^{2-2/N} (g + (N-1) (w.g / ||w||^2) w); the projection term is 0 at w = 0."""
    sq = (w * w).sum((-2, -1), keepdim=True)
    coef = torch.where(sq > 0, (w * grad).sum((-2, -1), keepdim=True) / torch.where(sq > 0, sq, 1.0), 0.0)
    return sq ** (1 - 1 / N) * (grad + (N - 1) * coef * w)


def _cases_4_3():
    specs = [(5, (), 3, False), (3, (4,), 2, False), (6, (), 4, False), (4, (2,), 3, True), (2, (), 1, False)]
    for seed, (d, batch, N, zero) in enumerate(specs):
        gen = torch.Generator().manual_seed(440 + seed)
        w = torch.randn(*batch, 1, d, generator=gen, dtype=torch.float64)
        if zero:
            w[..., 0, :, :] = 0.0
        yield {"w": w, "grad": torch.randn(*batch, 1, d, generator=gen, dtype=torch.float64), "N": N}


def _single(w, g, N, *, norm_power=None, weight=None, onto_g=False, guard=True):
    """The single-output update with one of the typical slips switched on (for the mistake table)."""
    sq = (w * w).sum((-2, -1), keepdim=True)
    wg = (w * g).sum((-2, -1), keepdim=True)
    if onto_g:
        proj = wg / (g * g).sum((-2, -1), keepdim=True) * g
    elif guard:
        proj = torch.where(sq > 0, wg / torch.where(sq > 0, sq, 1.0), 0.0) * w
    else:
        proj = wg / sq * w
    factor = sq ** (1 - 1 / N) if norm_power is None else norm_power(sq, N)
    return factor * (g + ((N - 1) if weight is None else weight(N)) * proj)


register(Exercise(
    id="4.3",
    title="Single-output form of the end-to-end update",
    reference=single_output_reference,
    cases=_cases_4_3,
    args=("w", "grad", "N"),
    expected=lambda case: _library_preconditioned(case["w"], case["grad"], case["N"]),
    name="update",
    rtol=1e-7,
    atol=1e-10,
    mistakes={
        "the norm factor ||w||^{2-2/N} is missing": lambda w, g, N: _single(w, g, N, norm_power=lambda sq, N: 1.0),
        "the projection has weight N; it should be N - 1": lambda w, g, N: _single(w, g, N, weight=lambda N: N),
        "||w|| raised to 1 - 1/N; the factor is ||w||^{2-2/N} = (||w||^2)^{1-1/N}":
            lambda w, g, N: _single(w, g, N, norm_power=lambda sq, N: sq ** (0.5 - 0.5 / N)),
        "projected onto g instead of onto w: Pr_w g = (w.g / ||w||^2) w":
            lambda w, g, N: _single(w, g, N, onto_g=True),
        "the norm factor is ||w||^{2-2/N}, not ||w||^2": lambda w, g, N: _single(w, g, N, norm_power=lambda sq, N: sq),
        "NaN at w = 0: there the projection term is 0 (guard the division by ||w||^2, e.g. with torch.where)":
            lambda w, g, N: _single(w, g, N, guard=False),
    },
    forbidden=(_e2e.single_output_update, _e2e.preconditioned_gradient, _e2e._preconditioned),
    hints=[
        "w and grad have shape (*batch, 1, d). For one output, W W^T = ||w||^2 is a number and W^T W = ||w||^2 times "
        "the projector onto the direction of w. Evaluate term j of the sum of exercise 4.2 with that.",
        "Terms j < N project g onto w; the term j = N leaves g as it is. ||w||^2 = (w * w).sum((-2, -1), "
        "keepdim=True). At w = 0 the projection is 0: avoid dividing by zero there.",
    ],
    answer_marks=("sq ** (1 - 1 / N) * (grad + (N - 1) * proj)",),
))


# ----------------------------------------------------------------------------------- 4.4


def polar_from_svd_reference(W):
    """W = U S V^T  ->  Q = U V^T (orthogonal), P = V S V^T = sqrt(W^T W), so that W = Q P."""
    U, S, Vh = torch.linalg.svd(W)
    return U @ Vh, Vh.transpose(-1, -2) @ torch.diag_embed(S) @ Vh


def _cases_4_4():
    specs = [(3, ()), (4, (2,)), (2, ()), (5, (3,))]
    for seed, (d, batch) in enumerate(specs):
        gen = torch.Generator().manual_seed(450 + seed)
        yield {"W": torch.randn(*batch, d, d, generator=gen, dtype=torch.float64)}


def _judge_4_4(student, reference, case):
    from ..geometry import polar_qp

    W = case["W"]
    got = call_student(student, W.clone())
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (Q, P), got {type(got).__name__}"
    Q, P = got
    exp_Q, exp_P = polar_qp(W)
    U, S, Vh = torch.linalg.svd(W)
    msg = compare(P, exp_P, name="P", rtol=1e-7, atol=1e-10, alternatives={
        "this is sqrt(W W^T) = U S U^T, the stretch of W = R U^T; P = V S V^T": (U * S.unsqueeze(-2)) @ U.mT,
        "P must be V S V^T (torch.linalg.svd returns V^T, not V)": Vh @ torch.diag_embed(S) @ Vh.mT})
    if msg:
        return msg
    return compare(Q, exp_Q, name="Q", rtol=1e-7, atol=1e-10, alternatives={
        "Q = U V^T: multiply U by Vh itself (torch returns V^T)": U @ Vh.mT,
        "Q must be U V^T, not V U^T": Vh.mT @ U.mT})


register(Exercise(
    id="4.4",
    title="Polar decomposition W = Q P from the SVD",
    reference=polar_from_svd_reference,
    cases=_cases_4_4,
    judge=_judge_4_4,
    hints=[
        "Write W = U S V^T = (U V^T)(V S V^T) and check that U V^T is orthogonal and V S V^T is symmetric PSD "
        "with (V S V^T)^2 = W^T W.",
        "U, S, Vh = torch.linalg.svd(W) gives Vh = V^T; then Q = U @ Vh and P = Vh.mT @ torch.diag_embed(S) @ Vh.",
    ],
))


# ----------------------------------------------------------------------------------- 4.5


def product_velocity_reference(chain, G):
    """sum_j (W_N...W_{j+1}) D_j (W_{j-1}...W_1), D_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T = dE/dW_j."""
    N = len(chain)
    eye_in = torch.eye(chain[0].shape[-1], dtype=G.dtype).expand(*G.shape[:-2], -1, -1)
    eye_out = torch.eye(chain[-1].shape[-2], dtype=G.dtype).expand(*G.shape[:-2], -1, -1)
    total = torch.zeros_like(G)
    for j in range(N):
        below = eye_in
        for w in chain[:j]:
            below = w @ below
        above = eye_out
        for w in reversed(chain[j + 1:]):
            above = above @ w
        D = above.mT @ G @ below.mT
        total = total + above @ D @ below
    return total


def _cases_4_5():
    from ..chains import init_chain

    specs = [([3, 3, 3], "gaussian", ()), ([2, 4, 3, 2], "gaussian", (2,)), ([3, 3, 3, 3], "balanced", ()),
             ([4, 2, 2, 3], "balanced", (3,))]
    for seed, (dims, scheme, batch) in enumerate(specs):
        gen = torch.Generator().manual_seed(460 + seed)
        chain = init_chain(dims, scheme, batch=batch, generator=gen)
        yield {"chain": chain, "G": torch.randn(*batch, dims[-1], dims[0], generator=gen, dtype=torch.float64)}


def _judge_4_5(student, reference, case):
    from ..chains import layer_gradients
    from ..endtoend import upstairs_velocity

    chain, G = case["chain"], case["G"]
    got = call_student(student, [w.clone() for w in chain], G.clone())
    expected = upstairs_velocity(chain, G)
    alternatives = {}
    grads = layer_gradients(chain, G)
    if all(g.shape == expected.shape for g in grads):
        alternatives["summed the layer gradients D_j; each must be carried to W as "
                     "(W_N...W_{j+1}) D_j (W_{j-1}...W_1)"] = sum(grads)
    return compare(got, expected, name="velocity", rtol=1e-7, atol=1e-10, alternatives=alternatives)


register(Exercise(
    id="4.5",
    title="The velocity of the end-to-end matrix under layerwise gradient flow",
    reference=product_velocity_reference,
    cases=_cases_4_5,
    judge=_judge_4_5,
    hints=[
        "Product rule: dW/dt = sum_j (W_N...W_{j+1}) (dW_j/dt) (W_{j-1}...W_1), and under gradient flow "
        "dW_j/dt = -D_j with D_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T. Return the sum without the minus sign.",
        "Build the two partial products with identities at the ends (the empty product): for j = 1 the right "
        "factor is eye(d_0), for j = N the left factor is eye(d_N). Batch dimensions broadcast through @.",
    ],
))
