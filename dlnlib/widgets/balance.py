"""Notebook 03's live demo: matrix factorisation by GD, with the imbalance's drift and the norm ratio.

Two panels (the drift of the invariant and the norm ratio, one line per trial) and a status line with
the median final objective. Sliders: learning rate, initial scale, initial imbalance (the ratio of U's
to V's entry scale) and the weight lambda of the regulariser ``lambda/4 ||U^T U - V^T V||_F^2``
(Du, Hu & Lee 2018, the two objectives of their Fig. 1).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from ..balance import factorisation_init, factorisation_loss, imbalance, low_rank_target, norm_ratios
from ..core import MAX_STEPS, check_int, check_nonneg, check_positive
from ..plotting.balance import FLOOR
from ..train import TrainResult, gradient_descent
from . import SliderFigure, _axes_of, _figure, _float_slider, light_log_axis, make_figure, present_style

__all__ = ["factorisation_experiment", "setup_axes", "draw_factorisation", "balance_demo"]

_D1, _D2, _RANK = 10, 8, 2
_TRIALS, _STEPS = 5, 100


def _drift_fn(q0):
    def drift(chain):
        vt, u = chain
        size = torch.linalg.matrix_norm(u.transpose(-1, -2) @ u) + torch.linalg.matrix_norm(vt @ vt.transpose(-1, -2))
        return torch.linalg.matrix_norm(imbalance(chain)[0] - q0) / size

    return drift


MAX_TRIALS = 100
"""The most trials one experiment holds (each is a line in every panel of ``setup_axes``)."""


def _check_setting(lr, scale, ratio, lam) -> None:
    for name, v in (("lr", lr), ("scale", scale), ("ratio", ratio)):
        check_positive(name, v, allow_tensor=False)
    check_nonneg("lam", lam)


def factorisation_experiment(lr: float, scale: float, ratio: float, lam: float, *, trials: int = _TRIALS,
                             steps: int = _STEPS, seed: int = 0):
    """GD on ``1/2||U V^T - M*||^2 + lam/4 ||U^T U - V^T V||^2`` (10 x 8 target, singular values 1, 0.7).

    U entries N(0, (ratio*scale)^2), V entries N(0, (scale/ratio)^2); one batched run, cached per setting.
    lr, scale, ratio: numbers > 0; lam: >= 0; trials: 1 to ``MAX_TRIALS``; steps >= 1; seed >= 0.
    Returns the ``TrainResult`` with histories "ratio" (||U||_F/||V||_F) and "drift" (relative change of
    U^T U - V^T V, divided by ||U^T U||_F + ||V^T V||_F).
    """
    _check_setting(lr, scale, ratio, lam)
    check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    check_int("seed", seed, minimum=0)
    return _experiment(lr, scale, ratio, lam, trials=trials, steps=steps, seed=seed)


@lru_cache(maxsize=256)
def _experiment(lr, scale, ratio, lam, *, trials, steps, seed):
    target = low_rank_target(_D1, _D2, _RANK, singular_values=[1.0, 0.7], seed=seed, device="cpu")
    init = factorisation_init(_D1, _D2, _RANK, scale=scale, ratio=ratio, batch=(trials,), seed=seed + 1,
                              device="cpu")
    q0 = imbalance(init)[0]
    return gradient_descent(init, factorisation_loss(target, lam), lr=lr, steps=steps, record_every=4,
                            blowup=1e6, callbacks={"ratio": lambda c: norm_ratios(c)[..., 0], "drift": _drift_fn(q0)})


_KEYS = ("drift", "ratio")
_TITLES = (r"relative drift of $U^TU - V^TV$", r"norm ratio $\|U\|_F\,/\,\|V\|_F$")


_LIMITS = ((1e-17, 100.0), (0.1, 10.0))


def setup_axes(fig, axes, *, trials: int = _TRIALS, steps: int = _STEPS) -> dict:
    """Fixed scales, limits and titles for ``draw_factorisation``; returns its artists: "panels" (per panel the
    trial lines and one x-marker line) and "settings" (a text line naming the slider values).

    fig: the figure of ``axes``, two Axes (drift, norm ratio); trials: lines per panel (1 to ``MAX_TRIALS``);
    steps: the x range (>= 1). Only the artists' data change on a redraw, so matplotlib reuses its tick objects
    (fast redraws).
    """
    _figure("fig", fig)
    axes = _axes_of(fig, axes, 2)  # drift, norm ratio
    trials = check_int("trials", trials, minimum=1, maximum=MAX_TRIALS)
    steps = check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    panels = []
    for k, (ax, (lo, hi)) in enumerate(zip(axes, _LIMITS)):
        ax.set_yscale("log")
        ax.set_xlim(0, steps)
        ax.set_ylim(lo, hi)
        light_log_axis(ax, numticks=3 if k == 1 else 4)
        ax.set_xticks([0, steps // 2, steps])  # few tick labels: text drawing dominates a redraw
        ax.set_xlabel("step")
        ax.set_title(_TITLES[k])
        trial_lines = [ax.plot([], [], lw=1)[0] for _ in range(trials)]
        (marks,) = ax.plot([], [], "x", color="tab:red", ms=8)
        panels.append((trial_lines, marks))
    settings = fig.suptitle(" ", color="0.3")
    return {"panels": panels, "settings": settings}


def draw_factorisation(artists, result, lr: float, scale: float, ratio: float, lam: float) -> str:
    """Put a ``factorisation_experiment(lr, scale, ratio, lam)`` result into the artists made by ``setup_axes``;
    return a status line (median final objective, drift and ratio of the trials that did not diverge).

    A diverged trial is drawn in red up to its divergence and ends in an x (never as NaN)."""
    _check_artists(artists)
    _check_result(result, artists)
    _check_setting(lr, scale, ratio, lam)
    artists["settings"].set_text(rf"$\eta$ = {lr:g}, scale {scale:g}, U:V {ratio:g}, $\lambda$ = {lam:g}")
    steps = result.steps.numpy()
    div_at = result.diverged_at.numpy()
    ok = div_at < 0
    color = "tab:blue" if lam == 0 else "tab:orange"
    for (trial_lines, marks), key, (lo, hi) in zip(artists["panels"], _KEYS, _LIMITS):
        y = result.history[key].numpy()
        if key != "ratio":
            y = np.maximum(y, FLOOR)
        ends_x, ends_y = [], []
        for k, line in enumerate(trial_lines):
            line.set_visible(k < y.shape[1])
            if k >= y.shape[1]:
                continue
            keep = steps <= div_at[k] if div_at[k] >= 0 else np.ones_like(steps, dtype=bool)
            line.set_data(steps[keep], y[keep, k])
            line.set_color(color if ok[k] else "tab:red")
            if not ok[k]:
                ends_x.append(steps[keep][-1])
                ends_y.append(float(np.clip(y[keep, k][-1], lo, hi)))
        marks.set_data(ends_x, ends_y)
    if not ok.any():
        return f"all {ok.size} trials diverged at lr = {lr:g}: lower the learning rate"
    med = float(np.median(result.history["drift"].numpy()[-1, ok]))
    rat = float(np.median(result.history["ratio"].numpy()[-1, ok]))
    loss = float(np.median(result.final_loss.numpy()[ok]))
    n_div = int((~ok).sum())
    div = f"; {n_div} of {ok.size} diverged (red)" if n_div else ""
    shown = "< 1e-12" if loss < 1e-12 else f"{loss:.2g}"
    return (f"after {int(steps[-1])} steps: median objective {shown}, relative drift {med:.2g}, "
            f"norm ratio {rat:.3g}{div}")


def _check_artists(artists) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.text import Text

    try:
        panels, settings = artists["panels"], artists["settings"]
        ok = isinstance(settings, Text) and len(panels) == 2 and all(
            len(lines) >= 1 and all(isinstance(line, Line2D) for line in lines) and isinstance(marks, Line2D)
            for lines, marks in panels)
    except (TypeError, KeyError, IndexError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"artists: got {type(artists).__name__}, expected the dict that setup_axes returns")


def _check_result(result, artists) -> None:
    if not isinstance(result, TrainResult) or not set(_KEYS) <= set(result.history):
        raise ValueError(f"result: got {type(result).__name__}, expected a factorisation_experiment result")
    trials, lines = result.final_loss.numel(), len(artists["panels"][0][0])
    if result.final_loss.ndim != 1 or trials > lines:
        raise ValueError(f"result: has {trials} trials, but the artists draw {lines} lines a panel "
                         "(setup_axes(..., trials=...) as many as the experiment's trials)")


def balance_demo(lr: float = 0.2, scale: float = 0.1, ratio: float = 1.0, lam: float = 0.0) -> SliderFigure:
    """Sliders for learning rate, initial scale, initial imbalance and lambda; redraws drift and norm ratio."""
    sliders = {
        "lr": _float_slider("lr", "learning rate η", lr, 0.02, 0.5, 0.02, continuous=False),
        "scale": _float_slider("scale", "init scale σ", scale, 0.01, 1.0, 0.01, continuous=False),
        "ratio": _float_slider("ratio", "imbalance U:V", ratio, 0.25, 4.0, 0.25, continuous=False),
        "lam": _float_slider("lam", "regulariser λ", lam, 0.0, 2.0, 0.1, continuous=False),
    }
    fig, axes = make_figure(1, 2, figsize=(9.0, 3.3))
    row = list(axes[0])

    with present_style():
        artists = setup_axes(fig, row)

    def update(lr, scale, ratio, lam):
        lr, scale, ratio, lam = (round(v, 4) for v in (lr, scale, ratio, lam))
        with torch.no_grad():
            res = factorisation_experiment(lr, scale, ratio, lam)
        return draw_factorisation(artists, res, lr, scale, ratio, lam)

    return SliderFigure(fig, axes, sliders, update)
