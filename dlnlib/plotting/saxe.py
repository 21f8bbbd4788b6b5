"""Plots of notebook 02: the (a, b) phase plane of Eqs. (9)-(10), trajectories, mode learning curves.

Every ``plot_*`` draws on the axes it is given (or a new one) and returns the Axes; nothing here trains.
"""

from __future__ import annotations

import numpy as np

from . import _np, new_axes

__all__ = [
    "plot_ab_plane",
    "plot_ab_path",
    "plot_phase_portrait",
    "plot_invariant",
    "plot_mode_curves",
    "PhaseDemoView",
    "draw_phase_demo",
]

MINIMA_COLOR = "tab:red"
FLOW_COLOR = "black"
GD_COLOR = "tab:orange"


def _field(A, B, s, tau):
    r = s - A * B
    return r * B / tau, r * A / tau


def _conserved_curves(c: float, lim: float, n: int = 121):
    # Branches of a^2 - b^2 = c inside [-lim, lim]^2, drawn as explicit curves (cheaper than a contour).
    t = np.linspace(-lim, lim, n)
    if c >= 0:
        x = np.sqrt(c + t * t)
        return [(x, t), (-x, t)]
    y = np.sqrt(-c + t * t)
    return [(t, y), (t, -y)]


def plot_ab_plane(
    s: float = 1.0,
    *,
    ax=None,
    lim: float = 2.5,
    field: str = "stream",
    density: float = 0.9,
    grid: int = 17,
    invariant_levels=(-2.0, -0.5, 0.5, 2.0),
    tau: float = 1.0,
    legend: bool = True,
):
    """The phase plane of Eqs. (9)-(10): field (streamlines or arrows), nullclines, the hyperbola of minima
    ab = s, level sets of the conserved a^2 - b^2 and the saddle at the origin. Returns the Axes."""
    if field not in ("stream", "quiver", "none"):
        raise ValueError(f"field: got {field!r}, expected 'stream', 'quiver' or 'none'")
    ax = new_axes(ax, figsize=(4.6, 4.4))
    if field == "stream":
        g = np.linspace(-lim, lim, 41)
        A, B = np.meshgrid(g, g)
        dA, dB = _field(A, B, s, tau)
        ax.streamplot(A, B, dA, dB, density=density, color="0.72", linewidth=0.7, arrowsize=0.8)
    elif field == "quiver":
        g = np.linspace(-lim, lim, grid)
        A, B = np.meshgrid(g, g)
        dA, dB = _field(A, B, s, tau)
        norm = np.hypot(dA, dB)
        norm[norm == 0] = 1.0
        ax.quiver(A, B, dA / norm, dB / norm, color="0.7", angles="xy", scale=1.6 * grid / lim, width=0.004)
    for k, c in enumerate(invariant_levels):
        for j, (x, y) in enumerate(_conserved_curves(c, lim)):
            ax.plot(x, y, ":", color="tab:green", lw=1.0, label="a² − b² = const" if k == j == 0 else None)
    ax.axhline(0, color="tab:blue", lw=1.0, ls="--", label="da/dt = 0 (b = 0)")
    ax.axvline(0, color="tab:purple", lw=1.0, ls="--", label="db/dt = 0 (a = 0)")
    a_pos = np.linspace(s / lim, lim, 200)
    ax.plot(a_pos, s / a_pos, color=MINIMA_COLOR, lw=2.2, label="minima ab = s (both nullclines)")
    ax.plot(-a_pos, -s / a_pos, color=MINIMA_COLOR, lw=2.2)
    ax.plot([0], [0], "o", mfc="white", mec="k", ms=7, label="saddle (0, 0)")
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_xlabel("a  (input-side strength)")
    ax.set_ylabel("b  (output-side strength)")
    if legend:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    return ax


def plot_ab_path(ax, a, b, *, color=FLOW_COLOR, label=None, markers: bool = False, lw: float = 1.6):
    """One trajectory in the (a, b) plane: a line (flow) or dots (gradient-descent iterates), start marked."""
    a, b = _np(a).ravel(), _np(b).ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if markers:
        ax.plot(a, b, "o-", color=color, ms=2.5, lw=0.6, label=label)
    else:
        ax.plot(a, b, color=color, lw=lw, label=label)
    if a.size:
        ax.plot(a[:1], b[:1], "s", color=color, ms=5)
    return ax


DEFAULT_STARTS = ((0.05, 0.02), (-0.04, 0.06), (2.3, -0.3), (-2.2, 0.6), (0.4, -2.3), (-0.5, 2.2),
                  (1.2, -1.1), (-1.1, 1.25))


