"""Notebook 04's sliders: depth, step size, p and init scale on the l_p experiment, and the
upstairs/downstairs gap from balanced and unbalanced chains.

Each builder computes its whole slider grid up front in a few batched engine runs (cached), so a redraw
only changes line data: every redraw stays far below 100 ms.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..chains import end_to_end, init_chain
from ..data import sklearn_regression, teacher_regression
from ..endtoend import balanced_factorization, equivalence_gap, lp_optimum, lr_grid
from ..losses import LpLoss, SquaredError
from ..plotting.endtoend import FLOOR
from ..train import gradient_descent
from . import (
    DivergenceMarks,
    SliderFigure,
    divergence,
    int_slider,
    light_log_axis,
    make_figure,
    present_style,
    selection_slider,
)

__all__ = ["lp_sweep", "LpView", "draw_lp", "lp_demo", "equivalence_sweep", "EquivalenceView", "draw_equivalence",
           "equivalence_demo", "LP_SCALES", "GAP_LRS", "GAP_SCALES"]

LP_SCALES = (0.001, 0.01, 0.1)
GAP_LRS = (0.1, 0.05, 0.025, 0.0125)
GAP_SCALES = (0.1, 0.2, 0.3, 0.45, 0.6)


@lru_cache(maxsize=32)
def lp_sweep(p: int, depth: int, *, dataset: str = "diabetes", width: int = 50, steps: int = 150,
             record_every: int = 5, seed: int = 0):
    """Layerwise GD on l_p regression over the grid (learning rate x init scale), one engine run.

    Near-zero Gaussian init: the same seed for every scale (scale multiplies one draw). Returns a dict
    with ``steps`` (T,), ``gap`` (T, K_lr, K_scale) = loss - optimum (NaN after divergence), ``lrs``,
    ``scales``. Cached: the slider revisits settings instantly.
    """
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
    return {"steps": res.steps.numpy(), "gap": (res.losses - optimum).numpy(), "lrs": lrs.tolist(),
            "scales": list(LP_SCALES)}


def _pinned(y, lo, hi):
    # a curve leaving the axes on its way to divergence is pinned to the top edge, never drawn as NaN
    y = np.asarray(y, dtype=float)
    return np.where(np.isfinite(y), np.clip(y, lo, hi), np.nan)


class LpView:
    """``lp_sweep`` curves (loss - optimum of depth N and of depth 1) on one axes, built once and updated in
    place; a diverged run is drawn by ``DivergenceMarks``."""

    def __init__(self, ax, *, steps: int = 150, top: float = 10.0):
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

    def update(self, depth: int, lr: float, p: int, scale: float, *, dataset: str = "diabetes", width: int = 50,
               steps: int = 150) -> str:
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
        self.ax.legend(handles=[self.deep] + ([self.shallow] if depth != 1 else []), loc="upper right",
                       frameon=False)
        self.title.set_text(f"{dataset}, l_{p} loss, η = {lr:.3g}, init std {scale:g}")

        def word(g):
            return "diverged" if np.isnan(g[-1]) else f"{g[-1]:.2g}"

        return f"final loss - optimum: depth {depth} {word(curves[depth][1])}, depth 1 {word(curves[1][1])}"


def draw_lp(ax, depth: int, lr: float, p: int, scale: float, *, dataset: str = "diabetes", width: int = 50,
            steps: int = 150) -> str:
    """Draw loss - optimum of depth N and of depth 1 at the same (lr, scale) from ``lp_sweep``; return a status."""
    return LpView(ax, steps=steps).update(depth, lr, p, scale, dataset=dataset, width=width, steps=steps)


def lp_demo(depth: int = 3, lr: float = 0.2, p: int = 4, scale: float = 0.01, *, dataset: str = "diabetes",
            depths=(1, 2, 3), ps=(2, 3, 4), width: int = 50, steps: int = 150) -> SliderFigure:
    """Sliders for depth N, learning rate, p and init scale on l_p regression (Arora et al. 2018's experiment).

    Every (p, depth) grid is computed when the sliders are built (``lp_sweep``, cached), so each redraw
    only plots and the sliders redraw while dragged. width: hidden width; steps: iterations shown.
    """
    for N in depths:
        for q in ps:
            lp_sweep(q, N, dataset=dataset, width=width, steps=steps)
    grid = lp_sweep(ps[0], depths[0], dataset=dataset, width=width, steps=steps)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = LpView(axes[0, 0], steps=steps)
    sliders = {
        "depth": int_slider("depth N", depth, min(depths), max(depths)),
        "lr": selection_slider("learning rate η", grid["lrs"], lr),
        "p": int_slider("loss exponent p", p, min(ps), max(ps)),
        "scale": selection_slider("init std σ", grid["scales"], scale),
    }

    def update(depth, lr, p, scale):
        return view.update(depth, lr, p, scale, dataset=dataset, width=width, steps=steps)

    return SliderFigure(fig, axes, sliders, update)


def _gap_problem(seed: int = 0):
    X, Y, _ = teacher_regression(4, 3, 64, seed=seed, device="cpu")
    return SquaredError(X, Y)


@lru_cache(maxsize=8)
def equivalence_sweep(depth: int, *, time: float = 2.0, points: int = 20, seed: int = 0):
    """Upstairs/downstairs gap on a 4 -> 3 teacher for every (step size, kind, init scale) of the sliders.

    kind 0: a Gaussian (unbalanced) chain with per-layer std ``scale``; kind 1: the balanced chain with the
    same end-to-end matrix. One ``equivalence_gap`` call (two engine runs). Returns its ``EquivalenceResult``
    with gap of shape (K_lr, 2, K_scale, points).
    """
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
        self.ax, self.top = ax, top
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

    def update(self, depth: int, lr: float, scale: float) -> str:
        r = equivalence_sweep(depth)
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
        self.ax.legend(handles=[self.lines[1], self.lines[0]], loc="lower right", frameon=False)
        self.title.set_text(f"depth {depth}, η = {lr:g}, init std {scale:g}")
        mu = float(r.max_gap[k, 0, s])
        ladder = ", ".join(f"{e:g}: {float(g):.2g}" for e, g in zip(GAP_LRS, r.max_gap[:, 1, s]))
        return f"balanced max gap by eta: {ladder}; unbalanced at this eta: {mu:.2g} (inf = diverged)"


def draw_equivalence(ax, depth: int, lr: float, scale: float) -> str:
    """Draw the gap against time from a balanced and an unbalanced chain (``equivalence_sweep``); return a status."""
    return EquivalenceView(ax).update(depth, lr, scale)


def equivalence_demo(depth: int = 3, lr: float = 0.05, scale: float = 0.3, *, depths=(2, 3, 4)) -> SliderFigure:
    """Sliders for depth N, step size and init scale; gap ``||W_up(t) - W_down(t)||`` against time from a
    balanced and from an unbalanced chain with the same end-to-end matrix (all precomputed: redraws while dragged).
    """
    for N in depths:
        equivalence_sweep(N)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = EquivalenceView(axes[0, 0])
    sliders = {
        "depth": int_slider("depth N", depth, min(depths), max(depths)),
        "lr": selection_slider("learning rate η", GAP_LRS, lr),
        "scale": selection_slider("init std σ", GAP_SCALES, scale),
    }

    def update(depth, lr, scale):
        return view.update(depth, lr, scale)

    return SliderFigure(fig, axes, sliders, update)


def _plain_log_labels(ax) -> None:
    # Plain "1e-05" labels: drawing mathtext superscripts is the slowest part of a log-axis redraw.
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0e}"))
