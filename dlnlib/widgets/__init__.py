"""Slider UIs for instructors, built on pure compute and plotting functions.

Every builder returns a ``SliderFigure``: its ``sliders`` (name -> ipywidget), the matplotlib
``fig`` and ``axes``, the ``image`` widget showing the rendered figure, and ``timings_ms`` of each
redraw. Setting ``handle.sliders["depth"].value = 4`` recomputes and redraws without a kernel
front-end, which is how the tests drive them. Topic builders live in submodules and are named
``<something>_demo``; every argument has a default, so ``all_demos()`` can build each one.
"""

from __future__ import annotations

import inspect
import math
import numbers
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import contextmanager

import ipywidgets as w
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core import check_choice, check_flag, check_int, check_real, shown

__all__ = [
    "DivergenceMarks",
    "divergence",
    "MIN_POINTS",
    "PRESENT_RC",
    "SliderFigure",
    "all_demos",
    "clear_data",
    "present_style",
    "float_slider",
    "int_slider",
    "light_log_axis",
    "make_figure",
    "encode_png",
    "render_png",
    "selection_slider",
    "slider_grid",
]

# Readable from the back of a lecture hall: no text in a slider figure is smaller than MIN_POINTS at the
# size shown (images are shown at their natural pixel size, so a figure point is a displayed point).
MIN_POINTS = 12
PRESENT_RC = {"font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13, "legend.fontsize": 12,
              "xtick.labelsize": 12, "ytick.labelsize": 12, "figure.titlesize": 13}


@contextmanager
def present_style():
    """Within it, new text (titles, labels, legends, ticks) gets the projector sizes of ``PRESENT_RC``."""
    import matplotlib as mpl

    with mpl.rc_context(PRESENT_RC):
        yield


# ---------------------------------------------------------------------------------------------
# Validation shared by the builders of this package (each raises a ValueError naming the argument)
# ---------------------------------------------------------------------------------------------

MAX_PANELS = 12
"""The most rows (or columns) of axes a slider figure may have."""
MAX_INCHES = 100.0
"""The largest figure side, in inches."""
MAX_POSITIONS = 100_000
"""The most positions a slider may have (range / step): more cannot be told apart by a hand on a slider."""
MAX_DPI = 600
"""The highest resolution a slider figure is rendered at (a 9-inch figure at 600 dpi is 5400 px wide)."""


