"""Notebook 00's live demo: how depth and initial scale change gradient descent on a teacher task."""

from __future__ import annotations

from functools import lru_cache

import torch

from ..chains import init_chain
from ..core import MAX_DEPTH, MAX_STEPS, check_int, check_positive, check_size
from ..data import teacher_regression
from ..losses import SquaredError
from ..plotting import plot_losses
from ..train import TrainResult, gradient_descent
from . import SliderFigure, _axes, _float_slider, _int_slider, clear_data, light_log_axis, make_figure

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


def depth_demo(depth: int = 4, scale: float = 0.3) -> SliderFigure:
    """Sliders for depth (1-8) and initial scale; redraws the loss curves of 8 batched trials."""
    sliders = {
        "depth": _int_slider("depth", "depth N", depth, 1, 8, continuous=False),
        "scale": _float_slider("scale", "init std σ", scale, 0.05, 1.2, 0.05, continuous=False),
    }
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    ax = axes[0, 0]

    def update(depth, scale):
        with torch.no_grad():
            res = depth_experiment(depth, scale)
        return draw_depth_experiment(ax, res, depth, scale)

    return SliderFigure(fig, axes, sliders, update)
