"""Figures of notebook 03 (Du, Hu & Lee 2018): rescaling, invariant drift, drift ladders, norm-ratio bands.

Every function draws on the axes it is given (or a new one) and returns the Axes.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullLocator

from . import _np, new_axes

__all__ = ["plot_rescaling", "plot_drift", "plot_drift_ladder", "plot_band", "plot_layer_norms"]

# Float64 round-off: values below this are drawn on the floor so a log axis can show "zero".
FLOOR = 1e-17


def plot_rescaling(cs, changes: dict, *, ax=None):
    """Relative output change ``max|f_c - f| / max|f|`` against the rescaling factor c, one line per activation.

    cs: (C,) factors; changes: activation name -> (C,) relative changes. Values below 1e-17 sit on the floor.
    """
    ax = new_axes(ax)
    x = _np(cs)
    for name, y in changes.items():
        ax.plot(x, np.maximum(_np(y), FLOOR), marker="o", ms=3, label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(FLOOR, color="0.6", lw=0.8, ls=":")
    ax.set_xlabel(r"rescaling factor $c$")
    ax.set_ylabel("relative output change")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_drift(times, drift, *, ax=None, label=None, color=None, ls="-"):
    """Invariant drift against time on a log axis: the median over trials (drift of shape (T, *B) or (T,)).

    Zero drift at t = 0 is skipped; values below 1e-17 sit on the floor.
    """
    ax = new_axes(ax)
    t = _np(times)
    y = _np(drift).reshape(len(t), -1)
    med = np.median(y, axis=1)
    keep = t > t[0]
    ax.plot(t[keep], np.maximum(med[keep], FLOOR), label=label, color=color, ls=ls)
    ax.set_yscale("log")
    ax.set_xlabel("time $t$")
    ax.set_ylabel("relative drift")
    return ax


def plot_drift_ladder(ladder, *, ax=None, label=None, color=None, predicted=None):
    """Drift per unit time against the learning rate (log-log) with the fitted power law.

    ladder: a ``dlnlib.balance.DriftLadder``; each trial is a faint dot, the median a marker; the fitted
    line is labelled with its slope. predicted: optional slope-1 prediction ``rate * lr`` (rate per unit time).
    """
    ax = new_axes(ax)
    lrs = _np(ladder.lrs)
    per_time = _np(ladder.drift).reshape(len(lrs), -1) / _np(ladder.times)[:, None]
    for k in range(per_time.shape[1]):
        ax.plot(lrs, per_time[:, k], ".", color=color or "0.5", alpha=0.25, ms=3)
    (pts,) = ax.plot(lrs, np.median(per_time, axis=1), "o", color=color, ms=5)
    fit = np.exp(ladder.intercept) * lrs**ladder.slope
    ax.plot(lrs, fit, color=pts.get_color(), lw=1.2,
            label=f"{label + ': ' if label else ''}slope {ladder.slope:.3f}")
    if predicted is not None:
        ax.plot(lrs, predicted * lrs, color=pts.get_color(), lw=1, ls="--", label="first-order prediction")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(lrs, labels=[f"{v:g}" for v in lrs])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlabel(r"learning rate $\eta$")
    ax.set_ylabel("drift per unit time")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_band(x, y, *, ax=None, label=None, color=None, logy=False, individual: int = 0, ls="-"):
    """Median and 10-90% band over trials of ``y`` (T, *B) against ``x`` (T,), plus ``individual`` runs."""
    ax = new_axes(ax)
    xs = _np(x)
    ys = _np(y).reshape(len(xs), -1)
    med = np.median(ys, axis=1)
    (line,) = ax.plot(xs, med, color=color, lw=2, label=label, ls=ls)
    if ys.shape[1] > 1:
        lo, hi = np.quantile(ys, [0.1, 0.9], axis=1)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    for k in range(min(individual, ys.shape[1])):
        ax.plot(xs, ys[:, k], color=line.get_color(), lw=0.6, alpha=0.5)
    if logy:
        ax.set_yscale("log")
    return ax


def plot_layer_norms(times, norms_sq, *, ax=None):
    """Squared Frobenius norms ``||W_j||_F^2`` of each layer against time; norms_sq of shape (T, N)."""
    ax = new_axes(ax)
    t = _np(times)
    y = _np(norms_sq).reshape(len(t), -1)
    for j in range(y.shape[1]):
        ax.plot(t, y[:, j], label=rf"$\|W_{j + 1}\|_F^2$")
    ax.set_xlabel("time $t$")
    ax.set_ylabel("squared norm")
    ax.legend(frameon=False, fontsize=8)
    return ax
