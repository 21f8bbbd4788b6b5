"""Notebook 04's sliders: depth, step size, p and init scale on the l_p experiment, and the
upstairs/downstairs gap from balanced and unbalanced chains.

Each builder computes its whole slider grid up front in a few batched engine runs (cached), so a redraw
only changes line data: every redraw stays far below 100 ms.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from functools import lru_cache

import numpy as np
import torch

from ..chains import end_to_end, init_chain
from ..core import MAX_STEPS, check_choice, check_int, check_positive
from ..data import SKLEARN_REGRESSION, sklearn_regression, teacher_regression
from ..endtoend import balanced_factorization, equivalence_gap, lp_optimum, lr_grid
from ..losses import LpLoss, SquaredError
from ..plotting.endtoend import FLOOR
from ..train import gradient_descent
from . import (
    DivergenceMarks,
    SliderFigure,
    _axes,
    _int_slider,
    _number,
    _selection_slider,
    divergence,
    light_log_axis,
    make_figure,
    present_style,
)

__all__ = ["lp_sweep", "LpSweep", "LpView", "draw_lp", "lp_demo", "equivalence_sweep", "EquivalenceView",
           "draw_equivalence", "equivalence_demo", "LP_SCALES", "GAP_LRS", "GAP_SCALES"]

LP_SCALES = (0.001, 0.01, 0.1)
LP_LRS = tuple(lr_grid(1e-2, 1.0).tolist())
"""The learning rates of ``lp_sweep`` (and of the lp slider)."""
GAP_LRS = (0.1, 0.05, 0.025, 0.0125)
GAP_SCALES = (0.1, 0.2, 0.3, 0.45, 0.6)
MAX_P = 16
"""The largest loss exponent p of the l_p sweeps (beyond, |residual|^p leaves float64's comfortable range)."""
MAX_SWEEP_DEPTH = 30
"""The deepest network of the precomputed sweeps (every sweep is a grid of runs; a slider shows a few depths)."""
MAX_SWEEP_WIDTH = 2000
"""The widest hidden layer of ``lp_sweep``."""
LP_DEMO_STEPS = 1500
"""The most GD steps ``lp_demo`` runs up front, over all its (p, depth) sweeps (the default: 9 x 150)."""
MAX_GAP_TIME = 5.0
"""The longest time span of ``equivalence_sweep`` (400 steps at the smallest step size)."""
MAX_GAP_DEPTHS = 10
"""The most depths ``equivalence_demo`` computes up front."""


class LpSweep(Mapping):
    """What ``lp_sweep`` returns: a read-only mapping with ``"steps"`` (T,), ``"gap"`` (T, K_lr, K_scale) = loss -
    optimum (NaN after a run diverged), ``"lrs"`` and ``"scales"``; and ``diverged`` (K_lr, K_scale), True for
    each run that diverged (its gap ends in NaN)."""

    def __init__(self, data: dict):
        self._data = data
        self.diverged = ~np.isfinite(data["gap"]).all(axis=0)

    def __getitem__(self, key):
        return self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return f"LpSweep(keys={list(self._data)}, diverged runs: {int(self.diverged.sum())} of {self.diverged.size})"


def _check_sweep(p, depth, dataset, width, steps) -> None:
    _number("p", p, lo=2, hi=MAX_P)
    check_int("depth", depth, minimum=1, maximum=MAX_SWEEP_DEPTH, why=" (a sweep is a grid of runs per depth)")
    check_choice("dataset", dataset, SKLEARN_REGRESSION)
    check_int("width", width, minimum=1, maximum=MAX_SWEEP_WIDTH)
    check_int("steps", steps, minimum=1, maximum=MAX_STEPS)


def lp_sweep(p: int, depth: int, *, dataset: str = "diabetes", width: int = 50, steps: int = 150,
             record_every: int = 5, seed: int = 0) -> LpSweep:
    """Layerwise GD on l_p regression over the grid (learning rate x init scale), one engine run.

    p: the loss exponent, 2 to ``MAX_P``; depth: 1 to ``MAX_SWEEP_DEPTH``; dataset: one of
    ``dlnlib.data.SKLEARN_REGRESSION``; width: the hidden width; steps, record_every: >= 1; seed: >= 0.
    Near-zero Gaussian init: the same seed for every scale (scale multiplies one draw). Returns an ``LpSweep``
    with ``steps`` (T,), ``gap`` (T, K_lr, K_scale) = loss - optimum (NaN after divergence), ``lrs``,
    ``scales`` and ``diverged``. Cached: the slider revisits settings instantly.
    """
    _check_sweep(p, depth, dataset, width, steps)
    check_int("record_every", record_every, minimum=1)
    check_int("seed", seed, minimum=0)
    return _lp_sweep(p, depth, dataset, width, steps, record_every, seed)


@lru_cache(maxsize=32)
def _lp_sweep(p, depth, dataset, width, steps, record_every, seed):
    X, Y = sklearn_regression(dataset, device="cpu")
    loss = LpLoss(X, Y, p)
    _, optimum = lp_optimum(loss)
    lrs = lr_grid(1e-2, 1.0)
    scales = torch.tensor(LP_SCALES, dtype=torch.float64)
    dims = [loss.in_dim] + [width] * (depth - 1) + [loss.out_dim]
    base = init_chain(dims, "gaussian", scale=1.0, seed=seed, device="cpu")
    chain = [(s[:, None, None] * wj).expand(len(lrs), len(scales), *wj.shape).clone()
             for wj, s in zip(base, [scales] * depth)]
    res = gradient_descent(chain, loss, lr=lrs[:, None], steps=steps, record_every=record_every, progress=False)
    return LpSweep({"steps": res.steps.numpy(), "gap": (res.losses - optimum).numpy(), "lrs": lrs.tolist(),
                    "scales": list(LP_SCALES)})


def _check_choice_of(name: str, value, choices) -> None:
    # a slider value that must be one of the precomputed grid's values (a bool is not a number here)
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value not in choices:
        raise ValueError(f"{name}: got {value!r}, expected one of {', '.join(f'{c:g}' for c in choices)}")


def _pinned(y, lo, hi):
    # a curve leaving the axes on its way to divergence is pinned to the top edge, never drawn as NaN
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y), np.clip(y, lo, hi), np.nan)


