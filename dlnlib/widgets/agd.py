"""Notebook 05's slider: Aligned Gradient Descent against shallow GD on the two-point data of the AGD paper."""

from __future__ import annotations

import math
from functools import lru_cache

import ipywidgets as w
import numpy as np
import torch

from ..agd import aligned_gd, shallow_gd
from ..core import MAX_DEPTH, MAX_STEPS, check_flag, check_int, check_positive
from ..data import two_point_regression
from . import (
    DivergenceMarks,
    SliderFigure,
    _int_slider,
    _number,
    _text,
    light_log_axis,
    make_figure,
    present_style,
)

__all__ = ["agd_vs_gd", "agd_demo", "log_slider"]


def _log_slider(name: str, description: str, value: float, lo: float, hi: float, step: float = 0.05, *,
                continuous: bool = False):
    # log_slider for a builder's argument ``name``: a bad initial value is refused under that name
    _text("description", description)
    check_positive("lo", lo, allow_tensor=False)
    check_positive("hi", hi, allow_tensor=False)
    check_positive("step", step, allow_tensor=False)
    if not lo < hi:
        raise ValueError(f"hi: got {hi!r} with lo = {lo!r}, expected lo < hi")
    decades = math.log10(hi) - math.log10(lo)
    if step > decades:
        raise ValueError(f"step: got {step!r}, expected at most the range's {decades:.3g} decades")
    check_positive(name, value, allow_tensor=False)
    top = math.log10(lo) + round((math.log10(hi) - math.log10(lo)) / step) * step
    k = (math.log10(value) - math.log10(lo)) / step
    if not -1e-9 <= k <= (top - math.log10(lo)) / step + 1e-9:
        raise ValueError(f"{name}: got {value!r}, expected a value in the slider's range [{lo:g}, {10**top:.3g}]")
    if abs(k - round(k)) > 1e-9:
        raise ValueError(f"{name}: got {value!r}, expected lo * 10^(k * {step:g}) with lo = {lo:g}")
    return w.FloatLogSlider(value=value, base=10, min=math.log10(lo), max=top, step=step,
                            description=description, continuous_update=check_flag("continuous", continuous),
                            readout_format=".3g", style={"description_width": "initial"})


def log_slider(description: str, value: float, lo: float, hi: float, step: float = 0.05, *,
               continuous: bool = False):
    """A slider over [lo, hi] (0 < lo < hi) on a log10 scale (``step`` in decades, at most the range's decades;
    hi rounded to that grid); ``value`` must lie in the range on the grid. continuous: redraw while dragged (cheap
    redraws only), else on release."""
    return _log_slider("value", description, value, lo, hi, step, continuous=continuous)


MAX_DEMO_STEPS = 100_000
"""The most iterations ``agd_demo`` runs per redraw."""


@lru_cache(maxsize=512)
def _gd_run(lr: float, lambda2: float, steps: int):
    # shallow GD does not depend on the depth slider: cached on its own
    X, y = two_point_regression(lambda2, device="cpu")
    with torch.no_grad():
        return shallow_gd(X, y, lr=lr, steps=steps)


@lru_cache(maxsize=512)
def _agd_run(lr: float, depth: int, lambda2: float, steps: int):
    X, y = two_point_regression(lambda2, device="cpu")
    with torch.no_grad():
        return aligned_gd(X, y, depth=depth, lr=lr, steps=steps)


def agd_vs_gd(lr: float, depth: int, lambda2: float, steps: int = 400):
    """Shallow GD and AGD (``depth`` layers) at rate ``lr`` on ``two_point_regression(lambda2)``, ``steps`` each.

    Returns the ``(gd, agd)`` runs; both are cached, GD independently of the depth, so revisiting a
    setting or moving only the depth slider reruns at most AGD.
    """
    _check_run(lr, depth, lambda2, steps)
    return _gd_run(float(lr), float(lambda2), int(steps)), _agd_run(float(lr), int(depth), float(lambda2), int(steps))


def _check_run(lr, depth, lambda2, steps) -> None:
    check_positive("lr", lr, allow_tensor=False)
    check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_positive("lambda2", lambda2, allow_tensor=False)
    check_int("steps", steps, minimum=1, maximum=MAX_STEPS)


def _curve(losses):
    y = losses.numpy()
    ok = np.isfinite(y)
    last = int(np.flatnonzero(ok)[-1]) if ok.any() else 0
    return np.arange(last + 1), np.maximum(y[: last + 1], 1e-30)


def _iters(run, tol: float) -> str:
    if bool(run.diverged):
        return f"diverged at step {int(run.diverged_at)}"
    k = int(run.iterations_to(tol))
    return f"{k} iterations" if k >= 0 else f"not within {run.steps}"


def agd_demo(lr: float = 0.1, depth: int = 2, lambda2: float = 0.01, *, steps: int = 400,
             tol: float = 1e-6) -> SliderFigure:
    """Sliders for eta, the depth L and lambda_2 (the conditioning of the two-point data, lambda_1 = 1):
    loss curves of shallow GD (dotted) and AGD (solid); the status line gives the iterations to ``tol``.
    steps: iterations per run (each redraw reruns AGD, so at most ``MAX_DEMO_STEPS``); tol: a loss level on the
    plot's axis, in [1e-14, 1e3].
    """
    sliders = {
        "lr": _log_slider("lr", "learning rate η", lr, 1e-3, 2.5, continuous=False),
        "depth": _int_slider("depth", "depth L", depth, 1, 8, continuous=False),
        "lambda2": _log_slider("lambda2", "eigenvalue λ₂", lambda2, 1e-3, 1.0, 0.1, continuous=False),
    }
    steps = check_int("steps", steps, minimum=1, maximum=MAX_DEMO_STEPS, why=" (every redraw reruns AGD)")
    _number("tol", tol, lo=1e-14, hi=1e3)
    fig, axes = make_figure(1, 1, figsize=(6.4, 3.4))
    fig.subplots_adjust(left=0.12, right=0.97, bottom=0.16, top=0.97)
    ax = axes[0, 0]
    with present_style():
        (gd_line,) = ax.plot([], [], ls=":", lw=2.2, color="tab:blue", label="shallow GD")
        (agd_line,) = ax.plot([], [], lw=1.8, color="tab:orange", label="AGD")
        ax.axhline(tol, color="0.6", lw=0.8, ls="--")
        ax.set_yscale("log")
        ax.set_ylim(1e-14, 1e3)
        ax.set_xlim(0, steps)
        ax.set_xlabel("iteration")
        ax.set_ylabel("loss")
        ax.legend(frameon=False, loc="lower left")
        light_log_axis(ax, numticks=4)
        marks = DivergenceMarks(ax, 1e2)

    def update(lr, depth, lambda2):
        gd, agd = agd_vs_gd(float(lr), int(depth), float(lambda2), steps)
        x, y = _curve(gd.losses)
        gd_line.set_data(x, np.minimum(y, 5e2))  # a diverging run leaves the axes: pinned to the top
        agd_line.set_data(*_curve(agd.losses))
        marks.update([(int(run.diverged_at), f"{name} diverged at step {int(run.diverged_at)}")
                      for name, run in (("shallow GD", gd), ("AGD", agd)) if bool(run.diverged)])
        limit = 2.0 / max(1.0, lambda2)
        return (f"eta = {lr:.3g} (2/lambda_max = {limit:.3g}), L = {depth}, lambda_2 = {lambda2:.3g}. "
                f"Loss <= {tol:g}: shallow GD {_iters(gd, tol)}; AGD {_iters(agd, tol)}.")

    return SliderFigure(fig, axes, sliders, update)
