"""Notebook 00's live demo: how depth and initial scale change gradient descent on a teacher task."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..chains import init_chain
from ..core import MAX_DEPTH, MAX_STEPS, check_int, check_positive, check_size
from ..data import teacher_regression
from ..losses import SquaredError
from ..plotting import _loss_spread, plot_losses
from ..train import TrainResult, gradient_descent
from . import SliderFigure, _axes, _float_slider, _int_slider, clear_data, light_log_axis, make_figure, present_style

__all__ = ["depth_experiment", "draw_depth_experiment", "depth_demo", "MAX_WIDTH"]

MAX_WIDTH = 64
"""The widest layer of ``depth_experiment`` (its teacher has 64 samples)."""


def depth_experiment(depth: int, scale: float, *, width: int = 4, trials: int = 8, steps: int = 150,
                     lr: float = 0.15, seed: int = 0):
    """Layerwise GD on a random width x width teacher (64 samples) for ``trials`` Gaussian inits of std ``scale``
    (one batched run).

    Every layer is width x width, so depth changes the optimisation, never the set of maps the
    network can express. depth, trials, steps: integers >= 1; width: 1 to ``MAX_WIDTH``; scale, lr: > 0; seed: >= 0.
    Returns the ``TrainResult`` (cached: revisiting a slider setting is instant).
    """
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_positive("scale", scale, allow_tensor=False)
    width = check_int("width", width, minimum=1, maximum=MAX_WIDTH, why=" (the teacher has 64 samples)")
    trials = check_int("trials", trials, minimum=1)
    check_size("depth, width, trials", (depth, trials, width, width))
    check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    check_positive("lr", lr, allow_tensor=False)
    check_int("seed", seed, minimum=0)
    return _depth_experiment(depth, scale, width, trials, steps, lr, seed)


@lru_cache(maxsize=256)
def _depth_experiment(depth, scale, width, trials, steps, lr, seed):
    X, Y, _ = teacher_regression(width, width, 64, seed=seed, device="cpu")
    loss = SquaredError(X, Y)
    chain = init_chain([width] * (depth + 1), "gaussian", scale=scale, batch=(trials,), seed=seed + 1, device="cpu")
    return gradient_descent(chain, loss, lr=lr, steps=steps, record_every=5)


def draw_depth_experiment(ax, result, depth: int, scale: float):
    """Plot one ``depth_experiment(depth, scale)`` result on ``ax`` and return a one-line summary."""
    _axes("ax", ax)
    if not isinstance(result, TrainResult) or result.final_loss.ndim != 1:
        raise ValueError(f"result: got {type(result).__name__}, expected a depth_experiment result")
    depth = check_int("depth", depth, minimum=1)
    if depth != len(result.chain):
        raise ValueError(f"depth: got {depth}, but the result's network has {len(result.chain)} layers")
    check_positive("scale", scale, allow_tensor=False)
    width, trials = result.chain[0].shape[-1], result.final_loss.numel()
    clear_data(ax)  # keeps the ticks: much faster than ax.clear()
    plot_losses(result, ax=ax, label=f"depth {depth}, init std {scale:g}", individual=3)
    ax.set_title(f"layerwise GD on a {width}x{width} teacher: depth {depth}, init std {scale:g}, {trials} trials")
    ax.set_ylim(1e-6, 10)
    light_log_axis(ax)
    final = result.final_loss
    ok = final[~result.diverged]
    med = float(ok.median()) if ok.numel() else float("nan")
    return f"median final loss {med:.3g}; {int(result.diverged.sum())} of {final.numel()} diverged"


SCALE_STEP = 0.05
"""The step of the demo's init-std slider (0.05 to 1.2)."""


@lru_cache(maxsize=16)
def _depth_sweep(depth: int, n_scales: int, width: int = 4, trials: int = 8, steps: int = 150, lr: float = 0.15,
                 seed: int = 0):
    """``depth_experiment(depth, scale)`` for every scale k * SCALE_STEP (k = 1..n_scales) in one batched run of
    shape (n_scales, trials): trial by trial the same initialisations and the same numbers (the trials of a batch
    do not interact), except that a scale whose trials all diverged is not cut short."""
    X, Y, _ = teacher_regression(width, width, 64, seed=seed, device="cpu")
    loss = SquaredError(X, Y)
    chains = [init_chain([width] * (depth + 1), "gaussian", scale=round(k * SCALE_STEP, 10), batch=(trials,),
                         seed=seed + 1, device="cpu") for k in range(1, n_scales + 1)]
    with torch.no_grad():
        return gradient_descent([torch.stack(layer) for layer in zip(*chains)], loss, lr=lr, steps=steps,
                                record_every=5)


