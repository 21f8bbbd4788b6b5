"""The end-to-end ("downstairs") dynamics of a deep linear network (Arora, Cohen & Hazan 2018; notebook 04).

From a balanced chain, layerwise gradient flow on ``E(W_1, ..., W_N) = F(W_N ... W_1)`` moves the
end-to-end matrix ``W`` by ``dW/dt = -A_W(grad F(W))`` with the preconditioning operator

    A_W(Z) = sum_{j=1}^{N} (W W^T)^{(j-1)/N} Z (W^T W)^{(N-j)/N}        (Arora et al. 2018, Theorem 1).

This module computes that operator stably (from the singular value decomposition of W, whose small singular
values keep their accuracy where the Gram matrices' eigenvalues would square the condition number; singular
values at round-off level count as zero, so singular and rank-deficient W are exact, never NaN), writes it as a
``d^2 x d^2`` matrix, gives the single-output form, and turns it into a ``direction=`` for the one
training engine ``dlnlib.gradient_descent`` so that downstairs runs are a chain of one matrix ``[W]``.
It also holds the pieces of the notebook's experiments: the upstairs/downstairs equivalence gap,
the circulation of a vector field around a loop, the l_p regression optimum and the depth
comparison batched over a learning-rate grid, and an Adam direction for the engine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from .chains import SCHEMES, _product, init_chain, layer_gradients, validate_chain
from .core import (
    MAX_DEPTH,
    MAX_STEPS,
    as_tensor,
    check_choice,
    check_int,
    check_nonneg,
    check_positive,
    check_size,
)
from .losses import LpLoss
from .train import TrainResult, gradient_descent

__all__ = [
    "psd_power",
    "gram_spectra",
    "preconditioner_weights",
    "preconditioned_gradient",
    "preconditioner_matrix",
    "upstairs_velocity",
    "single_output_update",
    "downstairs_direction",
    "downstairs_descent",
    "balanced_factorization",
    "iteration_stats",
    "EquivalenceResult",
    "equivalence_gap",
    "circulation",
    "lp_optimum",
    "lr_grid",
    "depth_comparison",
    "best_lr",
    "adam_direction",
]


# ---------------------------------------------------------------------------------------------
# Fractional powers and the preconditioning operator
# ---------------------------------------------------------------------------------------------


def _check_matrix(name: str, x, *, square: bool = False, ndim_min: int = 2) -> torch.Tensor:
    """``x`` itself when it is a finite, non-empty float32/float64 tensor of at least ``ndim_min`` dimensions (matrices
    by default, vectors with ``ndim_min=1``); ValueError naming ``name`` otherwise."""
    if not isinstance(x, torch.Tensor) or x.ndim < ndim_min or x.dtype not in (torch.float32, torch.float64) \
            or x.numel() == 0:
        shape = type(x).__name__ if not isinstance(x, torch.Tensor) else tuple(x.shape) \
            if x.dtype in (torch.float32, torch.float64) else f"{tuple(x.shape)} of dtype {x.dtype}"
        want = "(*batch, m)" if ndim_min == 1 else "(*batch, d, d)" if square else "(*batch, m, n)"
        raise ValueError(f"{name}: got {shape}, expected a floating tensor of shape {want} (float64 or float32, "
                         "non-empty)")
    if square and x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name}: got shape {tuple(x.shape)}, expected square matrices (*batch, d, d)")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite entries, expected finite numbers")
    return x


def _check_depth(depth) -> int:
    return check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)  # A_W costs O(depth) products per entry


def _clamp_spectrum(evals: torch.Tensor, size: int) -> torch.Tensor:
    # Eigenvalues of a PSD matrix below the rounding level of the largest one are zero in exact
    # arithmetic (a singular W gives Gram eigenvalues of order eps * ||W||^2, possibly negative);
    # setting them to exactly 0 makes fractional powers exact for singular W and NaN-free.
    return torch.where(evals > _round_off(evals, size), evals, torch.zeros_like(evals))


def _round_off(evals: torch.Tensor, size: int) -> torch.Tensor:
    """The size below which a computed eigenvalue of a PSD matrix is round-off of an exact 0: 8 d eps lambda_max."""
    return 8 * size * torch.finfo(evals.dtype).eps * evals.abs().amax(-1, keepdim=True)


def _sym_eigh(S: torch.Tensor):
    """Ascending eigenvalues and orthonormal eigenvectors of symmetric S (*batch, d, d).

    For d = 2 a closed-form Jacobi rotation replaces LAPACK: exact up to rounding and about ten times
    faster on large batches (``torch.linalg.eigh`` loops over the batch one small matrix at a time).
    """
    d = S.shape[-1]
    if d == 1:
        return S[..., 0, :], torch.ones_like(S)
    if d != 2:
        return torch.linalg.eigh(S)
    a, b, _, c = S.reshape(*S.shape[:-2], 4).unbind(-1)  # S is symmetric: b is the off-diagonal entry
    half_diff = 0.5 * (a - c)
    mid, rad = 0.5 * (a + c), torch.hypot(half_diff, b)
    theta = 0.5 * torch.atan2(b, half_diff)
    cos, sin = torch.cos(theta), torch.sin(theta)
    evals = torch.stack((mid - rad, mid + rad), -1)
    # columns: (-sin, cos) for mid - rad and (cos, sin) for mid + rad
    evecs = torch.stack((-sin, cos, cos, sin), -1).reshape(*S.shape[:-2], 2, 2)
    return evals, evecs


def psd_power(S: torch.Tensor, alpha: float) -> torch.Tensor:
    """``S^alpha`` for symmetric positive semi-definite ``S`` via ``eigh`` with a clamped spectrum (notebook 04).

    S: (*batch, d, d), symmetric PSD (it is symmetrised first); alpha: real >= 0, with ``S^0 = I``
    (also for singular S). Eigenvalues of size below ``8 d eps lambda_max`` are round-off of an exact 0 (of
    either sign) and count as 0, so the result is exact for singular and rank-deficient S and never NaN. A
    negative eigenvalue beyond that is a ValueError (S is not PSD), and so is a power that overflows float64.
    Returns (*batch, d, d).
    """
    S = _check_matrix("S", S, square=True)
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not math.isfinite(alpha) or alpha < 0:
        raise ValueError(f"alpha: got {alpha!r}, expected a finite real number >= 0")
    d = S.shape[-1]
    if alpha == 0:
        return torch.eye(d, dtype=S.dtype, device=S.device).expand(S.shape).clone()
    evals, evecs = _sym_eigh(0.5 * (S + S.transpose(-1, -2)))
    tol = _round_off(evals, d)
    if bool((evals < -tol).any()):
        worst = float(evals.min())
        raise ValueError(f"S: has eigenvalue {worst:.3g} < 0, beyond round-off ({float(tol.max()):.2g}); expected a "
                         "positive semi-definite matrix")
    out = (evecs * _clamp_spectrum(evals, d).pow(alpha).unsqueeze(-2)) @ evecs.transpose(-1, -2)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"S^alpha: overflows {S.dtype} (largest eigenvalue {float(evals.max()):.3g}, alpha {alpha}); "
                         "rescale S first (S^alpha = c^alpha (S / c)^alpha)")
    return out


def gram_spectra(W: torch.Tensor):
    """Clamped eigendecompositions ``W W^T = U diag(lam) U^T`` and ``W^T W = V diag(mu) V^T`` (notebook 04).

    W: (*batch, m, n). Returns ``(lam, U, mu, V)`` with lam (*batch, m), U (*batch, m, m),
    mu (*batch, n), V (*batch, n, n); eigenvalues are >= 0, tiny ones set to exactly 0.
    """
    W = _check_matrix("W", W)
    return _gram_spectra(W)


def _gram_spectra(W):
    m, n = W.shape[-2:]
    size = max(m, n)
    left, right = W @ W.transpose(-1, -2), W.transpose(-1, -2) @ W
    if m == n:  # one stacked decomposition halves the number of small tensor operations
        evals, evecs = _sym_eigh(torch.stack((left, right)))
        evals = _clamp_spectrum(evals, size)
        return evals[0], evecs[0], evals[1], evecs[1]
    lam, U = _sym_eigh(left)
    mu, V = _sym_eigh(right)
    return _clamp_spectrum(lam, size), U, _clamp_spectrum(mu, size), V


def _two_product(a, b):
    """``a * b = p + e`` exactly (Dekker's product with Veltkamp's split; no fused multiply-add needed)."""
    p = a * b
    ca, cb = 134217729.0 * a, 134217729.0 * b  # 2^27 + 1
    ah, bh = ca - (ca - a), cb - (cb - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _svd2(W):
    """Closed-form SVD of a batch of 2 x 2 matrices: ``W = U diag(s) V^T``, s descending and >= 0.

    W is a rotation by phi, a diagonal and a rotation by theta (half-angle formulas). The small singular value
    is ``|det W| / s_1`` with the determinant from exact products, so it keeps its relative accuracy even when
    it is far below eps * s_1 (LAPACK's bound is eps * s_1 absolute), at a fraction of the cost of
    ``torch.linalg.svd``, which loops over the batch one small matrix at a time. W is scaled by a power of two
    first (exact), so no intermediate overflows or underflows.
    """
    top = W.abs().amax((-2, -1))
    scale = torch.exp2(torch.floor(torch.log2(torch.where(top > 0, top, torch.ones_like(top)))))
    a, b, c, d = (W / scale[..., None, None]).reshape(*W.shape[:-2], 4).unbind(-1)
    E, F, G, H = 0.5 * (a + d), 0.5 * (a - d), 0.5 * (c + b), 0.5 * (c - b)
    Q, R = torch.hypot(E, H), torch.hypot(F, G)
    theta, phi = 0.5 * (torch.atan2(H, E) - torch.atan2(G, F)), 0.5 * (torch.atan2(H, E) + torch.atan2(G, F))
    (p1, e1), (p2, e2) = _two_product(a, d), _two_product(b, c)
    det = (p1 - p2) + (e1 - e2)
    s1 = Q + R
    s2 = det.abs() / torch.where(s1 > 0, s1, torch.ones_like(s1))
    flip = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
    cp, sp, ct, st = torch.cos(phi), torch.sin(phi), torch.cos(theta), torch.sin(theta)
    U = torch.stack((cp, -sp, sp, cp), -1).reshape(W.shape)
    V = torch.stack((ct, st * flip, -st, ct * flip), -1).reshape(W.shape)  # V = R(theta)^T, 2nd column * flip
    return U, torch.stack((s1, s2), -1) * scale[..., None], V


def _svd_roots(W, depth: int):
    """``(rho, U, nu, V)``: ``W = U diag(s) V^T`` (full U, V), ``rho = lam^{1/N}`` for the eigenvalues lam of
    ``W W^T`` (``s^{2/N}``, then zeros up to m) and ``nu`` likewise for ``W^T W`` (up to n). Singular values
    below ``4 max(m, n) eps s_max`` are round-off of an exact zero and count as 0 (exact for singular W)."""
    m, n = W.shape[-2:]
    if m == n == 2:
        U, s, V = _svd2(W)
    else:
        U, s, Vh = torch.linalg.svd(W, full_matrices=True)
        V = Vh.transpose(-1, -2)
    tol = 4 * max(m, n) * torch.finfo(W.dtype).eps * s[..., :1]
    roots = torch.where(s > tol, s, torch.zeros_like(s)).pow(2.0 / depth)
    rho = torch.nn.functional.pad(roots, (0, m - roots.shape[-1]))
    nu = torch.nn.functional.pad(roots, (0, n - roots.shape[-1]))
    return rho, U, nu, V


def preconditioner_weights(lam: torch.Tensor, mu: torch.Tensor, depth: int) -> torch.Tensor:
    """``c_ik = sum_{j=1}^N lam_i^{(j-1)/N} mu_k^{(N-j)/N}``: A_W's eigenvalues on ``u_i v_k^T`` (notebook 04).

    lam: (*batch, m) eigenvalues of W W^T; mu: (*batch, n) of W^T W (both >= 0); 0^0 = 1.
    Returns (*batch, m, n).
    """
    lam, mu = _check_matrix("lam", lam, ndim_min=1), _check_matrix("mu", mu, ndim_min=1)
    for name, x in (("lam", lam), ("mu", mu)):
        if bool((x < 0).any()):
            raise ValueError(f"{name}: got a minimum of {float(x.min()):.3g}, expected eigenvalues >= 0")
    try:
        batch = torch.broadcast_shapes(lam.shape[:-1], mu.shape[:-1])
    except RuntimeError as exc:
        raise ValueError(f"mu: batch shape {tuple(mu.shape[:-1])} does not broadcast with lam's "
                         f"{tuple(lam.shape[:-1])}") from exc
    lam, mu = lam.expand(*batch, lam.shape[-1]), mu.expand(*batch, mu.shape[-1])  # views: the weights need one batch
    depth = _check_depth(depth)
    out = _weights(lam, mu, depth)
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"lam, mu: got eigenvalues up to {max(float(lam.max()), float(mu.max())):.3g}, whose weights "
                         f"overflow {out.dtype}; expected smaller ones (rescale W first)")
    return out


def _weights(lam, mu, depth):
    return _root_weights(lam.pow(1.0 / depth), mu.pow(1.0 / depth), depth)


def _root_weights(rho, nu, depth):
    # With rho = lam^{1/N} and nu = mu^{1/N} the weights are sum_j rho^{j-1} nu^{N-j}: integer powers by
    # repeated products (starting from ones keeps 0^0 = 1).
    rho = rho.unsqueeze(-1)  # (*, m, 1)
    nu = nu.unsqueeze(-2)  # (*, 1, n)
    nu_pows = [torch.ones_like(nu)]
    for _ in range(depth - 1):
        nu_pows.append(nu_pows[-1] * nu)
    total, left = nu_pows[depth - 1].expand(*rho.shape[:-1], nu.shape[-1]), torch.ones_like(rho)
    for j in range(2, depth + 1):
        left = left * rho
        total = total + left * nu_pows[depth - j]
    return total


def preconditioned_gradient(W: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """``A_W(G) = sum_{j=1}^N (W W^T)^{(j-1)/N} G (W^T W)^{(N-j)/N}`` (Arora et al. 2018, Theorem 1; notebook 04).

    One downstairs step is ``W - eta * preconditioned_gradient(W, dF/dW, N)``. Computed in the
    singular bases of W (``U^T A_W(G) V = c * (U^T G V)``, c from ``preconditioner_weights`` with
    ``lam^{1/N} = s^{2/N}``), so it costs one SVD per matrix for any depth (a closed form for 2 x 2), keeps
    the accuracy of W's small singular values (the Gram matrices would square the condition number), is
    exact for singular W and never NaN. W: (*batch, m, n); grad: (*batch', m, n), batches broadcast;
    depth: N >= 1 (N = 1 returns grad). Returns (*broadcast batch, m, n).
    """
    W = _check_matrix("W", W)
    grad = _check_matrix("grad", grad)
    depth = _check_depth(depth)
    if grad.shape[-2:] != W.shape[-2:]:
        raise ValueError(f"grad: got shape {tuple(grad.shape)}, expected (*batch, {W.shape[-2]}, {W.shape[-1]}) like W")
    try:
        torch.broadcast_shapes(W.shape, grad.shape)
    except RuntimeError as exc:
        raise ValueError(
            f"grad: batch shape {tuple(grad.shape[:-2])} does not broadcast with W's {tuple(W.shape[:-2])}"
        ) from exc
    return _preconditioned(W, grad, depth)


def _preconditioned(W, grad, depth):
    if depth == 1:
        return grad.expand(torch.broadcast_shapes(W.shape, grad.shape)).clone()
    rho, U, nu, V = _svd_roots(W, depth)
    inner = U.transpose(-1, -2) @ grad @ V
    return U @ (_root_weights(rho, nu, depth) * inner) @ V.transpose(-1, -2)


def preconditioner_matrix(W: torch.Tensor, depth: int) -> torch.Tensor:
    """The operator ``A_W`` as a ``(m n) x (m n)`` matrix on row-major ``vec(Z) = Z.reshape(-1)`` (notebook 04).

    ``A = sum_j (W W^T)^{(j-1)/N} kron (W^T W)^{(N-j)/N}``: symmetric, positive definite when W has full
    rank (its eigenvalues are ``preconditioner_weights``). W: (*batch, m, n). Returns (*batch, m n, m n).
    """
    W = _check_matrix("W", W)
    depth = _check_depth(depth)
    m, n = W.shape[-2:]
    rho, U, nu, V = _svd_roots(W, depth)
    c = _root_weights(rho, nu, depth)  # (*, m, n)
    # Eigenvectors of A are vec(u_i v_k^T) = kron(u_i, v_k) in row-major order.
    basis = U[..., :, None, :, None] * V[..., None, :, None, :]  # (*, a, b, i, k) = U[a, i] V[b, k]
    basis = basis.reshape(*W.shape[:-2], m * n, m * n)  # kron(U, V): rows (a, b), columns (i, k)
    return (basis * c.reshape(*W.shape[:-2], 1, m * n)) @ basis.transpose(-1, -2)


def upstairs_velocity(chain, grad: torch.Tensor) -> torch.Tensor:
    """``sum_j (W_N...W_{j+1}) G_j (W_{j-1}...W_1)``, G_j = dE/dW_j: how layerwise gradients move W (notebook 04).

    Under layerwise gradient flow ``dW/dt = -upstairs_velocity(chain, dF/dW)``; for a balanced chain this
    equals ``preconditioned_gradient(W, dF/dW, N)`` (Arora et al. 2018, Theorem 1), otherwise not.
    chain: ``[W_1, ..., W_N]``; grad: dF/dW at the end-to-end matrix, (*batch, d_N, d_0).
    """
    chain = validate_chain(chain, finite=True)
    grad = _check_matrix("grad", grad)
    want = (chain[-1].shape[-2], chain[0].shape[-1])
    if tuple(grad.shape[-2:]) != want:
        raise ValueError(f"grad: got shape {tuple(grad.shape)}, expected (*batch, {want[0]}, {want[1]}) like the "
                         "chain's end-to-end matrix")
    layer = layer_gradients(chain, grad)
    total = None
    for j in range(len(chain)):
        term = layer[j]
        if j > 0:
            term = term @ _product(chain[:j])
        if j < len(chain) - 1:
            term = _product(chain[j + 1:]) @ term
        total = term if total is None else total + term
    return total


def single_output_update(w: torch.Tensor, grad: torch.Tensor, depth: int) -> torch.Tensor:
    """``||w||^{2-2/N} (g + (N-1) Pr_w g)``, ``Pr_w g = (w.g / ||w||^2) w`` (Arora et al. 2018, one output; seed 001).

    The preconditioned gradient of a single-output (1 x d) end-to-end matrix. w, grad: (*batch, 1, d);
    depth N >= 1. At w = 0 the update is 0 for N >= 2 (and g for N = 1). Returns (*batch, 1, d).
    """
    w = _check_matrix("w", w)
    grad = _check_matrix("grad", grad)
    depth = _check_depth(depth)
    if w.shape[-2] != 1 or grad.shape[-2:] != w.shape[-2:]:
        raise ValueError(
            f"w, grad: got shapes {tuple(w.shape)} and {tuple(grad.shape)}, expected (*batch, 1, d) each"
        )
    sq = (w * w).sum((-2, -1), keepdim=True)
    safe = torch.where(sq > 0, sq, torch.ones_like(sq))
    proj = torch.where(sq > 0, (w * grad).sum((-2, -1), keepdim=True) / safe, torch.zeros_like(sq)) * w
    scale = sq.pow(1.0 - 1.0 / depth)  # ||w||^{2-2/N}; 0^0 = 1 for N = 1
    return scale * (grad + (depth - 1) * proj)


# ---------------------------------------------------------------------------------------------
# Downstairs runs through the one engine
# ---------------------------------------------------------------------------------------------


def downstairs_direction(depth: int, *, factor: float = 1.0) -> Callable[[list, list], list]:
    """A ``direction=`` for ``gradient_descent`` on the chain ``[W]``: ``factor * A_W(dF/dW)`` (notebook 04).

    depth: N of the network being emulated; factor: 1 for Arora et al.'s Theorem 1, ``1/N`` for
    seed 000's Eq. (1). The returned callable maps ``([W], [G]) -> [factor * A_W(G)]``.
    """
    depth = _check_depth(depth)
    check_positive("factor", factor, allow_tensor=False)

    def direction(chain, grads):
        if len(chain) != 1:
            raise ValueError(
                f"chain: got depth {len(chain)}, expected the one-matrix chain [W] of a downstairs run"
            )
        step = _preconditioned(chain[0], grads[0], depth)
        return [step if factor == 1.0 else factor * step]

    return direction


def downstairs_descent(W0: torch.Tensor, loss, depth: int, *, lr, steps: int, factor: float = 1.0,
                       **engine_kwargs) -> TrainResult:
    """Discrete downstairs dynamics ``W <- W - lr * factor * A_W(grad F(W))`` via ``dlnlib.gradient_descent``.

    W0: (*batch, m, n) initial end-to-end matrices; loss: a ``dlnlib.losses.Loss`` of W; depth: N;
    other keywords (tol, record, weight_decay, ...) go to the engine. The result's chain is ``[W]``.
    """
    W0 = _check_matrix("W0", W0)
    return gradient_descent([W0], loss, lr=lr, steps=steps, direction=downstairs_direction(depth, factor=factor),
                            **engine_kwargs)


def balanced_factorization(W: torch.Tensor, depth: int, frames=None) -> list[torch.Tensor]:
    """A balanced chain ``[W_1, ..., W_N]`` with end-to-end matrix W (Arora et al. 2018's balanced init; notebook 04).

    With the thin SVD ``W = U S V^T`` (r = min(m, n)) the layers are ``W_j = O_j S^{1/N} O_{j-1}^T`` with
    ``O_0 = V``, ``O_N = U`` and hidden frames ``O_1, ..., O_{N-1}`` (identities unless ``frames`` gives
    N-1 matrices with r orthonormal columns, shapes (d_j, r)), so ``W_{j+1}^T W_{j+1} = W_j W_j^T =
    O_j S^{2/N} O_j^T``. Upstairs GD from this chain follows the downstairs dynamics of W. W: (*batch, m, n).
    Returns N tensors.
    """
    W = _check_matrix("W", W)
    depth = _check_depth(depth)
    if depth == 1:
        return [W.clone()]
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    root = torch.diag_embed(S.pow(1.0 / depth))
    r = S.shape[-1]
    if frames is None:
        return [root @ Vh] + [root.clone() for _ in range(depth - 2)] + [U @ root]
    if isinstance(frames, (str, bytes, torch.Tensor)) or not hasattr(frames, "__iter__"):
        raise ValueError(f"frames: got {type(frames).__name__}, expected a list of depth - 1 = {depth - 1} matrices")
    frames = list(frames)
    if len(frames) != depth - 1:
        raise ValueError(f"frames: got {len(frames)} matrices, expected depth - 1 = {depth - 1}")
    for k, O in enumerate(frames):
        O = _check_matrix(f"frames[{k}]", O)
        eye = torch.eye(r, dtype=O.dtype, device=O.device)
        if O.shape[-1] != r or not torch.allclose(O.transpose(-1, -2) @ O, eye, atol=1e-10):
            raise ValueError(f"frames[{k}]: got shape {tuple(O.shape)}, expected (d_{k + 1}, {r}) with orthonormal "
                             "columns")
    outer = [Vh.transpose(-1, -2)] + frames + [U]
    return [outer[j] @ root @ outer[j - 1].transpose(-1, -2) for j in range(1, depth + 1)]


def iteration_stats(stopped_at: torch.Tensor) -> dict:
    """Mean, sample standard deviation, (lower) median, max and count of the iterations of the trials that stopped.

    stopped_at: (*trials,) integer steps, -1 for trials that never reached the tolerance
    (``TrainResult.stopped_at``). Returns a dict of floats plus ``"converged"`` and ``"total"``.
    """
    _check_counts("stopped_at", stopped_at)
    s = stopped_at.reshape(-1)
    ok = s[s >= 0].to(torch.float64)
    if ok.numel() == 0:
        nan = float("nan")
        return {"mean": nan, "std": nan, "median": nan, "max": nan, "converged": 0, "total": s.numel()}
    return {
        "mean": float(ok.mean()),
        "std": float(ok.std()) if ok.numel() > 1 else 0.0,
        "median": float(ok.median()),
        "max": float(ok.max()),
        "converged": int(ok.numel()),
        "total": int(s.numel()),
    }


def _check_counts(name: str, counts, *, ndim_min: int = 1) -> None:
    """ValueError naming ``name`` unless ``counts`` is a non-empty integer tensor of step counts (-1 = never)."""
    if not isinstance(counts, torch.Tensor) or counts.dtype.is_floating_point or counts.dtype.is_complex \
            or counts.dtype == torch.bool or counts.ndim < ndim_min or counts.numel() == 0:
        shape = f"{counts.dtype} of shape {tuple(counts.shape)}" if isinstance(counts, torch.Tensor) \
            else type(counts).__name__
        raise ValueError(f"{name}: got {shape}, expected a non-empty integer tensor of step counts (-1: never "
                         "stopped), such as TrainResult.stopped_at")
    if bool((counts < -1).any()):
        raise ValueError(f"{name}: got a minimum of {int(counts.min())}, expected step counts >= 0 or -1")


@dataclass
class EquivalenceResult:
    """Upstairs (layerwise GD) vs downstairs end-to-end matrices over a ladder of learning rates.

    lrs: (K,); times: (T,) common times ``t = lr * step``; gap: (K, *batch, T) Frobenius distance
    ``||W_up(t) - W_down(t)||`` at each time (inf for a run that diverged on either side);
    max_gap: (K, *batch) its maximum over the times.
    """

    lrs: torch.Tensor
    times: torch.Tensor
    gap: torch.Tensor
    max_gap: torch.Tensor


def equivalence_gap(chain, loss, lrs: Sequence[float], time: float, *, points: int = 11,
                    weight_decay: float = 0.0) -> EquivalenceResult:
    """Gap between layerwise GD and the downstairs iteration at equal times, for each step size (notebook 04).

    Both are step-``lr`` discretisations of flows that coincide when the chain is balanced (Arora et
    al. 2018, Theorem 1), so the gap shrinks like O(lr) from a balanced chain and stays O(1) from an
    unbalanced one. chain: ``[W_1, ..., W_N]`` (any batch); loss: a Loss of W; lrs: K step sizes whose
    ``time / lr`` are integers; time: final time; points: number of equally spaced comparison times in
    (0, time]; weight_decay: lambda per layer upstairs (``N * lambda`` downstairs, seed 001).
    Each side is one batched ``gradient_descent`` call over the K step sizes.
    """
    chain = validate_chain(chain, finite=True)
    check_positive("time", time, allow_tensor=False)
    points = check_int("points", points, minimum=1)
    check_nonneg("weight_decay", weight_decay)
    lr_list = _rates("lrs", lrs).tolist()
    steps_k = []
    for lr in lr_list:
        s = time / lr
        if s > MAX_STEPS:
            raise ValueError(f"time: got {time:g}, which takes time / lr = {s:.3g} steps at lr = {lr:g}; expected at "
                             f"most {MAX_STEPS:,} steps")
        if abs(s - round(s)) > 1e-9 * max(1.0, s) or round(s) % points or round(s) < points:
            raise ValueError(
                f"lrs: time / lr = {s:g} for lr = {lr:g}; expected an integer multiple of points = {points}"
            )
        steps_k.append(round(s))
    depth = len(chain)
    dev, dt = chain[0].device, chain[0].dtype
    lr_t = torch.tensor(lr_list, dtype=dt, device=dev)
    batch = torch.broadcast_shapes(*(w.shape[:-2] for w in chain))
    lr_b = lr_t.reshape(-1, *([1] * len(batch)))
    stacked = [w.expand(len(lr_list), *batch, *w.shape[-2:]).clone() for w in chain]
    rec = sorted({s * q // points for s in steps_k for q in range(1, points + 1)})
    up = gradient_descent(stacked, loss, lr=lr_b, steps=max(steps_k), record=("end_to_end",), record_steps=rec,
                          weight_decay=weight_decay, progress=False)
    down = downstairs_descent(_product(stacked), loss, depth, lr=lr_b, steps=max(steps_k), record=("end_to_end",),
                              record_steps=rec, weight_decay=depth * weight_decay, progress=False)
    gap = torch.full((len(steps_k), *batch, points), float("inf"), dtype=dt, device=dev)
    rows_up = {int(s): i for i, s in enumerate(up.steps.tolist())}
    rows_down = {int(s): i for i, s in enumerate(down.steps.tolist())}
    for k, s in enumerate(steps_k):
        for q in range(1, points + 1):
            step = s * q // points
            if step in rows_up and step in rows_down:  # absent only when every trial diverged earlier
                diff = up.history["end_to_end"][rows_up[step], k] - down.history["end_to_end"][rows_down[step], k]
                gap[k, ..., q - 1] = torch.linalg.matrix_norm(diff)
    # A run that diverged has no trajectory to compare with: its gap stays infinite.
    diverged = (up.diverged | down.diverged).reshape(len(steps_k), *batch)
    gap = torch.where(diverged[..., None] | ~torch.isfinite(gap), torch.full_like(gap, float("inf")), gap)
    times = torch.linspace(time / points, time, points, dtype=dt)
    return EquivalenceResult(lrs=lr_t, times=times, gap=gap, max_gap=gap.amax(-1))


CIRCULATION_MAX_POINTS = 10**7


def circulation(field: Callable[[torch.Tensor], torch.Tensor], W0: torch.Tensor, E1: torch.Tensor,
                E2: torch.Tensor, *, radius: float = 1.0, points: int = 256) -> torch.Tensor:
    """Line integral ``oint <V(W), dW>`` of a matrix field around ``W0 + r (cos t E1 + sin t E2)`` (notebook 04).

    Zero for every closed loop when ``V`` is the gradient of a function; a clearly non-zero value proves
    that it is not (Arora et al. 2018's theorem that the end-to-end update is no gradient). field: maps
    (points, m, n) to (points, m, n); W0, E1, E2: (m, n). The trapezoid rule on a periodic integrand is
    spectrally accurate. Returns a 0-d tensor.
    """
    W0 = _check_matrix("W0", W0)
    E1 = _check_matrix("E1", E1)
    E2 = _check_matrix("E2", E2)
    if not (W0.shape == E1.shape == E2.shape) or W0.ndim != 2:
        raise ValueError(f"W0, E1, E2: got {tuple(W0.shape)}, {tuple(E1.shape)}, {tuple(E2.shape)}, "
                         "expected three matrices of the same shape (m, n)")
    check_positive("radius", radius, allow_tensor=False)
    points = check_int("points", points, minimum=8, maximum=CIRCULATION_MAX_POINTS,
                       why=" (the trapezoid rule on a smooth loop converges long before)")
    check_size("points", (points, *W0.shape))
    if not callable(field):
        raise ValueError(f"field: got {type(field).__name__}, expected a callable W -> V(W)")
    t = torch.arange(points, dtype=W0.dtype, device=W0.device) * (2 * math.pi / points)
    c, s = torch.cos(t)[:, None, None], torch.sin(t)[:, None, None]
    W = W0 + radius * (c * E1 + s * E2)
    dW = radius * (-s * E1 + c * E2)
    V = field(W)
    if not isinstance(V, torch.Tensor) or V.shape != W.shape:
        shape = tuple(V.shape) if isinstance(V, torch.Tensor) else type(V).__name__
        raise ValueError(f"field: returned {shape} for loop points of shape {tuple(W.shape)}, expected a tensor of "
                         "that same shape")
    out = (V * dW).sum((-2, -1)).mean() * (2 * math.pi)
    if not bool(torch.isfinite(out)):
        raise ValueError(f"field: its values on the loop of radius {radius:g} are NaN or overflow {out.dtype}, "
                         "expected a field that stays finite there (a smaller radius)")
    return out


# ---------------------------------------------------------------------------------------------
# l_p regression: optimum, depth comparison over a learning-rate grid, Adam
# ---------------------------------------------------------------------------------------------


LP_MAX_ITERS = 10_000


def lp_optimum(loss: LpLoss, *, iters: int = 100, tol: float = 1e-13):
    """Minimiser and minimum of the convex l_p regression loss (damped Newton from least squares; notebook 04).

    loss: a ``dlnlib.LpLoss`` with X (n, d_in), Y (n, d_out) (outputs decouple: one Newton solve per
    output). Returns ``(W_star (d_out, d_in), L_star (0-d tensor))``; for p = 2 the least-squares
    solution. The least-squares start comes from a Householder QR of X (``torch.linalg.lstsq``'s default driver
    gave run-to-run last-bit differences). iters: Newton steps allowed, 1 to ``LP_MAX_ITERS``; tol: the
    Newton decrement at which to stop. Raises ValueError if X has rank < d_in (no unique minimiser) or if
    Newton has not converged within ``iters`` steps.
    """
    if not isinstance(loss, LpLoss):
        raise ValueError(f"loss: got {type(loss).__name__}, expected a dlnlib.LpLoss")
    iters = check_int("iters", iters, minimum=1, maximum=LP_MAX_ITERS, why=" (Newton converges in tens of steps)")
    check_positive("tol", tol, allow_tensor=False)
    X, Y, p = loss.X, loss.Y, loss.p
    if torch.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError(f"loss: X has rank {int(torch.linalg.matrix_rank(X))} < d_in = {X.shape[1]}, "
                         "expected full column rank (a unique l_p optimum)")
    Q, R = torch.linalg.qr(X)
    W = torch.linalg.solve_triangular(R, Q.T @ Y, upper=True).T.contiguous()  # (d_out, d_in)
    if p != 2.0:
        converged = False
        n = X.shape[0]
        for _ in range(iters):
            r = X @ W.T - Y  # (n, d_out)
            g = loss.grad(W)  # (d_out, d_in)
            h = torch.einsum("no,ni,nj->oij", (p - 1) * r.abs().pow(p - 2), X, X) / n
            step = torch.linalg.solve(h, g.unsqueeze(-1)).squeeze(-1)
            t, f0 = 1.0, loss.value(W)
            while loss.value(W - t * step) > f0 and t > 1e-12:  # backtracking keeps Newton monotone
                t *= 0.5
            W = W - t * step
            if float((g * step).sum()) < tol * max(1.0, float(f0)):
                converged = True
                break
        if not converged:
            raise ValueError(f"iters: Newton's method did not reach tol = {tol:g} in {iters} steps; allow more "
                             "steps or a larger tol")
    return W, loss.value(W)


def lr_grid(lo: float = 1e-3, hi: float = 1.0) -> torch.Tensor:
    """Learning rates ``{1, 2, 5} x 10^k`` between ``lo`` and ``hi`` (the 1-2-5 grid style of seed 001)."""
    check_positive("lo", lo, allow_tensor=False)
    check_positive("hi", hi, allow_tensor=False)
    if hi < lo:
        raise ValueError(f"hi: got {hi!r} < lo = {lo!r}, expected hi >= lo")
    vals = []
    for k in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1):
        for m in (1.0, 2.0, 5.0):
            v = float(f"{m * 10.0**k:.12g}")
            if lo * (1 - 1e-12) <= v <= hi * (1 + 1e-12):
                vals.append(v)
    return torch.tensor(vals, dtype=torch.float64)


def depth_comparison(loss, depths: Sequence[int], lrs, *, width: int = 50, init: str = "gaussian",
                     scale: float = 0.01, steps: int = 1000, record_every: int = 10, seed: int = 0,
                     optimizer: str = "gd") -> dict[int, TrainResult]:
    """Train depth-N linear networks on one loss, every learning rate of a grid in one batched run per depth.

    Arora et al. 2018's l_p experiment (notebook 04): hidden layers ``width`` wide, init ``init`` with
    ``scale`` (``dlnlib.init_chain`` schemes; "gaussian" near zero, "identity" near identity),
    the same seed for every depth. loss: a Loss with in_dim/out_dim; lrs: (K,) grid;
    optimizer: "gd" (the engine's plain step) or "adam" (``adam_direction``). Returns depth -> TrainResult
    with batch shape (K,).
    """
    if getattr(loss, "in_dim", None) is None or getattr(loss, "out_dim", None) is None:
        raise ValueError(f"loss: got {type(loss).__name__}, expected a Loss with fixed in_dim and out_dim (LpLoss)")
    lrs = _rates("lrs", lrs)
    width = check_int("width", width, minimum=1)
    check_size("width", (lrs.numel(), width, width))
    check_choice("init", init, SCHEMES)
    check_choice("optimizer", optimizer, ("gd", "adam"))
    if isinstance(depths, (str, bytes)) or not hasattr(depths, "__iter__"):
        raise ValueError(f"depths: got {depths!r}, expected a list of depths such as [1, 2, 3]")
    depths = [check_int("depths", n, minimum=1, maximum=MAX_DEPTH) for n in depths]
    if not depths:
        raise ValueError("depths: got an empty list, expected at least one depth")
    out = {}
    for depth in depths:
        dims = [loss.in_dim] + [width] * (depth - 1) + [loss.out_dim]
        chain = init_chain(dims, init, scale=scale, batch=(lrs.numel(),), seed=seed, device=_loss_device(loss))
        direction = adam_direction() if optimizer == "adam" else None
        out[depth] = gradient_descent(chain, loss, lr=lrs.to(chain[0]), steps=steps, record_every=record_every,
                                      direction=direction, progress=False)
    return out


def _rates(name: str, lrs) -> torch.Tensor:
    """Learning rates as a 1-D float64 tensor (on the CPU unless already a tensor), each finite and > 0."""
    rates = as_tensor(name, lrs, device=lrs.device if isinstance(lrs, torch.Tensor) else "cpu",
                      dtype=torch.float64).reshape(-1)
    if rates.numel() == 0:
        raise ValueError(f"{name}: got an empty list, expected at least one learning rate")
    return check_positive(name, rates)


def _is_finite_real(x) -> bool:
    """True for a finite real number: a Python or NumPy one, or a one-element real tensor (such as lp_optimum's L*)."""
    if isinstance(x, torch.Tensor):
        return x.numel() == 1 and x.is_floating_point() and bool(torch.isfinite(x).all())
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x)


def _loss_device(loss) -> torch.device:
    """The device a loss keeps its data on (CPU when it holds no tensor)."""
    for value in vars(loss).values():
        if isinstance(value, torch.Tensor):
            return value.device
    return torch.device("cpu")


def best_lr(result: TrainResult, optimum: float = 0.0):
    """Index of the grid point with the lowest final loss among trials that did not diverge, and its curve.

    result: a ``TrainResult`` with batch shape (K,); optimum: subtracted from the losses.
    Returns ``(k, curve (T,))`` with ``curve = loss - optimum`` of trial k.
    """
    if not isinstance(result, TrainResult):
        raise ValueError(f"result: got {type(result).__name__}, expected the TrainResult of a gradient_descent run")
    if not _is_finite_real(optimum):
        raise ValueError(f"optimum: got {optimum!r}, expected a finite number (the minimum loss)")
    final = result.final_loss.reshape(-1).clone()
    final[result.diverged.reshape(-1)] = float("inf")
    if not torch.isfinite(final).any():
        raise ValueError("result: every grid point diverged, expected at least one finite run")
    k = int(final.argmin())
    return k, result.losses.reshape(result.losses.shape[0], -1)[:, k] - optimum


def adam_direction(*, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> Callable[[list, list], list]:
    """Adam (Kingma & Ba 2015) as a stateful ``direction=`` for ``gradient_descent``: ``m_hat / (sqrt(v_hat) + eps)``.

    The engine multiplies the direction by ``lr`` (a tensor per trial is fine), so Adam needs no loop of
    its own: the moments live in this closure, updated once per engine step. Use a fresh closure for
    each run. betas: (beta1, beta2) in [0, 1); eps > 0.
    """
    pair = None if isinstance(betas, (str, bytes)) or not hasattr(betas, "__iter__") else list(betas)
    if pair is None or len(pair) != 2 or not all(_is_finite_real(b) for b in pair):
        raise ValueError(f"betas: got {betas!r}, expected a pair (beta1, beta2) of numbers in [0, 1)")
    b1, b2 = (float(b) for b in betas)
    for name, b in (("betas[0]", b1), ("betas[1]", b2)):
        if not 0.0 <= b < 1.0:
            raise ValueError(f"{name}: got {b!r}, expected a number in [0, 1)")
    check_positive("eps", eps, allow_tensor=False)
    state = {"t": 0, "m": None, "v": None}

    def direction(chain, grads):
        state["t"] += 1
        t = state["t"]
        if state["m"] is None:
            state["m"] = [torch.zeros_like(g) for g in grads]
            state["v"] = [torch.zeros_like(g) for g in grads]
        elif any(m.shape != g.shape for m, g in zip(state["m"], grads)):
            raise ValueError(
                "adam_direction: the trials' batch changed between steps (a fresh closure is needed per run;"
                " with tol= the engine may drop stopped trials, so run Adam without tol)"
            )
        out = []
        for m, v, g in zip(state["m"], state["v"], grads):
            m.mul_(b1).add_(g, alpha=1 - b1)
            v.mul_(b2).addcmul_(g, g, value=1 - b2)
            out.append((m / (1 - b1**t)) / ((v / (1 - b2**t)).sqrt() + eps))
        return out

    return direction

