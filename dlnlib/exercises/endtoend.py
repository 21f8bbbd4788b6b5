"""Exercises of notebook 04 (the end-to-end dynamics; Arora, Cohen & Hazan 2018).

4.1  ``psd_power(S, alpha)``: fractional power of a symmetric PSD matrix, exact for singular S;
4.2  ``preconditioned_gradient(W, grad, N)``: ``sum_j (W W^T)^{(j-1)/N} G (W^T W)^{(N-j)/N}``, against
     dlnlib's eigenbasis implementation (non-square, singular and batched W);
4.3  ``single_output_update(w, grad, N)``: ``||w||^{2-2/N} (g + (N-1) Pr_w g)`` for a 1 x d end-to-end row;
4.4  ``polar_from_svd(W)``: the polar factors ``Q = U V^T``, ``P = V S V^T`` of ``W = Q P`` from the thin SVD, for
     tall, wide and square W (derivation);
4.5  ``product_velocity(chain, G)``: ``sum_j (W_N...W_{j+1}) D_j (W_{j-1}...W_1)`` with ``D_j = dE/dW_j``, the
     velocity that layerwise gradient flow gives the end-to-end matrix, checked on unbalanced chains; the
     derivation shows that it equals A_W(G) for a balanced chain (Arora, Cohen & Hazan 2018, Theorem 1).
"""

from __future__ import annotations

import torch

from .. import endtoend as _e2e
from .. import geometry as _geometry
from ..endtoend import preconditioned_gradient as _library_preconditioned
from ..endtoend import psd_power as _library_psd_power
from . import Exercise, _checked_reference, register

__all__ = ["psd_power_reference", "preconditioned_gradient_reference", "single_output_reference",
           "polar_from_svd_reference", "product_velocity_reference"]


def _t(x):
    return x.transpose(-1, -2)


def _symmetric_psd(S):
    """ValueError unless S is symmetric positive semi-definite (up to round-off), where S^alpha is defined."""
    asymmetry = float((S - _t(S)).abs().amax())
    if asymmetry > 1e-10 * float(S.abs().amax()):
        raise ValueError(f"S: got a matrix that is not symmetric (max |S - S^T| = {asymmetry:.3g}), expected a "
                         "symmetric positive semi-definite matrix")
    evals = torch.linalg.eigvalsh(S)
    tol = 8 * S.shape[-1] * torch.finfo(S.dtype).eps * evals.abs().amax(-1, keepdim=True)
    if bool((evals < -tol).any()):
        raise ValueError(f"S: has eigenvalue {float(evals.min()):.3g} < 0 beyond round-off, expected a positive "
                         "semi-definite matrix")


# ----------------------------------------------------------------------------------- 4.1


@_checked_reference(S="* d d", alpha="real", _extra=lambda S, alpha: _symmetric_psd(S))
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
    answer_marks=("Q @ torch.diag_embed(evals ** alpha) @ Q.transpose(-1, -2)",
                  "rounding level of the largest are set to exactly $0$"),
))


# ----------------------------------------------------------------------------------- 4.2


@_checked_reference(W="* m n", grad="* m n", N="depth")
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


@_checked_reference(w="* 1 d", grad="* 1 d", N="depth")
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
    title="Single-output form of the end-to-end update (derivation)",
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
    derivation="""
        One output: W = w (1 x d), so W W^T = ||w||^2 (a number) and W^T W = ||w||^2 Pr_w with Pr_w = w^T w / ||w||^2
        the projector onto the direction of w (Pr_w^k = Pr_w for k >= 1, Pr_w^0 = I).
        Term j of A_w(g) = sum_j (W W^T)^{(j-1)/N} g (W^T W)^{(N-j)/N}: for j < N the right power is positive,
        ||w||^{2(j-1)/N} g ||w||^{2(N-j)/N} Pr_w = ||w||^{2-2/N} Pr_w(g); for j = N it is ||w||^{2-2/N} g.
        Sum: A_w(g) = ||w||^{2-2/N} (g + (N-1) Pr_w(g)), Pr_w(g) = (<w, g> / ||w||^2) w (0 at w = 0).
    """,
    answer_marks=("sq ** (1 - 1 / N) * (grad + (N - 1) * proj)", r"\Big(g + (N-1)\Pr_w(g)\Big)"),
))


# ----------------------------------------------------------------------------------- 4.4


@_checked_reference(W="* m n")
def polar_from_svd_reference(W):
    """W = U S V^T (thin SVD)  ->  Q = U V^T, P = V S V^T = sqrt(W^T W), so that W = Q P."""
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    return U @ Vh, Vh.transpose(-1, -2) @ torch.diag_embed(S) @ Vh


