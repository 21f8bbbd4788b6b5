"""Notebook 02's sliders: the (a, b) phase portrait with gradient descent, and exact learning curves by depth."""

from __future__ import annotations

import math
from functools import lru_cache, partial

import numpy as np
import torch

from ..core import check_flag, check_int, check_positive
from ..plotting.saxe import PhaseDemoView
from ..saxe import ab_gradient_descent, ab_trajectory, deep_mode_strength, learning_time
from . import SliderFigure, _axes, _float_slider, _int_slider, _number, _PlaneClicker, make_figure, present_style

__all__ = [
    "phase_demo_data",
    "PhaseDemoData",
    "phase_portrait_demo",
    "depth_curves",
    "DepthView",
    "draw_depth_curves",
    "depth_delay_demo",
    "PhasePortraitClicker",
    "clickable_phase_portrait",
]

MAX_GD_STEPS = 400
PHASE_BOX = 5.0
"""The largest s, |a0| and |b0| of ``phase_demo_data`` (the phase plane shown spans [-2.5, 2.5])."""
PHASE_MAX_TIME = 100.0
"""The longest time span of ``phase_demo_data``."""
PLANE = 2.5
"""Half the side of the clickable phase plane: a start (a0, b0) lies in [-PLANE, PLANE]^2."""


class PhaseDemoData:
    """What ``phase_demo_data`` returns; unpacks as ``flow, gd = phase_demo_data(...)``.

    flow, gd: triples (t, a, b) of numpy arrays (GD's iterates after a divergence are NaN); diverged: whether GD
    diverged; diverged_at: the first GD step whose iterate is not finite (-1 if none)."""

    def __init__(self, flow, gd):
        self.flow, self.gd = flow, gd
        bad = ~(np.isfinite(gd[1]) & np.isfinite(gd[2]))
        self.diverged = bool(bad.any())
        self.diverged_at = int(np.flatnonzero(bad)[0]) if self.diverged else -1

    def __iter__(self):
        return iter((self.flow, self.gd))

    def __getitem__(self, index):
        return (self.flow, self.gd)[index]

    def __len__(self):
        return 2

    def __repr__(self):
        state = f"GD diverged at step {self.diverged_at}" if self.diverged else f"{len(self.gd[0]) - 1} GD steps"
        return f"PhaseDemoData(flow: {len(self.flow[0])} times up to t = {self.flow[0][-1]:g}; {state})"


def phase_demo_data(s: float, a0: float, b0: float, eta: float, t_max: float = 10.0) -> PhaseDemoData:
    """Gradient flow and gradient descent on (9)-(10) from (a0, b0) up to time ``t_max`` (tau = 1).

    s in (0, PHASE_BOX]; a0, b0 in [-PHASE_BOX, PHASE_BOX]; eta > 0; t_max in (0, PHASE_MAX_TIME].
    GD takes min(ceil(t_max / eta), 400) steps; iterate k is plotted at t = eta k. Returns a ``PhaseDemoData``
    that unpacks as ``(flow, gd)``, each a triple (t, a, b) of numpy arrays, and says whether GD diverged.
    Cached: revisiting a slider setting is free.
    """
    check_positive("s", s, allow_tensor=False)
    _number("s", s, hi=PHASE_BOX)
    for name, v in (("a0", a0), ("b0", b0)):
        _number(name, v, lo=-PHASE_BOX, hi=PHASE_BOX)
    check_positive("eta", eta, allow_tensor=False)
    check_positive("t_max", t_max, allow_tensor=False)
    _number("t_max", t_max, hi=PHASE_MAX_TIME)
    return _phase_demo_data(s, a0, b0, eta, t_max)


def _gd_steps(eta: float, t_max: float) -> int:
    # GD's iterate k sits at time eta k: enough steps to reach t_max, at most MAX_GD_STEPS (t_max / eta may be inf)
    return MAX_GD_STEPS if t_max / eta >= MAX_GD_STEPS else math.ceil(t_max / eta)


@lru_cache(maxsize=512)
def _phase_demo_data(s, a0, b0, eta, t_max):
    times = np.linspace(0.0, t_max, 300)
    a_f, b_f = ab_trajectory(a0, b0, s, times, rtol=1e-8, atol=1e-10)
    steps = _gd_steps(eta, t_max)
    with torch.no_grad():
        a_g, b_g = ab_gradient_descent(a0, b0, s, eta, steps)
    flow = (times, a_f.numpy(), b_f.numpy())
    gd = (eta * np.arange(steps + 1), a_g.numpy(), b_g.numpy())
    return PhaseDemoData(flow, gd)


