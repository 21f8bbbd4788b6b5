"""Plots of notebook 04: iteration histograms, equivalence gaps, l_p depth curves, operator spectra.

Every function draws on the axes it is given (or a new one) and returns them.
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..core import check_flag, check_int, check_real, shown
from . import _axes, _colors, _data, _mapping, _np, _styles, _text, _times, new_axes

__all__ = ["plot_iteration_histograms", "plot_gap_ladder", "plot_gap_curves", "plot_depth_curves", "plot_lp_study",
           "plot_completion_figures", "FLOOR"]

# Losses minus the optimum below this are rounding noise of float64 sums; curves are clipped here.
FLOOR = 1e-12


def plot_iteration_histograms(counts: dict, *, ax=None, bins: int = 40, colors=None):
    """Histograms (log-spaced bins) of iterations to reach the tolerance, one per run name.

    counts: name -> ``TrainResult.stopped_at`` (trials with -1, never stopped, are left out and counted
    in the legend). Returns the Axes.
    """
    counts = _mapping("counts", counts, "iteration counts (TrainResult.stopped_at)")
    arrays = {}
    for k, v in counts.items():
        a = _data(f"counts[{k!r}]", v, "iteration counts (integers >= 0, or -1: never stopped)").ravel()
        if (a < -1).any() or (a != np.round(a)).any():
            raise ValueError(f"counts[{k!r}]: got {a[(a < -1) | (a != np.round(a))][:3].tolist()}, expected integer "
                             "iteration counts >= 0, or -1 for a trial that never stopped")
        arrays[k] = a
    check_int("bins", bins, minimum=1, maximum=1000)
    _colors("colors", colors, len(arrays))
    ax = new_axes(ax)
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
    from ..endtoend import EquivalenceResult

    results = _mapping("results", results, "an EquivalenceResult")
    if isinstance(index, numbers.Integral) and not isinstance(index, bool):
        index = (int(index),)
    if not isinstance(index, tuple) or not all(isinstance(i, numbers.Integral) and not isinstance(i, bool)
                                               for i in index):
        raise ValueError(f"index: got {shown(index)}, expected a tuple of integers (a trial of the batch)")
    for label, res in results.items():
        if not isinstance(res, EquivalenceResult):
            raise ValueError(f"results[{label!r}]: got {shown(res)}, expected a dlnlib.endtoend.EquivalenceResult "
                             "(from equivalence_gap)")
        lrs = _data(f"results[{label!r}]", res.lrs, "an EquivalenceResult with positive step sizes lrs (K,)", ndim=1)
        if not (lrs > 0).all():
            raise ValueError(f"results[{label!r}]: got step sizes {lrs.tolist()}, expected lrs > 0 (a log axis)")
        # inf or NaN: a run that diverged, left out
        gap = _data(f"results[{label!r}]", res.max_gap,
                    "an EquivalenceResult with max_gap (K, *batch)", rows=len(lrs), match="its lrs", finite=False)
        batch = gap.shape[1:]
        if len(index) > len(batch) or any(not -n <= i < n for i, n in zip(index, batch)):
            raise ValueError(f"index: got {index!r}, expected an index into the batch shape {batch} of "
                             f"results[{label!r}]")
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
    """Gap against time for several runs. curves: label -> (T,) gaps (NaN or inf entries, a run that diverged, are
    not drawn)."""
    t = _times("times", times)
    curves = _mapping("curves", curves, f"gaps (T,) with T = {len(t)}")
    # inf entries: a run that diverged, not drawn
    gaps = {label: _data(f"curves[{label!r}]", g, "a 1-D array of gaps", ndim=1, rows=len(t), match="times",
                         finite=False) for label, g in curves.items()}
    check_flag("logy", logy)
    ax = new_axes(ax)
    for label, g in gaps.items():
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
    that reached the optimum to rounding stays visible; NaN or inf entries (a run that diverged) are not drawn.
    styles: label -> matplotlib keyword dict (labels among those of ``curves``).
    """
    curves = _mapping("curves", curves, "(steps (T,), loss - optimum (T,))")
    for label, pair in curves.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"curves[{label!r}]: got {shown(pair)}, expected a pair (steps (T,), loss - optimum (T,))")
        steps = _times(f"curves[{label!r}]", pair[0])
        # NaN or inf: a run that diverged, not drawn
        _data(f"curves[{label!r}]", pair[1], "loss - optimum (T,)", ndim=1, rows=len(steps), match="its steps",
              finite=False)
    _text("title", title)
    styles = _styles("styles", styles, list(curves))
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


