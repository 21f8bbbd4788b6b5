"""Matrix geometry behind the end-to-end dynamics: polar decompositions and the preconditioned metric (notebook 04).

Notation of seed 003 (lecture slides on Du, Hu & Lee 2018): for a square W with SVD ``W = U S V^T``,
``W = Q P`` with ``P = sqrt(W^T W) = V S V^T`` and ``Q = U V^T`` (scipy's ``polar(W, side="right")``), and
``W = R U_p^T`` with ``R = sqrt(W W^T) = U S U^T`` and ``U_p = V U^T`` (scipy's ``side="left"`` returns
``R`` and ``U_p^T``). The slides call ``W = QP`` the *left* polar decomposition; scipy calls it "right"
(the stretch acts on the right). The metric ``g_W(Z1, Z2) = <Z1, A_W^{-1}(Z2)>_F`` makes the downstairs
update ``A_W(grad F)`` the Riemannian gradient of F (Arora, Cohen & Hazan 2018).
"""

from __future__ import annotations

import torch

from .endtoend import _check_depth, _check_matrix, _gram_spectra, _weights

__all__ = ["polar_qp", "polar_ru", "svd_from_polar", "inverse_preconditioned", "preconditioned_metric"]


def _square(name: str, W) -> torch.Tensor:
    return _check_matrix(name, W, square=True)


def _like(name: str, x: torch.Tensor, other: str, like: torch.Tensor) -> torch.Size:
    """ValueError naming ``name`` unless x has the dtype, device and matrix shape of ``like`` and a batch that
    broadcasts with its batch; returns the common batch shape."""
    if x.dtype != like.dtype or x.device != like.device:
        raise ValueError(f"{name}: got {x.dtype} on {x.device}, expected {like.dtype} on {like.device} like {other}")
    if x.shape[-2:] != like.shape[-2:]:
        raise ValueError(f"{name}: got shape {tuple(x.shape)}, expected (*batch, {like.shape[-2]}, {like.shape[-1]}) "
                         f"like {other}")
    try:
        return torch.broadcast_shapes(x.shape[:-2], like.shape[:-2])
    except RuntimeError:
        raise ValueError(f"{name}: got batch shape {tuple(x.shape[:-2])}, expected one that broadcasts with {other}'s "
                         f"{tuple(like.shape[:-2])}") from None


def polar_qp(W: torch.Tensor):
    """``W = Q P``: Q orthogonal, ``P = sqrt(W^T W)`` symmetric PSD, from the SVD ``Q = U V^T, P = V S V^T``.

    W: (*batch, d, d). Returns ``(Q, P)``. P is unique; Q is unique when W is invertible.
    """
    W = _square("W", W)
    U, S, Vh = torch.linalg.svd(W)
    return U @ Vh, (Vh.transpose(-1, -2) * S.unsqueeze(-2)) @ Vh


def polar_ru(W: torch.Tensor):
    """``W = R U_p^T``: ``R = sqrt(W W^T) = U S U^T`` symmetric PSD, ``U_p = V U^T`` orthogonal (seed 003).

    W: (*batch, d, d). Returns ``(R, U_p)``.
    """
    W = _square("W", W)
    U, S, Vh = torch.linalg.svd(W)
    return (U * S.unsqueeze(-2)) @ U.transpose(-1, -2), Vh.transpose(-1, -2) @ U.transpose(-1, -2)


def svd_from_polar(Q: torch.Tensor, P: torch.Tensor):
    """The SVD ``W = U S V^T`` of ``W = Q P`` from its polar factors: ``P = V S V^T`` (eigh), ``U = Q V``.

    Q: (*batch, d, d) orthogonal; P: (*batch, d, d) symmetric PSD. Returns ``(U, S, V)`` with S descending.
    """
    Q, P = _square("Q", Q), _square("P", P)
    if Q.shape[-2:] != P.shape[-2:]:
        raise ValueError(f"Q, P: got shapes {tuple(Q.shape)} and {tuple(P.shape)}, expected the same d x d")
    _like("P", P, "Q", Q)
    tol = torch.finfo(Q.dtype).eps ** 0.5  # far above the rounding of a computed polar factor, far below any error
    eye = torch.eye(Q.shape[-1], dtype=Q.dtype, device=Q.device)
    if float((Q.transpose(-1, -2) @ Q - eye).abs().max()) > tol:
        raise ValueError(f"Q: got a matrix with Q^T Q != I (off by more than {tol:.1e}), expected an orthogonal Q")
    size = float(P.abs().max())
    if float((P - P.transpose(-1, -2)).abs().max()) > tol * size:
        raise ValueError(f"P: got a matrix with P != P^T (off by more than {tol:.1e} of its size), expected a "
                         "symmetric positive semi-definite P")
    S, V = torch.linalg.eigh(0.5 * (P + P.transpose(-1, -2)))
    if float(S.min()) < -tol * size:
        raise ValueError(f"P: got an eigenvalue {float(S.min()):.3g} < 0, expected a symmetric positive "
                         "semi-definite P")
    S, V = S.flip(-1).clamp(min=0), V.flip(-1)
    return Q @ V, S, V


def inverse_preconditioned(W: torch.Tensor, Z: torch.Tensor, depth: int) -> torch.Tensor:
    """``A_W^{-1}(Z)`` for full-rank W: ``U (U^T Z V / c) V^T`` with A_W's eigenvalues c (notebook 04).

    W, Z: (*batch, m, n); depth: N. Raises ValueError when some eigenvalue c_ik is 0 (rank-deficient W
    with N >= 2), where A_W is not invertible and the metric is not defined.
    """
    return _inverse(W, Z, depth, "Z")


def _inverse(W, Z, depth, name: str) -> torch.Tensor:
    # A_W^{-1}(Z), with Z called ``name`` in messages
    W, Z = _check_matrix("W", W), _check_matrix(name, Z)
    depth = _check_depth(depth)
    _like(name, Z, "W", W)
    lam, U, mu, V = _gram_spectra(W)
    c = _weights(lam, mu, depth)
    if bool((c <= 0).any()):
        raise ValueError("W: A_W is singular here (W is rank-deficient and N >= 2); expected a full-rank W")
    return U @ ((U.transpose(-1, -2) @ Z @ V) / c) @ V.transpose(-1, -2)


def preconditioned_metric(W: torch.Tensor, Z1: torch.Tensor, Z2: torch.Tensor, depth: int) -> torch.Tensor:
    """``g_W(Z1, Z2) = <Z1, A_W^{-1}(Z2)>_F`` (the metric of Arora et al.'s end-to-end update; notebook 04).

    W, Z1, Z2: (*batch, m, n), W of full rank. Returns (*batch,).
    """
    Z1 = _check_matrix("Z1", Z1)
    _like("Z1", Z1, "W", _check_matrix("W", W))
    return (Z1 * _inverse(W, Z2, depth, "Z2")).sum((-2, -1))
