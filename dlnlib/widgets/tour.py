"""Notebook 00's live demo: how depth and initial scale change gradient descent on a teacher task."""

from __future__ import annotations

from functools import lru_cache

import torch

from ..chains import init_chain
from ..data import teacher_regression
from ..losses import SquaredError
from ..plotting import plot_losses
from ..train import gradient_descent
from . import SliderFigure, clear_data, float_slider, int_slider, light_log_axis, make_figure

__all__ = ["depth_experiment", "draw_depth_experiment", "depth_demo"]


@lru_cache(maxsize=256)
def depth_experiment(depth: int, scale: float, *, width: int = 4, trials: int = 8, steps: int = 150,
                     lr: float = 0.15, seed: int = 0):
    """Layerwise GD on a random 4x4 teacher for ``trials`` Gaussian inits of std ``scale`` (one batched run).

    Every layer is width x width, so depth changes the optimisation, never the set of maps the
    network can express. Returns the ``TrainResult`` (cached: revisiting a slider setting is instant).
    """
    X, Y, _ = teacher_regression(width, width, 64, seed=seed, device="cpu")
    loss = SquaredError(X, Y)
    chain = init_chain([width] * (depth + 1), "gaussian", scale=scale, batch=(trials,), seed=seed + 1, device="cpu")
    return gradient_descent(chain, loss, lr=lr, steps=steps, record_every=5)


def draw_depth_experiment(ax, result, depth: int, scale: float):
    """Plot one ``depth_experiment`` result on ``ax`` and return a one-line summary."""
    clear_data(ax)  # keeps the ticks: much faster than ax.clear()
    plot_losses(result, ax=ax, label=f"depth {depth}, init std {scale:g}", individual=3)
    ax.set_title(f"layerwise GD on a 4x4 teacher: depth {depth}, init std {scale:g}, 8 trials")
    ax.set_ylim(1e-6, 10)
    light_log_axis(ax)
    final = result.final_loss
    ok = final[~result.diverged]
    med = float(ok.median()) if ok.numel() else float("nan")
    return f"median final loss {med:.3g}; {int(result.diverged.sum())} of {final.numel()} diverged"


def depth_demo(depth: int = 4, scale: float = 0.3) -> SliderFigure:
    """Sliders for depth (1-8) and initial scale; redraws the loss curves of 8 batched trials."""
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    ax = axes[0, 0]
    sliders = {
        "depth": int_slider("depth N", depth, 1, 8, continuous=False),
        "scale": float_slider("init std σ", scale, 0.05, 1.2, 0.05, continuous=False),
    }

    def update(depth, scale):
        with torch.no_grad():
            res = depth_experiment(depth, scale)
        return draw_depth_experiment(ax, res, depth, scale)

    return SliderFigure(fig, axes, sliders, update)