def _cases_4_4():
    # (m, n, batch): non-square first (tall, then wide, where the transposes and the thin SVD show), then square
    specs = [(3, 2, ()), (2, 4, (2,)), (3, 3, ()), (4, 3, (3,)), (4, 4, (2,))]
    for seed, (m, n, batch) in enumerate(specs):
        gen = torch.Generator().manual_seed(450 + seed)
        yield {"W": torch.randn(*batch, m, n, generator=gen, dtype=torch.float64)}


def _expected_4_4(case):
    """P = (W^T W)^{1/2} by eigh; Q = W P^{-1} (tall or square W) or (W W^T)^{-1/2} W (wide W): no SVD involved.
    The cases have full rank (condition numbers below 40), so the inverses are harmless."""
    W = case["W"]
    P = _library_psd_power(_t(W) @ W, 0.5)
    if W.shape[-2] >= W.shape[-1]:
        Q = torch.linalg.solve(P, W, left=False)
    else:
        Q = torch.linalg.solve(_library_psd_power(W @ _t(W), 0.5), W)
    return Q, P


def _polar(W, *, full=False, q="UVt", p="VSVt", diag=torch.diag_embed, swap=False):
    """The polar factors from the SVD with one of the typical slips switched on (for the mistake table)."""
    U, S, Vh = torch.linalg.svd(W, full_matrices=full)
    if q == "U":
        Q = U
    elif q == "UV":
        Q = U @ _t(Vh)
    elif q == "VUt":
        Q = _t(Vh) @ _t(U)
    else:
        Q = U @ Vh
    if p == "USUt":
        P = U @ diag(S) @ _t(U)
    elif p == "VtSV":
        P = Vh @ diag(S) @ _t(Vh)
    elif p == "S":
        P = diag(S)
    elif p == "WtW":
        P = _t(W) @ W
    else:
        P = _t(Vh) @ diag(S) @ Vh
    return (P, Q) if swap else (Q, P)


register(Exercise(
    id="4.4",
    title="Polar decomposition W = Q P from the SVD (derivation)",
    reference=polar_from_svd_reference,
    cases=_cases_4_4,
    args=("W",),
    expected=_expected_4_4,
    name="(Q, P)",
    rtol=1e-7,
    atol=1e-10,
    mistakes={
        "Q is not U alone: U forgets the right singular vectors, which Q must carry too":
            lambda W: _polar(W, q="U"),
        "this P is sqrt(W W^T), the stretch of the other decomposition W = R U_p^T; the P of W = Q P acts first, "
        "on the input side (n x n)": lambda W: _polar(W, p="USUt"),
        "torch.linalg.svd returns Vh = V^T, not V: this P used Vh where V belongs (it is V^T S V)":
            lambda W: _polar(W, p="VtSV"),
        "Vh already is V^T: this Q is U V": lambda W: _polar(W, q="UV"),
        "this Q is V U^T, the transpose of the orthogonal factor (it has the shape of W^T)":
            lambda W: _polar(W, q="VUt"),
        "diag(S) alone is the stretch written in the basis of the right singular vectors; P acts in the input space "
        "itself": lambda W: _polar(W, p="S"),
        "P = W^T W has no square root: P^2 must equal W^T W (the eigenvalues of P are the singular values, not "
        "their squares)": lambda W: _polar(W, p="WtW"),
        "the pair is in the wrong order: return (Q, P), the orthogonal factor first": lambda W: _polar(W, swap=True),
        "the full SVD (torch.linalg.svd's default) gives U of shape m x m and Vh of shape n x n, which cannot be "
        "multiplied when m != n: use the thin SVD, full_matrices=False": lambda W: _polar(W, full=True),
        "torch.diag does not build a batch of diagonal matrices; torch.diag_embed(S) does":
            lambda W: _polar(W, diag=torch.diag),
    },
    forbidden=(_geometry.polar_qp,),
    hints=[
        "Start from the thin SVD W = U S V^T and look for a factor with orthonormal columns (or rows) times a "
        "symmetric PSD n x n factor. If W = Q P with Q^T Q = I, what is W^T W in terms of P? Write W^T W with "
        "U, S, V.",
        "W^T W = V S^2 V^T, and its PSD square root has the same eigenvectors V and eigenvalues S. Insert "
        "V^T V = I between S and V^T in W = U S V^T and group the four factors into two.",
        "U, S, Vh = torch.linalg.svd(W, full_matrices=False) gives Vh = V^T (not V); torch.diag_embed(S) builds "
        "a batch of diagonal matrices; use .transpose(-1, -2) rather than .T so that a batch dimension works.",
    ],
    derivation="""
        Thin SVD W = U S V^T (U: m x k, S: k x k, V: n x k, k = min(m, n), U^T U = V^T V = I).
        Insert V^T V = I: W = U S V^T = U (V^T V) S V^T = (U V^T)(V S V^T).
        Q = U V^T has orthonormal columns when m >= n (Q^T Q = V U^T U V^T = V V^T = I for k = n) and orthonormal
        rows when m < n (Q Q^T = U V^T V U^T = I).
        P = V S V^T is symmetric PSD (eigenvalues S >= 0) and P^2 = V S^2 V^T = W^T W: P = sqrt(W^T W).
        The mirror grouping W = (U S U^T)(U V^T) gives W = R U_p^T with R = U S U^T = sqrt(W W^T).
    """,
    answer_marks=("U @ Vh, Vh.transpose(-1, -2) @ torch.diag_embed(S) @ Vh", r"Q = UV^\top", r"P = V\Sigma V^\top"),
))


