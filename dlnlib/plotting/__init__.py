"""Plotting helpers shared by all notebooks: ``plot_*(..., ax=None) -> Axes`` and ``savefig``.

Topic-specific plots live in submodules (``dlnlib.plotting.<topic>``). Nothing here changes global
matplotlib state; every function draws on the axes it is given (or a fresh one).
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.colors import is_color_like
from matplotlib.figure import Figure

from ..core import check_flag, check_int, check_real, shown

__all__ = ["new_axes", "plot_losses", "savefig", "figures_dir", "FIG_DPI"]

FIG_DPI = 90
MIN_DPI = 20
"""The coarsest resolution ``savefig`` writes (below, the text rasteriser fails on small fonts)."""
MAX_DPI = 1200
"""The finest resolution ``savefig`` writes (a 5-inch figure at 1200 dpi is 6000 pixels wide)."""
MAX_FIGSIZE = 100.0
"""The largest width or height, in inches, of a figure ``new_axes`` creates."""


# ---------------------------------------------------------------------------------------------------------------
# Validation shared by the plotting modules: every public plot checks its arguments here, before it draws anything,
# so a bad value ends in a ValueError naming the argument, never in matplotlib's or numpy's own error (or in a
# curve that silently vanishes because it holds NaN).




def _axes(name: str, ax, *, optional: bool = False):
    """``ax`` if it is a matplotlib Axes (or None when ``optional``: a new figure), else a ValueError naming it."""
    if (ax is None and optional) or isinstance(ax, Axes):
        return ax
    extra = " (or None for a new figure)" if optional else ""
    raise ValueError(f"{name}: got {shown(ax)}, expected a matplotlib Axes{extra}")


def _data(name: str, value, expected: str = "an array of numbers", *, ndim=None, rows: int | None = None,
          match: str = "the times", finite: bool = True) -> np.ndarray:
    """``value`` as the float64 numpy array the plots draw (exactly ``_np(value)``), or a ValueError naming ``name``.

    ndim: the allowed number(s) of dimensions; rows: the length the first dimension must have, one row per entry of
    ``match`` (the argument it must agree with, e.g. the times); finite: refuse NaN and infinite entries (False
    where they have a documented meaning, e.g. a diverged trial; then at least one entry must be finite). Empty
    arrays are always refused: they would draw nothing, silently.
    """
    complex_like = (isinstance(value, torch.Tensor) and value.is_complex()) or isinstance(value, complex) or \
        getattr(getattr(value, "dtype", None), "kind", "") == "c"
    if value is None or isinstance(value, (str, bytes, Mapping)) or complex_like:
        raise ValueError(f"{name}: got {shown(value)}, expected {expected}")
    try:
        a = _np(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: got {shown(value)}, expected {expected}") from exc
    if ndim is not None and a.ndim not in ((ndim,) if isinstance(ndim, int) else tuple(ndim)):
        raise ValueError(f"{name}: got shape {a.shape}, expected {expected}")
    if a.size == 0:
        raise ValueError(f"{name}: got shape {a.shape}, expected {expected} (at least one number)")
    if rows is not None and (a.ndim == 0 or a.shape[0] != rows):
        raise ValueError(f"{name}: got shape {a.shape}, expected {expected}: {rows} rows, one per entry of {match}")
    if finite and not np.isfinite(a).all():
        raise ValueError(f"{name}: got {int(np.sum(~np.isfinite(a)))} NaN or infinite entries, expected finite numbers")
    if not finite and not np.isfinite(a).any():
        raise ValueError(f"{name}: got only NaN or infinite entries, expected at least one finite number (nothing "
                         "would be drawn)")
    return a


def _times(name: str, value) -> np.ndarray:
    """A time or step axis: a non-empty, finite, strictly increasing 1-D array, as ``_np(value)``."""
    expected = "a finite, strictly increasing 1-D array of times"
    a = _data(name, value, expected, ndim=1)
    if np.any(np.diff(a) <= 0):
        raise ValueError(f"{name}: got {a[:6].tolist()}{'...' if a.size > 6 else ''}, expected {expected}")
    return a






def _text(name: str, value, *, optional: bool = True):
    """A label or title: a string (or None when ``optional``), else a ValueError naming ``name``."""
    if (value is None and optional) or isinstance(value, str):
        return value
    raise ValueError(f"{name}: got {shown(value)}, expected a string{' or None' if optional else ''}")


def _color(name: str, value, *, optional: bool = True):
    """A matplotlib color (or None when ``optional``: the next color of the cycle), else a ValueError."""
    if (value is None and optional) or (not isinstance(value, bool) and is_color_like(value)):
        return value
    raise ValueError(f"{name}: got {shown(value)}, expected a matplotlib color such as 'tab:blue', 'C1' or "
                     "(r, g, b)")


def _colors(name: str, value, count: int):
    """None, or a list of at least ``count`` matplotlib colors (one per curve)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{name}: got {shown(value)}, expected a list of {count} matplotlib colors (one per curve)")
    if len(value) < count:
        raise ValueError(f"{name}: got {len(value)} colors, expected at least {count} (one per curve)")
    for k, c in enumerate(value):
        _color(f"{name}[{k}]", c, optional=False)
    return value