def plot_phase_portrait(s: float = 1.0, *, starts=DEFAULT_STARTS, t_max: float | None = None, ax=None,
                        lim: float = 2.5, field: str = "stream", tau: float = 1.0):
    """``plot_ab_plane`` plus gradient-flow trajectories of (9)-(10) from ``starts`` [(a0, b0), ...],
    each integrated to ``t_max`` (default 12 tau / s) with ``dlnlib.saxe.ab_trajectory``. Returns the Axes."""
    from ..saxe import ab_trajectory

    ax = plot_ab_plane(s, ax=ax, lim=lim, field=field, tau=tau)
    starts = np.asarray(starts, dtype=float).reshape(-1, 2)
    t_max = 12.0 * tau / s if t_max is None else t_max
    times = np.linspace(0.0, t_max, 400)
    a, b = ab_trajectory(starts[:, 0], starts[:, 1], s, times, tau)
    for k in range(starts.shape[0]):
        plot_ab_path(ax, a[:, k], b[:, k], color=FLOW_COLOR, lw=1.3,
                     label="flow trajectories" if k == 0 else None)
    if ax.get_legend() is not None:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    return ax


def plot_invariant(t, values, *, ax=None, label=None, color=None, markers: bool = False):
    """The conserved quantity a^2 - b^2 against time (flat for gradient flow)."""
    ax = new_axes(ax)
    t, v = _np(t).ravel(), _np(values).ravel()
    ax.plot(t, v, ".-" if markers else "-", color=color, label=label, ms=3, lw=1.2)
    ax.set_xlabel("time t")
    ax.set_ylabel("a² − b²")
    return ax