# ----------------------------------------------------------------------------------- 4.5


@_checked_reference(chain="chain", G="* d_N d_0")
def product_velocity_reference(chain, G):
    """sum_j (W_N...W_{j+1}) D_j (W_{j-1}...W_1), D_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T = dE/dW_j."""
    N = len(chain)
    eye_in = torch.eye(chain[0].shape[-1], dtype=G.dtype)
    eye_out = torch.eye(chain[-1].shape[-2], dtype=G.dtype)
    total = torch.zeros_like(G)
    for j in range(N):
        below = eye_in
        for w in chain[:j]:
            below = w @ below
        above = eye_out
        for w in reversed(chain[j + 1:]):
            above = above @ w
        D = above.transpose(-1, -2) @ G @ below.transpose(-1, -2)
        total = total + above @ D @ below
    return total


def _cases_4_5():
    from ..chains import init_chain

    # (dims, scheme, batch): unbalanced, non-square chains first (every width different, N = 2, 3, 4), where
    # A_W(G) is not the velocity and a missing transpose cannot multiply; then balanced chains (one with a
    # rank-deficient W) and N = 1
    specs = [([3, 4, 2], "gaussian", ()), ([2, 4, 3, 5], "gaussian", (2,)), ([4, 3, 5, 2, 3], "gaussian", ()),
             ([3, 3, 3, 3], "balanced", ()), ([4, 2, 2, 3], "balanced", (3,)), ([3, 2], "gaussian", ())]
    for seed, (dims, scheme, batch) in enumerate(specs):
        gen = torch.Generator().manual_seed(460 + seed)
        chain = init_chain(dims, scheme, batch=batch, generator=gen)
        yield {"chain": chain, "G": torch.randn(*batch, dims[-1], dims[0], generator=gen, dtype=torch.float64)}


def _expected_4_5(case):
    """Autograd alone: the layer gradients of E = <G, W_N ... W_1>, pushed through the product map by a
    forward-mode derivative (the velocity of W along them)."""
    chain, G = case["chain"], case["G"]

    def product(*layers):
        W = layers[0]
        for w in layers[1:]:
            W = w @ W
        return W

    leaves = [w.detach().clone().requires_grad_(True) for w in chain]
    grads = torch.autograd.grad((G * product(*leaves)).sum(), leaves)
    return torch.autograd.functional.jvp(product, tuple(chain), tuple(grads))[1]


def _velocity(chain, G, *, terms=None, grams="LLt", order="right", carried=True):
    """The product-rule velocity with one of the typical slips switched on (for the mistake table)."""
    eye_in = torch.eye(chain[0].shape[-1], dtype=G.dtype)
    eye_out = torch.eye(chain[-1].shape[-2], dtype=G.dtype)
    total = torch.zeros_like(G)
    for j in (range(len(chain)) if terms is None else terms):
        below = eye_in
        for w in chain[:j]:
            below = below @ w if order == "reversed" else w @ below
        above = eye_out
        for w in reversed(chain[j + 1:]):
            above = above @ w
        if not carried:
            total = total + _t(above) @ G @ _t(below)
        elif grams == "none":
            total = total + above @ above @ G @ below @ below
        elif grams == "LtL":
            total = total + _t(above) @ above @ G @ below @ _t(below)
        else:
            total = total + above @ _t(above) @ G @ _t(below) @ below
    return total


def _end_to_end_preconditioned(chain, G):
    W = chain[0]
    for w in chain[1:]:
        W = w @ W
    return _library_preconditioned(W, G, len(chain))


