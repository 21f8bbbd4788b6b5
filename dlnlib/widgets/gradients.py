"""Notebook 01's slider: gradient descent and gradient flow on the scalar chain ``w2 w1 x ~ y``."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..core import check_positive
from ..losses import SquaredError
from ..plotting.gradients import plot_path, plot_scalar_landscape
from ..train import gradient_descent, gradient_flow
from . import SliderFigure, _float_slider, _number, make_figure, present_style

__all__ = ["scalar_chain_paths", "scalar_chain_demo", "BOX", "MAX_HORIZON", "MAX_PATH_STEPS"]

BOX = 5.0
"""The largest |w1(0)|, |w2(0)|, |x| and |y| of the scalar chain: beyond, the flow is so stiff that the solver
needs minutes (its speed grows like x^2 (w1^2 + w2^2))."""
MAX_HORIZON = 10.0
"""The longest time span of ``scalar_chain_paths`` (the flow has long converged; the solver's work grows with it)."""
MAX_PATH_STEPS = 2000
"""The most GD steps (horizon / eta) of ``scalar_chain_paths``."""


def _scalar_problem(w1, w2, x, y):
    # float64 data: torch.tensor([[x]]) alone would round x and y to float32 (0.1 -> 0.100000001)
    loss = SquaredError(torch.tensor([[x]], dtype=torch.float64), torch.tensor([[y]], dtype=torch.float64),
                        device="cpu")
    chain = [torch.tensor([[w1]], dtype=torch.float64), torch.tensor([[w2]], dtype=torch.float64)]
    return chain, loss


@lru_cache(maxsize=512)
def _flow_path(w1, w2, x, y, horizon, points=120):
    """``gradient_flow`` of the scalar chain (same solver, same tolerances), with the gradient written out:
    -dL/dw1 = x w2 (y - w2 w1 x), -dL/dw2 = x w1 (y - w2 w1 x). A NumPy right-hand side costs a few microseconds
    against about a hundred for a torch one, so a slider move solves the flow in a few milliseconds; the path
    agrees with ``gradient_flow``'s to rounding (``tests/test_widgets_and_plots.py``)."""
    from scipy.integrate import solve_ivp

    def velocity(_t, w):
        r = x * (y - w[1] * w[0] * x)
        return [w[1] * r, w[0] * r]

    times = np.linspace(0.0, horizon, points)
    sol = solve_ivp(velocity, (0.0, horizon), [w1, w2], method="DOP853", t_eval=times, rtol=1e-8, atol=1e-10)
    if not sol.success:  # not seen within BOX; the general solver then says what went wrong
        chain, loss = _scalar_problem(w1, w2, x, y)
        flow = gradient_flow(chain, loss, times, rtol=1e-8, atol=1e-10)
        return np.stack([flow.chains[0][:, 0, 0].numpy(), flow.chains[1][:, 0, 0].numpy()], axis=1)
    return sol.y.T.copy()


@lru_cache(maxsize=512)
def _gd_path(w1, w2, eta, x, y, horizon):
    chain, loss = _scalar_problem(w1, w2, x, y)
    steps = max(1, round(horizon / eta))
    res = gradient_descent(chain, loss, lr=eta, steps=steps, record=("loss", "chain"), progress=False)
    path = np.stack([res.history["chain"][0][:, 0, 0].numpy(), res.history["chain"][1][:, 0, 0].numpy()], axis=1)
    return path, bool(res.diverged), int(res.diverged_at)


def scalar_chain_paths(w1: float, w2: float, eta: float, *, x: float = 1.0, y: float = 1.0, horizon: float = 6.0):
    """Gradient-flow path (t in [0, horizon]) and GD path (horizon/eta steps) from (w1, w2), each (T, 2).

    w1, w2, x, y: numbers in [-BOX, BOX]; eta > 0; horizon in (0, MAX_HORIZON], with horizon / eta at most
    ``MAX_PATH_STEPS`` steps. Returns ``(flow_path, gd_path, diverged, diverged_at)`` (a diverged GD path stops
    at its last finite iterate); cached, so revisiting a setting is instant.
    """
    for name, v in (("w1", w1), ("w2", w2), ("x", x), ("y", y)):
        _number(name, v, lo=-BOX, hi=BOX)
    _check_steps(eta, horizon)
    flow = _flow_path(float(w1), float(w2), float(x), float(y), float(horizon))
    gd, diverged, at = _gd_path(float(w1), float(w2), float(eta), float(x), float(y), float(horizon))
    return flow, gd, diverged, at


def _check_steps(eta, horizon) -> None:
    check_positive("eta", eta, allow_tensor=False)
    check_positive("horizon", horizon, allow_tensor=False)
    _number("horizon", horizon, hi=MAX_HORIZON)
    steps = horizon / eta
    if steps > MAX_PATH_STEPS:
        raise ValueError(f"eta: got {eta!r} with horizon = {horizon!r}, that is {steps:.3g} GD steps, expected at most "
                         f"{MAX_PATH_STEPS} (a larger eta or a shorter horizon)")


def scalar_chain_demo(w1: float = 0.1, w2: float = 1.8, eta: float = 0.2, *, x: float = 1.0, y: float = 1.0):
    """Sliders for w1(0), w2(0) and eta over the landscape of ``1/2 (y - w2 w1 x)^2``; flow vs GD paths.

    x (nonzero), y: the data, in [-BOX, BOX]."""
    sliders = {
        "w1": _float_slider("w1", "initial w₁", w1, -2.0, 2.0, 0.1),
        "w2": _float_slider("w2", "initial w₂", w2, -2.0, 2.0, 0.1),
        "eta": _float_slider("eta", "learning rate η", eta, 0.02, 1.2, 0.02),
    }
    for name, v in (("x", x), ("y", y)):
        _number(name, v, lo=-BOX, hi=BOX)
    if x == 0:
        raise ValueError("x: got 0.0, expected a nonzero input (with x = 0 the loss does not depend on w)")
    fig, axes = make_figure(1, 1, figsize=(5.2, 5.0))
    ax = axes[0, 0]
    with present_style():
        plot_scalar_landscape(ax, x=x, y=y)
        flow_line = plot_path(ax, np.zeros((2, 2)), start=False, color="tab:orange", lw=2, label="gradient flow")
        gd_line = plot_path(ax, np.zeros((2, 2)), start=False, color="tab:red", lw=1, marker=".", ms=3,
                            label="gradient descent")
        (start,) = ax.plot([w1], [w2], "o", color="black", ms=6)
        ax.legend(loc="lower left", frameon=True)
        title = ax.set_title(" ")
        # divergence, unmistakable: a large red X where GD leaves (pinned inside the box) and a bold label
        (cross,) = ax.plot([], [], "X", color="tab:red", ms=20, mec="white", zorder=5)
        alarm = ax.text(0.5, 0.62, "", transform=ax.transAxes, ha="center", color="tab:red", fontsize=16,
                        fontweight="bold", zorder=6, bbox={"facecolor": "white", "edgecolor": "tab:red", "alpha": 0.9})

    def update(w1, w2, eta):
        flow, gd, diverged, at = scalar_chain_paths(w1, w2, eta, x=x, y=y)
        flow_line.set_data(flow[:, 0], flow[:, 1])
        gd_line.set_data(gd[:, 0], gd[:, 1])
        start.set_data([w1], [w2])
        ok = np.isfinite(gd).all(axis=1)
        last = np.clip(gd[ok][-1], -2.3, 2.3) if diverged and ok.any() else None
        cross.set_data([] if last is None else [last[0]], [] if last is None else [last[1]])
        alarm.set_text(f"GD diverged at step {at}" if diverged else "")
        alarm.set_visible(diverged)
        if diverged:
            title.set_text(f"η = {eta:.2f}: GD diverged")
            return f"gradient descent diverged at step {at} (eta too large for this start)"
        drift = abs((gd[-1, 0] ** 2 - gd[-1, 1] ** 2) - (w1**2 - w2**2))
        title.set_text(f"η = {eta:.2f}: w₁² − w₂² drifted by {drift:.2g}")
        return f"{len(gd) - 1} GD steps; flow conserves w1^2 - w2^2, GD drifts by {drift:.3g}"

    return SliderFigure(fig, axes, sliders, update)