def _number(name: str, value, *, lo: float | None = None, hi: float | None = None):
    """``value`` unchanged (an int stays an int) when ``core.check_real`` accepts it within ``[lo, hi]``; slider
    settings are plain numbers (NumPy scalars count), so a 0-d tensor or array is refused here."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        raise ValueError(f"{name}: got {shown(value)}, expected a plain number")
    check_real(name, value, minimum=lo, maximum=hi)
    return value


def _text(name: str, value) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name}: got {type(value).__name__}, expected a str")
    return value


def _axes(name: str, ax) -> Axes:
    if not isinstance(ax, Axes):
        raise ValueError(f"{name}: got {type(ax).__name__}, expected a matplotlib Axes")
    return ax


def _figure(name: str, fig) -> Figure:
    if not isinstance(fig, Figure):
        raise ValueError(f"{name}: got {type(fig).__name__}, expected a matplotlib Figure")
    return fig


def _readout_format(fmt) -> str:
    from ipywidgets.widgets.trait_types import _number_format_re, _number_format_types

    match = _number_format_re.match(fmt) if isinstance(fmt, str) else None
    if match is None or (match.group(9) is not None and match.group(9) not in _number_format_types):
        raise ValueError(f"readout_format: got {fmt!r}, expected a number format such as '.3g' or '.2f'")
    return fmt


def _grid(name: str, value, lo, hi, step, *, integer: bool = False):
    """Check a slider's range and step, and that ``value`` (argument ``name``) lies in it on the grid
    ``lo + k * step``: ipywidgets would clamp a value outside the range (or round one off the grid) silently."""
    if integer:
        lo, hi = check_int("lo", lo), check_int("hi", hi)
        step = check_int("step", step, minimum=1)
        value = check_int(name, value)
    else:
        lo, hi, value = _number("lo", lo), _number("hi", hi), _number(name, value)
        step = _number("step", step)
    if not lo < hi:
        raise ValueError(f"hi: got {hi!r} with lo = {lo!r}, expected lo < hi")
    if not 0 < step <= hi - lo:
        raise ValueError(f"step: got {step!r}, expected a step > 0 and at most hi - lo = {hi - lo:g}")
    if (hi - lo) / step > MAX_POSITIONS:
        raise ValueError(f"step: got {step!r}, which puts {(hi - lo) / step:.3g} positions on the slider, expected at "
                         f"most {MAX_POSITIONS:,}")
    if not lo <= value <= hi:
        raise ValueError(f"{name}: got {value!r}, expected a value in the slider's range [{lo:g}, {hi:g}]")
    k = (value - lo) / step
    if abs(k - round(k)) > 1e-9:
        raise ValueError(f"{name}: got {value!r}, expected a value on the slider grid {lo:g} + k * {step:g}")
    return value


def make_figure(nrows: int = 1, ncols: int = 1, *, figsize=(9.0, 3.6)):
    """A pyplot-free figure (so it is never auto-displayed) and its axes array."""
    why = " (a slider figure shows a few panels)"
    nrows = check_int("nrows", nrows, minimum=1, maximum=MAX_PANELS, why=why)
    ncols = check_int("ncols", ncols, minimum=1, maximum=MAX_PANELS, why=why)
    _figsize(figsize)
    with present_style():
        fig = Figure(figsize=figsize)
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.9, wspace=0.28, hspace=0.35)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _figsize(figsize) -> None:
    try:
        ok = len(figsize) == 2 and not isinstance(figsize, str)
    except TypeError:
        ok = False
    if not ok or not all(not isinstance(v, bool) and isinstance(v, numbers.Real) and 0 < v <= MAX_INCHES
                         for v in figsize):
        raise ValueError(f"figsize: got {figsize!r}, expected (width, height) in inches, each in (0, {MAX_INCHES:g}]")


def light_log_axis(ax, axis: str = "y", numticks: int = 5) -> None:
    """Few major ticks and no minor ticks on a log axis: the tick labels dominate redraw time."""
    from matplotlib.ticker import LogLocator, NullLocator

    _axes("ax", ax)
    check_choice("axis", axis, ("x", "y"))
    numticks = check_int("numticks", numticks, minimum=2, maximum=50)

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(numticks=numticks))
    target.set_minor_locator(NullLocator())


def clear_data(ax) -> None:
    """Remove an axes' lines, patches, collections, texts and legend but keep its ticks, labels and title:
    unlike ``ax.clear()`` nothing is rebuilt, so a redraw stays fast."""
    _axes("ax", ax)
    for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_prop_cycle(None)


def _float_slider(name: str, description: str, value: float, lo: float, hi: float, step: float, *,
                  readout_format=".3g", continuous: bool = True):
    # float_slider for a builder's argument ``name``: a bad initial value is refused under that name
    _text("description", description)
    _grid(name, value, lo, hi, step)
    _readout_format(readout_format)
    return w.FloatSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=check_flag("continuous", continuous), readout_format=readout_format,
        style={"description_width": "initial"},
    )


def float_slider(description: str, value: float, lo: float, hi: float, step: float, *, readout_format=".3g",
                 continuous: bool = True):
    """A slider labelled in words and symbol (e.g. "learning rate η"); ``value`` must lie in [lo, hi] on its grid
    ``lo + k * step`` (0 < step <= hi - lo).

    continuous: redraw while the handle is dragged (for demos whose redraw is cheap), else on release.
    """
    return _float_slider("value", description, value, lo, hi, step, readout_format=readout_format,
                         continuous=continuous)


def _int_slider(name: str, description: str, value: int, lo: int, hi: int, step: int = 1, *,
                continuous: bool = True):
    _text("description", description)
    _grid(name, value, lo, hi, step, integer=True)
    return w.IntSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=check_flag("continuous", continuous), style={"description_width": "initial"},
    )


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1, *, continuous: bool = True):
    """An integer slider labelled in words and symbol; integers with ``value`` in [lo, hi] on the grid
    ``lo + k * step``; ``continuous`` as in ``float_slider``."""
    return _int_slider("value", description, value, lo, hi, step, continuous=continuous)


def _options(name: str, options) -> list:
    """``options`` sorted: distinct finite real numbers, at least one."""
    try:
        values = list(options) if not isinstance(options, (str, bytes)) else None
    except TypeError:
        values = None
    if not values or not all(not isinstance(v, bool) and isinstance(v, numbers.Real) and math.isfinite(v)
                             for v in values):
        raise ValueError(f"{name}: got {options!r}, expected a non-empty sequence of finite numbers")
    if len(set(values)) < len(values):
        raise ValueError(f"{name}: got {options!r}, expected distinct values")
    return sorted(values)


def _selection_slider(name: str, description: str, options, value, *, continuous: bool = True):
    _text("description", description)
    options = _options("options", options)
    if isinstance(value, bool) or value not in options:
        raise ValueError(f"{name}: got {value!r}, expected one of {options}")
    return w.SelectionSlider(options=options, value=value, description=description,
                             continuous_update=check_flag("continuous", continuous),
                             style={"description_width": "initial"})


def selection_slider(description: str, options, value, *, continuous: bool = True):
    """A slider over given values (distinct finite numbers), which it shows in increasing order (left to right);
    ``value`` must be one of them."""
    return _selection_slider("value", description, options, value, continuous=continuous)


MAX_PIXELS = 10_000
"""The widest (or tallest) image ``render_png`` draws, in pixels."""


def render_png(fig, dpi: int = 72) -> bytes:
    """The figure as PNG bytes, drawn by Agg and encoded by ``encode_png`` (fast redraws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    _figure("fig", fig)
    _dpi(dpi, fig)
    fig.set_dpi(dpi)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return encode_png(np.asarray(canvas.buffer_rgba()))


def encode_png(rgba) -> bytes:
    """A valid PNG of an (H, W, 4) uint8 RGBA image: no row filters and zlib level 1.

    A slider figure is mostly flat colour, so this is about as small as the usual encoders' output at level 1
    and two to three times faster (about 9 ms for a 960 x 422 figure on a laptop-class core, against 24 ms)."""
    import struct
    import zlib

    arr = np.asarray(rgba)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 4 or 0 in arr.shape[:2]:
        raise ValueError(f"rgba: got {arr.dtype} array of shape {arr.shape}, expected uint8 of shape (H, W, 4)")
    height, width = arr.shape[:2]
    rows = np.empty((height, 1 + 4 * width), np.uint8)
    rows[:, 0] = 0  # filter type 0 (none) for every row
    rows[:, 1:] = arr.reshape(height, -1)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.data, 1))
            + chunk(b"IEND", b""))


