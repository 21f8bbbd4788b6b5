"""Notebook 03's live demo: matrix factorisation by GD, with the imbalance's drift and the norm ratio.

Two panels (the drift of the invariant and the norm ratio, one line per trial) and a status line with
the median final objective. Sliders: learning rate, initial scale, initial imbalance (the ratio of U's
to V's entry scale) and the weight lambda of the regulariser ``lambda/4 ||U^T U - V^T V||_F^2``
(Du, Hu & Lee 2018, the two objectives of their Fig. 1).
"""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache

import numpy as np
import torch

from ..balance import factorisation_init, factorisation_loss, imbalance, low_rank_target, norm_ratios
from ..core import MAX_STEPS, check_int, check_nonneg, check_positive
from ..plotting.balance import FLOOR
from ..train import TrainResult, _blowup_limit, gradient_descent
from . import SliderFigure, _axes_of, _figure, _float_slider, light_log_axis, make_figure, present_style

__all__ = ["factorisation_experiment", "setup_axes", "draw_factorisation", "balance_demo"]

_D1, _D2, _RANK = 10, 8, 2
_TRIALS, _STEPS = 5, 100
_EVERY, _BLOWUP = 4, 1e6


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
    return gradient_descent(init, factorisation_loss(target, lam), lr=lr, steps=steps, record_every=_EVERY,
                            blowup=_BLOWUP,
                            callbacks={"ratio": lambda c: norm_ratios(c)[..., 0], "drift": _drift_fn(q0)})


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


# ------------------------------------------------------------------------------------------------
# The slider demo: many settings in one batched run
# ------------------------------------------------------------------------------------------------

_NAMES = ("lr", "scale", "ratio", "lam")
# The sliders' grids (lo, hi, step): the demo runs a block of a slider's grid at once and keeps the results.
_GRID = {"lr": (0.02, 0.5, 0.02), "scale": (0.01, 1.0, 0.01), "ratio": (0.25, 4.0, 0.25), "lam": (0.0, 2.0, 0.1)}
_BLOCK = 25  # settings per batched run when a slider reaches a setting that is not kept (some tens of ms)
_KEPT = 4000  # settings kept (a few kB each)


def _grid_values(name: str) -> tuple:
    lo, hi, step = _GRID[name]
    return tuple(round(lo + k * step, 4) for k in range(round((hi - lo) / step) + 1))


_VALUES = {name: _grid_values(name) for name in _NAMES}