class LpView:
    """``lp_sweep`` curves (loss - optimum of depth N and of depth 1) on one axes, built once and updated in
    place; a diverged run is drawn by ``DivergenceMarks``."""

    def __init__(self, ax, *, steps: int = 150, top: float = 10.0):
        _axes("ax", ax)
        self.steps = check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
        _number("top", top, lo=10 * FLOOR)
        self.ax, self.top = ax, top
        (self.deep,) = ax.plot([], [], color="tab:blue", lw=2.2)
        (self.shallow,) = ax.plot([], [], color="gray", ls="--", lw=1.8)
        ax.set_yscale("log")
        ax.set_xlim(0, steps)
        ax.set_ylim(FLOOR, top)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss − optimum")
        light_log_axis(ax)
        _plain_log_labels(ax)
        self.marks = DivergenceMarks(ax, top / 2)
        self.title = ax.set_title(" ")
        # one legend, its labels rewritten by update (a new legend per update would redraw the whole figure)
        self.legend = ax.legend(handles=[self.deep, self.shallow], labels=[" ", " "], loc="upper right",
                                frameon=False)

    def update(self, depth: int, lr: float, p: int, scale: float, *, dataset: str = "diabetes", width: int = 50,
               steps: int | None = None) -> str:
        """Show the runs at (depth, lr, p, scale) of ``lp_sweep`` (lr one of ``LP_LRS``, scale one of
        ``LP_SCALES``); steps: the sweep's length, the view's by default. Returns a status line."""
        steps = self.steps if steps is None else steps
        _check_lp_view(depth, lr, p, scale, dataset, width, steps)
        curves = {}
        for N in sorted({1, depth}):
            sweep = lp_sweep(p, N, dataset=dataset, width=width, steps=steps)
            g = sweep["gap"][:, sweep["lrs"].index(lr), sweep["scales"].index(scale)]
            curves[N] = (sweep["steps"], np.where(np.isfinite(g), np.clip(g, FLOOR, None), np.nan))
        self.deep.set_data(curves[depth][0], _pinned(curves[depth][1], FLOOR, self.top))
        self.deep.set_label(f"depth {depth}")
        self.shallow.set_visible(depth != 1)
        self.shallow.set_data(curves[1][0], _pinned(curves[1][1], FLOOR, self.top))
        self.shallow.set_label("depth 1")
        events = [divergence(*curves[N]) for N in sorted(curves, reverse=True)]
        self.marks.update([(x, f"depth {N} diverged by step {x:.0f}")
                           for N, x in zip(sorted(curves, reverse=True), events) if x is not None])
        for N, line, color in ((depth, self.deep, "tab:blue"), (1, self.shallow, "gray")):
            line.set_color("tab:red" if divergence(*curves[N]) is not None else color)
        (deep_text, shallow_text), (deep_key, shallow_key) = self.legend.get_texts(), self.legend.legend_handles
        deep_text.set_text(f"depth {depth}")
        shallow_text.set_text("depth 1" if depth != 1 else "")
        shallow_key.set_visible(depth != 1)
        for key, line in ((deep_key, self.deep), (shallow_key, self.shallow)):
            key.set_color(line.get_color())
        self.title.set_text(f"{dataset}, l_{p} loss, η = {lr:.3g}, init std {scale:g}")

        def word(g):
            return "diverged" if np.isnan(g[-1]) else f"{g[-1]:.2g}"

        return f"final loss - optimum: depth {depth} {word(curves[depth][1])}, depth 1 {word(curves[1][1])}"