def _style(name: str, style) -> dict:
    """A dict of matplotlib line properties (``{"ls": ":", "lw": 2}``), checked on a scratch line before any
    drawing; None entries mean "the default". A ValueError naming ``name`` otherwise."""
    from matplotlib.lines import Line2D

    if style is None:
        return {}
    if not isinstance(style, Mapping) or not all(isinstance(k, str) for k in style):
        raise ValueError(f"{name}: got {shown(style)}, expected a dict of matplotlib line properties such as "
                         "{'ls': ':', 'lw': 2}")
    probe = Line2D([], [])
    try:
        probe.set(**{k: v for k, v in style.items() if v is not None})
    except (AttributeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}: got {dict(style)!r}, expected matplotlib line properties ({exc})") from None
    for what, v in (("linewidth", probe.get_linewidth()), ("markersize", probe.get_markersize()),
                    ("markeredgewidth", probe.get_markeredgewidth())):
        if not (isinstance(v, numbers.Real) and math.isfinite(v) and 0 <= v <= 1000):
            raise ValueError(f"{name}: got {what} {v!r}, expected a finite number in [0, 1000]")
    return dict(style)


def _mapping(name: str, value, what: str) -> dict:
    """A non-empty dict keyed by label strings (one entry per curve or panel), else a ValueError naming ``name``."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{name}: got {shown(value)}, expected a dict label -> {what}")
    if not value:
        raise ValueError(f"{name}: got an empty dict, expected at least one entry label -> {what}")
    for key in value:
        if not isinstance(key, str):
            raise ValueError(f"{name}: got the key {shown(key)}, expected label strings as keys")
    return dict(value)


def _styles(name: str, styles, labels) -> dict:
    """None, or a dict label -> line properties whose labels are among ``labels`` (a typo would be ignored)."""
    if styles is None:
        return {}
    styles = _mapping(name, styles, "a dict of line properties")
    for label, style in styles.items():
        if label not in labels:
            raise ValueError(f"{name}: got the label {label!r}, expected one of {', '.join(map(repr, labels))}")
        _style(f"{name}[{label!r}]", style)
    return styles


def _limits(name: str, value, *, positive: bool = False, optional: bool = True):
    """Axis limits: a pair (low, high) of finite numbers (> 0 on a log axis) with low < high, either of which may be
    None (matplotlib's automatic limit); None for the whole pair when ``optional``."""
    if value is None and optional:
        return None
    expected = f"a pair (low, high) of finite numbers{' > 0' if positive else ''} with low < high"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (Sequence, np.ndarray)) or len(value) != 2:
        raise ValueError(f"{name}: got {shown(value)}, expected {expected}")
    for v in value:
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v)
                              or (positive and v <= 0)):
            raise ValueError(f"{name}: got {tuple(value)!r}, expected {expected}")
    if value[0] is not None and value[1] is not None and not value[0] < value[1]:
        raise ValueError(f"{name}: got {tuple(value)!r}, expected {expected}")
    return value