PHASE_NAMES = ("s", "a0", "b0", "eta")


def _phase_line(setting: tuple, along: str, values, t_max: float = 10.0) -> dict:
    """``phase_demo_data`` at ``setting`` = (s, a0, b0, eta) with the entry ``along`` (one of ``PHASE_NAMES``) set to
    each of ``values`` in turn: one batched flow solve (none along eta: the flow does not depend on it) and one
    batched GD run for the whole line. GD's iterates are those of separate runs, bit for bit (the engine steps each
    trial on its own); the flows share one error control, so they agree with separate solves to the solver's
    tolerance. Returns {setting: PhaseDemoData}."""
    k = PHASE_NAMES.index(along)
    settings = [tuple(float(v) if i == k else x for i, x in enumerate(setting)) for v in values]
    S, A0, B0, ETA = (np.array(column) for column in zip(*settings))
    times = np.linspace(0.0, t_max, 300)
    if along == "eta":
        a_f, b_f = ab_trajectory(setting[1], setting[2], setting[0], times, rtol=1e-8, atol=1e-10)
        a_f, b_f = a_f[:, None].expand(-1, len(settings)), b_f[:, None].expand(-1, len(settings))
    else:
        a_f, b_f = ab_trajectory(A0, B0, S, times, rtol=1e-8, atol=1e-10)
    steps = [_gd_steps(float(eta), t_max) for eta in ETA]
    with torch.no_grad():
        a_g, b_g = ab_gradient_descent(A0, B0, S, ETA, max(steps))
    a_f, b_f, a_g, b_g = (x.numpy() for x in (a_f, b_f, a_g, b_g))
    return {key: PhaseDemoData((times, a_f[:, j].copy(), b_f[:, j].copy()),
                               (key[3] * np.arange(n + 1), a_g[:n + 1, j].copy(), b_g[:n + 1, j].copy()))
            for j, (key, n) in enumerate(zip(settings, steps))}


LINE_REACH = 8
"""How many grid steps either side of a new setting ``phase_portrait_demo`` computes along the slider just moved."""


def _phase_runs(sliders: dict):
    """The data ``phase_portrait_demo`` shows, as ``runs(s, a0, b0, eta) -> PhaseDemoData``. A new setting one
    slider away from the last one computes that slider's line of settings up to ``LINE_REACH`` grid steps either
    side (``_phase_line``), so the next moves along it only look up; any other setting is computed on its own
    (``phase_demo_data``)."""
    grids = {name: [round(sl.min + i * sl.step, 6) for i in range(round((sl.max - sl.min) / sl.step) + 1)]
             for name, sl in sliders.items()}
    known, last = {}, [None]

    def runs(*setting):
        setting = tuple(round(float(v), 6) for v in setting)
        data = known.get(setting)
        if data is None:
            moved = [n for n, v, u in zip(PHASE_NAMES, setting, last[0] or setting) if v != u]
            grid = grids[moved[0]] if len(moved) == 1 else []
            value = setting[PHASE_NAMES.index(moved[0])] if grid else None
            if value in grid:
                if len(known) > 1_500:  # about 20 MB (some 14 kB a setting): start again
                    known.clear()
                i = grid.index(value)
                known.update(_phase_line(setting, moved[0], grid[max(0, i - LINE_REACH):i + LINE_REACH + 1]))
                data = known[setting]
            else:
                data = phase_demo_data(*setting)
        last[0] = setting
        return data

    return runs