def _check_lp_view(depth, lr, p, scale, dataset, width, steps) -> None:
    _check_sweep(p, depth, dataset, width, steps)
    _check_choice_of("lr", lr, LP_LRS)
    _check_choice_of("scale", scale, LP_SCALES)


def draw_lp(ax, depth: int, lr: float, p: int, scale: float, *, dataset: str = "diabetes", width: int = 50,
            steps: int = 150) -> str:
    """Draw loss - optimum of depth N and of depth 1 at the same (lr, scale) from ``lp_sweep``; return a status.

    lr: one of ``LP_LRS``; scale: one of ``LP_SCALES``; the rest as in ``lp_sweep``."""
    _check_lp_view(depth, lr, p, scale, dataset, width, steps)
    return LpView(ax, steps=steps).update(depth, lr, p, scale, dataset=dataset, width=width, steps=steps)


def lp_demo(depth: int = 3, lr: float = 0.2, p: int = 4, scale: float = 0.01, *, dataset: str = "diabetes",
            depths=(1, 2, 3), ps=(2, 3, 4), width: int = 50, steps: int = 150) -> SliderFigure:
    """Sliders for depth N, learning rate, p and init scale on l_p regression (Arora et al. 2018's experiment).

    Every (p, depth) grid is computed when the sliders are built (``lp_sweep``, cached), so each redraw
    only plots and the sliders redraw while dragged. depths: at least two depths (1 to ``MAX_SWEEP_DEPTH``), ps:
    at least two integer exponents (2 to ``MAX_P``); the sliders span their ranges. lr: one of ``LP_LRS``; scale:
    one of ``LP_SCALES``; width: hidden width; steps: iterations shown, with len(depths) x len(ps) x steps at
    most ``LP_DEMO_STEPS`` (the sweeps run up front).
    """
    depths = _int_range("depths", depths, 1, MAX_SWEEP_DEPTH)
    ps = _int_range("ps", ps, 2, MAX_P)
    _check_sweep(ps[0], depths[0], dataset, width, steps)
    if len(depths) * len(ps) * steps > LP_DEMO_STEPS:
        raise ValueError(f"steps: got {steps} for {len(depths)} depths x {len(ps)} exponents ps, that is "
                         f"{len(depths) * len(ps) * steps:,} GD steps up front, expected at most {LP_DEMO_STEPS:,} "
                         "(fewer steps, depths or ps)")
    sliders = {
        "depth": _int_slider("depth", "depth N", depth, min(depths), max(depths)),
        "lr": _selection_slider("lr", "learning rate η", LP_LRS, lr),
        "p": _int_slider("p", "loss exponent p", p, min(ps), max(ps)),
        "scale": _selection_slider("scale", "init std σ", LP_SCALES, scale),
    }
    for N in depths:
        for q in ps:
            lp_sweep(q, N, dataset=dataset, width=width, steps=steps)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = LpView(axes[0, 0], steps=steps)

    def update(depth, lr, p, scale):
        return view.update(depth, lr, p, scale, dataset=dataset, width=width, steps=steps)

    return SliderFigure(fig, axes, sliders, update)


