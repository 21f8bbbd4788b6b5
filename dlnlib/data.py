"""Datasets of the series: teacher matrices, seed 000's completion targets, scikit-learn sets.

Convention: ``X`` of shape ``(n, d_in)`` with samples as rows and ``Y`` of shape ``(n, d_out)``.
(The seeds write X as d x n; the transpose happens here, once.)
"""

from __future__ import annotations

import math

import torch

from .core import check_int, check_nonneg, get_device, make_generator, resolve_dtype

__all__ = ["teacher_regression", "completion_targets", "whitened_gaussian"]


def teacher_regression(
    d_in: int, d_out: int, n: int, *, noise: float = 0.0, generator=None, seed=None, device=None, dtype=None
):
    """Data from a random linear teacher: ``Y = X A^T + noise``, X standard normal, A Gaussian/sqrt(d_in).

    Returns ``(X, Y, A)`` with X (n, d_in), Y (n, d_out), A (d_out, d_in).
    """
    d_in = check_int("d_in", d_in, minimum=1)
    d_out = check_int("d_out", d_out, minimum=1)
    n = check_int("n", n, minimum=1)
    check_nonneg("noise", noise)
    gen = make_generator(seed=seed, generator=generator)
    a = torch.randn(d_out, d_in, generator=gen, dtype=torch.float64) / math.sqrt(d_in)
    x = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
    y = x @ a.T + noise * torch.randn(n, d_out, generator=gen, dtype=torch.float64)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt), a.to(dev, dt)


def whitened_gaussian(d: int, n: int, *, generator=None, seed=None, device=None, dtype=None) -> torch.Tensor:
    """Inputs X (n, d) whose empirical covariance ``X^T X / n`` is exactly the identity (n >= d)."""
    d = check_int("d", d, minimum=1)
    n = check_int("n", n, minimum=d)
    gen = make_generator(seed=seed, generator=generator)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    x = x - x.mean(0)
    cov = x.T @ x / n
    evals, evecs = torch.linalg.eigh(cov)
    x = x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    return x.to(get_device(device), resolve_dtype(dtype))


def completion_targets(d: int, trials=(), *, generator=None, seed=None, device=None, dtype=None) -> torch.Tensor:
    """Seed 000's random targets ``Phi`` (standard normal d x d), one per trial: shape ``(*trials, d, d)``."""
    from .core import check_batch

    d = check_int("d", d, minimum=1)
    shape = check_batch("trials", trials)
    gen = make_generator(seed=seed, generator=generator)
    phi = torch.randn(*shape, d, d, generator=gen, dtype=torch.float64)
    return phi.to(get_device(device), resolve_dtype(dtype))
