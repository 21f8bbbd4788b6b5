"""Plots of notebook 04: iteration histograms, equivalence gaps, l_p depth curves, operator spectra.

Every function draws on the axes it is given (or a new one) and returns them.
"""

from __future__ import annotations

import numpy as np
import torch

from . import _np, new_axes

__all__ = ["plot_iteration_histograms", "plot_gap_ladder", "plot_gap_curves", "plot_depth_curves", "FLOOR"]

# Losses minus the optimum below this are rounding noise of float64 sums; curves are clipped here.
FLOOR = 1e-12


def plot_iteration_histograms(counts: dict, *, ax=None, bins: int = 40, colors=None):
    """Histograms (log-spaced bins) of iterations to reach the tolerance, one per run name.

    counts: name -> ``TrainResult.stopped_at`` (trials with -1, never stopped, are left out and counted
    in the legend). Returns the Axes.
    """
    ax = new_axes(ax)
    arrays = {k: _np(v).ravel() for k, v in counts.items()}
    ok = np.concatenate([a[a >= 0] for a in arrays.values()])
    lo, hi = max(1.0, ok.min()) if ok.size else 1.0, ok.max() if ok.size else 10.0
    edges = np.geomspace(lo, hi * 1.001 + 1, bins + 1)
    for i, (name, a) in enumerate(arrays.items()):
        good = a[a >= 0]
        missing = int((a < 0).sum())
        label = f"{name}: median {np.median(good):.0f}" if good.size else f"{name}: none stopped"
        if missing:
            label += f", {missing} not stopped"
        color = None if colors is None else colors[i]
        ax.hist(good, bins=edges, histtype="step", lw=1.8, label=label, color=color)
    ax.set_xscale("log")
    ax.set_xlabel("iterations to reach loss <= tol")
    ax.set_ylabel("trials")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_gap_ladder(results: dict, *, ax=None, index=()):
    """Largest upstairs/downstairs gap against the step size (log-log), with a slope-1 guide.

    results: label -> ``EquivalenceResult``; index: which trial of the batch to show (default: the only one).
    Infinite gaps (diverged runs) are left out. Returns the Axes.
    """
    ax = new_axes(ax)
    for label, res in results.items():
        lrs = _np(res.lrs)
        gap = _np(res.max_gap[(slice(None), *index)] if index else res.max_gap).reshape(len(lrs), -1)[:, 0]
        ok = np.isfinite(gap)
        ax.loglog(lrs[ok], gap[ok], "o-", label=label)
    first = next(iter(results.values()))
    lrs = _np(first.lrs)
    gap0 = _np(first.max_gap).reshape(len(lrs), -1)[:, 0]
    if np.isfinite(gap0[-1]):
        ax.loglog(lrs, gap0[-1] * lrs / lrs[-1], "k:", lw=1, label="slope 1 (O(eta))")
    ax.set_xlabel("step size eta")
    ax.set_ylabel("max_t ||W_up(t) - W_down(t)||")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_gap_curves(times, curves: dict, *, ax=None, logy: bool = True):
    """Gap against time for several runs. curves: label -> (T,) gaps (inf entries are not drawn)."""
    ax = new_axes(ax)
    t = _np(times)
    for label, g in curves.items():
        g = _np(g)
        ok = np.isfinite(g)
        ax.plot(t[ok], g[ok], label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("time t = eta * step")
    ax.set_ylabel("||W_up(t) - W_down(t)||")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_depth_curves(curves: dict, *, ax=None, title: str | None = None, styles: dict | None = None):
    """Training loss minus the optimum against iterations (log scale) for several runs.

    curves: label -> (steps (T,), loss - optimum (T,)); values are clipped at ``FLOOR`` so that a run
    that reached the optimum to rounding stays visible. styles: label -> matplotlib keyword dict.
    """
    ax = new_axes(ax)
    for label, (steps, gap) in curves.items():
        g = np.clip(_np(gap), FLOOR, None)
        ok = np.isfinite(g)
        ax.semilogy(_np(steps)[ok], g[ok], label=label, **(styles or {}).get(label, {}))
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss - optimum")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=8)
    return ax


def first_below(steps, gap, level: float) -> int | None:
    """First recorded step whose ``gap`` is below ``level`` (None if never)."""
    g = gap.detach().cpu() if isinstance(gap, torch.Tensor) else torch.as_tensor(gap)
    hit = (g < level).nonzero()
    return None if hit.numel() == 0 else int(torch.as_tensor(steps)[hit[0, 0]])