def _gap_problem(seed: int = 0):
    X, Y, _ = teacher_regression(4, 3, 64, seed=seed, device="cpu")
    return SquaredError(X, Y)


def _int_range(name: str, values, lo: int, hi: int) -> list:
    """``values``: at least two distinct integers in [lo, hi] (a slider spans min to max)."""
    try:
        items = list(values) if not isinstance(values, (str, bytes)) else None
    except TypeError:
        items = None
    if items is None or not all(not isinstance(v, bool) and isinstance(v, numbers.Integral) and lo <= v <= hi
                                for v in items) or len(set(items)) < 2 or len(set(items)) < len(items):
        raise ValueError(f"{name}: got {values!r}, expected at least two distinct integers in [{lo}, {hi}]")
    return items


def _check_gap(depth, time, points) -> None:
    check_int("depth", depth, minimum=1, maximum=MAX_SWEEP_DEPTH, why=" (a sweep is a grid of runs per depth)")
    check_positive("time", time, allow_tensor=False)
    if time > MAX_GAP_TIME:
        raise ValueError(f"time: got {time!r}, expected at most {MAX_GAP_TIME:g} ({MAX_GAP_TIME / GAP_LRS[-1]:.0f} "
                         f"steps at lr = {GAP_LRS[-1]:g})")
    points = check_int("points", points, minimum=1)
    for lr in GAP_LRS:  # equivalence_gap compares at the same times for every step size
        s = time / lr
        if abs(s - round(s)) > 1e-9 * max(1.0, s) or round(s) % points:
            raise ValueError(f"time: got {time!r} with points = {points}, expected time / lr an integer multiple of "
                             f"points for every lr in {GAP_LRS} (e.g. time = 2.0, points = 20)")


def equivalence_sweep(depth: int, *, time: float = 2.0, points: int = 20, seed: int = 0):
    """Upstairs/downstairs gap on a 4 -> 3 teacher for every (step size, kind, init scale) of the sliders.

    kind 0: a Gaussian (unbalanced) chain with per-layer std ``scale``; kind 1: the balanced chain with the
    same end-to-end matrix. One ``equivalence_gap`` call (two engine runs). Returns its ``EquivalenceResult``
    with gap of shape (K_lr, 2, K_scale, points). depth: 1 to ``MAX_SWEEP_DEPTH``; time: up to ``MAX_GAP_TIME``,
    with time / lr an integer multiple of ``points`` for every lr of ``GAP_LRS``; seed: >= 0.
    """
    _check_gap(depth, time, points)
    check_int("seed", seed, minimum=0)
    return _equivalence_sweep(depth, time, points, seed)


@lru_cache(maxsize=8)
def _equivalence_sweep(depth, time, points, seed):
    loss = _gap_problem(seed)
    scales = torch.tensor(GAP_SCALES, dtype=torch.float64)
    base = init_chain([4] + [3] * depth, "gaussian", scale=1.0, seed=seed + 1, device="cpu")
    unbalanced = [s * wj for s, wj in zip([scales[:, None, None]] * depth, base)]
    balanced = balanced_factorization(end_to_end(unbalanced), depth)
    chain = [torch.stack((u, b)) for u, b in zip(unbalanced, balanced)]
    return equivalence_gap(chain, loss, GAP_LRS, time, points=points)