class _Sweep:
    """``factorisation_experiment(*setting)`` (default trials, steps and seed) for many settings in one batched
    run, with the same numbers bit for bit.

    The loss and its gradients are written out with the operations, in the order, that autograd applies to the
    ``factorisation_loss`` graph, without building a graph at every step (``tests/test_balance.py`` compares the
    two). Every trial takes all the steps and ``gradient_descent``'s divergence rule is applied afterwards: a trial
    whose loss is non-finite or above ``blowup * max(initial loss, 1)`` at step s has diverged at s and is recorded
    as frozen at step s - 1 from then on (the trials are independent: what a diverged trial does after s changes
    no other). ``result(i)`` is the ``TrainResult`` of the i-th setting.
    """

    def __init__(self, settings, *, trials: int = _TRIALS, steps: int = _STEPS, seed: int = 0):
        with torch.no_grad():
            self._run(list(settings), trials, steps, seed)

    def _run(self, settings, trials, steps, seed):
        f64, n = torch.float64, len(settings)
        m = low_rank_target(_D1, _D2, _RANK, singular_values=[1.0, 0.7], seed=seed, device="cpu")
        vt0, u0 = factorisation_init(_D1, _D2, _RANK, scale=1.0, ratio=1.0, batch=(trials,), seed=seed + 1,
                                     device="cpu")  # the draws of every setting, before scaling

        def per_trial(values):
            return torch.tensor(values, dtype=f64).repeat_interleave(trials)

        vt = (vt0 * torch.tensor([s / r for _, s, r, _ in settings], dtype=f64)[:, None, None, None]).flatten(0, 1)
        u = (u0 * torch.tensor([s * r for _, s, r, _ in settings], dtype=f64)[:, None, None, None]).flatten(0, 1)
        lr = per_trial([s[0] for s in settings])[:, None, None]
        lam = per_trial([s[3] for s in settings])
        on = lam != 0
        reg, mixed = bool(on.any()), not bool(on.all())
        quarter, half, on3 = 0.25 * lam, (0.5 * lam)[:, None, None], on[:, None, None]

        mm = torch.bmm  # the kernel that ``@`` runs for these (batch, rows, columns) tensors, called directly

        def value_and_grads(vt, u):
            ut, v = u.transpose(1, 2), vt.transpose(1, 2)
            r = u[:, :, :1] * vt[:, :1, :]  # u @ vt, term by term in bmm's order (faster for a small rank)
            for k in range(1, _RANK):
                r = r + u[:, :, k:k + 1] * vt[:, k:k + 1, :]
            r = r - m
            val = 0.5 * (r * r).sum((-2, -1))
            g_u, g_vt = mm(r, v), mm(ut, r)
            if not reg:
                return val, g_vt, g_u
            d = mm(ut, u) - mm(vt, v)
            g_d = half * d  # (the two equal halves autograd adds for d * d)
            a, b = mm(u, g_d), mm(g_d, vt)
            out = val + quarter * (d * d).sum((-2, -1)), g_vt - (b + b), (a + a) + g_u
            if mixed:  # the trials at lam = 0 take the unregularised numbers
                out = tuple(torch.where(mask, x, y) for mask, x, y in zip((on, on3, on3), out, (val, g_vt, g_u)))
            return out

        vals, vts, us = [], [vt], [u]
        val, g_vt, g_u = value_and_grads(vt, u)
        vals.append(val)
        for _ in range(steps):
            vt, u = torch.addcmul(vt, lr, g_vt, value=-1.0), torch.addcmul(u, lr, g_u, value=-1.0)
            val, g_vt, g_u = value_and_grads(vt, u)
            vals.append(val)
            vts.append(vt)
            us.append(u)
        vals = torch.stack(vals)  # (steps + 1, n trials)
        bad = ~(torch.isfinite(vals) & (vals <= _blowup_limit(vals[0], _BLOWUP)))
        diverged = bad.any(0)
        div_at = torch.where(diverged, bad.to(torch.uint8).argmax(0), -1)
        last_ok = torch.where(diverged, div_at - 1, steps)  # the step each trial is frozen at
        rec = torch.tensor(sorted({*range(0, steps + 1, _EVERY), steps}))
        at = torch.minimum(rec[:, None], last_ok)  # (records, n trials): the step whose chain each record shows
        every = torch.arange(at.shape[1])
        vt, u = torch.stack(vts)[at, every], torch.stack(us)[at, every]
        gram_u, gram_v = u.transpose(-1, -2) @ u, vt @ vt.transpose(-1, -2)
        size = torch.linalg.matrix_norm(gram_u) + torch.linalg.matrix_norm(gram_v)
        q = gram_u - gram_v
        loss = torch.where(diverged & (div_at <= rec[:, None]), torch.full_like(vals[:1], float("nan")),
                           vals[at, every])
        history = {"loss": loss, "ratio": torch.linalg.matrix_norm(u) / torch.linalg.matrix_norm(vt),
                   "drift": torch.linalg.matrix_norm(q - q[0]) / size}
        shape = (n, trials)
        self.steps, self.n_steps = rec, steps
        self.history = {k: v.reshape(len(rec), *shape) for k, v in history.items()}
        self.diverged_at = div_at.reshape(shape)
        self.final_loss = vals[last_ok, every].reshape(shape)
        self.chain = [vt[-1].reshape(*shape, _RANK, _D2).clone(), u[-1].reshape(*shape, _D1, _RANK).clone()]

    def result(self, i: int) -> TrainResult:
        div_at = self.diverged_at[i]
        steps, history, n_steps = self.steps, {k: v[:, i] for k, v in self.history.items()}, self.n_steps
        if bool((div_at >= 0).all()):  # every trial diverged: the run ended at the last divergence
            n_steps = int(div_at.max())
            early = int((steps < n_steps).sum())  # the records before it, then the frozen state (the last record)
            steps = torch.cat([steps[:early], torch.tensor([n_steps])])
            history = {k: torch.cat([v[:early], v[-1:]]) for k, v in history.items()}
        return TrainResult(chain=[w[i] for w in self.chain], steps=steps, history=history,
                           stopped_at=torch.full_like(div_at, -1), diverged_at=div_at,
                           final_loss=self.final_loss[i], n_steps=n_steps, info={})


