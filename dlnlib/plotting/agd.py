"""Plots of notebook 05 (Aligned Gradient Descent): loss curves, parameter paths, phases, step spectra.

Each ``plot_*`` draws on the axes it is given and returns what it drew; the ``figure*`` builders lay
out the notebook's multi-panel figures from already computed runs (no training happens here).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import _np

__all__ = ["plot_curve", "plot_curves", "plot_effective_paths", "plot_phases", "plot_spectrum_band",
           "figure_pitfalls", "figure1", "figure2", "figure3", "figure4_grid"]

GD_STYLE = {"ls": ":", "lw": 2.0}
AGD_STYLE = {"ls": "-", "lw": 1.6}


def plot_curve(ax, losses, *, steps=None, label=None, floor: float = 1e-32, **style):
    """One loss curve (T,) on ``ax``; a NaN tail (a reported divergence) ends the line with an x.

    Values are clipped below at ``floor`` so exact zeros stay on a log axis. Returns the Line2D.
    """
    y = _np(losses).reshape(-1)
    x = np.arange(len(y)) if steps is None else _np(steps).reshape(-1)
    finite = np.isfinite(y)
    last = np.flatnonzero(finite)[-1] if finite.any() else 0
    (line,) = ax.plot(x[: last + 1], np.maximum(y[: last + 1], floor), label=label, **style)
    if not finite.all():
        ax.plot(x[last], max(y[last], floor), "x", color=line.get_color(), ms=8, mew=2)
    return line


def plot_curves(ax, curves, *, tol: float | None = None, logx: bool = False, title: str | None = None,
                ylim=(1e-12, 10.0), xlim=None, legend: bool = True):
    """Several loss curves: ``curves`` is a list of (label, losses (T,), style dict). Returns ``ax``.

    logx: a symmetric-log iteration axis (linear below 1), for runs of very different lengths.
    """
    for label, losses, style in curves:
        plot_curve(ax, losses, label=label, **style)
    if tol is not None:
        ax.axhline(tol, color="0.6", lw=0.8, ls="--")
    ax.set_yscale("log")
    if logx:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlim(*(xlim if xlim is not None else (0, None)))
    ax.set_ylim(*ylim)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    if title:
        ax.set_title(title, fontsize=10)
    if legend:
        ax.legend(frameon=False, fontsize=8)
    return ax


def plot_effective_paths(ax, paths: dict, target, *, styles: dict | None = None):
    """Paths of the effective parameter ``Theta^(1:L)`` in the plane: paths maps label -> (T, 2). Returns ``ax``."""
    styles = styles or {}
    for label, path in paths.items():
        p = _np(path)
        ax.plot(p[:, 0], p[:, 1], label=label, **styles.get(label, {}))
    t = _np(target)
    ax.plot([t[0]], [t[1]], "*", color="black", ms=12, label="solution")
    ax.plot([0], [0], "o", color="black", ms=5)
    ax.set_xlabel("Theta^(1:L)(1)")
    ax.set_ylabel("Theta^(1:L)(2)")
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_phases(ax_parts, ax_align, outputs, y, *, stop: int | None = None):
    """Figure 2 (right): per-sample outputs and errors of an AGD run, and the alignment <Yhat, E>.

    outputs: (T, n), the outputs after the layer-1 step of every iteration (``history["outputs"][:, 1]``);
    y: (n,). For the two-point data the samples are the eigen-directions. Returns the alignment (T,).
    """
    out = _np(outputs)[:stop]
    err = _np(y)[None, :] - out
    t = np.arange(len(out))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i in range(out.shape[1]):
        ax_parts.plot(t, out[:, i], color=colors[i], lw=1.6, label=f"Yhat({i + 1})")
        ax_parts.plot(t, err[:, i], color=colors[i], lw=1.2, ls="--", label=f"E({i + 1})")
    ax_parts.set_xlabel("iteration")
    ax_parts.legend(frameon=False, fontsize=8, ncol=2)
    align = (out * err).sum(1)
    ax_align.plot(t, align, color="black", lw=1.5)
    ax_align.set_xlabel("iteration")
    ax_align.set_ylabel("<Yhat, E>")
    return align


def plot_spectrum_band(ax, eig, *, label=None, **style):
    """Eigenvalues (T, n) against iteration, one line each (same style, one legend entry). Returns ``ax``."""
    e = _np(eig)
    for i in range(e.shape[1]):
        ax.plot(np.arange(len(e)), e[:, i], label=label if i == 0 else None, **style)
    return ax


# --------------------------------------------------------------------------- multi-panel figures


def _fig(ncols, width=3.3, height=3.1):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), layout="constrained")
    return fig, np.atleast_1d(axes)


def figure_pitfalls(plateau: dict, sigmoidal: dict, lp: dict, *, tol: float):
    """Section 3: (a) plateau curves, (b) sigmoidal curves by depth, (c) l_p coordinate errors.

    plateau, sigmoidal: label -> losses (T,); lp: label -> errors (T,) (absolute value plotted).
    """
    fig, ax = _fig(3)
    plot_curves(ax[0], [(k, v, {}) for k, v in plateau.items()], tol=tol, title="(a) plateau, init (1, -1)")
    plot_curves(ax[1], [(k, v, {}) for k, v in sigmoidal.items()], tol=tol, title="(b) small init, by depth")
    for label, e in lp.items():
        plot_curve(ax[2], np.abs(_np(e)), label=label, ls="-" if "p=4" in label else ":", lw=1.8)
    ax[2].set_yscale("log")
    ax[2].set_xscale("symlog", linthresh=1.0)
    ax[2].set_xlim(0, None)
    ax[2].set_ylim(1e-4, 2.0)
    ax[2].set_xlabel("iteration")
    ax[2].set_ylabel("|error| of the coordinate")
    ax[2].set_title("(c) shallow GD, l_2 vs l_4", fontsize=10)
    ax[2].legend(frameon=False, fontsize=8)
    return fig


def figure1(panels: list, *, tol: float):
    """Figure 1 of the AGD paper: one panel per dict with keys title, curves (as in ``plot_curves``) and the
    optional logx, xlim."""
    fig, axes = _fig(len(panels))
    for ax, panel in zip(axes, panels):
        plot_curves(ax, panel["curves"], tol=tol, logx=panel.get("logx", False), xlim=panel.get("xlim"),
                    title=panel["title"])
    return fig


def figure2(paths: dict, target, outputs, y, *, stop: int):
    """Figure 2: effective-parameter paths (GD vs AGD), per-sample outputs/errors, and alignment <Yhat, E>."""
    fig, ax = _fig(3, width=3.6)
    plot_effective_paths(ax[0], paths, target, styles={k: (GD_STYLE if "GD" in k and "AGD" not in k else AGD_STYLE)
                                                       for k in paths})
    ax[0].set_title("(a) effective parameter", fontsize=10)
    align = plot_phases(ax[1], ax[2], outputs, y, stop=stop)
    ax[1].set_title("(b) AGD outputs and errors", fontsize=10)
    ax[2].set_title("(c) alignment, after the layer-1 step", fontsize=10)
    return fig, align


def figure3(curves: list, theta3: dict, spectra1: dict, spectra2: dict, *, threshold: float):
    """Figure 3: losses, the second-layer weight against ``threshold`` (sqrt 20), and the spectra of the
    error operators of layer 1 and layer 2. theta3, spectra*: label -> (T,) / (T, n); GD solid, AGD dotted."""
    fig, ax = _fig(4, width=3.2)
    plot_curves(ax[0], curves, title="(a) loss", ylim=(1e-14, 20.0))
    for label, v in theta3.items():
        ax[1].plot(np.arange(len(_np(v))), _np(v), label=label, **(AGD_STYLE if "AGD" in label else {"lw": 1.2}))
    ax[1].axhline(threshold, color="tab:red", lw=0.8, ls="--", label="sqrt(20)")
    ax[1].set_yscale("log")
    ax[1].set_xlabel("iteration")
    ax[1].set_title("(b) second-layer weight Theta(3)", fontsize=10)
    ax[1].legend(frameon=False, fontsize=8)
    panels = ((ax[2], spectra1, "(c) eig(I - eta/n K^(1))"), (ax[3], spectra2, "(d) eig(I - eta/n K^(2))"))
    for a, spectra, name in panels:
        for k, (label, eig) in enumerate(spectra.items()):
            style = {"ls": ":", "lw": 2.0} if "AGD" in label else {"lw": 1.0}
            plot_spectrum_band(a, eig, label=label, color=f"C{k}", **style)
        for v in (-1.0, 1.0):
            a.axhline(v, color="0.5", lw=0.8, ls="--")
        a.set_xlabel("iteration")
        a.set_title(name, fontsize=10)
        a.legend(frameon=False, fontsize=8)
    return fig


def figure4_grid(datasets: dict, *, checkpoints=(10, 100, 1000)):
    """Figure 4 with one row per dataset (train loss left, test loss right) and the checkpoints marked.

    datasets: name -> {label: (train (T,), test (T,))}; labels starting with "GD" are drawn dotted.
    """
    rows = len(datasets)
    fig, axes = plt.subplots(rows, 2, figsize=(8.4, 2.7 * rows), layout="constrained", squeeze=False)
    for k, (name, runs) in enumerate(datasets.items()):
        for j, (label, (train, test)) in enumerate(runs.items()):
            style = GD_STYLE if label.startswith("GD") else AGD_STYLE
            for ax, v in ((axes[k, 0], train), (axes[k, 1], test)):
                ax.plot(np.arange(len(_np(v))), _np(v), label=label, color=f"C{j}", **style)
        for ax, what in ((axes[k, 0], "train"), (axes[k, 1], "test")):
            for t in checkpoints:
                ax.axvline(t, color="0.85", lw=0.8, zorder=0)
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_xlim(0, max(len(_np(v)) for pair in runs.values() for v in pair) - 1)
            ax.set_yscale("log")
            ax.set_xlabel("iteration")
            ax.set_title(f"{name}: {what} loss", fontsize=10)
        axes[k, 0].legend(frameon=False, fontsize=8)
    return fig
