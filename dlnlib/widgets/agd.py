"""Notebook 05's slider (Aligned Gradient Descent against shallow GD on the two-point data of the AGD paper) and
its clickable Figure 2: both weight paths from a start set by pointing."""

from __future__ import annotations

import math
from functools import lru_cache

import ipywidgets as w
import numpy as np
import torch

from ..agd import aligned_gd, shallow_gd
from ..core import MAX_DEPTH, MAX_STEPS, check_flag, check_int, check_positive, check_real
from ..data import two_point_regression
from . import (
    MAX_POSITIONS,
    DivergenceMarks,
    SliderFigure,
    _float_slider,
    _int_slider,
    _number,
    _PlaneClicker,
    _text,
    light_log_axis,
    make_figure,
    present_style,
)

__all__ = ["agd_vs_gd", "agd_demo", "log_slider", "paths_from", "AlignmentClicker", "clickable_alignment_paths"]


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
    if decades / step > MAX_POSITIONS:
        raise ValueError(f"step: got {step!r}, which puts {decades / step:.3g} positions on the slider, expected at "
                         f"most {MAX_POSITIONS:,}")
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
    # losses (tensor or array) up to the last finite one, floored at 1e-30 for the log axis
    y = np.asarray(losses)
    ok = np.isfinite(y)
    last = int(np.flatnonzero(ok)[-1]) if ok.any() else 0
    return np.arange(last + 1), np.maximum(y[: last + 1], 1e-30)


def _iters(losses: np.ndarray, diverged_at: int, tol: float) -> str:
    # ``RegressionRun.iterations_to`` on one run's losses (steps + 1,): the first step at loss <= tol
    if diverged_at >= 0:
        return f"diverged at step {diverged_at}"
    hit = np.flatnonzero(losses <= tol)
    return f"{int(hit[0])} iterations" if hit.size else f"not within {losses.shape[0] - 1}"


_TABLE_BUDGET = 8_000_000
"""The most loss values (64 MB) ``agd_demo`` computes ahead: the runs of every slider setting when they fit (the
default 400 steps: 7.7 M), else each setting's two runs when the sliders reach it."""


def _positions(slider, value) -> np.ndarray:
    # every value a FloatLogSlider can take, as ``slider_grid`` sets them (10 digits, which the slider clamps to its
    # range [base^min, base^max]), and the initial value as given
    count = round((slider.max - slider.min) / slider.step) + 1
    grid = np.array([float(f"{slider.base ** (k * slider.step + slider.min):.10g}") for k in range(count)])
    grid = np.clip(grid, slider.base ** slider.min, slider.base ** slider.max)
    k = _position(slider, grid, value)
    if k is not None:
        grid[k] = value
    return grid


def _position(slider, grid: np.ndarray, value) -> int | None:
    # the index of ``value`` on the slider's grid (relative error 1e-9: a browser computes 10^x its own way), or
    # None off the grid (a value set from Python)
    k = round((math.log10(value) - slider.min) / slider.step)
    return k if 0 <= k < grid.size and abs(value - grid[k]) <= 1e-9 * grid[k] else None


def _diagonals(lambda2s) -> np.ndarray:
    # the diagonal of X = two_point_regression(lambda2) (its off-diagonal entries are 0), (K, 2)
    return np.stack([two_point_regression(float(v), device="cpu")[0].diagonal().numpy() for v in lambda2s])