class _DepthCurves:
    """What ``draw_depth_experiment`` draws (median, 10-90% band, three single runs, diverged runs in red ending
    in an x), built once and updated in place, so that a slider move redraws only the curves."""

    def __init__(self, ax, steps: int, individual: int = 3):
        self.ax = ax
        (self.median,) = ax.plot([], [], color="C0", lw=2)
        self.band = ax.fill_between([0.0, 1.0], [1.0, 1.0], [1.0, 1.0], color="C0", alpha=0.2, lw=0)
        self.singles = [ax.plot([], [], color="C0", lw=0.7, alpha=0.6)[0] for _ in range(individual)]
        self.failed = [ax.plot([], [], color="tab:red", lw=0.8, alpha=0.7)[0] for _ in range(max(individual, 3))]
        (self.ends,) = ax.plot([], [], "x", color="tab:red", ms=8)
        ax.set_yscale("log")
        ax.set_xlim(0, steps)
        ax.set_ylim(1e-6, 10)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        light_log_axis(ax)
        self.legend = ax.legend(handles=[self.median, self.ends], labels=[" ", " "], frameon=False)
        self.title = ax.set_title(" ")

    def update(self, x, y, label: str) -> None:
        """x: steps (T,); y: losses (T, trials), NaN after a divergence."""
        ok, med, spread, ends, diverged = _loss_spread(y, failed=len(self.failed))
        self.median.set_data((x, med) if med is not None else ([], []))
        self.band.set_verts([np.column_stack([np.r_[x, x[::-1]], np.r_[spread[0], spread[1][::-1]]])]
                            if spread is not None else [])
        self.band.set_visible(spread is not None)
        for k, line in enumerate(self.singles):
            line.set_data((x, ok[:, k]) if k < ok.shape[1] else ([], []))
        for n, line in enumerate(self.failed):
            line.set_data((x[: ends[n][1] + 1], y[: ends[n][1] + 1, ends[n][0]]) if n < len(ends) else ([], []))
        self.ends.set_data([x[i] for _, i in ends], [y[i, k] for k, i in ends])
        median_text, failed_text = self.legend.get_texts()
        median_text.set_text(label)
        failed_text.set_text(f"diverged: {int(diverged.sum())} of {y.shape[1]} trials" if diverged.any() else "")
        self.legend.legend_handles[1].set_visible(bool(diverged.any()))


def depth_demo(depth: int = 4, scale: float = 0.3) -> SliderFigure:
    """Sliders for depth (1-8) and initial scale; redraws the loss curves of 8 batched trials.

    Every setting of the sliders is computed when the demo is built (one batched run per depth, about a second
    in all), so a slider move only redraws, also while the slider is dragged."""
    sliders = {
        "depth": _int_slider("depth", "depth N", depth, 1, 8),
        "scale": _float_slider("scale", "init std σ", scale, SCALE_STEP, 1.2, SCALE_STEP),
    }
    n_scales = round(1.2 / SCALE_STEP)
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = _DepthCurves(axes[0, 0], steps=150)
        # the setting is in the legend (and on the sliders): a static title is drawn once, with the background
        view.title.set_text("layerwise GD on a 4x4 teacher, 8 trials")
    for n in range(1, 9):
        _depth_sweep(n, n_scales)

    def update(depth, scale):
        res = _depth_sweep(depth, n_scales)
        k = round(scale / SCALE_STEP) - 1
        y = res.history["loss"][:, k].numpy()
        view.update(res.steps.numpy().astype(float), y, f"depth {depth}, init std {scale:g}")
        final, diverged = res.final_loss[k], res.diverged[k]
        ok = final[~diverged]
        med = float(ok.median()) if ok.numel() else float("nan")
        return f"median final loss {med:.3g}; {int(diverged.sum())} of {final.numel()} diverged"

    return SliderFigure(fig, axes, sliders, update)