def plot_mode_curves(t, u, *, exact=None, s=None, ax=None, labels=None, colors=None, normalise: bool = False):
    """Mode strengths against time: ``u`` (T, k) as solid lines, ``exact`` (T', k) or (T, k) dashed on top.

    t: (T,) or a pair (t, t_exact) when the exact curve has its own time grid; s: (k,) targets, drawn as
    dotted horizontal lines (or used to normalise when ``normalise``).
    """
    ax = new_axes(ax)
    t_sim, t_ex = (t if isinstance(t, tuple) else (t, t))
    t_sim, t_ex = _np(t_sim), _np(t_ex)
    u = _np(u).reshape(len(t_sim), -1)
    k = u.shape[1]
    scale = _np(s).reshape(1, -1) if (normalise and s is not None) else np.ones((1, k))
    for i in range(k):
        color = colors[i] if colors is not None else f"C{i % 10}"
        ax.plot(t_sim, u[:, i] / scale[0, i], color=color, lw=2, alpha=0.8,
                label=None if labels is None else labels[i])
    if exact is not None:
        ex = _np(exact).reshape(len(t_ex), -1)
        for i in range(ex.shape[1]):
            color = colors[i] if colors is not None else f"C{i % 10}"
            ax.plot(t_ex, ex[:, i] / scale[0, i], "--", color="k", lw=1.0)
        ax.plot([], [], "--", color="k", lw=1.0, label="closed form")
    if s is not None and not normalise:
        for v in np.unique(_np(s)):
            ax.axhline(v, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("time t")
    ax.set_ylabel("u / s" if normalise else "mode strength u")
    if labels is not None or exact is not None:
        ax.legend(frameon=False, fontsize=8)
    return ax


class PhaseDemoView:
    """Notebook 02's phase-portrait figure on two axes, built once and then updated in place (fast redraws).

    Left: the plane of Eqs. (9)-(10) (unit arrows of the field, nullclines, hyperbola of minima, the conserved
    hyperbola through the start) with the gradient-flow path and the GD iterates; right: a^2 - b^2 against time.
    ``update(s, a0, b0, eta, flow, gd)`` takes flow = (t, a, b) of the ODE and gd = (t, a, b) of gradient descent
    and returns a one-line summary of how far GD left the conserved hyperbola.
    """

    Y_LEVELS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)

    def __init__(self, axes, *, lim: float = 2.5, grid: int = 15, t_max: float = 10.0, present: bool = False):
        # present: text sizes from the projector style in effect (slider figures), not the small static ones
        title, legend, legend2 = ({}, {}, {}) if present else ({"fontsize": 10}, {"fontsize": 7}, {"fontsize": 8})
        self.ax, self.ax2 = axes
        self.lim = lim
        g = np.linspace(-lim, lim, grid)
        self.A, self.B = np.meshgrid(g, g)
        ax, ax2 = self.ax, self.ax2
        zero = np.zeros_like(self.A)
        self.quiver = ax.quiver(self.A, self.B, zero, zero, color="0.72", angles="xy", scale=1.6 * grid / lim,
                                width=0.004)
        self.conserved = [ax.plot([], [], ":", color="tab:green", lw=1.2, label="a² − b² = c₀")[0],
                          ax.plot([], [], ":", color="tab:green", lw=1.2)[0]]
        # Few text elements: glyph layout dominates the redraw time (nullclines are labelled in the static figure).
        ax.axhline(0, color="tab:blue", lw=1.0, ls="--")
        ax.axvline(0, color="tab:purple", lw=1.0, ls="--")
        self.minima = [ax.plot([], [], color=MINIMA_COLOR, lw=2.2, label="minima ab = s")[0],
                       ax.plot([], [], color=MINIMA_COLOR, lw=2.2)[0]]
        ax.plot([0], [0], "o", mfc="white", mec="k", ms=7)
        (self.flow_line,) = ax.plot([], [], color=FLOW_COLOR, lw=1.8, label="gradient flow")
        (self.gd_line,) = ax.plot([], [], "o-", color=GD_COLOR, ms=2.5, lw=0.6, label="GD")
        (self.start,) = ax.plot([], [], "s", color=FLOW_COLOR, ms=5)
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
        ax.set_xticks([-2, 0, 2])
        ax.set_yticks([-2, 0, 2])
        ax.set_xlabel("a")
        ax.set_ylabel("b")
        ax.set_title("phase plane of Eqs. (9)-(10)", **title)
        self.gd_label = ax.legend(loc="lower right", framealpha=0.85, **legend).get_texts()[-1]
        (self.flow_c,) = ax2.plot([], [], color=FLOW_COLOR, lw=1.5, label="gradient flow")
        (self.gd_c,) = ax2.plot([], [], ".-", color=GD_COLOR, ms=3, lw=1.0, label="GD")
        ax2.axhline(0, color="0.6", lw=0.6)
        # Limits from a few fixed levels: ticks and their labels are laid out again only when the level changes.
        ax2.set_xlim(0.0, t_max)
        self._ylevel = None
        ax2.set_xlabel("time t")
        ax2.set_ylabel("a² − b²")
        ax2.set_title("the conserved quantity", **title)
        ax2.legend(frameon=False, **legend2)
        self._s = None

    def _set_s(self, s):
        if s == self._s:
            return
        dA, dB = _field(self.A, self.B, s, 1.0)
        norm = np.hypot(dA, dB)
        norm[norm == 0] = 1.0
        self.quiver.set_UVC(dA / norm, dB / norm)
        a_pos = np.linspace(s / self.lim, self.lim, 200)
        self.minima[0].set_data(a_pos, s / a_pos)
        self.minima[1].set_data(-a_pos, -s / a_pos)
        self._s = s

    def update(self, s, a0, b0, eta, flow, gd) -> str:
        self._set_s(s)
        c0 = a0 * a0 - b0 * b0
        for line, (x, y) in zip(self.conserved, _conserved_curves(c0, self.lim)):
            line.set_data(x, y)
        t_f, a_f, b_f = (_np(x).ravel() for x in flow)
        t_g, a_g, b_g = (_np(x).ravel() for x in gd)
        finite = np.isfinite(a_g) & np.isfinite(b_g)
        self.flow_line.set_data(a_f, b_f)
        self.gd_line.set_data(a_g[finite], b_g[finite])
        self.gd_label.set_text(f"GD, η = {eta:.3g}")
        self.start.set_data([a0], [b0])
        self.flow_c.set_data(t_f, a_f**2 - b_f**2)
        c_gd = a_g[finite] ** 2 - b_g[finite] ** 2
        self.gd_c.set_data(t_g[finite], c_gd)
        extent = max(abs(c0), float(np.abs(c_gd).max()) if c_gd.size else 0.0)
        level = next((v for v in self.Y_LEVELS if v >= 1.2 * extent), self.Y_LEVELS[-1])
        if level != self._ylevel:
            self.ax2.set_ylim(-level, level)
            self._ylevel = level
        if not finite.all():
            return f"GD with η = {eta:.3g} diverged after {int(finite.sum()) - 1} steps"
        c_end = a_g[-1] ** 2 - b_g[-1] ** 2
        return (f"s = {s:.3g}: GD moved a² − b² from {c0:.3g} to {c_end:.3g} (the flow keeps it); "
                f"final ab = {a_g[-1] * b_g[-1]:.4g}")


def draw_phase_demo(axes, s, a0, b0, eta, flow, gd, *, lim: float = 2.5):
    """A static ``PhaseDemoView`` (the figure behind notebook 02's phase sliders); returns its summary line."""
    return PhaseDemoView(axes, lim=lim).update(s, a0, b0, eta, flow, gd)