def _agd_grid(lrs: np.ndarray, lambda2s: np.ndarray, depths: np.ndarray, steps: int):
    """``aligned_gd`` on ``two_point_regression(lambda2)`` for every (depth, lambda2, lr) at once, number for number.

    The data are diagonal (x1 = (a, 0), x2 = (0, b), y = (1, 1)), so X's products are products with its diagonal,
    and the dot products of the single-trial loop (``h . h``, ``h . y``, ``r . r``) are two terms added; the deep
    scalars move as in ``_round_robin_core``, a shallower network's missing layers being scalars at 1 (a product
    with 1 is exact). Trials run by ascending depth, so layer k + 2 moves the trials from ``first[k]`` on.
    A diverged trial is reported as ``aligned_gd`` does (its later losses NaN) and is then left to run on, unread.
    Returns losses (steps + 1, D, K, R) and diverged_at (D, K, R), -1 if never.
    """
    shape = (depths.size, lambda2s.size, lrs.size)
    diag = np.broadcast_to(_diagonals(lambda2s)[None, :, None, :], (*shape, 2)).reshape(-1, 2)
    x0, x1 = np.ascontiguousarray(diag[:, 0]), np.ascontiguousarray(diag[:, 1])
    lr = np.broadcast_to(lrs, shape).reshape(-1)
    depth = np.broadcast_to(depths[:, None, None], shape).reshape(-1)
    n, deep = lr.size, int(depths.max()) - 1
    first = [int(np.searchsorted(depth, k + 2)) for k in range(deep)]  # the trials that have layer k + 2
    scales = [np.ones(n - a) for a in first]  # Theta^(k + 2) of those trials
    after = [np.ones(n - a) for a in first]  # the product of the layers above layer k + 2 (1 where there is none)
    t1, t2, r1, r2, s = np.zeros(n), np.zeros(n), -np.ones(n), -np.ones(n), np.ones(n)  # r = s h - y
    h1, h2, hh, hy, tmp = np.empty(n), np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    losses = np.empty((steps + 1, n))
    losses[0] = 0.5  # (y . y) / (2 n)
    limit = 1e8 * max(0.5, 1.0)  # aligned_gd's blow-up limit (default blowup)
    diverged_at = np.full(n, -1, dtype=np.int64)
    live = np.ones(n, dtype=bool)
    # every operation in place, in the order of aligned_gd's (a * b * c is (a * b) * c there and here)
    with np.errstate(all="ignore"):
        for t in range(steps):
            # layer 1 at rate eta / s^2: Theta^(1) <- Theta^(1) - (eta / s) (r X) / n
            rate = lr / s
            np.multiply(r1, x0, out=tmp)
            tmp *= rate
            tmp /= 2
            t1 -= tmp
            np.multiply(r2, x1, out=tmp)
            tmp *= rate
            tmp /= 2
            t2 -= tmp
            np.multiply(t1, x0, out=h1)
            np.multiply(t2, x1, out=h2)
            np.multiply(h1, h1, out=hh)
            np.multiply(h2, h2, out=tmp)
            hh += tmp
            np.add(h1, h2, out=hy)
            # layers 2..L in turn (_round_robin_core), from the layers above each at their old values
            for k in range(deep - 2, -1, -1):
                np.multiply(scales[k + 1], after[k + 1], out=after[k][first[k + 1] - first[k]:])
            s = np.ones(n)
            for k in range(deep):
                a, theta = first[k], scales[k]
                before = s[a:]  # the layers below, at their new values
                others = before * after[k]
                grad = others * theta
                grad *= hh[a:]
                grad -= hy[a:]
                grad /= 2
                grad *= others
                step = 0.5 * theta
                step *= theta
                step *= grad
                theta -= step
                before *= theta
            np.multiply(s, h1, out=r1)
            r1 -= 1.0
            np.multiply(s, h2, out=r2)
            r2 -= 1.0
            loss = losses[t + 1]
            np.multiply(r1, r1, out=loss)
            np.multiply(r2, r2, out=tmp)
            loss += tmp
            loss /= 4
            bad = live & ~(loss <= limit)  # non-finite or blown up
            if bad.any():
                diverged_at[bad] = t + 1
                live &= ~bad
            if not live.all():
                loss[~live] = np.nan
    return losses.reshape(steps + 1, *shape), diverged_at.reshape(shape)


def _gd_grid(lrs: np.ndarray, lambda2s: np.ndarray, steps: int):
    """``shallow_gd`` on ``two_point_regression(lambda2)`` for every (lambda2, lr): one batched engine run whose
    squared error holds each lambda2's covariances. Returns losses (steps + 1, K, R) and diverged_at (K, R)."""
    from ..losses import SquaredError
    from ..train import gradient_descent

    covariances = []
    for v in lambda2s:
        X, y = two_point_regression(float(v), device="cpu")
        covariances.append(SquaredError(X, y[:, None]))
    loss = SquaredError.from_covariances(torch.stack([c.sigma_xx for c in covariances])[:, None],
                                         torch.stack([c.sigma_yx for c in covariances])[:, None],
                                         float(2 * covariances[0].const))
    chain = [torch.zeros(lambda2s.size, lrs.size, 1, 2, dtype=torch.float64)]
    with torch.no_grad():
        res = gradient_descent(chain, loss, lr=torch.from_numpy(lrs), steps=steps, record=("loss",), blowup=1e8,
                               progress=False)
    losses = res.losses.numpy()
    if losses.shape[0] < steps + 1:  # every trial diverged: the engine stopped
        losses = np.concatenate([losses, np.full((steps + 1 - losses.shape[0], *losses.shape[1:]), np.nan)])
    return losses, res.diverged_at.numpy()


