"""Plots of notebook 05 (Aligned Gradient Descent): loss curves, parameter paths, phases, step spectra.

Each ``plot_*`` draws on the axes it is given and returns what it drew; the ``figure*`` builders lay
out the notebook's multi-panel figures from already computed runs (no training happens here).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np

from ..core import check_flag, check_int, check_real, shown
from . import _axes, _data, _limits, _mapping, _np, _style, _styles, _text, _times

__all__ = ["plot_curve", "plot_curves", "plot_effective_paths", "plot_phases", "plot_spectrum_band",
           "figure_pitfalls", "figure1", "figure2", "figure3", "figure4_grid"]

GD_STYLE = {"ls": ":", "lw": 2.0}
AGD_STYLE = {"ls": "-", "lw": 1.6}
MAX_PANELS = 12
"""The most panels (or dataset rows) one figure builder lays out."""


# --------------------------------------------------------------------------- argument checks


def _curve(name: str, losses, steps=None, steps_name: str = "steps"):
    """(x, y) of one loss curve: y (T,) finite up to an optional NaN/inf tail (a reported divergence), x the steps
    (default 0..T-1). A ValueError naming ``name`` (or ``steps_name``) otherwise."""
    y = _data(name, losses, "a 1-D array of losses (T,)", ndim=range(1, 33), finite=False)
    if y.size != y.shape[0]:
        raise ValueError(f"{name}: got shape {y.shape}, expected a 1-D array of losses (T,) (one run)")
    y = y.reshape(-1)
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size and np.isfinite(y[bad[0]:]).any():
        raise ValueError(f"{name}: got NaN or inf at step {int(bad[0])} followed by finite values, expected finite "
                         "losses with at most a NaN/inf tail (a divergence)")
    if steps is None:
        return np.arange(len(y)), y
    x = _times(steps_name, steps)
    if len(x) != len(y):
        raise ValueError(f"{steps_name}: got {len(x)} steps, expected {len(y)} (one per loss)")
    return x, y


def _curve_list(name: str, curves) -> None:
    """A non-empty list of (label, losses (T,), style dict) triples, as ``plot_curves`` draws them."""
    if not isinstance(curves, (list, tuple)) or not curves:
        raise ValueError(f"{name}: got {shown(curves)}, expected a non-empty list of (label, losses, style) triples")
    for i, item in enumerate(curves):
        if not isinstance(item, (list, tuple)) or len(item) != 3:
            raise ValueError(f"{name}[{i}]: got {shown(item)}, expected a triple (label, losses (T,), style dict)")
        label, losses, style = item
        _text(f"{name}[{i}] label", label)
        _curve(f"{name}[{i}]", losses)
        if not isinstance(style, Mapping):
            raise ValueError(f"{name}[{i}]: got the style {shown(style)}, expected a dict of line properties ({{}} for "
                             "the defaults)")
        if "label" in style:
            raise ValueError(f"{name}[{i}]: got a style that sets 'label', expected the label as the triple's first "
                             "item")
        _style(f"{name}[{i}] style", style)


def _curve_dict(name: str, curves) -> dict:
    """A non-empty dict label -> losses (T,), each as ``plot_curve`` draws it."""
    curves = _mapping(name, curves, "losses (T,)")
    for label, losses in curves.items():
        _curve(f"{name}[{label!r}]", losses)
    return curves


def _series_dict(name: str, series, what: str, ndim: int) -> dict:
    """A non-empty dict label -> finite array with ``ndim`` dimensions (T,) or (T, n), at least 2 iterations long."""
    series = _mapping(name, series, what)
    for label, v in series.items():
        a = _data(f"{name}[{label!r}]", v, what, ndim=ndim)
        if a.shape[0] < 2:
            raise ValueError(f"{name}[{label!r}]: got shape {a.shape}, expected {what} with at least 2 iterations")
    return series


def _path_args(paths, target) -> None:
    """``plot_effective_paths``'s paths (label -> finite (T, 2)) and target (2,)."""
    paths = _mapping("paths", paths, "a path of shape (T, 2)")
    for label, path in paths.items():
        p = _data(f"paths[{label!r}]", path, "a path of shape (T, 2)", ndim=2)
        if p.shape[1] != 2:
            raise ValueError(f"paths[{label!r}]: got shape {p.shape}, expected a path of shape (T, 2)")
    t = _data("target", target, "the solution, 2 numbers")
    if t.size != 2:
        raise ValueError(f"target: got shape {t.shape}, expected the solution, 2 numbers")


