"""Figures of notebook 03 (Du, Hu & Lee 2018): rescaling, invariant drift, drift ladders, norm-ratio bands.

Every function draws on the axes it is given (or a new one) and returns the Axes.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import NullLocator

from ..core import check_flag, check_int, check_real, shown
from . import _color, _data, _mapping, _style, _text, _times, new_axes

__all__ = ["plot_rescaling", "plot_drift", "plot_drift_ladder", "plot_band", "plot_layer_norms"]

# Float64 round-off: values below this are drawn on the floor so a log axis can show "zero".
FLOOR = 1e-17


def plot_rescaling(cs, changes: dict, *, ax=None):
    """Relative output change ``max|f_c - f| / max|f|`` against the rescaling factor c, one line per activation.

    cs: (C,) factors; changes: activation name -> (C,) relative changes. Values below 1e-17 sit on the floor.
    """
    x = _data("cs", cs, "a 1-D array of rescaling factors c > 0", ndim=1)
    if not (x > 0).all():
        raise ValueError(f"cs: got {x[:6].tolist()}, expected rescaling factors c > 0 (drawn on a log axis)")
    changes = _mapping("changes", changes, f"relative changes (C,) with C = {len(x)}")
    ys = {}
    for name, y in changes.items():
        ys[name] = _data(f"changes[{name!r}]", y, "a 1-D array of relative changes", ndim=1, rows=len(x), match="cs")
        if (ys[name] < 0).any():
            raise ValueError(f"changes[{name!r}]: got negative entries, expected relative changes >= 0")
    ax = new_axes(ax)
    for name, y in ys.items():
        ax.plot(x, np.maximum(y, FLOOR), marker="o", ms=3, label=name)
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
    t = _times("times", times)
    if len(t) < 2:
        raise ValueError(f"times: got {len(t)} time, expected at least 2 (the drift at t = 0 is not drawn)")
    y = _data("drift", drift, "drifts of shape (T, *B)", rows=len(t), match="times").reshape(len(t), -1)
    if (y < 0).any():
        raise ValueError("drift: got negative entries, expected drifts >= 0 (norms)")
    _text("label", label)
    _color("color", color)
    _style("ls", {"ls": ls})
    ax = new_axes(ax)
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
    from ..balance import DriftLadder

    if not isinstance(ladder, DriftLadder):
        raise ValueError(f"ladder: got {shown(ladder)}, expected a dlnlib.balance.DriftLadder (from drift_ladder)")
    lrs = _data("ladder", ladder.lrs, "a DriftLadder with 1-D learning rates lrs (L,)", ndim=1)
    times = _data("ladder", ladder.times, "a DriftLadder with times (L,)", ndim=1, rows=len(lrs), match="ladder.lrs")
    drift = _data("ladder", ladder.drift, "a DriftLadder with finite drift (L, *B)", rows=len(lrs), match="ladder.lrs")
    if not ((lrs > 0).all() and (times > 0).all()):
        raise ValueError("ladder: got learning rates or times <= 0, expected positive ones (drawn on log axes)")
    check_real("ladder.slope", ladder.slope)
    check_real("ladder.intercept", ladder.intercept)
    _text("label", label)
    _color("color", color)
    if predicted is not None:
        predicted = check_real("predicted", predicted, positive=True)
    ax = new_axes(ax)
    per_time = drift.reshape(len(lrs), -1) / times[:, None]
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
    xs = _data("x", x, "a 1-D array (T,)", ndim=1)
    ys = _data("y", y, "values of shape (T, *B)", rows=len(xs), match="x").reshape(len(xs), -1)
    _text("label", label)
    _color("color", color)
    check_flag("logy", logy)
    check_int("individual", individual, minimum=0)
    _style("ls", {"ls": ls})
    ax = new_axes(ax)
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
    t = _times("times", times)
    y = _data("norms_sq", norms_sq, "squared norms of shape (T, N)", ndim=(1, 2), rows=len(t), match="times")
    y = y.reshape(len(t), -1)
    ax = new_axes(ax)
    for j in range(y.shape[1]):
        ax.plot(t, y[:, j], label=rf"$\|W_{j + 1}\|_F^2$")
    ax.set_xlabel("time $t$")
    ax.set_ylabel("squared norm")
    ax.legend(frameon=False, fontsize=8)
    return ax