@lru_cache(maxsize=1)
def _grid_runs(lrs: tuple, lambda2s: tuple, depths: tuple, steps: int):
    # both methods' runs over the sliders' grids (kept for the next demo with the same grids and steps)
    lrs, lambda2s = np.array(lrs, dtype=np.float64), np.array(lambda2s, dtype=np.float64)
    return _gd_grid(lrs, lambda2s, steps), _agd_grid(lrs, lambda2s, np.array(depths), steps)


def _demo_runs(sliders: dict, steps: int):
    """The runs ``agd_demo`` shows, as ``runs(lr, depth, lambda2) -> ((losses, diverged_at) of GD, of AGD)``.

    When every setting's runs fit ``_TABLE_BUDGET`` they are computed here, all at once (``_gd_grid``,
    ``_agd_grid``), and a slider move looks them up; a value off the sliders' grids (set from Python), or a run too
    long for the table, is run on its own (``agd_vs_gd``, cached).
    """
    lr_s, depth_s, lambda2_s = sliders["lr"], sliders["depth"], sliders["lambda2"]
    lrs, lambda2s = _positions(lr_s, lr_s.value), _positions(lambda2_s, lambda2_s.value)
    depths = np.arange(depth_s.min, depth_s.max + 1, depth_s.step)
    table = None
    if (steps + 1) * lambda2s.size * lrs.size * (1 + depths.size) <= _TABLE_BUDGET:
        table = _grid_runs(tuple(lrs.tolist()), tuple(lambda2s.tolist()), tuple(depths.tolist()), steps)

    def runs(lr, depth, lambda2):
        i, k = _position(lr_s, lrs, lr), _position(lambda2_s, lambda2s, lambda2)
        d = int(np.searchsorted(depths, depth))
        if table is None or i is None or k is None or d >= depths.size or depths[d] != depth:
            gd, agd = agd_vs_gd(lr, depth, lambda2, steps)
            return (gd.losses.numpy(), int(gd.diverged_at)), (agd.losses.numpy(), int(agd.diverged_at))
        (gd_losses, gd_div), (agd_losses, agd_div) = table
        return (gd_losses[:, k, i], int(gd_div[k, i])), (agd_losses[:, d, k, i], int(agd_div[d, k, i]))

    runs.tabled = table is not None
    return runs


def agd_demo(lr: float = 0.1, depth: int = 2, lambda2: float = 0.01, *, steps: int = 400,
             tol: float = 1e-6) -> SliderFigure:
    """Sliders for eta, the depth L and lambda_2 (the conditioning of the two-point data, lambda_1 = 1):
    loss curves of shallow GD (dotted) and AGD (solid); the status line gives the iterations to ``tol``.
    steps: iterations per run, at most ``MAX_DEMO_STEPS``; up to 414 steps (``_TABLE_BUDGET``) the runs of every
    slider setting are computed when the demo is built (about a second), so that a slider move only looks them up
    (and the sliders redraw while dragged); longer runs are computed when the sliders reach a setting (on release).
    tol: a loss level on the plot's axis, in [1e-14, 1e3].
    """
    sliders = {
        "lr": _log_slider("lr", "learning rate η", lr, 1e-3, 2.5, continuous=False),
        "depth": _int_slider("depth", "depth L", depth, 1, 8, continuous=False),
        "lambda2": _log_slider("lambda2", "eigenvalue λ₂", lambda2, 1e-3, 1.0, 0.1, continuous=False),
    }
    steps = check_int("steps", steps, minimum=1, maximum=MAX_DEMO_STEPS, why=" (every redraw reruns AGD)")
    _number("tol", tol, lo=1e-14, hi=1e3)
    runs = _demo_runs(sliders, steps)
    for slider in sliders.values():  # looked up: cheap enough to redraw while a slider is dragged
        slider.continuous_update = runs.tabled
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
        (gd, gd_div), (agd, agd_div) = runs(float(lr), int(depth), float(lambda2))
        x, y = _curve(gd)
        gd_line.set_data(x, np.minimum(y, 5e2))  # a diverging run leaves the axes: pinned to the top
        agd_line.set_data(*_curve(agd))
        marks.update([(at, f"{name} diverged at step {at}")
                      for name, at in (("shallow GD", gd_div), ("AGD", agd_div)) if at >= 0])
        limit = 2.0 / max(1.0, lambda2)
        return (f"eta = {lr:.3g} (2/lambda_max = {limit:.3g}), L = {depth}, lambda_2 = {lambda2:.3g}. "
                f"Loss <= {tol:g}: shallow GD {_iters(gd, gd_div, tol)}; AGD {_iters(agd, agd_div, tol)}.")

    return SliderFigure(fig, axes, sliders, update)