class EquivalenceView:
    """The gap ``||W_up(t) - W_down(t)||`` from a balanced and an unbalanced chain (``equivalence_sweep``) on one
    axes, built once and updated in place; a diverged run is drawn by ``DivergenceMarks``."""

    def __init__(self, ax, *, time: float = 2.0, top: float = 10.0):
        _axes("ax", ax)
        _check_gap(1, time, 20)
        _number("top", top, lo=1e-3)
        self.ax, self.top, self.time = ax, top, time
        self.lines = {kind: ax.plot([], [], color=color, lw=2.2)[0]
                      for kind, color in ((0, "tab:red"), (1, "tab:blue"))}
        ax.set_yscale("log")
        ax.set_xlim(0, time)
        ax.set_ylim(1e-4, top)
        ax.set_xlabel("time t = η · step")
        ax.set_ylabel("‖W_up − W_down‖")
        light_log_axis(ax)
        _plain_log_labels(ax)
        self.marks = DivergenceMarks(ax, top / 2)
        self.title = ax.set_title(" ")
        self.legend = ax.legend(handles=[self.lines[1], self.lines[0]], labels=[" ", " "], loc="lower right",
                                frameon=False)

    def update(self, depth: int, lr: float, scale: float) -> str:
        """Show the runs at (depth, lr, scale) of ``equivalence_sweep`` over the view's time (lr one of ``GAP_LRS``,
        scale one of ``GAP_SCALES``); returns a status line."""
        _check_gap_view(depth, self.time, lr, scale)
        r = equivalence_sweep(depth, time=self.time)
        k, s = GAP_LRS.index(lr), GAP_SCALES.index(scale)
        t = r.times.numpy()
        runs = []
        for kind, name in ((0, "unbalanced"), (1, "balanced")):
            g = r.gap[k, kind, s].numpy()
            self.lines[kind].set_data(t, _pinned(g, 1e-4, self.top))
            m = float(r.max_gap[k, kind, s])
            self.lines[kind].set_label(f"{name}: max {m:.2g}" if np.isfinite(m) else f"{name}: diverged")
            x = divergence(t, g)
            if x is not None:
                runs.append((x, f"{name} diverged by t = {x:.2g}"))
        self.marks.update(runs)
        for text, kind in zip(self.legend.get_texts(), (1, 0)):
            text.set_text(self.lines[kind].get_label())
        self.title.set_text(f"depth {depth}, η = {lr:g}, init std {scale:g}")
        mu = float(r.max_gap[k, 0, s])
        ladder = ", ".join(f"{e:g}: {float(g):.2g}" for e, g in zip(GAP_LRS, r.max_gap[:, 1, s]))
        return f"balanced max gap by eta: {ladder}; unbalanced at this eta: {mu:.2g} (inf = diverged)"


def _check_gap_view(depth, time, lr, scale) -> None:
    _check_gap(depth, time, 20)
    _check_choice_of("lr", lr, GAP_LRS)
    _check_choice_of("scale", scale, GAP_SCALES)


def draw_equivalence(ax, depth: int, lr: float, scale: float) -> str:
    """Draw the gap against time from a balanced and an unbalanced chain (``equivalence_sweep``); return a status.

    depth: 1 to ``MAX_SWEEP_DEPTH``; lr: one of ``GAP_LRS``; scale: one of ``GAP_SCALES``."""
    _check_gap_view(depth, 2.0, lr, scale)
    return EquivalenceView(ax).update(depth, lr, scale)


def equivalence_demo(depth: int = 3, lr: float = 0.05, scale: float = 0.3, *, depths=(2, 3, 4)) -> SliderFigure:
    """Sliders for depth N, step size and init scale; gap ``||W_up(t) - W_down(t)||`` against time from a
    balanced and from an unbalanced chain with the same end-to-end matrix (all precomputed: redraws while dragged).
    depths: 2 to ``MAX_GAP_DEPTHS`` depths, 1 to ``MAX_SWEEP_DEPTH`` (the slider spans their range); lr: one of
    ``GAP_LRS``; scale: one of ``GAP_SCALES``.
    """
    depths = _int_range("depths", depths, 1, MAX_SWEEP_DEPTH)
    if len(depths) > MAX_GAP_DEPTHS:
        raise ValueError(f"depths: got {len(depths)} depths, expected at most {MAX_GAP_DEPTHS} (each is a sweep "
                         "computed up front)")
    sliders = {
        "depth": _int_slider("depth", "depth N", depth, min(depths), max(depths)),
        "lr": _selection_slider("lr", "learning rate η", GAP_LRS, lr),
        "scale": _selection_slider("scale", "init std σ", GAP_SCALES, scale),
    }
    for N in depths:
        equivalence_sweep(N)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = EquivalenceView(axes[0, 0])

    def update(depth, lr, scale):
        return view.update(depth, lr, scale)

    return SliderFigure(fig, axes, sliders, update)


def _plain_log_labels(ax) -> None:
    # Plain "1e-05" labels: drawing mathtext superscripts is the slowest part of a log-axis redraw.
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0e}"))