def phase_portrait_demo(s: float = 1.0, a0: float = -1.2, b0: float = 1.4, eta: float = 0.15) -> SliderFigure:
    """Sliders for s, the initial point (a0, b0) and the learning rate eta: the (a, b) phase plane with the
    gradient-flow path and the GD iterates, and a^2 - b^2 over time (flow: constant; GD: drifts). Moving one
    slider computes the settings along it near the new value at once (``_phase_runs``); the moves after it look up."""
    sliders = {
        "s": _float_slider("s", "singular value s", s, 0.2, 2.0, 0.1),
        "a0": _float_slider("a0", "start a₀", a0, -2.0, 2.0, 0.1),
        "b0": _float_slider("b0", "start b₀", b0, -2.0, 2.0, 0.1),
        "eta": _float_slider("eta", "learning rate η", eta, 0.01, 1.0, 0.01),
    }
    fig, axes = make_figure(1, 2, figsize=(10.0, 4.4))
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.13, top=0.91, wspace=0.22)
    with present_style():
        view = PhaseDemoView(axes[0], present=True)

    runs = _phase_runs(sliders)

    def update(s, a0, b0, eta):
        flow, gd = runs(s, a0, b0, eta)
        return view.update(s, a0, b0, eta, flow, gd)

    h = SliderFigure(fig, axes, sliders, update)
    # the right panel's scale steps between a few levels: each one's background drawn now (about 0.1 s each),
    # not on the first slider move that reaches it
    h.keep_views(*(partial(view.set_level, level) for level in view.Y_LEVELS))
    return h


CURVE_MAX_S = 2.0
"""The largest s of ``depth_curves`` (a larger s only speeds up time, and stiffens the deep ODEs)."""
CURVE_MAX_DEPTH = 8
"""The deepest network of ``depth_curves`` (one ODE solve and one line per depth)."""
CURVE_MAX_TIME = 100.0
"""The longest time span of ``depth_curves``."""


def _check_curves(s, log10_u0, max_depth, t_max, *, min_depth: int = 1) -> None:
    # s and log10_u0 None: only the span (max_depth, t_max) is checked
    if s is not None:
        check_positive("s", s, allow_tensor=False)
        _number("s", s, hi=CURVE_MAX_S)
        _number("log10_u0", log10_u0, lo=-30.0, hi=0.0)
    check_int("max_depth", max_depth, minimum=min_depth, maximum=CURVE_MAX_DEPTH)
    check_positive("t_max", t_max, allow_tensor=False)
    _number("t_max", t_max, hi=CURVE_MAX_TIME)


def depth_curves(s: float, log10_u0: float, max_depth: int = 6, t_max: float = 40.0):
    """Balanced mode strengths u(t)/s for depths 1..max_depth from the same end-to-end u0 = s 10^log10_u0
    (closed forms for depth <= 2, the scalar ODE beyond), and each depth's time to reach u = s/2.

    s in (0, CURVE_MAX_S]; log10_u0 in [-30, 0] (u0 at most s); max_depth 1 to ``CURVE_MAX_DEPTH``; t_max in
    (0, CURVE_MAX_TIME]. Returns ``(t (400,), curves (400, max_depth), half)``; cached."""
    _check_curves(s, log10_u0, max_depth, t_max)
    return _depth_curves(s, log10_u0, max_depth, t_max)


@lru_cache(maxsize=256)
def _depth_curves(s, log10_u0, max_depth, t_max):
    u0 = s * 10.0**log10_u0
    t = torch.linspace(0.0, t_max, 400, dtype=torch.float64)
    # rtol 1e-7 is far below what a plot resolves, and keeps first visits of a slider setting fast.
    curves = torch.stack([deep_mode_strength(t, s, u0, n, rtol=1e-7) / s for n in range(1, max_depth + 1)], 1)
    half = [float(learning_time(s, u0, s / 2, depth=n)) if u0 < s / 2 else 0.0 for n in range(1, max_depth + 1)]
    return t.numpy(), curves.numpy(), half


