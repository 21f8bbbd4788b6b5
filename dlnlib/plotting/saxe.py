"""Plots of notebook 02: the (a, b) phase plane of Eqs. (9)-(10), trajectories, mode learning curves.

Every ``plot_*`` draws on the axes it is given (or a new one) and returns the Axes; nothing here trains.
"""

from __future__ import annotations

import numpy as np

from ..core import check_choice, check_flag, check_int, check_real, shown
from . import _axes, _color, _colors, _data, _np, _text, _times, new_axes

MIN_LIM, MAX_LIM = 1e-3, 1e6
FIELDS = ("stream", "quiver", "none")
MAX_TIMESCALES = 1000.0
"""``plot_phase_portrait`` integrates up to at most this many time scales tau / s."""
"""The narrowest and widest half-width ``lim`` of a phase-plane window."""

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


def _checked_field(A, B, s, tau):
    """``_field`` on the grid, or a ValueError when it leaves float64's range there (huge s or lim, tiny tau)."""
    with np.errstate(over="ignore", invalid="ignore"):
        dA, dB = _field(A, B, s, tau)
        ok = np.isfinite(dA).all() and np.isfinite(dB).all() and np.isfinite(np.hypot(dA, dB)).all()
    if not ok:
        raise ValueError(f"s: got s = {s:g} with tau = {tau:g} on [-{A.max():g}, {A.max():g}]^2, expected values for "
                         "which the field (s - ab) b / tau stays within float64's range")
    return dA, dB


def _lim(lim) -> float:
    return check_real("lim", lim, minimum=MIN_LIM, maximum=MAX_LIM)


def _minima(s: float, lim: float):
    """The branch a > 0 of the hyperbola of minima ab = s inside the window: (a, s / a), or a ValueError when s / lim
    leaves float64's range."""
    with np.errstate(over="ignore", invalid="ignore"):
        a_pos = np.linspace(s / lim, lim, 200)
        b_pos = s / a_pos
    if not (np.isfinite(a_pos).all() and np.isfinite(b_pos).all()):
        raise ValueError(f"s: got s = {s:g} with lim = {lim:g}, expected s / lim within float64's range")
    return a_pos, b_pos


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
    check_choice("field", field, FIELDS)
    s = check_real("s", s, positive=True)
    lim = _lim(lim)
    density = check_real("density", density, positive=True, maximum=5.0)
    grid = check_int("grid", grid, minimum=2, maximum=200)
    tau = check_real("tau", tau, positive=True)
    if not (isinstance(invariant_levels, (list, tuple)) and len(invariant_levels) == 0):  # () draws no level set
        _data("invariant_levels", invariant_levels, "a list of finite numbers (levels of a^2 - b^2)", ndim=1)
    check_flag("legend", legend)
    a_pos, b_pos = _minima(s, lim)
    if field != "none":
        g = np.linspace(-lim, lim, 41 if field == "stream" else grid)
        A, B = np.meshgrid(g, g)
        dA, dB = _checked_field(A, B, s, tau)
    ax = new_axes(ax, figsize=(4.6, 4.4))
    if field == "stream":
        ax.streamplot(A, B, dA, dB, density=density, color="0.72", linewidth=0.7, arrowsize=0.8)
    elif field == "quiver":
        norm = np.hypot(dA, dB)
        norm[norm == 0] = 1.0
        ax.quiver(A, B, dA / norm, dB / norm, color="0.7", angles="xy", scale=1.6 * grid / lim, width=0.004)
    for k, c in enumerate(invariant_levels):
        for j, (x, y) in enumerate(_conserved_curves(c, lim)):
            ax.plot(x, y, ":", color="tab:green", lw=1.0, label="a² − b² = const" if k == j == 0 else None)
    ax.axhline(0, color="tab:blue", lw=1.0, ls="--", label="da/dt = 0 (b = 0)")
    ax.axvline(0, color="tab:purple", lw=1.0, ls="--", label="db/dt = 0 (a = 0)")
    ax.plot(a_pos, b_pos, color=MINIMA_COLOR, lw=2.2, label="minima ab = s (both nullclines)")
    ax.plot(-a_pos, -b_pos, color=MINIMA_COLOR, lw=2.2)
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
    """One trajectory in the (a, b) plane: a line (flow) or dots (gradient-descent iterates), start marked.

    a, b: arrays of one size; NaN or inf iterates (gradient descent after a divergence) are left out, but the start
    must be finite."""
    _axes("ax", ax)
    # NaN or inf: the iterates after a divergence, left out
    a = _data("a", a, "an array of a-coordinates along the path", finite=False).ravel()
    b = _data("b", b, f"an array of {a.size} b-coordinates, one per a", finite=False).ravel()
    if b.size != a.size:
        raise ValueError(f"a, b: got {a.size} and {b.size} coordinates, expected one b per a")
    if not (np.isfinite(a[0]) and np.isfinite(b[0])):
        raise ValueError(f"a, b: got the start ({a[0]}, {b[0]}), expected a finite starting point")
    _color("color", color)
    _text("label", label)
    check_flag("markers", markers)
    check_real("lw", lw, positive=True, maximum=100.0)
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

    s = check_real("s", s, positive=True)
    tau = check_real("tau", tau, positive=True)
    _lim(lim)
    check_choice("field", field, FIELDS)
    given = _data("starts", starts, "a list of starting points [(a0, b0), ...]", ndim=(1, 2))
    if given.shape[-1] != 2:
        raise ValueError(f"starts: got shape {given.shape}, expected a list of starting points [(a0, b0), ...]")
    if t_max is not None:
        t_max = check_real("t_max", t_max, positive=True)
    _axes("ax", ax, optional=True)
    starts = given.reshape(-1, 2)
    t_max = 12.0 * tau / s if t_max is None else t_max
    if not t_max <= MAX_TIMESCALES * tau / s:  # every path has long settled; the solver would only grind
        raise ValueError(f"t_max: got t_max = {t_max:g} with s = {s:g}, tau = {tau:g}, expected at most "
                         f"{MAX_TIMESCALES:g} tau / s")
    times = np.linspace(0.0, t_max, 400)
    try:
        a, b = ab_trajectory(starts[:, 0], starts[:, 1], s, times, tau)
    except ValueError as exc:
        raise ValueError(f"s, starts, t_max: the flow with s = {s:g}, tau = {tau:g} could not be integrated from "
                         f"these starts up to t_max = {t_max:g} ({exc})") from None
    ax = plot_ab_plane(s, ax=ax, lim=lim, field=field, tau=tau)
    for k in range(starts.shape[0]):
        plot_ab_path(ax, a[:, k], b[:, k], color=FLOW_COLOR, lw=1.3,
                     label="flow trajectories" if k == 0 else None)
    if ax.get_legend() is not None:
        ax.legend(loc="lower right", fontsize=7, framealpha=0.85)
    return ax


