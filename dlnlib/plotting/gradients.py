"""Plots of notebook 01: the loss landscape of the scalar chain ``y_hat = w2 w1 x`` and paths on it."""

from __future__ import annotations

import math

import numpy as np

from ..core import check_flag, check_int, check_real
from . import _axes, _data, _style, new_axes

__all__ = ["plot_scalar_landscape", "plot_path"]


def plot_scalar_landscape(ax=None, *, x: float = 1.0, y: float = 1.0, lim: float = 2.5, levels: int = 14):
    """Contours of ``E(w1, w2) = 1/2 (y - w2 w1 x)^2`` on [-lim, lim]^2 with the hyperbola of minima
    ``w1 w2 = y/x`` (notebook 01). Returns the Axes."""
    x = check_real("x", x, nonzero=True)
    y = check_real("y", y)
    lim = check_real("lim", lim, positive=True)
    check_int("levels", levels, minimum=1, maximum=200)
    if not math.isfinite(y / x):
        raise ValueError(f"x: got {x!r} with y = {y!r}, expected y / x (the minima's level w1 w2) to be finite")
    if abs(y) + lim * lim * abs(x) > 1e150:  # E would overflow float64 at the corners of the window
        raise ValueError(f"lim: got lim = {lim:g} with x = {x:g}, y = {y:g}, expected |y| + lim^2 |x| <= 1e150 (the "
                         "loss overflows float64 on the window)")
    ax = new_axes(ax, figsize=(4.6, 4.2))
    g = np.linspace(-lim, lim, 161)
    w1, w2 = np.meshgrid(g, g)
    energy = 0.5 * (y - w2 * w1 * x) ** 2
    ax.contourf(w1, w2, np.log10(energy + 1e-3), levels=levels, cmap="Blues_r", alpha=0.85)
    branch = np.linspace(0.05, lim, 200)
    c = y / x
    for sgn in (1, -1):
        w = sgn * branch
        keep = np.abs(c / w) <= lim
        ax.plot(w[keep], (c / w)[keep], color="black", lw=1.5, ls="--")
    ax.plot([], [], color="black", lw=1.5, ls="--", label=f"minima: w1 w2 = {c:g}")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("w1")
    ax.set_ylabel("w2")
    return ax


def plot_path(ax, path, *, start: bool = True, **kwargs):
    """Draw a trajectory ``path`` of shape (T, 2) (columns w1, w2; finite: cut a diverged run where it diverged),
    with a dot at its start if ``start``; ``kwargs`` are matplotlib line properties. Returns the line."""
    _axes("ax", ax)
    path = _data("path", path, "a (T, 2) array of points (w1, w2)", ndim=2)
    if path.shape[1] != 2:
        raise ValueError(f"path: got shape {path.shape}, expected a (T, 2) array of points (w1, w2)")
    check_flag("start", start)
    _style("kwargs", kwargs)
    (line,) = ax.plot(path[:, 0], path[:, 1], **kwargs)
    if start:
        ax.plot(path[0, 0], path[0, 1], "o", color=line.get_color(), ms=5)
    return line