# --------------------------------------------------------------------------- Figure 2 (a), clickable

PATH_PLANE = ((-1.0, 2.0), (-2.0, 10.0))
"""The clickable weight plane: the ranges of the start's coordinates w1 and w2 (the solution is (0.707, 7.07))."""
PATH_GRID = (0.01, 0.05)
"""A start is snapped to multiples of these (3-4 px on screen), so clicking near a visited point hits the cache."""
CLICK_GD_STEPS = 1500
"""Shallow GD's steps per click: about 0.15-0.2 s (the engine takes ~0.1 ms a step)."""
CLICK_AGD_STEPS = 500
"""AGD's iterations per click (from every start of the plane it reaches loss 1e-6 within 460 at eta = 0.1):
about 0.07 s."""
MAX_CLICK_STEPS = 20_000
"""The most steps ``paths_from`` and ``AlignmentClicker`` run per method and click (a few seconds)."""
MAX_CLICK_DEPTH = 8
"""The deepest AGD network of ``paths_from`` (each layer adds a sub-step to every iteration)."""


def _start_coordinate(name: str, value, k: int) -> float:
    # coordinate k (0: w1, 1: w2) of a start, inside PATH_PLANE
    lo, hi = PATH_PLANE[k]
    return check_real(name, value, minimum=lo, maximum=hi)


def _check_paths(lr, depth, gd_steps, agd_steps) -> tuple[float, int, int, int]:
    check_positive("lr", lr, allow_tensor=False)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_CLICK_DEPTH)
    why = " (every click reruns it)"
    gd_steps = check_int("gd_steps", gd_steps, minimum=1, maximum=MAX_CLICK_STEPS, why=why)
    agd_steps = check_int("agd_steps", agd_steps, minimum=1, maximum=MAX_CLICK_STEPS, why=why)
    return float(lr), depth, gd_steps, agd_steps


def paths_from(w1: float, w2: float, *, lr: float = 0.1, depth: int = 2, gd_steps: int = CLICK_GD_STEPS,
               agd_steps: int = CLICK_AGD_STEPS):
    """Shallow GD and AGD (``depth`` layers) at rate ``lr`` on Figure 2's data (``two_point_regression(0.01)``),
    both from the effective parameter (w1, w2): ``shallow_gd(..., start=(w1, w2))`` and ``aligned_gd(...,
    start=(w1, w2))`` (first layer at the start, deep scalars at 1), with their weights recorded.

    w1 in [-1, 2], w2 in [-2, 10] (``PATH_PLANE``); lr > 0; depth 1 to ``MAX_CLICK_DEPTH``; gd_steps and agd_steps
    1 to ``MAX_CLICK_STEPS``. Returns the ``(gd, agd)`` runs; cached, so revisiting a start is free.
    """
    w1, w2 = _start_coordinate("w1", w1, 0), _start_coordinate("w2", w2, 1)
    return _paths_from(w1, w2, *_check_paths(lr, depth, gd_steps, agd_steps))


@lru_cache(maxsize=256)
def _paths_from(w1: float, w2: float, lr: float, depth: int, gd_steps: int, agd_steps: int):
    X, y = two_point_regression(0.01, device="cpu")
    start = torch.tensor([w1, w2], dtype=X.dtype)
    with torch.no_grad():
        gd = shallow_gd(X, y, lr=lr, steps=gd_steps, record_weights=True, start=start)
        agd = aligned_gd(X, y, depth=depth, lr=lr, steps=agd_steps, record_weights=True, start=start)
    return gd, agd