def plot_invariant(t, values, *, ax=None, label=None, color=None, markers: bool = False):
    """The conserved quantity a^2 - b^2 against time (flat for gradient flow)."""
    t = _times("t", t)
    v = _data("values", values, f"{len(t)} values, one per time").ravel()
    if v.size != len(t):
        raise ValueError(f"values: got {v.size} values, expected {len(t)} (one per time)")
    _text("label", label)
    _color("color", color)
    check_flag("markers", markers)
    ax = new_axes(ax)
    ax.plot(t, v, ".-" if markers else "-", color=color, label=label, ms=3, lw=1.2)
    ax.set_xlabel("time t")
    ax.set_ylabel("a² − b²")
    return ax


def plot_mode_curves(t, u, *, exact=None, s=None, ax=None, labels=None, colors=None, normalise: bool = False):
    """Mode strengths against time: ``u`` (T, k) as solid lines, ``exact`` (T', k) or (T, k) dashed on top.

    t: (T,) or a pair (t, t_exact) when the exact curve has its own time grid; s: (k,) targets, drawn as
    dotted horizontal lines (or used to normalise when ``normalise``).
    """
    pair = isinstance(t, tuple) and len(t) == 2 and all(np.ndim(x) >= 1 for x in t)
    t_sim, t_ex = (t if pair else (t, t))
    t_sim, t_ex = _times("t", t_sim), _times("t", t_ex)
    u = _data("u", u, "mode strengths of shape (T, k)", ndim=(1, 2), rows=len(t_sim), match="t")
    u = u.reshape(len(t_sim), -1)
    k = u.shape[1]
    if exact is not None:
        ex = _data("exact", exact, f"closed-form strengths of shape (T', {k})", ndim=(1, 2), rows=len(t_ex),
                   match="t").reshape(len(t_ex), -1)
        if ex.shape[1] != k:
            raise ValueError(f"exact: got {ex.shape[1]} curves, expected {k} (one per column of u)")
    check_flag("normalise", normalise)
    if s is not None:
        targets = _data("s", s, f"{k} target strengths (k,)", ndim=(0, 1))
        if normalise and (targets.size != k or (targets == 0).any()):
            raise ValueError(f"s: got {targets.size} targets, expected {k} nonzero ones (u / s is drawn)")
    if labels is not None:
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (list, tuple)) or len(labels) != k:
            raise ValueError(f"labels: got {shown(labels)}, expected a list of {k} strings (one per curve)")
        for i, lab in enumerate(labels):
            _text(f"labels[{i}]", lab, optional=False)
    _colors("colors", colors, k)
    ax = new_axes(ax)
    scale = _np(s).reshape(1, -1) if (normalise and s is not None) else np.ones((1, k))
    for i in range(k):
        color = colors[i] if colors is not None else f"C{i % 10}"
        ax.plot(t_sim, u[:, i] / scale[0, i], color=color, lw=2, alpha=0.8,
                label=None if labels is None else labels[i])
    if exact is not None:
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