class DepthView:
    """``depth_curves`` on one axes with the chosen depth highlighted, built once and updated in place.

    max_depth: 2 to ``CURVE_MAX_DEPTH`` lines; t_max: the time span drawn (both also those of the curves)."""

    def __init__(self, ax, max_depth: int = 6, t_max: float = 40.0, *, present: bool = False):
        # present: text sizes from the projector style in effect (slider figure), not the small static ones
        _axes("ax", ax)
        _check_curves(None, None, max_depth, t_max, min_depth=2)
        title, legend = ({}, {}) if check_flag("present", present) else ({"fontsize": 10}, {"fontsize": 8})
        self.ax, self.max_depth, self.t_max = ax, max_depth, t_max
        self.lines = [ax.plot([], [], color=f"C{n - 1}", lw=0.9, alpha=0.55, label=f"N = {n}")[0]
                      for n in range(1, max_depth + 1)]
        self.marker = ax.axvline(0.0, color="0.3", ls=":", lw=1.2)
        ax.set_ylim(0, 1.05)
        ax.set_xlim(0, t_max)
        ax.set_xlabel("time t")
        ax.set_ylabel("u(t) / s")
        ax.set_title("balanced mode strength by depth N", **title)
        ax.legend(frameon=False, ncol=2, loc="lower right", **legend)

    def update(self, s: float, log10_u0: float, depth: int) -> str:
        """Draw ``depth_curves(s, log10_u0)`` over the view's depths and time, ``depth`` highlighted (1 to the view's
        max_depth); returns the summary line."""
        depth = check_int("depth", depth, minimum=1, maximum=self.max_depth)
        return self._draw(*depth_curves(s, log10_u0, self.max_depth, self.t_max), s, log10_u0, depth)

    def _draw(self, t, curves, half, s, log10_u0, depth) -> str:
        for n, line in enumerate(self.lines, start=1):
            chosen = n == depth
            line.set_data(t, curves[:, n - 1])
            line.set_linewidth(2.6 if chosen else 0.9)
            line.set_alpha(1.0 if chosen else 0.55)
        self.marker.set_xdata([half[depth - 1]] * 2)
        self.marker.set_color(f"C{depth - 1}")
        return (f"s = {s:.3g}, u0 = s·1e{log10_u0:.2g}: depth {depth} reaches u = s/2 at t = {half[depth - 1]:.3g}"
                f" (depth 2: {half[1]:.3g})")


def draw_depth_curves(ax, s: float, log10_u0: float, depth: int) -> str:
    """A static ``DepthView`` (the figure behind notebook 02's depth sliders); returns its summary line.

    s, log10_u0 as in ``depth_curves``; depth: the highlighted depth, 1 to 6."""
    _check_curves(s, log10_u0, 6, 40.0)
    check_int("depth", depth, minimum=1, maximum=6)
    return DepthView(ax).update(s, log10_u0, depth)


@lru_cache(maxsize=4)
def _depth_grid(s_values: tuple, log10_u0_values: tuple, max_depth: int = 6, t_max: float = 40.0):
    """``depth_curves`` for every (s, log10_u0) of the two grids at once: one ODE solve per depth for all pairs
    (``deep_mode_strength`` integrates distinct pairs together, so each curve agrees with ``depth_curves``'s to
    the solver's tolerance, about 1e-6, not to the last digit). Returns ``(t (400,), curves (400, S, U, max_depth),
    half (S, U, max_depth))``."""
    t = torch.linspace(0.0, t_max, 400, dtype=torch.float64)
    s = torch.tensor(s_values, dtype=torch.float64)[:, None]
    u0 = s * 10.0 ** torch.tensor(log10_u0_values, dtype=torch.float64)[None, :]
    curves = torch.stack([deep_mode_strength(t[:, None, None], s, u0, n, rtol=1e-7) / s
                          for n in range(1, max_depth + 1)], -1)
    below = u0 < s / 2  # as depth_curves: 0 where u0 starts at or above s / 2
    start = torch.where(below, u0, s / 4)
    half = torch.stack([torch.where(below, learning_time(s.expand_as(u0), start, s / 2, depth=n), 0.0)
                        for n in range(1, max_depth + 1)], -1)
    return t.numpy(), curves.numpy(), half.numpy()


def depth_delay_demo(s: float = 1.0, log10_u0: float = -3.0, depth: int = 3) -> SliderFigure:
    """Sliders for s, the initial strength (log10 of u0/s) and the highlighted depth N: exact learning curves
    of a balanced mode for N = 1..6 (Saxe et al.'s depth delay).

    Every (s, log10_u0) of the sliders' grids is solved when the demo is built (one ODE solve per depth for all
    96 pairs, about half a second), so a slider move only redraws."""
    sliders = {
        "s": _float_slider("s", "singular value s", s, 0.25, 2.0, 0.25),
        "log10_u0": _float_slider("log10_u0", "initial strength log₁₀(u₀/s)", log10_u0, -6.0, -0.5, 0.5),
        "depth": _int_slider("depth", "depth N", depth, 1, 6),
    }
    fig, axes = make_figure(1, 1, figsize=(7.5, 3.8))
    with present_style():
        view = DepthView(axes[0, 0], present=True)

    s_values = tuple(round(0.25 * k, 6) for k in range(1, 9))
    u0_values = tuple(round(-6.0 + 0.5 * k, 6) for k in range(12))
    t, curves, half = _depth_grid(s_values, u0_values)

    def update(s, log10_u0, depth):
        s, log10_u0 = round(s, 6), round(log10_u0, 6)
        if s not in s_values or log10_u0 not in u0_values:  # not on the grid: solved on its own
            return view.update(s, log10_u0, depth)
        i, j = s_values.index(s), u0_values.index(log10_u0)
        return view._draw(t, curves[:, i, j], list(half[i, j]), s, log10_u0, depth)

    return SliderFigure(fig, axes, sliders, update)