def plot_lp_study(study, p_index: int, *, ax=None, title: str | None = None):
    """One p of a ``dlnlib.reproduce.DepthStudy``: loss - optimum (log) per depth at its chosen rate.

    The line is the median over the random inits, the band their min-max range. Returns the Axes.
    """
    from ..reproduce import DepthStudy

    if not isinstance(study, DepthStudy):
        raise ValueError(f"study: got {shown(study)}, expected a dlnlib.reproduce.DepthStudy (from depth_study)")
    p_index = check_int("p_index", p_index, minimum=0, maximum=len(study.ps) - 1,
                        why=f" (the study has {len(study.ps)} values of p)")
    _text("title", title)
    steps = _times("study", study.steps)
    gap = _data("study", study.gap, "a DepthStudy with finite gap (T, P, D, S)", ndim=4, rows=len(steps),
                match="its steps")
    if gap.shape[1:3] != (len(study.ps), len(study.depths)):
        raise ValueError(f"study: got gap of shape {gap.shape}, expected (T, P, D, S) with P = {len(study.ps)}, "
                         f"D = {len(study.depths)}")
    _data("study", study.chosen, "a DepthStudy with finite chosen rates (P, D)", ndim=2)
    _data("study", study.optimum, "a DepthStudy with finite optima (P,)", ndim=1)
    check_real("study.rel_gap", study.rel_gap, positive=True)
    ax = new_axes(ax)
    steps = _np(study.steps)
    for b, depth in enumerate(study.depths):
        g = np.clip(_np(study.gap[:, p_index, b, :]), FLOOR, None)
        lr = float(study.chosen[p_index, b])
        line, = ax.semilogy(steps, np.median(g, axis=1), label=f"depth {depth} (eta {lr:.3g})")
        ax.fill_between(steps, g.min(axis=1), g.max(axis=1), color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(study.rel_gap * float(study.optimum[p_index]), color="k", ls=":", lw=1,
               label=f"target: {study.rel_gap:g} x optimum")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss - optimum")
    if title:
        ax.set_title(title)
    ax.legend(frameon=False, fontsize=7)
    return ax


def plot_completion_figures(runs: dict, *, axes=None, particular: int = 0):
    """Seed 000's Figures 1-3: the average loss trajectory and one particular trajectory, per side and together.

    runs: label -> (steps (T,), losses (T, trials)) with losses of stopped trials held at their final value;
    axes: one Axes per label plus one for all together (created when None). Returns the list of Axes.
    """
    import matplotlib.pyplot as plt

    runs = _mapping("runs", runs, "(steps (T,), losses (T, trials))")
    for label, pair in runs.items():
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"runs[{label!r}]: got {shown(pair)}, expected a pair (steps (T,), losses (T, trials))")
        steps = _times(f"runs[{label!r}]", pair[0])
        losses = _data(f"runs[{label!r}]", pair[1], "losses (T, trials)", ndim=2, rows=len(steps), match="its steps")
        check_int("particular", particular, minimum=0, maximum=losses.shape[1] - 1,
                  why=f" (runs[{label!r}] has {losses.shape[1]} trials)")
    if axes is not None:
        given = np.asarray(axes, dtype=object) if isinstance(axes, (list, tuple, np.ndarray)) else None
        if given is None or given.shape != (len(runs) + 1,):
            raise ValueError(f"axes: got {shown(axes)}, expected {len(runs) + 1} matplotlib Axes (one per run and one "
                             "for all together) or None")
        for k, ax in enumerate(given):
            _axes(f"axes[{k}]", ax)
    if axes is None:
        _, axes = plt.subplots(1, len(runs) + 1, figsize=(4 * (len(runs) + 1), 3.4), layout="constrained")
    axes = list(axes)
    for k, (label, (steps, losses)) in enumerate(runs.items()):
        s, L = _np(steps), _np(losses)
        for ax in (axes[k], axes[-1]):
            line, = ax.semilogy(s, L.mean(axis=1), label=f"{label}: average")
            ax.semilogy(s, L[:, particular], ls="--", color=line.get_color(), label=f"{label}: trial {particular}")
        axes[k].set_title(label)
    axes[-1].set_title("both")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss (mean squared, diagonal)")
        ax.legend(frameon=False, fontsize=7)
    return axes
