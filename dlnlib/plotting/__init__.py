"""Plotting helpers shared by all notebooks: ``plot_*(..., ax=None) -> Axes`` and ``savefig``.

Topic-specific plots live in submodules (``dlnlib.plotting.<topic>``). Nothing here changes global
matplotlib state; every function draws on the axes it is given (or a fresh one).
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["new_axes", "plot_losses", "savefig", "figures_dir", "FIG_DPI"]

FIG_DPI = 90


def new_axes(ax=None, figsize=(5.0, 3.6)):
    """``ax`` if given, else the axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=float)


def plot_losses(
    result,
    *,
    steps=None,
    ax=None,
    label: str | None = None,
    color=None,
    individual: int = 0,
    band: bool = True,
    logy: bool = True,
    subtract: float | None = None,
):
    """Loss against step for a batch of trials: the median, a 10-90% band and ``individual`` single runs.

    result: a ``TrainResult`` (uses ``steps`` and ``history["loss"]``) or a tensor/array of shape (T, ...)
    with ``steps`` given. A diverged trial's curve stops where it diverged and is marked with an x;
    the legend counts them, so no NaN is ever drawn. ``subtract`` plots loss minus an optimum.
    Returns the Axes.
    """
    ax = new_axes(ax)
    if hasattr(result, "history"):
        losses, steps = result.history["loss"], result.steps
    else:
        losses = result
        if steps is None:
            steps = np.arange(len(losses))
    y = _np(losses).reshape(len(steps), -1)
    x = _np(steps)
    if subtract is not None:
        y = y - subtract
    finite = np.isfinite(y)
    diverged = ~finite.all(axis=0)
    ok = y[:, ~diverged]
    line = None
    if ok.shape[1]:
        med = np.median(ok, axis=1)
        (line,) = ax.plot(x, med, color=color, lw=2, label=label)
        color = line.get_color()
        if band and ok.shape[1] > 1:
            lo, hi = np.quantile(ok, [0.1, 0.9], axis=1)
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
        for k in range(min(individual, ok.shape[1])):
            ax.plot(x, ok[:, k], color=color, lw=0.7, alpha=0.6)
    if diverged.any():
        for k in np.flatnonzero(diverged)[: max(individual, 3)]:
            good = finite[:, k]
            last = np.flatnonzero(good)
            if last.size:
                i = last[-1]
                ax.plot(x[: i + 1], y[: i + 1, k], color="tab:red", lw=0.8, alpha=0.7)
                ax.plot(x[i], y[i, k], "x", color="tab:red", ms=8)
        ax.plot([], [], "x", color="tab:red", label=f"diverged: {int(diverged.sum())} of {y.shape[1]} trials")
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss" if subtract is None else "loss - optimum")
    if label is not None or diverged.any():
        ax.legend(frameon=False)
    return ax


def figures_dir() -> Path | None:
    """Where ``savefig`` writes: the folder named by ``$DLNLIB_FIGURES``, or None (then it writes nothing).

    Opening or running a notebook (JupyterLab, Voila, nbval, ``make notebooks``) leaves ``figures/``
    alone; ``make figures`` (``python -m dlnlib.execute --figures figures ...``) sets the variable.
    """
    env = os.environ.get("DLNLIB_FIGURES", "").strip()
    return Path(env) if env else None


def savefig(fig, name: str, *, dpi: int = FIG_DPI) -> Path | None:
    """Write ``fig`` to ``<figures_dir()>/<name>.png`` reproducibly (no timestamp or version metadata).

    name: file stem, conventionally prefixed with the notebook number ("04_iterations").
    Returns the path written, or None when no figures folder is set (the default: a plain run writes no file).
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"name: got {name!r}, expected a plain file stem such as '04_iterations'")
    out = figures_dir()
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    return path