def _phase_args(outputs, y, stop) -> None:
    """``plot_phases``'s outputs (T, n), y (n,) and stop (None or an iteration count >= 1)."""
    out = _data("outputs", outputs, "per-sample outputs of shape (T, n)", ndim=2)
    n = out.shape[1]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    if n > len(colors):
        raise ValueError(f"outputs: got {n} samples, expected at most {len(colors)} (one color of the cycle each)")
    target = _data("y", y, f"targets of shape ({n},)", ndim=1)
    if target.shape != (n,):
        raise ValueError(f"y: got shape {target.shape}, expected ({n},) (one target per column of outputs)")
    if stop is not None:
        check_int("stop", stop, minimum=1)


def plot_curve(ax, losses, *, steps=None, label=None, floor: float = 1e-32, **style):
    """One loss curve (T,) on ``ax``; a NaN tail (a reported divergence) ends the line with an x.

    Values are clipped below at ``floor`` so exact zeros stay on a log axis. Returns the Line2D.
    """
    _axes("ax", ax)
    x, y = _curve("losses", losses, steps)
    _text("label", label)
    floor = check_real("floor", floor, positive=True)
    _style("style", style)
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
    _axes("ax", ax)
    _curve_list("curves", curves)
    if tol is not None:
        tol = check_real("tol", tol, positive=True)
    check_flag("logx", logx)
    _text("title", title)
    _limits("ylim", ylim, positive=True, optional=False)
    _limits("xlim", xlim)
    check_flag("legend", legend)
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
    _axes("ax", ax)
    _path_args(paths, target)
    styles = _styles("styles", styles, list(paths))
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
    _axes("ax_parts", ax_parts)
    _axes("ax_align", ax_align)
    _phase_args(outputs, y, stop)
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
    _axes("ax", ax)
    e = _data("eig", eig, "eigenvalues of shape (T, n)", ndim=2)
    _text("label", label)
    _style("style", style)
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
    _curve_dict("plateau", plateau)
    _curve_dict("sigmoidal", sigmoidal)
    _curve_dict("lp", lp)
    tol = check_real("tol", tol, positive=True)
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
    if not isinstance(panels, (list, tuple)) or not 1 <= len(panels) <= MAX_PANELS:
        raise ValueError(f"panels: got {shown(panels)}, expected a list of 1 to {MAX_PANELS} panel dicts")
    for i, panel in enumerate(panels):
        if not isinstance(panel, Mapping) or not {"title", "curves"} <= set(panel) \
                or not set(panel) <= {"title", "curves", "logx", "xlim"}:
            raise ValueError(f"panels[{i}]: got {shown(panel) if not isinstance(panel, Mapping) else sorted(panel)}, "
                             "expected a dict with keys title, curves and optionally logx, xlim")
        _text(f"panels[{i}]['title']", panel["title"], optional=False)
        _curve_list(f"panels[{i}]['curves']", panel["curves"])
        check_flag(f"panels[{i}]['logx']", panel.get("logx", False))
        _limits(f"panels[{i}]['xlim']", panel.get("xlim"))
    tol = check_real("tol", tol, positive=True)
    fig, axes = _fig(len(panels))
    for ax, panel in zip(axes, panels):
        plot_curves(ax, panel["curves"], tol=tol, logx=panel.get("logx", False), xlim=panel.get("xlim"),
                    title=panel["title"])
    return fig


def figure2(paths: dict, target, outputs, y, *, stop: int):
    """Figure 2: effective-parameter paths (GD vs AGD), per-sample outputs/errors, and alignment <Yhat, E>."""
    _path_args(paths, target)
    _phase_args(outputs, y, stop)
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
    _curve_list("curves", curves)
    _series_dict("theta3", theta3, "a second-layer weight per iteration (T,)", 1)
    _series_dict("spectra1", spectra1, "eigenvalues of shape (T, n)", 2)
    _series_dict("spectra2", spectra2, "eigenvalues of shape (T, n)", 2)
    threshold = check_real("threshold", threshold, positive=True)
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
    datasets = _mapping("datasets", datasets, "{label: (train (T,), test (T,))}")
    if len(datasets) > MAX_PANELS:
        raise ValueError(f"datasets: got {len(datasets)} datasets, expected at most {MAX_PANELS} (one row each)")
    for name, runs in datasets.items():
        runs = _mapping(f"datasets[{name!r}]", runs, "(train (T,), test (T,))")
        for label, pair in runs.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"datasets[{name!r}][{label!r}]: got {shown(pair)}, expected a pair (train (T,), "
                                 "test (T,))")
            _series_dict(f"datasets[{name!r}][{label!r}]", dict(zip(("train", "test"), pair)), "losses (T,)", 1)
    if not (isinstance(checkpoints, (list, tuple)) and len(checkpoints) == 0):  # () marks no checkpoint
        marks = _data("checkpoints", checkpoints, "a list of iterations >= 0", ndim=1)
        if (marks < 0).any():
            raise ValueError(f"checkpoints: got {marks.tolist()}, expected iterations >= 0")
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
