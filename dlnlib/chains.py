"""Chains of weight matrices ``[W_1, ..., W_N]``: initialisation, products and layer gradients.

Convention (DESIGN.md): ``W_1`` acts first, ``W_j`` has shape ``(*batch, d_j, d_{j-1})`` and the
end-to-end matrix is ``W = W_N ... W_1`` of shape ``(*batch, d_N, d_0)``. Leading batch
dimensions are independent trials or grid points.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .core import (
    as_tensor,
    batched_matmul,
    check_batch,
    check_choice,
    check_nonneg,
    check_size,
    get_device,
    make_generator,
    resolve_dtype,
)

__all__ = ["SCHEMES", "init_chain", "end_to_end", "layer_gradients", "validate_chain", "apply_chain"]

SCHEMES = ("default", "gaussian", "orthogonal", "balanced", "identity", "zero")


def _check_dims(dims) -> list[int]:
    try:
        dims = list(dims)
    except TypeError as exc:
        raise ValueError(f"dims: got {dims!r}, expected a list [d_0, d_1, ..., d_N] of positive integers") from exc
    if len(dims) < 2:
        raise ValueError(f"dims: got {dims!r}, expected at least two widths [d_0, d_1] (depth >= 1)")
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int,)) or d < 1:
            raise ValueError(f"dims: got {dims!r}, expected positive integers")
    return [int(d) for d in dims]


def _semi_orthogonal(rows: int, cols: int, batch, gen) -> torch.Tensor:
    # Haar-distributed matrix with orthonormal rows or columns (whichever is fewer), via QR with sign fix.
    big, small = max(rows, cols), min(rows, cols)
    g = torch.randn(*batch, big, small, generator=gen, dtype=torch.float64)
    q, r = torch.linalg.qr(g)
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    return q if rows >= cols else q.transpose(-1, -2)


def init_chain(
    dims: Sequence[int],
    scheme: str = "default",
    *,
    scale: float | None = None,
    batch=(),
    generator: torch.Generator | None = None,
    seed: int | None = None,
    device=None,
    dtype=None,
) -> list[torch.Tensor]:
    """A chain ``[W_1, ..., W_N]`` with ``W_j`` of shape ``(*batch, d_j, d_{j-1})``; ``dims = [d_0, ..., d_N]``.

    Schemes (``scale`` defaults in brackets):
      - ``"default"``: PyTorch ``nn.Linear``'s uniform(-b, b), b = scale/sqrt(d_{j-1}) [1].
      - ``"gaussian"``: i.i.d. normal entries with standard deviation ``scale`` [1/sqrt(d_{j-1})].
      - ``"orthogonal"``: ``scale`` times a Haar semi-orthogonal matrix [1].
      - ``"balanced"``: ``W_{j+1}^T W_{j+1} = W_j W_j^T`` exactly (Arora et al. 2019's procedure): a
        Gaussian end-to-end target A (entries of std ``scale`` [1/sqrt(d_0)]) with SVD U S V^T, rank
        r = min(dims), split as W_j = O_j S^{1/N} O_{j-1}^T with O_0 = V, O_N = U and random
        orthonormal O_j in between; works for rectangular widths.
      - ``"identity"``: eye(d_j, d_{j-1}) plus i.i.d. normal noise of std ``scale`` [0].
      - ``"zero"``: all zeros (``scale`` ignored).
    Randomness comes only from ``generator`` or ``seed``; draws happen on the CPU in float64 and are
    then moved, so a seed gives the same chain on every device.
    """
    dims = _check_dims(dims)
    check_choice("scheme", scheme, SCHEMES)
    if scale is not None:
        check_nonneg("scale", scale)
    batch = check_batch("batch", batch)
    for j in range(1, len(dims)):
        check_size("dims" if math.prod(batch) <= 1 else "dims/batch", (*batch, dims[j], dims[j - 1]))
    dev = get_device(device)
    dt = resolve_dtype(dtype, dev)
    gen = make_generator(seed=seed, generator=generator)
    n = len(dims) - 1
    chain: list[torch.Tensor] = []
    if scheme == "balanced":
        chain = _balanced(dims, batch, gen, scale)
    else:
        for j in range(1, n + 1):
            rows, cols = dims[j], dims[j - 1]
            if scheme == "default":
                b = (1.0 if scale is None else scale) / math.sqrt(cols)
                w = (torch.rand(*batch, rows, cols, generator=gen, dtype=torch.float64) * 2 - 1) * b
            elif scheme == "gaussian":
                s = 1.0 / math.sqrt(cols) if scale is None else scale
                w = torch.randn(*batch, rows, cols, generator=gen, dtype=torch.float64) * s
            elif scheme == "orthogonal":
                w = _semi_orthogonal(rows, cols, batch, gen) * (1.0 if scale is None else scale)
            elif scheme == "identity":
                w = torch.eye(rows, cols, dtype=torch.float64).expand(*batch, rows, cols).clone()
                if scale:
                    w = w + scale * torch.randn(*batch, rows, cols, generator=gen, dtype=torch.float64)
            else:  # zero
                w = torch.zeros(*batch, rows, cols, dtype=torch.float64)
            chain.append(w)
    chain = [w.to(device=dev, dtype=dt) for w in chain]
    if scale is not None and not all(bool(torch.isfinite(w).all()) for w in chain):
        raise ValueError(f"scale: got {scale!r}, which overflows {dt} in the weights; expected a smaller scale")
    return chain


def _balanced(dims, batch, gen, scale) -> list[torch.Tensor]:
    n = len(dims) - 1
    d0, dn = dims[0], dims[-1]
    r = min(dims)
    s = 1.0 / math.sqrt(d0) if scale is None else scale
    a = torch.randn(*batch, dn, d0, generator=gen, dtype=torch.float64) * s
    u, sv, vh = torch.linalg.svd(a, full_matrices=False)
    root = torch.diag_embed(sv[..., :r] ** (1.0 / n))
    frames = [vh[..., :r, :].transpose(-1, -2)]  # O_0 = V_r, shape (d_0, r)
    for j in range(1, n):
        frames.append(_semi_orthogonal(dims[j], r, batch, gen))
    frames.append(u[..., :, :r])  # O_N = U_r
    return [frames[j] @ root @ frames[j - 1].transpose(-1, -2) for j in range(1, n + 1)]


def validate_chain(chain, name: str = "chain", *, finite: bool = False) -> list[torch.Tensor]:
    """Check that ``chain`` is a non-empty list of float32/float64 tensors of one dtype, on one device, whose
    shapes chain; return it as a list. finite: also refuse NaN and infinite entries (public entry points; the
    engine's inner steps skip it, since a diverging trial must reach the divergence check, not an error)."""
    if isinstance(chain, torch.Tensor):
        chain = [chain]
    try:
        chain = list(chain)
    except TypeError as exc:
        raise ValueError(f"{name}: got {type(chain).__name__}, expected a list [W_1, ..., W_N] of tensors") from exc
    if not chain:
        raise ValueError(f"{name}: got an empty list, expected depth N >= 1")
    for j, w in enumerate(chain, start=1):
        if not isinstance(w, torch.Tensor) or w.ndim < 2:
            shape = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise ValueError(f"{name}: W_{j} is {shape}, expected a tensor of shape (*batch, d_{j}, d_{j - 1})")
    for j, w in enumerate(chain, start=1):
        if w.dtype not in (torch.float32, torch.float64):
            raise ValueError(f"{name}: W_{j} has dtype {w.dtype}, expected torch.float64 or torch.float32"
                             " (convert with [w.double() for w in chain])")
        if w.dtype != chain[0].dtype:
            raise ValueError(f"{name}: W_{j} is {w.dtype} but W_1 is {chain[0].dtype}; expected one dtype for every"
                             " layer (convert with [w.double() for w in chain])")
        if w.device != chain[0].device:
            raise ValueError(f"{name}: W_{j} is on {w.device} but W_1 on {chain[0].device}; expected one device"
                             " for every layer (move them with [w.to(device) for w in chain])")
        if finite and not bool(torch.isfinite(w).all()):
            raise ValueError(f"{name}: W_{j} contains NaN or infinite entries, expected finite numbers")
    for j in range(1, len(chain)):
        prev, cur = chain[j - 1], chain[j]
        if cur.shape[-1] != prev.shape[-2]:
            raise ValueError(
                f"{name}: W_{j + 1} has shape {tuple(cur.shape)} but W_{j} has shape {tuple(prev.shape)};"
                f" expected W_{j + 1}.shape[-1] == W_{j}.shape[-2] (dims must chain)"
            )
    try:
        torch.broadcast_shapes(*(w.shape[:-2] for w in chain))
    except RuntimeError as exc:
        shapes = [tuple(w.shape[:-2]) for w in chain]
        raise ValueError(f"{name}: batch shapes {shapes} do not broadcast") from exc
    return chain


def end_to_end(chain) -> torch.Tensor:
    """The end-to-end matrix ``W = W_N ... W_1``, shape ``(*batch, d_N, d_0)``."""
    return _product(validate_chain(chain, finite=True))


def _product(chain) -> torch.Tensor:
    return _prefix_products(chain)[-1]


def _prefix_products(chain) -> list[torch.Tensor]:
    """``[W_1, W_2 W_1, ..., W_N ... W_1]``: every partial product from the bottom, built once."""
    out = [chain[0]]
    for layer in chain[1:]:
        out.append(layer @ out[-1])
    return out


def apply_chain(chain, X) -> torch.Tensor:
    """Network outputs for data rows: ``X`` of shape ``(*batch, n, d_0)`` -> ``(*batch, n, d_N)``."""
    W = end_to_end(chain)
    X = as_tensor("X", X, device=W.device, dtype=W.dtype, ndim_min=2)
    if X.shape[-1] != W.shape[-1]:
        raise ValueError(f"X: got shape {tuple(X.shape)}, expected (*batch, n, {W.shape[-1]}): rows of the "
                         f"chain's input dimension d_0 = {W.shape[-1]}")
    try:
        torch.broadcast_shapes(X.shape[:-2], W.shape[:-2])
    except RuntimeError:
        raise ValueError(f"X: got batch shape {tuple(X.shape[:-2])}, which does not broadcast with the chain's "
                         f"{tuple(W.shape[:-2])}") from None
    return batched_matmul(X, W.transpose(-1, -2))


def layer_gradients(chain, grad_w: torch.Tensor) -> list[torch.Tensor]:
    """Chain rule for a loss of the end-to-end map: ``dL/dW_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T``.

    chain: ``[W_1, ..., W_N]``; grad_w: ``G = dL/dW`` of shape ``(*batch, d_N, d_0)``.
    Returns one tensor per layer with ``W_j``'s shape (batch broadcast). Costs O(N) matmuls.
    """
    chain = validate_chain(chain, finite=True)
    if not isinstance(grad_w, torch.Tensor) or grad_w.ndim < 2 or \
            grad_w.shape[-2:] != (chain[-1].shape[-2], chain[0].shape[-1]):
        shape = tuple(grad_w.shape) if isinstance(grad_w, torch.Tensor) else type(grad_w).__name__
        raise ValueError(
            f"grad_w: got {shape}, expected (*batch, {chain[-1].shape[-2]}, {chain[0].shape[-1]})"
            " like the end-to-end matrix"
        )
    if grad_w.dtype != chain[0].dtype or grad_w.device != chain[0].device:
        raise ValueError(f"grad_w: got {grad_w.dtype} on {grad_w.device}, expected {chain[0].dtype} on "
                         f"{chain[0].device} like the chain")
    if not bool(torch.isfinite(grad_w).all()):
        raise ValueError("grad_w: contains NaN or infinite entries, expected finite numbers")
    try:
        torch.broadcast_shapes(grad_w.shape[:-2], *(w.shape[:-2] for w in chain))
    except RuntimeError as exc:
        raise ValueError(f"grad_w: batch shape {tuple(grad_w.shape[:-2])} does not broadcast with the chain's") from exc
    return _layer_gradients(chain, grad_w)


def _layer_gradients(chain, grad_w, prefixes=None, *, diagonal: bool = False) -> list[torch.Tensor]:
    """Back-propagate ``G = grad_w`` through the chain: ``dL/dW_j = (W_N...W_{j+1})^T G (W_{j-1}...W_1)^T``.

    prefixes: ``_prefix_products`` of the chain when already computed (only the first N-1 are used).
    diagonal: ``grad_w`` holds only the diagonal of a square ``G``, shape ``(*batch, d)``; the two products
    that touch G are then row and column scalings, exactly the non-zero terms of the dense products.
    """
    n = len(chain)
    if prefixes is None:
        prefixes = _prefix_products(chain[:-1]) if n > 1 else []
    grads = [None] * n
    left = grad_w  # (W_N ... W_{j+1})^T G, built from the top
    for j in range(n - 1, 0, -1):  # 0-based layer j; the product below it is prefixes[j - 1]
        below_t = prefixes[j - 1].mT
        if diagonal and j == n - 1:
            grads[j] = left[..., :, None] * below_t
            left = chain[j].mT * left[..., None, :]
        else:
            grads[j] = left @ below_t
            left = chain[j].mT @ left
    if diagonal and n == 1:
        left = torch.diag_embed(left)
        left = left.expand(*torch.broadcast_shapes(left.shape, chain[0].shape))
    grads[0] = left
    return grads
