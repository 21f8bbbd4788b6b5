"""Saxe, McClelland & Ganguli (2014): mode coordinates, the decoupled (a, b) system, exact learning curves.

Notation (notebook 02; seed 002's homework, Eqs. (1)-(10)): whitened inputs (``Sigma_xx = I``) and
``Sigma_yx = U S V^T`` with ``U`` (d_out, d_out), ``V`` (d_in, d_in) and singular values ``s`` of length
``r = min(d_out, d_in)``. Mode coordinates: ``W1bar = W1 V``, ``W2bar = U^T W2``. Mode vectors are stored
as rows: ``a`` (*batch, d_in, d_h) with ``a[i] = a^i`` = column i of W1bar, and ``b`` (*batch, d_out, d_h)
with ``b[i] = b^i`` = row i of W2bar, so ``W1bar = a^T`` and ``W2bar = b``.
Time (the series' convention, notebook 01): ``tau dW/dt = -dE/dW``; a gradient-descent step with learning rate
``eta`` is an Euler step of length ``eta tau``, so step k sits at ``t = eta tau k``. The series takes ``tau = 1``
(``t = eta k``) everywhere; functions keep ``tau`` as an argument for the formulas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .chains import _semi_orthogonal, end_to_end, validate_chain
from .core import (
    MAX_DEPTH,
    as_tensor,
    check_choice,
    check_finite_result,
    check_int,
    check_ode_options,
    check_positive,
    check_size,
    get_device,
    make_generator,
    resolve_dtype,
    solve_ode,
    time_grid,
)
from .losses import Loss
from .train import gradient_descent

__all__ = [
    "mode_basis",
    "canonical_span",
    "rect_diag",
    "random_mode_task",
    "mode_coordinates",
    "mode_vectors",
    "chain_from_modes",
    "mode_dynamics",
    "mode_energy",
    "mode_couplings",
    "mode_strengths",
    "cross_coupling",
    "decoupled_init",
    "WhitenedSquaredError",
    "ModeEnergy",
    "ab_field",
    "ab_jacobian",
    "ab_fixed_point_type",
    "ab_invariant",
    "ab_end_point",
    "ab_trajectory",
    "ab_gradient_descent",
    "ABDescent",
    "mode_strength",
    "deep_mode_strength",
    "learning_time",
    "FIXED_POINT_KINDS",
]

FIXED_POINT_KINDS = ("saddle", "line of minima", "not a fixed point")


# ----------------------------------------------------------------------------------------------------
# input helpers


def _tensors(**named) -> list[torch.Tensor]:
    """Convert every argument to a float64 tensor on the device of the first tensor argument."""
    first = next((v for v in named.values() if isinstance(v, torch.Tensor)), None)
    device = first.device if first is not None else None
    return [as_tensor(k, v, device=device) for k, v in named.items()]


def _broadcast(**named) -> list[torch.Tensor]:
    try:
        return list(torch.broadcast_tensors(*named.values()))
    except RuntimeError as exc:
        shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in named.items())
        raise ValueError(f"{', '.join(named)}: shapes {shapes} do not broadcast against each other") from exc


def _matrix(name: str, value, like: torch.Tensor | None = None) -> torch.Tensor:
    """``value`` as a finite, non-empty real matrix batch: like ``like``'s dtype and device when given, else its own
    float dtype (float64 for anything else) and device."""
    if like is not None:
        dtype, device = like.dtype, like.device
    else:
        own = isinstance(value, torch.Tensor) and value.dtype in (torch.float32, torch.float64)
        dtype = value.dtype if own else None
        device = value.device if isinstance(value, torch.Tensor) else None
    value = as_tensor(name, value, device=device, dtype=dtype)
    if value.ndim < 2 or value.shape[-1] == 0 or value.shape[-2] == 0:
        raise ValueError(f"{name}: got shape {tuple(value.shape)}, expected a non-empty matrix (*batch, rows, cols)")
    return value


def _tau(tau) -> float:
    check_positive("tau", tau, allow_tensor=False)
    return float(tau)




STIFF_MARGIN = 100
"""How far beyond its evaluation cap an integration must provably be before it is refused up front."""


def _check_stiffness(what: str, rate: float, span: float, max_evals: int) -> None:
    """Refuse up front an integration that scipy's DOP853 (explicit) has no hope of finishing within ``max_evals``.

    Near a stable end point whose Jacobian eigenvalue is ``-rate`` its steps stay below about 6 / rate (its stability
    interval; 12 evaluations a step, measured: 1.9 evaluations per unit of rate x time), so ``span`` time units
    there cost about ``1.2 rate span`` evaluations or more. A flow that settles exactly on a floating-point fixed
    point (its velocity exactly 0) escapes that bound, so only integrations beyond ``STIFF_MARGIN`` times the cap
    are refused here (at once, instead of after seconds of solving); below, the solver's own cap decides."""
    if not math.isfinite(rate):
        raise ValueError(f"{what}: the flow left float64's range at this start (its relaxation rate near the end point "
                         "overflows); start smaller")
    need = 1.2 * rate * span
    if not need <= STIFF_MARGIN * max_evals:
        raise ValueError(f"{what}: the flow is stiff there (it relaxes at rate {rate:.3g} near its end point), so an "
                         f"explicit solver needs about {need:.3g} evaluations for {span:.4g} time units, expected "
                         f"at most max_evals = {max_evals:,}; integrate over shorter times or start smaller")