def new_axes(ax=None, figsize=(5.0, 3.6)):
    """``ax`` if given, else the axes of a new figure of ``figsize`` inches."""
    _axes("ax", ax, optional=True)
    if isinstance(figsize, (str, bytes)) or not isinstance(figsize, (Sequence, np.ndarray)) or len(figsize) != 2:
        raise ValueError(f"figsize: got {shown(figsize)}, expected (width, height) in inches")
    for v in figsize:
        check_real("figsize", v, positive=True, maximum=MAX_FIGSIZE)
    if ax is not None:
        return ax
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _np(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", torch.float64).numpy()
    return np.asarray(x, dtype=float)


def _loss_spread(y: np.ndarray, failed: int):
    """What ``plot_losses`` draws from losses y (T, trials), NaN or inf after a divergence: the trials that never
    diverged (T, n_ok), their median (None if none), their 10-90% band (lo, hi) (None unless two or more), and
    (trial, last finite row) of the first ``failed`` diverged trials that have a finite loss; and the diverged mask."""
    finite = np.isfinite(y)
    diverged = ~finite.all(axis=0)
    ok = y[:, ~diverged]
    med = np.median(ok, axis=1) if ok.shape[1] else None
    spread = tuple(np.quantile(ok, [0.1, 0.9], axis=1)) if ok.shape[1] > 1 else None
    ends = []
    for k in np.flatnonzero(diverged)[:failed]:
        last = np.flatnonzero(finite[:, k])
        if last.size:
            ends.append((int(k), int(last[-1])))
    return ok, med, spread, ends, diverged


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
    expected = "a TrainResult or an array of losses (T, ...), one row per step"
    if hasattr(result, "history"):
        history = result.history
        if not isinstance(history, Mapping) or "loss" not in history or not hasattr(result, "steps"):
            raise ValueError(f"result: got a {type(result).__name__} without history['loss'] and steps, expected a "
                             "TrainResult that recorded the loss (record=('loss', ...))")
        if steps is not None:
            raise ValueError(f"steps: got {shown(steps)} with a {type(result).__name__}, expected None (the result "
                             "has its own steps)")
        losses, x = history["loss"], _times("result", result.steps)
    else:
        losses = result
        if steps is None:
            x = _np(np.arange(len(_data("result", losses, expected, ndim=range(1, 33), finite=False))))
        else:
            x = _times("steps", steps)
    # NaN or inf: a diverged trial, drawn as stopped (see below)
    y = _data("result", losses, expected, ndim=range(1, 33), rows=len(x), match="steps", finite=False)
    y = y.reshape(len(x), -1)
    check_int("individual", individual, minimum=0)
    _text("label", label)
    _color("color", color)
    check_flag("band", band)
    check_flag("logy", logy)
    if subtract is not None:
        subtract = check_real("subtract", subtract)
    ax = new_axes(ax)
    if subtract is not None:
        y = y - subtract
    ok, med, spread, ends, diverged = _loss_spread(y, failed=max(individual, 3))
    line = None
    if med is not None:
        (line,) = ax.plot(x, med, color=color, lw=2, label=label)
        color = line.get_color()
        if band and spread is not None:
            ax.fill_between(x, *spread, color=color, alpha=0.2, lw=0)
        for k in range(min(individual, ok.shape[1])):
            ax.plot(x, ok[:, k], color=color, lw=0.7, alpha=0.6)
    if diverged.any():
        for k, i in ends:
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

    fig: a matplotlib Figure; name: file stem, conventionally prefixed with the notebook number ("04_iterations"),
    no folder and no suffix; dpi: an integer in [MIN_DPI, MAX_DPI]. Returns the path written, or None when no figures
    folder is set (the default: a plain run writes no file).
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig: got {shown(fig)}, expected a matplotlib Figure (e.g. fig from plt.subplots(), or "
                         "ax.figure)")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith(".") \
            or not name.isprintable() or len(name) > 200 or name.lower().endswith(".png"):
        raise ValueError(f"name: got {shown(name)}, expected a plain file stem such as '04_iterations' (no folder, "
                         "no .png suffix, at most 200 characters)")
    check_int("dpi", dpi, minimum=MIN_DPI, maximum=MAX_DPI)
    out = figures_dir()
    if out is None:
        return None
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    return path