def _path_triple(name: str, value, *, finite: bool):
    """A path (t, a, b) of three 1-D arrays of one length, t finite and increasing; a and b finite unless not
    ``finite`` (gradient descent after a divergence), but always finite at the start."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise ValueError(f"{name}: got {shown(value)}, expected a triple (t, a, b) of 1-D arrays")
    t = _times(name, np.ravel(_data(name, value[0], "a triple (t, a, b) of 1-D arrays")))
    a, b = (_data(name, x, f"a triple (t, a, b) of 1-D arrays of {len(t)} numbers each", finite=finite).ravel()
            for x in value[1:])
    if a.size != len(t) or b.size != len(t):
        raise ValueError(f"{name}: got t, a, b of {len(t)}, {a.size}, {b.size} numbers, expected one length")
    if not (np.isfinite(a[0]) and np.isfinite(b[0])):
        raise ValueError(f"{name}: got the start ({a[0]}, {b[0]}), expected a finite starting point")
    return t, a, b


def _demo_args(s, a0, b0, eta, flow, gd):
    """The arguments of ``PhaseDemoView.update``, checked (before anything is drawn)."""
    s = check_real("s", s, positive=True)
    a0, b0 = check_real("a0", a0), check_real("b0", b0)
    if not np.isfinite(a0 * a0 - b0 * b0):
        raise ValueError(f"a0: got ({a0:g}, {b0:g}), expected a start whose a0^2 - b0^2 is within float64's range")
    eta = check_real("eta", eta, positive=True)
    return s, a0, b0, eta, _path_triple("flow", flow, finite=True), _path_triple("gd", gd, finite=False)


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
        pair = np.asarray(axes, dtype=object) if isinstance(axes, (list, tuple, np.ndarray)) else None
        if pair is None or pair.shape != (2,):
            raise ValueError(f"axes: got {shown(axes)}, expected a pair of matplotlib Axes (plane, conserved quantity)")
        _axes("axes[0]", pair[0])
        _axes("axes[1]", pair[1])
        lim = _lim(lim)
        grid = check_int("grid", grid, minimum=2, maximum=200)
        t_max = check_real("t_max", t_max, positive=True)
        check_flag("present", present)
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
        # presented with sliders, eta is on its slider: a fixed legend stays in the kept background (a legend
        # drawn again on every move costs about 20 ms)
        self.present = present
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

    def _set_s(self, s):
        # set on every update, even to the same s: a slider figure then learns the arrows as changing before the
        # first move of s (else that move redraws the whole background once more)
        dA, dB = _checked_field(self.A, self.B, s, 1.0)
        a_pos, b_pos = _minima(s, self.lim)
        norm = np.hypot(dA, dB)
        norm[norm == 0] = 1.0
        self.quiver.set_UVC(dA / norm, dB / norm)
        self.minima[0].set_data(a_pos, b_pos)
        self.minima[1].set_data(-a_pos, -b_pos)

    def set_level(self, level: float) -> None:
        """The right panel's scale: a² − b² from -level to level (one of ``Y_LEVELS``)."""
        if level not in self.Y_LEVELS:
            raise ValueError(f"level: got {shown(level)}, expected one of {self.Y_LEVELS}")
        if level != self._ylevel:
            self.ax2.set_ylim(-level, level)
            self._ylevel = level

    def update(self, s, a0, b0, eta, flow, gd) -> str:
        """Redraw for singular value ``s``, start (a0, b0) and rate ``eta``; flow, gd: triples (t, a, b) of 1-D
        arrays of one length each (gd's a and b may hold NaN or inf after a divergence, which the summary reports).
        Returns the summary line."""
        s, a0, b0, eta, (t_f, a_f, b_f), (t_g, a_g, b_g) = _demo_args(s, a0, b0, eta, flow, gd)
        self._set_s(s)
        c0 = a0 * a0 - b0 * b0
        for line, (x, y) in zip(self.conserved, _conserved_curves(c0, self.lim)):
            line.set_data(x, y)
        finite = np.isfinite(a_g) & np.isfinite(b_g)
        self.flow_line.set_data(a_f, b_f)
        self.gd_line.set_data(a_g[finite], b_g[finite])
        if not self.present:
            self.gd_label.set_text(f"GD, η = {eta:.3g}")
        self.start.set_data([a0], [b0])
        self.flow_c.set_data(t_f, a_f**2 - b_f**2)
        c_gd = a_g[finite] ** 2 - b_g[finite] ** 2
        self.gd_c.set_data(t_g[finite], c_gd)
        extent = max(abs(c0), float(np.abs(c_gd).max()) if c_gd.size else 0.0)
        self.set_level(next((v for v in self.Y_LEVELS if v >= 1.2 * extent), self.Y_LEVELS[-1]))
        if not finite.all():
            return f"GD with η = {eta:.3g} diverged after {int(finite.sum()) - 1} steps"
        c_end = a_g[-1] ** 2 - b_g[-1] ** 2
        return (f"s = {s:.3g}: GD moved a² − b² from {c0:.3g} to {c_end:.3g} (the flow keeps it); "
                f"final ab = {a_g[-1] * b_g[-1]:.4g}")


def draw_phase_demo(axes, s, a0, b0, eta, flow, gd, *, lim: float = 2.5):
    """A static ``PhaseDemoView`` (the figure behind notebook 02's phase sliders); returns its summary line."""
    _demo_args(s, a0, b0, eta, flow, gd)
    return PhaseDemoView(axes, lim=lim).update(s, a0, b0, eta, flow, gd)