register(Exercise(
    id="4.5",
    title="The velocity of the end-to-end matrix under layerwise gradient flow (derivation)",
    reference=product_velocity_reference,
    cases=_cases_4_5,
    args=("chain", "G"),
    expected=_expected_4_5,
    name="velocity",
    rtol=1e-7,
    atol=1e-10,
    mistakes={
        "this is A_W(G), which equals the product-rule sum only for a balanced chain (your derivation's "
        "assumption); the first cases are unbalanced chains: compute the sum itself":
            lambda chain, G: _end_to_end_preconditioned(chain, G),
        "summed the layer gradients D_j; each must be carried to W as (W_N...W_{j+1}) D_j (W_{j-1}...W_1)":
            lambda chain, G: _velocity(chain, G, carried=False),
        "the sign: return the sum itself; layerwise gradient flow moves W with MINUS this sum":
            lambda chain, G: -_velocity(chain, G),
        "divided by N (seed 000's Eq. (1) scaling): the product rule gives a plain sum over the N layers":
            lambda chain, G: _velocity(chain, G) / len(chain),
        "a term is missing: the sum runs over all N layers, and the term j = N (the top layer, left factor the "
        "identity) was left out": lambda chain, G: _velocity(chain, G, terms=range(len(chain) - 1)),
        "a term is missing: the sum runs over all N layers, and the term j = 1 (the first layer, right factor the "
        "identity) was left out": lambda chain, G: _velocity(chain, G, terms=range(1, len(chain))),
        "the transposes are missing: D_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T":
            lambda chain, G: _velocity(chain, G, grams="none"),
        "the transposes are on the wrong side: substitute D_j into (W_N...W_{j+1}) D_j (W_{j-1}...W_1) as written; "
        "each term is a d_N x d_N matrix times G times a d_0 x d_0 one": lambda chain, G: _velocity(
            chain, G, grams="LtL"),
        "product order: W_{j-1}...W_1 has W_1 on the right (this multiplied the layers in the order W_1 W_2 ...)":
            lambda chain, G: _velocity(chain, G, order="reversed"),
    },
    forbidden=(_e2e.upstairs_velocity,),
    hints=[
        "Name the partial products L_j = W_N...W_{j+1} (d_N x d_j) and R_j = W_{j-1}...W_1 (d_{j-1} x d_0); "
        "an empty product is an identity. Write D_j and then term j of the sum with them, and check every shape.",
        "Term j is (L_j L_j^T) G (R_j^T R_j). In code, grow R_j by multiplying each new layer on the left and L_j "
        "by multiplying on the right, starting from torch.eye(d_0) and torch.eye(d_N) with dtype=G.dtype; a batch "
        "dimension broadcasts through @.",
        "The derivation: balancedness W_{j+1}^T W_{j+1} = W_j W_j^T collapses the middle of "
        "(W_N W_{N-1})(W_N W_{N-1})^T to W_N W_N^T W_N W_N^T. Continue: what is L_j L_j^T, and what is W W^T, "
        "as powers of W_N W_N^T?",
        "L_j L_j^T = (W_N W_N^T)^{N-j} and W W^T = (W_N W_N^T)^N, so W_N W_N^T = (W W^T)^{1/N} (the PSD N-th root "
        "is unique) and L_j L_j^T = (W W^T)^{(N-j)/N}; likewise R_j^T R_j = (W^T W)^{(j-1)/N}. Rename j -> "
        "N + 1 - j and compare with A_W.",
    ],
    derivation="""
        Product rule: dW/dt = sum_j (W_N...W_{j+1}) (dW_j/dt) (W_{j-1}...W_1), and gradient flow has
        dW_j/dt = -D_j, D_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T. So dW/dt = -sum_j (L_j L_j^T) G (R_j^T R_j)
        with L_j = W_N...W_{j+1}, R_j = W_{j-1}...W_1: this sum is product_velocity(chain, G).
        Balanced chain, W_{j+1}^T W_{j+1} = W_j W_j^T: the inner pairs collapse one by one,
        L_j L_j^T = W_N ... W_{j+1} W_{j+1}^T ... W_N^T = (W_N W_N^T)^{N-j}, and W W^T = (W_N W_N^T)^N.
        W_N W_N^T is PSD and so is (W W^T)^{1/N}; the PSD N-th root is unique, so W_N W_N^T = (W W^T)^{1/N} and
        L_j L_j^T = (W W^T)^{(N-j)/N}. In the same way R_j^T R_j = (W_1^T W_1)^{j-1} = (W^T W)^{(j-1)/N}.
        Hence the sum is sum_j (W W^T)^{(N-j)/N} G (W^T W)^{(j-1)/N}; renaming j -> N + 1 - j gives A_W(G), and
        dW/dt = -A_W(grad F(W)) (Arora, Cohen & Hazan 2018, Theorem 1).
    """,
    answer_marks=("above @ (above.transpose(-1, -2) @ G @ below.transpose(-1, -2)) @ below",
                  r"= (W_N W_N^\top)^{N-j}"),
))