class PhasePortraitClicker(_PlaneClicker):
    """Notebook 02's phase portrait that takes clicks: clicking (or dragging) in the (a, b) plane sets the start,
    draws the gradient-flow trajectory and the GD iterates from there (``phase_demo_data``), and prints the
    conserved quantity a² − b² and where flow and GD end. Sliders set s and eta.

    Built on ipympl's canvas widget (JupyterLab and Voila), without touching pyplot's global backend.
    ``fig``, ``axes``, ``canvas``, ``sliders``, ``status``, ``ui``; ``start`` is the current (a0, b0);
    ``click(a, b)`` does what a click does (tests and scripts); ``clicks`` counts the redraws from clicks.
    """

    def __init__(self, s: float = 1.0, a0: float = -1.2, b0: float = 1.4, eta: float = 0.15, *, grid: float = 0.05):

        sliders = {"s": _float_slider("s", "singular value s", s, 0.2, 2.0, 0.1),
                   "eta": _float_slider("eta", "learning rate η", eta, 0.01, 1.0, 0.01)}
        _on_plane("a0", a0)
        _on_plane("b0", b0)
        _number("grid", grid, lo=1e-3, hi=0.5)
        self.grid = grid
        self.fig, axes = make_figure(1, 2, figsize=(10.0, 4.6))
        self.fig.set_dpi(96)  # 960 px wide, shown at natural size like the slider images
        self.axes = axes[0]
        with present_style():
            self.view = PhaseDemoView(self.axes, present=True)
            self.axes[0].set_title("click or drag to set the start (a₀, b₀)")
        self.sliders = sliders
        self.start, self.clicks = (self._snap(a0), self._snap(b0)), 0
        for slider in self.sliders.values():
            slider.observe(lambda _change: self.redraw(), names="value")
        self._mount()

    def _snap(self, v: float) -> float:
        # a start on a 0.05 grid (about 4 px on screen): clicking near a visited point hits the cache
        return round(round(float(v) / self.grid) * self.grid, 6)

    def _pointed(self, a: float, b: float) -> None:
        self.click(a, b)

    def click(self, a: float, b: float) -> str:
        """Start at (a, b) (in [-PLANE, PLANE], snapped to ``grid``); redraw; return the status line."""
        _on_plane("a", a)
        _on_plane("b", b)
        self.start = (self._snap(a), self._snap(b))
        self.clicks += 1
        return self.redraw()

    def redraw(self) -> str:
        s, eta = round(self.sliders["s"].value, 6), round(self.sliders["eta"].value, 6)
        a0, b0 = self.start
        flow, gd = phase_demo_data(s, a0, b0, eta)
        with present_style():
            summary = self.view.update(s, a0, b0, eta, flow, gd)
        c0 = a0 * a0 - b0 * b0
        a_f, b_f = float(flow[1][-1]), float(flow[2][-1])
        a_g, b_g = float(gd[1][-1]), float(gd[2][-1])
        gd_end = (f"GD ({len(gd[0]) - 1} steps) ends at ({a_g:.3g}, {b_g:.3g})"
                  if np.isfinite(a_g) and np.isfinite(b_g) else summary)
        msg = (f"start (a₀, b₀) = ({a0:.3g}, {b0:.3g}); conserved a² − b² = {c0:.3g}; flow at t = {flow[0][-1]:g} "
               f"ends at ({a_f:.3g}, {b_f:.3g}) with a² − b² = {a_f * a_f - b_f * b_f:.3g}; {gd_end}")
        return self._show(msg)


def _on_plane(name: str, v) -> None:
    _number(name, v, lo=-PLANE, hi=PLANE)


def clickable_phase_portrait(s: float = 1.0, a0: float = -1.2, b0: float = 1.4, eta: float = 0.15):
    """Notebook 02's (a, b) phase portrait driven by pointing: see ``PhasePortraitClicker`` (s in [0.2, 2] and
    eta in [0.01, 1] on their slider grids, a0 and b0 in [-PLANE, PLANE])."""
    return PhasePortraitClicker(s, a0, b0, eta)
