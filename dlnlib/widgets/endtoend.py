"""Notebook 04's sliders: depth, step size, p and init scale on the l_p experiment, and the
upstairs/downstairs gap from balanced and unbalanced chains.

Each builder computes its whole slider grid up front in a few batched engine runs (cached), so a redraw
only changes line data: every redraw stays far below 100 ms.
"""

from __future__ import annotations

from functools import lru_cache

import ipywidgets as w
import numpy as np
import torch

from ..chains import end_to_end, init_chain
from ..data import sklearn_regression, teacher_regression
from ..endtoend import balanced_factorization, equivalence_gap, lp_optimum, lr_grid
from ..losses import LpLoss, SquaredError
from ..plotting.endtoend import FLOOR
from ..train import gradient_descent
from . import SliderFigure, int_slider, light_log_axis, make_figure

__all__ = ["lp_sweep", "draw_lp", "lp_demo", "equivalence_sweep", "draw_equivalence", "equivalence_demo",
           "LP_SCALES", "GAP_LRS", "GAP_SCALES"]

LP_SCALES = (0.001, 0.01, 0.1)
GAP_LRS = (0.1, 0.05, 0.025, 0.0125)
GAP_SCALES = (0.1, 0.2, 0.3, 0.45, 0.6)


def _selection(description: str, options, value):
    return w.SelectionSlider(options=list(options), value=value, description=description, continuous_update=False,
                             style={"description_width": "initial"})


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


def draw_lp(ax, depth: int, lr: float, p: int, scale: float, *, dataset: str = "diabetes", width: int = 50,
            steps: int = 150) -> str:
    """Draw loss - optimum of depth N and of depth 1 at the same (lr, scale) from ``lp_sweep``; return a status."""
    ax.clear()
    curves = {}
    for N in sorted({1, depth}):
        sweep = lp_sweep(p, N, dataset=dataset, width=width, steps=steps)
        g = sweep["gap"][:, sweep["lrs"].index(lr), sweep["scales"].index(scale)]
        curves[N] = np.where(np.isfinite(g), np.clip(g, FLOOR, None), np.nan)
        style = {"color": "gray", "ls": "--", "lw": 1.5} if N == 1 and depth != 1 else {"color": "tab:blue", "lw": 2}
        ax.semilogy(sweep["steps"], curves[N], label=f"depth {N}", **style)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss - optimum")
    ax.set_ylim(FLOOR, 10.0)
    light_log_axis(ax)
    _plain_log_labels(ax)
    ax.legend(loc="upper right", frameon=False)

    def word(g):
        return "diverged" if np.isnan(g[-1]) else f"{g[-1]:.2g}"

    ax.set_title(f"{dataset}, l_{p} loss, eta = {lr:g}, init std {scale:g}")
    return f"final loss - optimum: depth {depth} {word(curves[depth])}, depth 1 {word(curves[1])}"


def lp_demo(depth: int = 3, lr: float = 0.2, p: int = 4, scale: float = 0.01, *, dataset: str = "diabetes",
            depths=(1, 2, 3), ps=(2, 3, 4), width: int = 50, steps: int = 150) -> SliderFigure:
    """Sliders for depth N, learning rate, p and init scale on l_p regression (Arora et al. 2018's experiment).

    Every (p, depth) grid is computed when the sliders are built (``lp_sweep``, cached), so each redraw
    only plots. width: hidden width; steps: iterations shown.
    """
    for N in depths:
        for q in ps:
            lp_sweep(q, N, dataset=dataset, width=width, steps=steps)
    grid = lp_sweep(ps[0], depths[0], dataset=dataset, width=width, steps=steps)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    ax = axes[0, 0]
    sliders = {
        "depth": int_slider("depth N", depth, min(depths), max(depths)),
        "lr": _selection("eta", grid["lrs"], lr),
        "p": int_slider("p", p, min(ps), max(ps)),
        "scale": _selection("init std", grid["scales"], scale),
    }

    def update(depth, lr, p, scale):
        return draw_lp(ax, depth, lr, p, scale, dataset=dataset, width=width, steps=steps)

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


def draw_equivalence(ax, depth: int, lr: float, scale: float) -> str:
    """Draw the gap against time from a balanced and an unbalanced chain (``equivalence_sweep``); return a status."""
    ax.clear()
    r = equivalence_sweep(depth)
    k, s = GAP_LRS.index(lr), GAP_SCALES.index(scale)
    for kind, label, color in ((0, "unbalanced", "tab:red"), (1, "balanced", "tab:blue")):
        g = r.gap[k, kind, s].numpy()
        ax.semilogy(r.times.numpy(), np.where(np.isfinite(g), g, np.nan), color=color, lw=2, label=label)
    ax.set_xlabel("time t = eta * step")
    ax.set_ylabel("||W_up(t) - W_down(t)||")
    ax.set_ylim(1e-4, 10.0)
    light_log_axis(ax)
    _plain_log_labels(ax)
    ax.legend(loc="lower right", frameon=False)
    mb, mu = float(r.max_gap[k, 1, s]), float(r.max_gap[k, 0, s])
    ax.set_title(f"depth {depth}, eta = {lr:g}, init std {scale:g}: max gap {mb:.2g} balanced, {mu:.2g} unbalanced")
    ladder = ", ".join(f"{e:g}: {float(g):.2g}" for e, g in zip(GAP_LRS, r.max_gap[:, 1, s]))
    return f"balanced max gap by eta: {ladder}; unbalanced at this eta: {mu:.2g} (inf = diverged)"


def equivalence_demo(depth: int = 3, lr: float = 0.05, scale: float = 0.3, *, depths=(2, 3, 4)) -> SliderFigure:
    """Sliders for depth N, step size and init scale; gap ``||W_up(t) - W_down(t)||`` against time from a
    balanced and from an unbalanced chain with the same end-to-end matrix.
    """
    for N in depths:
        equivalence_sweep(N)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    ax = axes[0, 0]
    sliders = {
        "depth": int_slider("depth N", depth, min(depths), max(depths)),
        "lr": _selection("eta", GAP_LRS, lr),
        "scale": _selection("init std", GAP_SCALES, scale),
    }

    def update(depth, lr, scale):
        return draw_equivalence(ax, depth, lr, scale)

    return SliderFigure(fig, axes, sliders, update)


def _plain_log_labels(ax) -> None:
    # Plain "1e-05" labels: drawing mathtext superscripts is the slowest part of a log-axis redraw.
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:.0e}"))