def _check_orthogonal(name: str, Q: torch.Tensor) -> None:
    if Q.shape[-1] != Q.shape[-2]:
        raise ValueError(f"{name}: got shape {tuple(Q.shape)}, expected a square orthogonal matrix")
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype, device=Q.device)
    if not torch.allclose(Q.transpose(-1, -2) @ Q, eye.expand_as(Q), atol=1e-8):
        raise ValueError(f"{name}: is not orthogonal ({name}^T {name} != I), expected the SVD factor")


# ----------------------------------------------------------------------------------------------------
# mode coordinates


def rect_diag(s: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """The rectangular diagonal matrix S (rows, cols) with ``s`` on its diagonal (homework Eq. (4)).

    s: (*batch, k) with k <= min(rows, cols) (missing entries are zero) -> (*batch, rows, cols).
    """
    rows, cols = check_int("rows", rows, minimum=1), check_int("cols", cols, minimum=1)
    s = _tensors(s=s)[0]
    check_size("rows, cols", (*s.shape[:-1], rows, cols))
    if s.ndim < 1 or s.shape[-1] > min(rows, cols):
        raise ValueError(f"s: got shape {tuple(s.shape)}, expected (*batch, k) with k <= min({rows}, {cols})")
    out = torch.zeros(*s.shape[:-1], rows, cols, dtype=s.dtype, device=s.device)
    k = s.shape[-1]
    out[..., range(k), range(k)] = s
    return out


def mode_basis(sigma_yx):
    """The SVD ``Sigma_yx = U S V^T`` (homework Eq. (4); Saxe et al. 2014), fixed so that it depends on
    ``Sigma_yx`` alone and not on the LAPACK build that computed it.

    sigma_yx: (*batch, d_out, d_in) -> ``(U, s, V)`` with U (*batch, d_out, d_out), s (*batch, r) in
    descending order, V (*batch, d_in, d_in). A simple singular value's pair (u^i, v^i) gets the sign that
    makes the largest-magnitude entry of u^i positive. A repeated singular value (equal to within
    ``DEGENERATE`` relative to the largest, as in the hierarchical tree's levels) only fixes a subspace, in which
    LAPACK returns some basis: there U gets the basis of :func:`canonical_span` and ``V = Sigma_yx^T U / s``;
    the null spaces (zero singular values and the columns beyond r) get :func:`canonical_span` bases too.
    """
    syx = _matrix("sigma_yx", sigma_yx)
    U, s, Vh = torch.linalg.svd(syx, full_matrices=True)
    V = Vh.transpose(-1, -2)
    r = s.shape[-1]
    idx = U[..., :, :r].abs().argmax(dim=-2, keepdim=True)
    sign = torch.sign(torch.gather(U[..., :, :r], -2, idx))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    U = torch.cat([U[..., :, :r] * sign, U[..., :, r:]], dim=-1)
    V = torch.cat([V[..., :, :r] * sign, V[..., :, r:]], dim=-1)
    batch = syx.shape[:-2]
    flat = [t.reshape(-1, *t.shape[len(batch):]).clone() for t in (syx, U, s, V)]
    for k in range(flat[0].shape[0]):
        _fix_repeated(*(t[k] for t in flat))
    return tuple(t.reshape(*batch, *t.shape[1:]) for t in flat[1:])


DEGENERATE = 1e-10  # relative gap under which two singular values count as one repeated value


def canonical_span(Q: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the column span of ``Q`` (d, m) that depends on the span alone: Gram-Schmidt
    (twice) on the columns of its projector ``Q Q^T`` in order, keeping those that add a direction (residual
    norm above 1e-4); each basis vector's first significant entry is then positive."""
    Q = _matrix("Q", Q)
    if Q.ndim != 2 or Q.shape[1] > Q.shape[0]:
        raise ValueError(f"Q: got shape {tuple(Q.shape)}, expected one matrix (d, m) with m <= d orthonormal columns")
    d, m = Q.shape
    P = Q @ Q.transpose(-1, -2)
    out = []
    for j in range(d):
        if len(out) == m:
            break
        v = P[:, j]
        for _ in range(2):
            for u in out:
                v = v - (u @ v) * u
        norm = float(v.norm())
        if norm > 1e-4:
            out.append(v / norm)
    if len(out) < m:  # cannot happen for orthonormal Q: its projector's columns span an m-dimensional space
        raise ValueError(f"Q: its columns span fewer than {m} dimensions; expected orthonormal columns")
    return torch.stack(out, dim=-1) if out else Q


def _fix_repeated(syx, U, s, V) -> None:
    """In place on one matrix: canonical bases inside repeated singular values and inside the null spaces."""
    r = s.shape[-1]
    top = float(s[0]) if r else 0.0
    tol = DEGENERATE * top
    null = [i for i in range(r) if float(s[i]) <= tol]
    i = 0
    while i < r and float(s[i]) > tol:
        j = i + 1
        while j < r and float(s[i] - s[j]) <= tol and float(s[j]) > tol:
            j += 1
        if j - i > 1:
            U[:, i:j] = canonical_span(U[:, i:j])
            V[:, i:j] = syx.transpose(-1, -2) @ U[:, i:j] / s[i:j]
        i = j
    for M, d in ((U, U.shape[-1]), (V, V.shape[-1])):
        cols = null + list(range(r, d))
        if len(cols) > 1:
            M[:, cols] = canonical_span(M[:, cols])


def random_mode_task(s, d_out: int, d_in: int, *, generator=None, seed=None, device=None, dtype=None):
    """A target ``Sigma_yx = U diag(s) V^T`` with chosen singular values and Haar-random U, V (notebook 02).

    s: (k,) non-negative, k <= min(d_out, d_in). Returns ``(sigma_yx, U, V)`` with sigma_yx (d_out, d_in),
    U (d_out, d_out), V (d_in, d_in); the first k columns of U, V are the modes of s.
    """
    d_out = check_int("d_out", d_out, minimum=1)
    d_in = check_int("d_in", d_in, minimum=1)
    check_size("d_out", (d_out, d_out))
    check_size("d_in", (d_in, d_in))
    s = as_tensor("s", s, device="cpu")
    if s.ndim != 1 or s.numel() > min(d_out, d_in) or bool((s < 0).any()):
        raise ValueError(
            f"s: got {s.tolist()}, expected a 1-D list of at most min(d_out, d_in) = {min(d_out, d_in)} numbers >= 0"
        )
    gen = make_generator(seed=seed, generator=generator)
    U = _semi_orthogonal(d_out, d_out, (), gen)
    V = _semi_orthogonal(d_in, d_in, (), gen)
    syx = U @ rect_diag(s, d_out, d_in) @ V.T
    dev, dt = get_device(device), resolve_dtype(dtype)
    return tuple(x.to(device=dev, dtype=dt) for x in (syx, U, V))


def mode_coordinates(chain, U, V) -> list[torch.Tensor]:
    """The chain in mode coordinates: ``[W_1 V, W_2, ..., U^T W_N]`` (homework exercise 2; W1bar, W2bar for N = 2).

    chain: ``[W_1, ..., W_N]`` with W_1 (*batch, d_1, d_in), W_N (*batch, d_out, d_{N-1});
    U (d_out, d_out), V (d_in, d_in). For N = 1 the single layer becomes ``U^T W_1 V``.
    """
    chain = validate_chain(chain, finite=True)
    U, V = _matrix("U", U, like=chain[0]), _matrix("V", V, like=chain[0])
    if U.shape[-1] != chain[-1].shape[-2] or U.shape[-2] != U.shape[-1]:
        raise ValueError(f"U: got shape {tuple(U.shape)}, expected ({chain[-1].shape[-2]}, {chain[-1].shape[-2]})")
    if V.shape[-1] != chain[0].shape[-1] or V.shape[-2] != V.shape[-1]:
        raise ValueError(f"V: got shape {tuple(V.shape)}, expected ({chain[0].shape[-1]}, {chain[0].shape[-1]})")
    out = list(chain)
    out[0] = out[0] @ V
    out[-1] = U.transpose(-1, -2) @ out[-1]
    return out


def mode_vectors(chain, U, V) -> tuple[torch.Tensor, torch.Tensor]:
    """The mode vectors of a two-layer chain: ``a`` = (W1 V)^T and ``b`` = U^T W2 (homework exercise 3).

    Returns a (*batch, d_in, d_h) with row i = a^i, and b (*batch, d_out, d_h) with row i = b^i.
    """
    chain = validate_chain(chain, finite=True)
    if len(chain) != 2:
        raise ValueError(f"chain: got depth {len(chain)}, expected a two-layer chain [W1, W2]")
    w1bar, w2bar = mode_coordinates(chain, U, V)
    return w1bar.transpose(-1, -2), w2bar


def chain_from_modes(a, b, U, V) -> list[torch.Tensor]:
    """Undo ``mode_vectors``: ``W1 = a^T V^T``, ``W2 = U b``. a (*, d_in, d_h), b (*, d_out, d_h) -> [W1, W2]."""
    a, b = _matrix("a", a), _matrix("b", b)
    _check_ab_shapes(a, b)
    U, V = _matrix("U", U, like=a), _matrix("V", V, like=a)
    for name, M, d in (("U", U, b.shape[-2]), ("V", V, a.shape[-2])):
        if M.shape[-2:] != (d, d):
            raise ValueError(f"{name}: got shape {tuple(M.shape)}, expected (*batch, {d}, {d}) to match a and b")
    try:
        return [a.transpose(-1, -2) @ V.transpose(-1, -2), U @ b]
    except RuntimeError as exc:
        raise ValueError(f"U, V: batch shapes {tuple(U.shape[:-2])}, {tuple(V.shape[:-2])} do not broadcast with "
                         f"a's {tuple(a.shape[:-2])}") from exc


def _check_ab_shapes(a, b):
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"b: got shape {tuple(b.shape)} but a has {tuple(a.shape)}; expected both (*batch, modes, d_h)"
            " with the same hidden width d_h"
        )


def _mode_residual(a, b, s):
    a, b = _matrix("a", a), _matrix("b", b)
    _check_ab_shapes(a, b)
    s = _tensors(s=s)[0].to(a.dtype)
    d_in, d_out = a.shape[-2], b.shape[-2]
    if s.ndim < 1 or s.shape[-1] != min(d_in, d_out):
        raise ValueError(
            f"s: got shape {tuple(s.shape)}, expected (*batch, {min(d_in, d_out)}): one singular value per mode"
        )
    return a, b, rect_diag(s, d_out, d_in) - b @ a.transpose(-1, -2)


def mode_dynamics(a, b, s, tau: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(da/dt, db/dt)`` of homework Eqs. (6)-(7) for all modes at once (Saxe et al. 2014; notebook 02).

    tau da^i/dt = (s_i - a^i.b^i) b^i - sum_{j != i} (a^i.b^j) b^j, and the mirror equation for b^i.
    a: (*batch, d_in, d_h), b: (*batch, d_out, d_h), s: (*batch, min(d_in, d_out)). Returns tensors of
    a's and b's shapes. In matrix form: with R = S - b a^T, da/dt = R^T b / tau and db/dt = R a / tau.
    """
    tau = _tau(tau)
    a, b, resid = _mode_residual(a, b, s)
    return check_finite_result("a, b, s, tau", resid.transpose(-1, -2) @ b / tau, resid @ a / tau)


def mode_energy(a, b, s, tau: float = 1.0) -> torch.Tensor:
    """The energy F of homework Eq. (8): (1/2tau) sum_i (s_i - a^i.b^i)^2 + (1/2tau) sum_{i!=j} (a^i.b^j)^2.

    Equals ``||S - b a^T||_F^2 / (2 tau)``; Eqs. (6)-(7) are its negative gradient. a: (*batch, d_in, d_h),
    b: (*batch, d_out, d_h), s: (*batch, r) -> (*batch,).
    """
    tau = _tau(tau)
    _, _, resid = _mode_residual(a, b, s)
    return check_finite_result("a, b, s, tau", 0.5 * (resid * resid).sum((-2, -1)) / tau)


def mode_couplings(a, b) -> torch.Tensor:
    """The overlaps ``C_ij = b^i . a^j`` = W2bar W1bar, shape (*batch, d_out, d_in); the diagonal holds the
    mode strengths, the off-diagonal the cross-mode couplings of Eqs. (6)-(7)."""
    a, b = _matrix("a", a), _matrix("b", b)
    _check_ab_shapes(a, b)
    return b @ a.transpose(-1, -2)


def mode_strengths(chain, U, V) -> torch.Tensor:
    """The strength of each mode, ``u_i = u^i^T W v^i`` (diagonal of U^T W V), for a chain of any depth.

    chain: ``[W_1, ..., W_N]`` (*batch); U (d_out, d_out), V (d_in, d_in) -> (*batch, r).
    """
    w = mode_coordinates([end_to_end(chain)], U, V)[0]
    return torch.diagonal(w, dim1=-2, dim2=-1)


def cross_coupling(chain, U, V) -> torch.Tensor:
    """Largest cross-mode coupling ``max_{i != j} |u^i^T W v^j|`` of a chain (zero when modes decouple).

    For a two-layer chain this is ``max_{i != j} |b^i . a^j|``, the coefficient coupling modes in
    Eqs. (6)-(7). chain (*batch); U (d_out, d_out), V (d_in, d_in) -> (*batch,).
    """
    w = mode_coordinates([end_to_end(chain)], U, V)[0]
    off = w - rect_diag(torch.diagonal(w, dim1=-2, dim2=-1), *w.shape[-2:])
    return off.abs().amax((-2, -1))


def decoupled_init(U, V, hidden, strengths, *, form: str = "decoupled", generator=None, seed=None):
    """Saxe et al.'s orthogonal initialisation in mode coordinates (homework exercise 4; notebook 02).

    ``W_1 = R_1 D_1 V^T``, ``W_j = R_j D_j R_{j-1}^T``, ``W_N = U D_N R_{N-1}^T`` with Haar-orthogonal R_j
    (d_j, d_j) and rectangular diagonal D_j. Then every a^i, b^i lies along r^i and the modes stay decoupled.
    ``form="transposed"`` (two layers only) builds the homework's printed ``W2 = U^T D_2 R`` instead, which
    does not decouple. U (d_out, d_out), V (d_in, d_in); hidden: widths [d_1, ..., d_{N-1}];
    strengths: N entries, one per layer, each a number or a (*batch, k) tensor of per-mode values
    (k <= min of all widths). Returns ``[W_1, ..., W_N]``.
    """
    U, V = _matrix("U", U), _matrix("V", V)
    _check_orthogonal("U", U)
    _check_orthogonal("V", V)
    check_choice("form", form, ("decoupled", "transposed"))
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise ValueError(f"hidden: got {hidden!r}, expected a list of hidden widths [d_1, ..., d_(N-1)]")
    hidden = [check_int("hidden", h, minimum=1) for h in hidden]
    if len(hidden) >= MAX_DEPTH:
        raise ValueError(f"hidden: got {len(hidden):,} widths, expected fewer than {MAX_DEPTH:,} (the deepest network)")
    for h in hidden:
        check_size("hidden", (h, h))
    dims = [V.shape[-1], *hidden, U.shape[-1]]
    n = len(dims) - 1
    strengths = list(strengths) if isinstance(strengths, (list, tuple)) else None
    if strengths is None or len(strengths) != n:
        raise ValueError(f"strengths: expected a list of {n} per-layer values (one per weight matrix)")
    if form == "transposed" and n != 2:
        raise ValueError(f"form: 'transposed' is the homework's two-layer formula, got depth {n}")
    r = min(dims)
    diags = []
    for d in strengths:
        d = _tensors(strengths=d)[0].to(U.dtype)
        if d.ndim == 0:
            d = d.expand(r)
        if d.shape[-1] > r:
            raise ValueError(f"strengths: got {d.shape[-1]} values per layer, expected at most min(widths) = {r}")
        diags.append(d)
    gen = make_generator(seed=seed, generator=generator)
    frames = [V] + [_semi_orthogonal(h, h, (), gen).to(U.device, U.dtype) for h in hidden] + [U]
    chain = []
    for j in range(1, n + 1):
        D = rect_diag(diags[j - 1], dims[j], dims[j - 1])
        chain.append(frames[j] @ D @ frames[j - 1].transpose(-1, -2))
    if form == "transposed":
        R = frames[1]
        chain[1] = U.transpose(-1, -2) @ rect_diag(diags[1], dims[2], dims[1]) @ R
    return chain


class WhitenedSquaredError(Loss):
    """``E(W) = 1/2 ||Sigma_yx - W||_F^2``: the squared error (homework Eq. (1)) for whitened inputs, minus its
    minimum ``(tr Sigma_yy - ||Sigma_yx||^2)/2`` (notebook 02).

    sigma_yx: (*batch, d_out, d_in), one target per trial allowed; gradient ``W - Sigma_yx``.
    """

    def __init__(self, sigma_yx, *, device=None, dtype=None):
        self.target = as_tensor("sigma_yx", sigma_yx, device=device, dtype=dtype, ndim_min=2)
        self.out_dim, self.in_dim = self.target.shape[-2], self.target.shape[-1]

    def value(self, W):
        diff = W - self.target
        return 0.5 * (diff * diff).sum((-2, -1))

    def grad(self, W):
        return W - self.target


class ModeEnergy(Loss):
    """The energy F of homework Eq. (8) (tau = 1) as a loss of ``C = W2bar W1bar``, or one of its two terms:
    ``"own"`` = 1/2 sum_i (s_i - C_ii)^2 (cooperation within a mode), ``"cross"`` = 1/2 sum_{i!=j} C_ij^2
    (competition between modes). Train the chain ``[W1bar, W2bar]`` on it (notebook 02, section 3).

    s: (k,) singular values, k = min(d_out, d_in); terms: any non-empty subset of ("own", "cross").
    """

    def __init__(self, s, d_out: int, d_in: int, terms=("own", "cross"), *, device=None, dtype=None):
        d_out = check_int("d_out", d_out, minimum=1)
        d_in = check_int("d_in", d_in, minimum=1)
        check_size("d_out, d_in", (d_out, d_in))
        s = as_tensor("s", s, device=device, dtype=dtype)
        if s.ndim != 1 or s.shape[0] != min(d_out, d_in):
            raise ValueError(f"s: got shape {tuple(s.shape)}, expected ({min(d_out, d_in)},): one value per mode")
        terms = (terms,) if isinstance(terms, str) else tuple(terms) if isinstance(terms, (list, tuple)) else terms
        if not isinstance(terms, tuple) or not terms or any(t not in ("own", "cross") for t in terms):
            raise ValueError(f"terms: got {terms!r}, expected a non-empty subset of ('own', 'cross')")
        self.target = rect_diag(s, d_out, d_in)
        diag = rect_diag(torch.ones_like(s), d_out, d_in)
        self.weight = ("own" in terms) * diag + ("cross" in terms) * (1 - diag)
        self.out_dim, self.in_dim = d_out, d_in

    def value(self, W):
        diff = W - self.target
        return 0.5 * (self.weight * diff * diff).sum((-2, -1))

    def grad(self, W):
        return self.weight * (W - self.target)


# ----------------------------------------------------------------------------------------------------
# the decoupled two-dimensional system (9)-(10)


def ab_field(a, b, s, tau: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The vector field of homework Eqs. (9)-(10): da/dt = (s - ab) b / tau, db/dt = (s - ab) a / tau.

    a, b, s: numbers or tensors that broadcast -> (da/dt, db/dt) of the broadcast shape.
    """
    tau = _tau(tau)
    a, b, s = _broadcast(**dict(zip(("a", "b", "s"), _tensors(a=a, b=b, s=s))))
    r = s - a * b
    return check_finite_result("a, b, s", r * b / tau, r * a / tau)


def ab_jacobian(a, b, s, tau: float = 1.0) -> torch.Tensor:
    """Jacobian of Eqs. (9)-(10): ``[[-b^2, s - 2ab], [s - 2ab, -a^2]] / tau`` (homework exercise 6).

    a, b, s broadcast -> (*shape, 2, 2), rows (d a-dot, d b-dot), columns (d/da, d/db). Symmetric because
    the field is the negative gradient of E = (s - ab)^2 / (2 tau).
    """
    tau = _tau(tau)
    a, b, s = _broadcast(**dict(zip(("a", "b", "s"), _tensors(a=a, b=b, s=s))))
    off = s - 2 * a * b
    return check_finite_result("a, b, s",
                        torch.stack([torch.stack([-b * b, off], -1), torch.stack([off, -a * a], -1)], -2) / tau)


def ab_fixed_point_type(a: float, b: float, s: float, tau: float = 1.0, *, atol: float = 1e-9):
    """Classify a point of the (a, b) plane (homework exercise 6): the Jacobian's eigenvalues and the kind.

    Returns ``(eigenvalues, kind)``: eigenvalues ascending, shape (2,); kind one of ``FIXED_POINT_KINDS``:
    "saddle" (the origin: eigenvalues -s/tau, +s/tau), "line of minima" (a point of the hyperbola ab = s:
    eigenvalues -(a^2 + b^2)/tau and 0, a non-isolated minimum) or "not a fixed point" (|field| > atol).
    Needs s > 0 (for s = 0 the two sets merge into the axes).
    """
    check_positive("s", s, allow_tensor=False)
    check_positive("atol", atol, allow_tensor=False)
    for name, v in (("a", a), ("b", b)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(f"{name}: got {v!r}, expected a finite number")
    da, db = ab_field(float(a), float(b), float(s), tau)
    eig = torch.linalg.eigvalsh(ab_jacobian(float(a), float(b), float(s), tau))
    if max(abs(float(da)), abs(float(db))) > atol:
        return eig, "not a fixed point"
    if abs(a * b - s) <= atol:
        return eig, "line of minima"
    return eig, "saddle"


def ab_invariant(a, b) -> torch.Tensor:
    """The conserved quantity of Eqs. (9)-(10): ``a^2 - b^2`` (d/dt = 2a(s-ab)b - 2b(s-ab)a = 0)."""
    a, b = _broadcast(**dict(zip(("a", "b"), _tensors(a=a, b=b))))
    return check_finite_result("a, b", a * a - b * b)


def ab_end_point(a0, b0, s) -> tuple[torch.Tensor, torch.Tensor]:
    """Where the gradient flow of Eqs. (9)-(10) from ``(a0, b0)`` ends (any tau > 0), for s > 0.

    Two conserved features decide it, not the imbalance alone: ``c = a^2 - b^2`` (constant along the flow) and
    the sign of ``a + b`` (``tau d(a + b)/dt = (s - ab)(a + b)``, so ``a + b`` never changes sign). With
    ``sigma = sign(a0 + b0)`` the flow ends at ``a = sigma sqrt((c + sqrt(c^2 + 4 s^2)) / 2)``, ``b = s / a``,
    the point where the hyperbola ``a^2 - b^2 = c`` meets ``ab = s`` on the side of ``a + b``. A start on the
    anti-diagonal ``a0 + b0 = 0`` flows into the saddle at the origin, returned as ``(0, 0)``.
    a0, b0, s broadcast -> ``(a_end, b_end)`` of the broadcast shape.
    """
    a0, b0, s = _broadcast(**dict(zip(("a0", "b0", "s"), _tensors(a0=a0, b0=b0, s=s))))
    check_positive("s", s)
    c = a0 * a0 - b0 * b0
    sigma = torch.sign(a0 + b0)
    a = sigma * ((c + torch.sqrt(c * c + 4 * s * s)) / 2).sqrt()
    b = torch.where(sigma == 0, torch.zeros_like(a), s / torch.where(sigma == 0, torch.ones_like(a), a))
    return check_finite_result("a0, b0, s", a, b)


def ab_trajectory(a0, b0, s, times, tau: float = 1.0, *, rtol: float = 1e-10, atol: float = 1e-12,
                  max_evals: int = 50_000):
    """Solve Eqs. (9)-(10) from (a0, b0) with scipy's DOP853 (gradient flow of the decoupled system).

    a0, b0, s broadcast to a shape B; times: increasing 1-D array starting at 0 (or later).
    Returns ``(a, b)``, each (T, *B), on the CPU in float64. A flow that blows up (or more than ``max_evals``
    evaluations) is a ValueError that says what to change (``core.solve_ode``).
    """
    tau = _tau(tau)
    _, max_evals = check_ode_options(rtol, atol, "DOP853", max_evals)
    a0, b0, s = _broadcast(**dict(zip(("a0", "b0", "s"), _tensors(a0=a0, b0=b0, s=s))))
    ts = time_grid(times)
    if ts.size < 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise ValueError(f"times: got {ts[:6].tolist()}, expected a finite, strictly increasing 1-D array")
    shape = a0.shape
    sv = s.detach().cpu().double().numpy().ravel()
    y0 = np.concatenate([a0.detach().cpu().double().numpy().ravel(), b0.detach().cpu().double().numpy().ravel()])
    m = sv.size

    def rhs(_t, y):
        a, b = y[:m], y[m:]
        r = (sv - a * b) / tau
        return np.concatenate([r * b, r * a])

    if ts.size > 1:  # a and b end where a^2 - b^2 = c meets ab = s, relaxing there at rate (a^2 + b^2) / tau
        a_np, b_np = y0[:m], y0[m:]
        with np.errstate(over="ignore", invalid="ignore"):
            rate = np.where(a_np + b_np == 0, np.abs(sv), np.hypot(a_np * a_np - b_np * b_np, 2 * sv)) / tau
        _check_stiffness("times", float(np.max(rate)), float(ts[-1] - ts[0]), max_evals)
    if ts.size == 1:
        ys = y0[:, None]
    else:
        ys, _ = solve_ode(rhs, (ts[0], ts[-1]), y0, ts, rtol=rtol, atol=atol, max_evals=max_evals, what="times")
    a = torch.from_numpy(ys[:m].T.copy()).reshape(ts.size, *shape)
    b = torch.from_numpy(ys[m:].T.copy()).reshape(ts.size, *shape)
    return a, b


@dataclass
class ABDescent:
    """The iterates of :func:`ab_gradient_descent`; unpacks as ``a, b = ab_gradient_descent(...)``.

    a, b: (steps + 1, *B), NaN after a trial's divergence; diverged: (*B,) True for the trials that blew up.
    """

    a: torch.Tensor
    b: torch.Tensor
    diverged: torch.Tensor

    def __iter__(self):
        return iter((self.a, self.b))

    def __len__(self) -> int:
        return 2

    def __getitem__(self, index):
        return (self.a, self.b)[index]


def ab_gradient_descent(a0, b0, s, lr, steps: int) -> ABDescent:
    """Gradient descent on E(a, b) = (s - ab)^2 / 2 with learning rate ``lr`` (the Euler step of length ``lr``
    of (9)-(10) with tau = 1), run by ``dlnlib.gradient_descent`` on the one-unit chain [a, b].

    a0, b0, s, lr broadcast to a shape B. Returns an :class:`ABDescent` that unpacks as ``(a, b)``, each
    (steps + 1, *B); iterate k sits at time t = lr k of the tau = 1 flow. A diverged trial's iterates after
    divergence are NaN, and its entry of ``diverged`` is True.
    """
    steps = check_int("steps", steps, minimum=0)
    a0, b0, s, lr = _tensors(a0=a0, b0=b0, s=s, lr=lr)
    check_positive("lr", lr)
    a0, b0, s, lr = _broadcast(a0=a0, b0=b0, s=s, lr=lr)
    check_size("steps", (steps + 1, 2, *a0.shape))  # the recorded iterates
    chain = [a0[..., None, None].clone(), b0[..., None, None].clone()]
    res = gradient_descent(chain, WhitenedSquaredError(s[..., None, None]), lr=lr, steps=steps, record=("chain",),
                           progress=False)
    bad = torch.isnan(res.history["loss"])
    out = []
    for w in res.history["chain"]:
        w = w[..., 0, 0].masked_fill(bad, float("nan"))
        if w.shape[0] < steps + 1:  # every trial diverged: the engine stopped early
            pad = w.new_full((steps + 1 - w.shape[0], *w.shape[1:]), float("nan"))
            w = torch.cat([w, pad])
        out.append(w)
    return ABDescent(out[0], out[1], res.diverged)


# ----------------------------------------------------------------------------------------------------
# exact learning curves


def mode_strength(t, s, u0, tau: float = 1.0) -> torch.Tensor:
    """Saxe et al.'s balanced (a = b) solution ``u(t) = s e^{2st/tau} / (e^{2st/tau} - 1 + s/u0)`` (notebook 02).

    The strength u = ab of one mode of a two-layer network started balanced, a0 = b0 = sqrt(u0).
    t (times >= 0), s (>= 0), u0 (> 0): numbers or tensors that broadcast -> tensor of the broadcast shape.
    Evaluated as ``1 / (e^{-2st/tau}/u0 + (1 - e^{-2st/tau})/s)``, which never overflows and tends to
    ``u0 / (1 + 2 u0 t / tau)`` as s -> 0.
    """
    t, s, u0 = _validate_curve_args(t, s, u0)
    tau = _tau(tau)
    x = 2 * s * t / tau
    safe_s = torch.where(s > 0, s, torch.ones_like(s))
    grow = torch.where(s > 0, -torch.expm1(-x) / safe_s, 2 * t / tau)
    return 1.0 / (torch.exp(-x) / u0 + grow)


def _validate_curve_args(t, s, u0):
    t, s, u0 = _tensors(t=t, s=s, u0=u0)
    if bool((t < 0).any()):
        raise ValueError(f"t: got a minimum of {float(t.min()):g}, expected times >= 0")
    if bool((s < 0).any()):
        raise ValueError(f"s: got a minimum of {float(s.min()):g}, expected singular values >= 0")
    if bool((u0 <= 0).any()):
        raise ValueError(f"u0: got a minimum of {float(u0.min()):g}, expected initial strengths > 0")
    return _broadcast(t=t, s=s, u0=u0)


def deep_mode_strength(t, s, u0, depth: int, tau: float = 1.0, *, rtol: float = 1e-11) -> torch.Tensor:
    """The balanced depth-N mode strength: ``tau du/dt = N u^{2 - 2/N} (s - u)`` (Saxe et al. 2014, Sec. 3).

    Each of the N layers carries w = u^{1/N} on the mode. depth 1: ``s + (u0 - s) e^{-t/tau}``;
    depth 2: ``mode_strength``; depth >= 3: no elementary closed form for u(t), so the scalar ODE is solved
    (in log u, scipy DOP853 at ``rtol``) for every distinct (s, u0) pair at once; ``learning_time`` gives
    the exact inverse t(u). t, s (> 0 for depth >= 3), u0 (> 0) broadcast -> tensor of the broadcast shape.
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_ode_options(rtol, 1e-13, "DOP853", 50_000)
    if depth == 2:
        return mode_strength(t, s, u0, tau)
    t, s, u0 = _validate_curve_args(t, s, u0)
    tau = _tau(tau)
    if depth == 1:
        return s + (u0 - s) * torch.exp(-t / tau)
    if bool((s <= 0).any()):
        raise ValueError(f"s: got a minimum of {float(s.min()):g}, expected singular values > 0 for depth >= 3")
    return _deep_ode(t, s, u0, depth, tau, rtol).to(device=t.device, dtype=t.dtype)


DEEP_MAX_EVALS = 50_000  # solve_ode's default, the cap deep_mode_strength always had


def _deep_ode(t, s, u0, depth, tau, rtol):
    tn, sn, un = (x.detach().cpu().double().numpy().ravel() for x in (t, s, u0))
    pairs, inverse = np.unique(np.stack([sn, un], 1), axis=0, return_inverse=True)
    times, t_idx = np.unique(tn, return_inverse=True)
    sp, lp0 = pairs[:, 0], np.log(pairs[:, 1])
    n = float(depth)

    def rhs(_t, y):  # y = log u: d log u / dt = N u^{1 - 2/N} (s - u) / tau
        u = np.exp(y)
        return n * u ** (1 - 2 / n) * (sp - u) / tau

    t_eval = times if times[0] > 0 else times[1:]
    logs = np.empty((pairs.shape[0], times.size))
    if times[0] == 0:
        logs[:, 0] = lp0
    if t_eval.size:
        # u relaxes to s at rate N s^{2 - 2/N} / tau once it got there; before (from u0 < s / 2) the flow is slow
        below = pairs[:, 1] < sp / 2
        grown = np.zeros_like(sp)
        if below.any():
            s_b = torch.from_numpy(sp[below])
            grown[below] = learning_time(s_b, torch.from_numpy(pairs[below, 1]), s_b / 2, tau, depth).numpy()
        with np.errstate(over="ignore"):
            rates = n * sp ** (2 - 2 / n) / tau
        spans = np.maximum(t_eval[-1] - np.nan_to_num(grown, nan=np.inf), 0.0)  # in doubt: no time spent at s
        worst = int(np.argmax(np.nan_to_num(rates * spans, nan=0.0)))
        _check_stiffness("t", float(rates[worst]), float(spans[worst]), DEEP_MAX_EVALS)
        ys, _ = solve_ode(rhs, (0.0, t_eval[-1]), lp0, t_eval, rtol=rtol, atol=1e-13, max_evals=DEEP_MAX_EVALS,
                          what="t")
        logs[:, times.size - t_eval.size:] = ys
    u = np.exp(logs[inverse.ravel(), t_idx.ravel()])
    return torch.from_numpy(u).reshape(t.shape)


def learning_time(s, u0, uf, tau: float = 1.0, depth: int = 2) -> torch.Tensor:
    """Exact time for a balanced mode to grow from u0 to uf (Saxe et al. 2014; notebook 02).

    depth 2: ``t = tau/(2s) ln(uf (s - u0) / (u0 (s - uf)))``; depth 1: ``tau ln((s - u0)/(s - uf))``;
    depth N >= 3: ``t = (tau/s) [F(w_f) - F(w_0)]``, w = u^{1/N},
    ``F(w) = -1/((N-2) w^{N-2}) + w^2/(2s) 2F1(1, 2/N; 1 + 2/N; w^N/s)`` (partial fractions of the ODE
    ``tau du/dt = N u^{2-2/N}(s - u)``). s (> 0), u0, uf broadcast; needs 0 < u0 and uf < s for depth >= 3,
    u0 and uf on the same side of s otherwise. Returns a tensor of the broadcast shape.
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    tau = _tau(tau)
    s, u0, uf = _broadcast(**dict(zip(("s", "u0", "uf"), _tensors(s=s, u0=u0, uf=uf))))
    if bool((s <= 0).any()):
        raise ValueError(f"s: got a minimum of {float(s.min()):g}, expected singular values > 0")
    if bool((u0 <= 0).any()) or bool((uf <= 0).any()):
        raise ValueError("u0, uf: expected strengths > 0 (a mode at 0 never leaves the saddle)")
    same_side = ((u0 - s) * (uf - s)) > 0
    if not bool(same_side.all()):
        raise ValueError("uf: expected u0 and uf on the same side of s (a mode never crosses its target s)")
    names = "s, u0, uf, tau"
    if depth == 1:
        return check_finite_result(names, tau * torch.log((s - u0) / (s - uf)))
    if depth == 2:
        return check_finite_result(names, tau / (2 * s) * torch.log(uf * (s - u0) / (u0 * (s - uf))))
    if bool((uf >= s).any()):
        raise ValueError("uf: expected 0 < u0, uf < s for depth >= 3 (the closed form covers growth from below)")
    rise = _deep_antiderivative(uf, s, depth) - _deep_antiderivative(u0, s, depth)
    return check_finite_result(names, tau / s * rise)


def _deep_antiderivative(u, s, depth):
    from scipy.special import hyp2f1

    n = float(depth)
    w = u ** (1 / n)
    z = (u / s).detach().cpu().numpy()
    f = torch.from_numpy(np.asarray(hyp2f1(1.0, 2 / n, 1 + 2 / n, z))).to(u.device, u.dtype)
    return -1.0 / ((n - 2) * w ** (n - 2)) + w * w / (2 * s) * f