def _dpi(dpi, fig) -> int:
    dpi = check_int("dpi", dpi, minimum=10, maximum=MAX_DPI)
    width, height = fig.get_size_inches() * dpi
    if max(width, height) > MAX_PIXELS:
        raise ValueError(f"dpi: got {dpi} for a {fig.get_figwidth():g} x {fig.get_figheight():g} inch figure, that is "
                         f"{width:.0f} x {height:.0f} px, expected at most {MAX_PIXELS} px a side")
    return dpi


def _series(name: str, values, *, finite: bool) -> np.ndarray:
    """``values`` as a 1-D float array (real numbers; NaN and inf allowed unless ``finite``)."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        shape = f"shape {arr.shape}" if arr.dtype.kind in "iuf" else type(values).__name__
        raise ValueError(f"{name}: got {shape}, expected a 1-D array of real numbers")
    if finite and not np.isfinite(arr).all():
        raise ValueError(f"{name}: contains NaN or infinite entries, expected finite numbers")
    return arr.astype(float, copy=False)


def divergence(x, g):
    """The x where a curve ``(x, g)`` first stops being finite (the run diverged there), else None.

    x: finite 1-D array; g: 1-D array of the same length (NaN or inf where the run diverged)."""
    x, g = _series("x", x, finite=True), _series("g", g, finite=False)
    if len(x) != len(g):
        raise ValueError(f"g: got {len(g)} values for {len(x)} x values, expected one per x")
    bad = ~np.isfinite(g)
    return float(x[int(np.flatnonzero(bad)[0])]) if bad.any() else None


class DivergenceMarks:
    """A diverged run drawn unmistakably: its curve ends in a large red X pinned inside the top of the axes,
    a red dashed line marks the step, and a bold red label names the run and the step."""

    def __init__(self, ax, y_top: float):
        self.ax, self.y_top = _axes("ax", ax), _number("y_top", y_top)
        (self.crosses,) = ax.plot([], [], "X", color="tab:red", ms=18, mec="white", mew=1.0, zorder=5)
        self.rules = [ax.axvline(0.0, color="tab:red", ls="--", lw=1.5, visible=False) for _ in range(2)]
        self.label = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", color="tab:red",
                             fontsize=16, fontweight="bold", zorder=6,
                             bbox={"facecolor": "white", "edgecolor": "tab:red", "alpha": 0.9})

    def update(self, events) -> None:
        """events: (x, label) of each diverged run, e.g. (35, "depth 3 diverged at step 35"); [] clears the marks."""
        _events(events)
        xs = [float(x) for x, _ in events]
        names = [label for _, label in events]
        self.crosses.set_data(xs, [self.y_top] * len(xs))
        for k, rule in enumerate(self.rules):
            rule.set_visible(k < len(xs))
            if k < len(xs):
                rule.set_xdata([xs[k]] * 2)
        self.label.set_text("\n".join(names))
        self.label.set_visible(bool(names))


def _events(events) -> None:
    ok = isinstance(events, (list, tuple))
    for event in events if ok else ():
        ok = ok and isinstance(event, (list, tuple)) and len(event) == 2 and isinstance(event[1], str)
        if ok:
            try:
                _number("events", event[0])
            except ValueError:
                ok = False
    if not ok:
        raise ValueError(f"events: got {events!r}, expected a list of (x, label) pairs: a finite number and a str")



def _ipympl_classes():
    """ipympl's canvas widget and figure manager, imported without switching pyplot's backend.

    Importing ``ipympl`` calls ``matplotlib.use("module://ipympl.backend_nbagg")`` when matplotlib is loaded,
    which would turn every later static figure of the notebook into a widget; that one call is skipped.
    """
    import matplotlib

    use = matplotlib.use
    matplotlib.use = lambda *args, **kwargs: None
    try:
        from ipympl.backend_nbagg import Canvas, FigureManager
    finally:
        matplotlib.use = use
    return Canvas, FigureManager


class _PlaneClicker:
    """The ipympl plumbing shared by the clickable figures (notebook 02's phase portrait, notebook 05's Figure 2).

    A subclass builds ``fig`` and ``axes`` (clicks land in ``axes[0]``), ``sliders``, its start, and defines
    ``redraw()`` and ``_pointed(x, y)``; then ``_mount()`` adds the canvas widget (no toolbar, shown at natural
    size), the status line, the mouse handling (a press, or a move with a button held when ``drag``) and ``ui``,
    and lays the figure out once.
    """

    drag = True

    def _mount(self) -> None:
        import ipywidgets as w

        Canvas, FigureManager = _ipympl_classes()
        self.canvas = Canvas(self.fig)
        self.manager = FigureManager(self.canvas, 0)
        self.canvas.header_visible = self.canvas.footer_visible = self.canvas.resizable = False
        self.canvas.toolbar_visible = False
        self.canvas.layout = w.Layout(width=f"{int(self.fig.get_figwidth() * self.fig.dpi)}px")
        self.status = w.HTML(style={"font_size": "14pt"})
        self.canvas.mpl_connect("button_press_event", self._on_mouse)
        self.canvas.mpl_connect("motion_notify_event", self._on_mouse)
        self.ui = w.VBox([w.HBox(list(self.sliders.values())), self.canvas, self.status])
        with present_style():
            self.fig.set_layout_engine("constrained")
            self.redraw()
            # Lay out without drawing: a draw before the front end has said 'initialized' makes ipympl 0.10 send
            # the raw RGBA buffer as the image; JupyterLab, whose view already listens, shows it as a broken PNG,
            # its next resize throws in drawImage and the canvas stays 0x0 (Voila attaches views later).
            self.fig.draw_without_rendering()
            self.fig.set_layout_engine("none")

    def _on_mouse(self, event) -> None:
        if event.inaxes is not self.axes[0] or event.xdata is None:
            return
        if event.name == "motion_notify_event":
            held = getattr(event, "buttons", None)  # the buttons held during a move (matplotlib >= 3.10)
            if not self.drag or not (held if held is not None else event.button):
                return  # hovering moves nothing; dragging does (when drag is on)
        self._pointed(event.xdata, event.ydata)

    def _show(self, msg: str) -> str:
        """Put ``msg`` in the status line, ask the canvas for a redraw, and return ``msg``."""
        self.status.value = msg
        self.canvas.draw_idle()
        return msg

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


class SliderFigure:
    """A figure redrawn into an ``ipywidgets.Image`` whenever one of ``sliders`` changes.

    fig, axes: from ``make_figure`` (the axes are those of ``fig``); sliders: name -> ipywidget with a ``value``
    (at least one); update: ``update(**values)`` redraws the axes (and may return a status string shown below);
    dpi: the resolution of the rendered image (10 to ``MAX_DPI``).

    Redraws are layered (matplotlib's blitting): the artists that ``update`` changes are found by calling it twice
    with the same values (matplotlib marks what it touched as stale; the texts it sets are noted) and become
    *animated*, as do hidden ones; everything else (axes, ticks, labels, static curves) is drawn once into a
    background that is kept while it stays valid. A redraw then restores the background and draws only the
    animated artists over it. Anything else that ``update`` changes (limits, a new or removed artist, a static
    artist touched for the first time) makes matplotlib mark the figure stale, and the background is drawn again:
    only the stale panels when they lie clear of the others, else the whole figure. The picture is always that of
    a full draw with the animated artists on top (``tests/test_all_sliders.py`` checks this, pixel for pixel, for
    every demo). Texts are drawn from kept glyph images (``_TextStamps``), the PNG by ``encode_png``.

    The last ``MAX_VIEWS`` backgrounds are kept by view (limits, ticks, labels: ``_view``), so a slider that moves
    a panel between a few scales and back redraws nothing but the animated artists on the way back. They are all
    dropped when an artist becomes animated or the figure was changed from outside between two redraws.
    """

    MAX_VIEWS = 8

    def __init__(self, fig, axes, sliders: dict, update: Callable[..., str | None], *, dpi: int = 96):
        _figure("fig", fig)
        _axes_of(fig, axes)
        _check_sliders(sliders)
        _check_update(update, sliders)
        dpi = _dpi(dpi, fig)
        self.fig, self.axes, self.sliders, self._update, self.dpi = fig, axes, dict(sliders), update, dpi
        self.image = w.Image(format="png")
        self.status = w.HTML(style={"font_size": "14pt"})  # read from the back of the room too
        self.timings_ms: list[float] = []
        self.renders = 0
        self._background, self._stamps, self._left_stale = None, _TextStamps(), set()
        self._blank, self._extents = None, {}
        self._views: OrderedDict = OrderedDict()  # view fingerprint -> (background, extents), most recent last
        for s in self.sliders.values():
            s.observe(self._on_change, names="value")
        controls = w.HBox(list(self.sliders.values()), layout=w.Layout(flex_flow="row wrap"))
        self.ui = w.VBox([controls, self.image, self.status])
        self._fix_layout()
        self._render(full=True)  # everything drawn once: from here on, what update touches is marked stale
        self._learn()
        self.refresh()

    def _fix_layout(self) -> None:
        """Solve a constrained layout once with the default values drawn, then keep those positions:
        no label is clipped, and redraws skip the layout solver (the slowest part of a redraw).

        The solver runs on its own with the Agg renderer at ``dpi`` (what a draw would run first): the same
        positions as a full draw, without drawing every artist once more."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        with present_style():
            self._update(**self.values)
            self.fig.set_layout_engine("constrained")
            if not isinstance(self.fig.canvas, FigureCanvasAgg):
                FigureCanvasAgg(self.fig)
            self.fig.set_dpi(self.dpi)
            self.fig.get_layout_engine().execute(self.fig)
            self.fig.set_layout_engine("none")
        # Shown at its natural pixel size: scaling a bitmap up blurs it on a projector.
        self.image.layout = w.Layout(width=f"{int(self.fig.get_figwidth() * self.dpi)}px", max_width="100%")

    @property
    def values(self) -> dict:
        return {k: s.value for k, s in self.sliders.items()}

    def _on_change(self, _change):
        self.refresh()

    def refresh(self) -> None:
        """Recompute, redraw and re-render; the time taken is appended to ``timings_ms``."""
        t0 = time.perf_counter()
        if self.fig.stale:  # changed from outside since the last render: no kept view is known to be valid
            self._views.clear()
        with present_style():
            msg = self._update(**self.values)
            if msg is not None and not isinstance(msg, str):
                raise ValueError(f"update: returned {type(msg).__name__}, expected a status str or None")
            self._animate_touched()
            self.image.value = self._render()
        self.status.value = msg or ""
        self.renders += 1
        self.timings_ms.append(1000 * (time.perf_counter() - t0))

    def keep_views(self, *setters: Callable[[], None]) -> None:
        """Draw the background of each view that ``setters`` set up (each changes limits or ticks, as ``update`` would
        for some slider values), so that a later slider move reaching that view finds it kept (``MAX_VIEWS``); then
        draw the sliders' values again. For a panel whose scale steps between a few levels."""
        if len(setters) > self.MAX_VIEWS - 1:
            raise ValueError(f"setters: got {len(setters)}, expected at most {self.MAX_VIEWS - 1} (MAX_VIEWS - 1)")
        for setter in setters:
            if not callable(setter):
                raise TypeError(f"setters: got {type(setter).__name__}, expected functions of no arguments")
        for setter in setters:
            with present_style():
                setter()
            self._render()
        with present_style():
            self._update(**self.values)
            self._animate_touched()
            self.image.value = self._render()

    def _members(self):
        """The figure's artists that may be animated, axes by axes: lines, texts (titles included), legends,
        collections and patches other than the axes' background and spines; then the figure's own."""
        from matplotlib.axis import Axis
        from matplotlib.spines import Spine

        for ax in self.fig.axes:
            yield ax, [a for a in ax.get_children()
                       if a is not ax.patch and not isinstance(a, (Axis, Spine, Axes)) and _animatable(a)]
        yield self.fig, [a for a in [*self.fig.texts, *self.fig.legends, *self.fig.lines, *self.fig.patches]
                         if _animatable(a)]

    def _learn(self) -> None:
        """Find what ``update`` touches before the first slider move: call it once more with the same values,
        noting every text it sets (matplotlib flags a text stale only when its string changes, and here it does
        not), then mark what it touched. Without this, the first move that changes a text redraws the whole
        background once more."""
        from matplotlib.text import Text

        texts = [b for _, artists in self._members() for a in artists for b in _family(a) if isinstance(b, Text)]
        set_ones = set()

        def noting(text):
            plain = text.set_text

            def set_text(s):
                set_ones.add(id(text))
                return plain(s)

            return set_text

        for text in texts:
            text.set_text = noting(text)
        try:
            with present_style():
                self._update(**self.values)
        finally:
            for text in texts:
                del text.set_text  # the class's method again
        for _, artists in self._members():
            for a in artists:
                if not a.get_animated() and any(id(b) in set_ones for b in _family(a)):
                    _animate(a)
        self._animate_touched()

    def _animate_touched(self) -> None:
        """Mark as animated every artist ``update`` has just touched (matplotlib left it stale), and every hidden
        one. The first time, the change has already made the figure stale, so the next render redraws the
        background without it."""
        for _, artists in self._members():
            for a in artists:
                if a.get_animated():
                    continue
                # hidden: a draw leaves it stale, so its flag cannot tell; drawn over the background, it costs
                # nothing while hidden and shows without a full redraw when update makes it visible
                if not a.get_visible() or any(b.stale and id(b) not in self._left_stale for b in _family(a)):
                    _animate(a)
                    self._views.clear()  # every kept background holds it as a static artist

    def _static_stale(self) -> set:
        """The static artists (and their parts) that are stale right after a draw: those a draw does not reset
        (hidden ones, a legend's packing boxes), so that their flag says nothing about ``update``."""
        return {id(b) for _, artists in self._members() for a in artists if not a.get_animated()
                for b in _family(a) if b.stale}

    def _render(self, *, full: bool = False) -> bytes:
        """PNG of the figure: the kept background (redrawn when matplotlib marks the figure stale, or ``full``)
        with the animated artists drawn over it, axes by axes in z-order."""
        canvas = self.fig.canvas
        self._stamps.install(canvas.get_renderer())
        with present_style():  # ticks that a new axis range needs are made at draw time, from the style then
            if full or self._background is None or self.fig.stale:
                view = self._view()
                kept = None if full or self._background is None else self._views.get(view)
                if kept is None:
                    self._draw_background(full)
                    self._views[view] = (self._background, dict(self._extents))
                    while len(self._views) > self.MAX_VIEWS:
                        self._views.popitem(last=False)
                else:
                    self._background, extents = kept
                    self._extents.update(extents)
                    self._views.move_to_end(view)
                    canvas.restore_region(self._background)
            else:
                canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            for _, artists in self._members():
                for a in sorted((a for a in artists if a.get_animated()), key=lambda a: a.get_zorder()):
                    a.draw(renderer)
        # Drawing an animated artist can flag its parents stale as a side effect (a legend sizes its frame patch
        # while it draws); the background is what it was, so those flags are cleared.
        for ax in self.fig.axes:
            ax.stale = False
        self.fig.stale = False
        self._left_stale = self._static_stale()
        return encode_png(np.asarray(canvas.buffer_rgba()))

    def _view(self) -> tuple:
        """What a background depends on beyond the static artists themselves (which ``_animate_touched`` guards):
        the figure's size and dpi and, axes by axes, its limits, scales, ticks and tick labels, axis labels, spines,
        face colour and the static artists it holds. Two renders with the same view have the same background."""
        view = [tuple(self.fig.get_size_inches()), self.fig.dpi, self.fig.patch.get_facecolor()]
        for ax, artists in self._members():
            view.append(tuple(id(a) for a in artists if not a.get_animated()))
            if ax is self.fig:
                continue
            view += [ax.get_xlim(), ax.get_ylim(), ax.get_xscale(), ax.get_yscale(), ax.axison, ax.get_visible(),
                     ax.get_position(original=True).bounds, ax.get_aspect(), ax.patch.get_facecolor(),
                     tuple((k, sp.get_visible()) for k, sp in ax.spines.items())]
            for axis in (ax.xaxis, ax.yaxis):
                major, minor = axis.get_majorticklocs(), axis.get_minorticklocs()
                view += [axis.label.get_text(), axis.get_visible(), tuple(major),
                         tuple(axis.major.formatter.format_ticks(major)), tuple(minor),
                         tuple(axis.minor.formatter.format_ticks(minor))]
        return tuple(view)

    def _draw_background(self, full: bool) -> None:
        """Draw the background again: only the axes matplotlib flagged stale when the others are untouched and
        each stale axes' old and new extent (ticks, labels, title) lies clear of every other axes' extent (its
        region is wiped to the bare figure and the axes drawn there); otherwise the whole figure."""
        from matplotlib.transforms import Bbox

        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        stale = [ax for ax in self.fig.axes if ax.stale]
        regions, extents = [], {}
        if not full and self._background is not None and 0 < len(stale) < len(self.fig.axes) and not any(
                c.stale and not c.get_animated() for c in self.fig.get_children() if not isinstance(c, Axes)):
            for ax in stale:
                extents[ax] = ax.get_tightbbox(renderer)
                box = Bbox.union([self._extents[ax], extents[ax]]).padded(2)
                regions.append(Bbox.intersection(box, self.fig.bbox))
            others = [self._extents[ax].padded(2) for ax in self.fig.axes if ax not in stale]
            if any(r is None or any(r.overlaps(o) for o in others) for r in regions):
                regions = []
        if regions:
            canvas.restore_region(self._background)
            for ax, region in zip(stale, regions):
                # Agg counts rows from the top; xy=(0, 0) keeps the pixels where they were
                height = self.fig.bbox.height
                box = (math.floor(region.x0), math.floor(height - region.y1), math.ceil(region.x1),
                       math.ceil(height - region.y0))
                canvas.restore_region(self._blank, bbox=box, xy=(0, 0))
                ax.draw(renderer)
        else:
            if self._blank is None:  # the bare figure, to wipe one axes' region with
                renderer.clear()
                self.fig.patch.draw(renderer)
                self._blank = canvas.copy_from_bbox(self.fig.bbox)
            # extents before the draw: measuring one places the axes' title, which flags it stale (and the draw
            # then clears the flags, so that a stale static artist afterwards means update touched it)
            extents = {ax: ax.get_tightbbox(renderer) for ax in self.fig.axes}
            canvas.draw()  # matplotlib leaves animated artists out of a draw to the screen
        self._extents.update(extents)
        self._background = canvas.copy_from_bbox(self.fig.bbox)

    def _repr_mimebundle_(self, **kwargs):
        # Drawn or changed elsewhere since the last render (savefig, a notebook showing ``fig`` inline: both change
        # the dpi and back, which flags the figure stale): the kept background is redrawn now, as the widget is
        # shown, rather than on the first slider move.
        if self.fig.stale:
            self._views.clear()  # what changed it may be something a view does not record
            self.image.value = self._render()
        return self.ui._repr_mimebundle_(**kwargs)


class _TextStamps:
    """Agg draws each text glyph by glyph through FreeType (about 5 ms for a 30-character label on a laptop-class
    core: most of a redraw); a slider figure draws the same texts at the same places again and again.

    ``install(renderer)`` wraps that renderer's ``draw_text``: the first time a text is drawn, the glyph images
    it hands to the Agg core are recorded; later draws of the same string, font, angle and position at the same
    resolution replay them (the same calls with the same images: the same pixels). A text whose drawing makes any
    other call (mathtext rules) is not kept, and one whose draw fails to record is drawn as matplotlib does."""

    MAX = 4096

    def __init__(self):
        from collections import OrderedDict

        self.kept: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def install(self, renderer) -> None:
        if getattr(renderer, "_dlnlib_stamps", None) is self or not hasattr(renderer, "_renderer"):
            return
        plain = renderer.draw_text

        def draw_text(gc, x, y, s, prop, angle, ismath=False, mtext=None):
            import matplotlib as mpl

            features = (mtext.get_fontfeatures(), mtext.get_language()) if mtext is not None else None
            key = (s, hash(prop), float(x), float(y), float(angle), str(ismath), repr(features),
                   gc.get_antialiased(), renderer.dpi, renderer.height, mpl.rcParams["text.hinting"],
                   mpl.rcParams["text.hinting_factor"])
            calls = self.kept.get(key)
            if calls is not None:
                self.kept.move_to_end(key)
                self.hits += 1
                for buffer, left, bottom in calls:
                    renderer._renderer.draw_text_image(buffer, left, bottom, 0, gc)
                return None
            self.misses += 1
            core, recorder = renderer._renderer, _Recorder(renderer._renderer)
            renderer._renderer = recorder
            try:
                out = plain(gc, x, y, s, prop, angle, ismath, mtext)
            finally:
                renderer._renderer = core
            if recorder.calls is not None:
                self.kept[key] = recorder.calls
                if len(self.kept) > self.MAX:
                    self.kept.popitem(last=False)
            return out

        renderer.draw_text = draw_text
        renderer._dlnlib_stamps = self


class _Recorder:
    """Stands in for Agg's core renderer while one text is drawn: passes every call on, and keeps the glyph
    images drawn (``calls`` becomes None if anything else is drawn)."""

    def __init__(self, core):
        self._core, self.calls = core, []

    def draw_text_image(self, buffer, left, bottom, angle, gc):
        if self.calls is not None:
            if angle == 0:
                self.calls.append((np.array(buffer, copy=True), left, bottom))
            else:
                self.calls = None
        return self._core.draw_text_image(buffer, left, bottom, angle, gc)

    def __getattr__(self, name):
        self.calls = None
        return getattr(self._core, name)


def _family(artist):
    """``artist`` and everything it draws, depth first."""
    yield artist
    for child in artist.get_children():
        yield from _family(child)


def _animate(artist) -> None:
    """Mark ``artist`` and everything it draws (a legend's texts and keys) animated: a change to any of them then
    no longer flags the axes stale."""
    artist.set_animated(True)
    for child in artist.get_children():
        _animate(child)


def _animatable(artist) -> bool:
    from matplotlib.collections import Collection
    from matplotlib.legend import Legend
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.text import Text

    return isinstance(artist, (Line2D, Text, Legend, Collection, Patch))


def _axes_of(fig, axes, count: int | None = None) -> list:
    """``axes`` (one Axes or an array of them, all of ``fig``; ``count`` of them when given) as a flat list."""
    try:
        flat = list(np.asarray(axes, dtype=object).ravel())
    except (TypeError, ValueError):
        flat = [None]
    if not flat or (count is not None and len(flat) != count) or \
            not all(isinstance(ax, Axes) and ax.figure is fig for ax in flat):
        want = f"{count} Axes of fig" if count is not None else "the Axes of fig (one, or an array of them)"
        raise ValueError(f"axes: got {type(axes).__name__}, expected {want}")
    return flat


def _check_sliders(sliders) -> None:
    if not isinstance(sliders, dict) or not sliders:
        raise ValueError(f"sliders: got {type(sliders).__name__}, expected a non-empty dict name -> slider widget")
    for key, s in sliders.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"sliders: got the key {key!r}, expected names that are Python identifiers")
        if not isinstance(s, w.ValueWidget):
            raise ValueError(f"sliders: got {type(s).__name__} for {key!r}, expected an ipywidget with a value")