_KEPT_RESULTS: OrderedDict = OrderedDict()  # setting -> (its _Sweep, its index there)


def _fill(settings) -> None:
    """Run the settings that are not kept yet in one batched run, and keep them (the oldest go beyond ``_KEPT``)."""
    missing = [s for s in dict.fromkeys(settings) if s not in _KEPT_RESULTS]
    if not missing:
        return
    sweep = _Sweep(missing)
    for i, s in enumerate(missing):
        _KEPT_RESULTS[s] = (sweep, i)
    while len(_KEPT_RESULTS) > _KEPT:
        _KEPT_RESULTS.popitem(last=False)


def _line(name: str, setting: tuple, *, whole: bool = False) -> list:
    """``setting`` with the value of ``name`` replaced by each value of the block of ``_BLOCK`` grid values that
    holds it (by each grid value when ``whole``); just ``setting`` when its value is off the grid."""
    pos, values = _NAMES.index(name), _VALUES[name]
    if setting[pos] not in values:
        return [setting]
    start = values.index(setting[pos]) // _BLOCK * _BLOCK
    block = values if whole else values[start:start + _BLOCK]
    return [(*setting[:pos], v, *setting[pos + 1:]) for v in block]


def _demo_result(setting: tuple, moved: str | None) -> TrainResult:
    """The result for ``setting`` (lr, scale, ratio, lam); when it is not kept, the block of the slider ``moved``
    around it is run at once (the next values of that slider are then ready), or the setting alone."""
    if setting not in _KEPT_RESULTS:
        _fill(_line(moved, setting) if moved is not None else [setting])
    sweep, i = _KEPT_RESULTS[setting]
    _KEPT_RESULTS.move_to_end(setting)
    return sweep.result(i)


def balance_demo(lr: float = 0.2, scale: float = 0.1, ratio: float = 1.0, lam: float = 0.0) -> SliderFigure:
    """Sliders for learning rate, initial scale, initial imbalance and lambda; redraws drift and norm ratio.

    The results come from batched runs over the sliders' grids: at the start, every value of each slider with
    the others at their start (so any first move is ready); later, when a setting is not ready, the block of
    the moved slider's grid around it. A setting's numbers are those of ``factorisation_experiment``."""
    names = {"lr": "learning rate η", "scale": "init scale σ", "ratio": "imbalance U:V", "lam": "regulariser λ"}
    start = {"lr": lr, "scale": scale, "ratio": ratio, "lam": lam}
    sliders = {k: _float_slider(k, names[k], start[k], *_GRID[k]) for k in _NAMES}  # ready settings: drag redraws
    fig, axes = make_figure(1, 2, figsize=(9.0, 3.3))
    row = list(axes[0])

    with present_style():
        artists = setup_axes(fig, row)

    first = tuple(round(v, 4) for v in (lr, scale, ratio, lam))
    for name in _NAMES:  # a few tenths of a second
        _fill(_line(name, first, whole=True))
    shown = [first]  # the setting drawn last

    def update(lr, scale, ratio, lam):
        setting = tuple(round(v, 4) for v in (lr, scale, ratio, lam))
        moved = [k for k, a, b in zip(_NAMES, setting, shown[0]) if a != b]
        res = _demo_result(setting, moved[0] if len(moved) == 1 else None)
        shown[0] = setting
        return draw_factorisation(artists, res, *setting)

    return SliderFigure(fig, axes, sliders, update)