def _path(run) -> np.ndarray:
    # the recorded effective parameters up to the last finite one (a diverged run stops where it blew up)
    path = run.history["weights"].numpy()
    if bool(run.diverged):
        path = path[: int(run.diverged_at)]
    ok = np.isfinite(path).all(1)
    return path[: int(np.flatnonzero(~ok)[0])] if not ok.all() else path


def _reached(run, tol: float) -> str:
    if bool(run.diverged):
        return f"diverged at step {int(run.diverged_at)}"
    k = int(run.iterations_to(tol))
    return f"reached it after {k} iterations" if k >= 0 else f"did not reach it in {run.steps} steps"


class AlignmentClicker(_PlaneClicker):
    """Notebook 05's Figure 2 (a) that takes clicks: clicking (or dragging) in the weight plane sets the start
    (w1, w2) of the effective parameter, and the figure draws the paths of shallow GD and of AGD from there
    (``paths_from``) with both loss curves; the status line gives, for each, the iterations to loss ``tol``
    ("did not reach it in N steps", "diverged at step k") and where it ends. Two sliders set the start too.

    Cost: a click reruns shallow GD for ``gd_steps`` (default 1500, ~0.15-0.2 s) and AGD for ``agd_steps``
    (default 500, ~0.07 s), then the canvas renders (~0.15 s). Measured from click to rendered picture on the
    2-core development machine: 0.3 s median, 0.5 s worst; 0.14 s for a revisited start (cached). Shallow GD
    needs ~6200 steps from the origin at eta = 0.1, so from most starts its path stops short of the solution
    (the status says so); raise ``gd_steps`` for the whole path at about 0.1 ms a step.

    Built on ipympl's canvas widget (JupyterLab and Voila), without touching pyplot's global backend.
    ``fig``, ``axes``, ``canvas``, ``sliders``, ``status``, ``ui``; ``start`` is the current (w1, w2);
    ``click(w1, w2)`` does what a click does (tests and scripts); ``clicks`` counts the redraws from clicks;
    ``runs`` holds the last ``(gd, agd)``. w1, w2 on the sliders' grids (``PATH_GRID``) inside ``PATH_PLANE``;
    lr > 0; depth, gd_steps, agd_steps as in ``paths_from``; tol in [1e-14, 1e3] (the loss axis); drag: whether
    dragging redraws continuously (else only a click does).
    """

    def __init__(self, w1: float = 0.0, w2: float = 0.0, *, lr: float = 0.1, depth: int = 2,
                 gd_steps: int = CLICK_GD_STEPS, agd_steps: int = CLICK_AGD_STEPS, tol: float = 1e-6,
                 drag: bool = True):
        (lo1, hi1), (lo2, hi2) = PATH_PLANE
        self.sliders = {
            "w1": _float_slider("w1", "start w₁", w1, lo1, hi1, PATH_GRID[0], continuous=False),
            "w2": _float_slider("w2", "start w₂", w2, lo2, hi2, PATH_GRID[1], continuous=False),
        }
        self.lr, self.depth, self.gd_steps, self.agd_steps = _check_paths(lr, depth, gd_steps, agd_steps)
        self.tol = check_real("tol", tol, minimum=1e-14, maximum=1e3)
        self.drag = check_flag("drag", drag)
        self.fig, axes = make_figure(1, 2, figsize=(10.0, 4.6))
        self.fig.set_dpi(96)  # 960 px wide, shown at natural size like the slider images
        self.axes = axes[0]
        plane, losses = self.axes
        with present_style():
            (self.gd_path,) = plane.plot([], [], ls=":", lw=2.2, color="tab:blue", label="shallow GD")
            (self.agd_path,) = plane.plot([], [], lw=1.8, color="tab:orange", label=f"AGD, L = {self.depth}")
            X, y = two_point_regression(0.01, device="cpu")
            self.solution = tuple(torch.linalg.solve(X, y).tolist())
            plane.plot(*self.solution, "*", color="black", ms=14, label="solution")
            (self.start_mark,) = plane.plot([], [], "s", color="black", ms=9, label="start")
            plane.set_xlim(lo1, hi1)
            plane.set_ylim(lo2, hi2)
            plane.set_xlabel(r"$w_1 = \Theta^{(1:L)}(1)$")
            plane.set_ylabel(r"$w_2 = \Theta^{(1:L)}(2)$")
            plane.set_title("click or drag to set the start (w₁, w₂)")
            plane.legend(frameon=False, loc="upper left")
            (self.gd_loss,) = losses.plot([], [], ls=":", lw=2.2, color="tab:blue")
            (self.agd_loss,) = losses.plot([], [], lw=1.8, color="tab:orange")
            losses.set_yscale("log")
            losses.set_ylim(1e-14, 1e3)
            losses.axhline(self.tol, color="0.6", lw=0.8, ls="--")
            losses.set_xlim(0, max(self.gd_steps, self.agd_steps))
            losses.set_xlabel("iteration")
            losses.set_ylabel("loss")
            losses.set_title(f"loss (dashed: {self.tol:g})")
            light_log_axis(losses, numticks=4)
            self.marks = DivergenceMarks(losses, 1e2)
        self.start, self.clicks, self.runs, self._syncing = (self._snap(w1, 0), self._snap(w2, 1)), 0, None, False
        for slider in self.sliders.values():
            slider.observe(self._on_slider, names="value")
        self._mount()

    @staticmethod
    def _snap(v: float, k: int) -> float:
        return round(round(float(v) / PATH_GRID[k]) * PATH_GRID[k], 6)

    def _pointed(self, w1: float, w2: float) -> None:
        (lo1, hi1), (lo2, hi2) = PATH_PLANE
        self.click(min(max(w1, lo1), hi1), min(max(w2, lo2), hi2))

    def _on_slider(self, _change):
        if self._syncing:
            return
        self.start = (self._snap(self.sliders["w1"].value, 0), self._snap(self.sliders["w2"].value, 1))
        self.redraw()

    def click(self, w1: float, w2: float) -> str:
        """Start at (w1, w2) (inside ``PATH_PLANE``, snapped to ``PATH_GRID``); redraw; return the status line."""
        w1, w2 = _start_coordinate("w1", w1, 0), _start_coordinate("w2", w2, 1)
        self.start = (self._snap(w1, 0), self._snap(w2, 1))
        self.clicks += 1
        self._syncing = True  # the sliders follow the click without redrawing twice
        try:
            self.sliders["w1"].value, self.sliders["w2"].value = self.start
        finally:
            self._syncing = False
        return self.redraw()

    def redraw(self) -> str:
        """Rerun both methods from ``start`` (cached), update the figure and the status line; return the status."""
        w1, w2 = self.start
        gd, agd = self.runs = _paths_from(w1, w2, self.lr, self.depth, self.gd_steps, self.agd_steps)
        self.start_mark.set_data([w1], [w2])
        parts = []
        for name, run, path_line, loss_line in (("AGD", agd, self.agd_path, self.agd_loss),
                                                ("shallow GD", gd, self.gd_path, self.gd_loss)):
            path = _path(run)
            path_line.set_data(path[:, 0], path[:, 1])
            x, losses = _curve(run.losses)
            loss_line.set_data(x, np.minimum(losses, 5e2))  # a diverging run leaves the axes: pinned to the top
            label = f"AGD (L = {self.depth})" if name == "AGD" else name
            end = "last finite point" if bool(run.diverged) else "ends at"
            parts.append(f"{label} {_reached(run, self.tol)}, {end} ({path[-1, 0]:.3g}, {path[-1, 1]:.3g})")
        self.marks.update([(int(run.diverged_at), f"{name} diverged at step {int(run.diverged_at)}")
                           for name, run in (("shallow GD", gd), ("AGD", agd)) if bool(run.diverged)])
        msg = (f"start (w₁, w₂) = ({w1:.3g}, {w2:.3g}), η = {self.lr:g}; loss ≤ {self.tol:g}: {parts[0]}; "
               f"{parts[1]}; solution ({self.solution[0]:.3g}, {self.solution[1]:.3g})")
        return self._show(msg)


def clickable_alignment_paths(w1: float = 0.0, w2: float = 0.0, *, lr: float = 0.1, depth: int = 2):
    """Notebook 05's Figure 2 (a) driven by pointing: see ``AlignmentClicker`` (w1, w2 on the grid ``PATH_GRID``
    inside ``PATH_PLANE``; lr > 0; depth 1 to ``MAX_CLICK_DEPTH``)."""
    return AlignmentClicker(w1, w2, lr=lr, depth=depth)