def _check_update(update, sliders) -> None:
    if not callable(update):
        raise ValueError(f"update: got {type(update).__name__}, expected a function update(**values)")
    try:
        inspect.signature(update).bind(**{k: s.value for k, s in sliders.items()})
    except TypeError as exc:
        raise ValueError(f"update: cannot be called with the sliders' names {sorted(sliders)} ({exc})") from None
    except ValueError:
        pass  # no signature to inspect (a builtin): the first call says whether it fits


def all_demos() -> dict:
    """Every slider builder of the series: ``"<module>.<name>_demo" -> builder`` (imports the submodules)."""
    import importlib
    import inspect
    import pkgutil

    demos = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        for name, fn in inspect.getmembers(mod, inspect.isfunction):
            if name.endswith("_demo") and fn.__module__ == mod.__name__:
                demos[f"{info.name}.{name}"] = fn
    return demos


def slider_grid(slider, points: int = 3) -> list:
    """Values to drive a slider through: ``points`` values spread from min to max (or every option),
    excluding the current value."""
    if not isinstance(slider, (w.IntSlider, w.FloatSlider, w.FloatLogSlider, w.SelectionSlider)):
        raise ValueError(f"slider: got {type(slider).__name__}, expected an IntSlider, FloatSlider, FloatLogSlider "
                         "or SelectionSlider")
    points = check_int("points", points, minimum=2, maximum=1000)
    if hasattr(slider, "options"):
        values = [o[1] if isinstance(o, tuple) else o for o in slider.options]
    elif isinstance(slider, w.IntSlider):
        values = sorted({round(slider.min + k * (slider.max - slider.min) / (points - 1)) for k in range(points)})
    elif isinstance(slider, w.FloatLogSlider):  # min, max and step are exponents of slider.base
        raw = [slider.min + k * (slider.max - slider.min) / (points - 1) for k in range(points)]
        exps = [round((e - slider.min) / slider.step) * slider.step + slider.min for e in raw]
        values = [float(f"{slider.base ** e:.10g}") for e in exps]
    else:
        raw = [slider.min + k * (slider.max - slider.min) / (points - 1) for k in range(points)]
        values = [round(round((v - slider.min) / slider.step) * slider.step + slider.min, 10) for v in raw]
    return [v for v in values if v != slider.value]
