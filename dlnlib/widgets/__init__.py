"""Slider UIs for instructors, built on pure compute and plotting functions.

Every builder returns a ``SliderFigure``: its ``sliders`` (name -> ipywidget), the matplotlib
``fig`` and ``axes``, the ``image`` widget showing the rendered figure, and ``timings_ms`` of each
redraw. Setting ``handle.sliders["depth"].value = 4`` recomputes and redraws without a kernel
front-end, which is how the tests drive them. Topic builders live in submodules and are named
``<something>_demo``; every argument has a default, so ``all_demos()`` can build each one.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from contextlib import contextmanager

import ipywidgets as w
import numpy as np
from matplotlib.figure import Figure

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


def make_figure(nrows: int = 1, ncols: int = 1, *, figsize=(9.0, 3.6)):
    """A pyplot-free figure (so it is never auto-displayed) and its axes array."""
    with present_style():
        fig = Figure(figsize=figsize)
        fig.subplots_adjust(left=0.09, right=0.98, bottom=0.14, top=0.9, wspace=0.28, hspace=0.35)
        axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def light_log_axis(ax, axis: str = "y", numticks: int = 5) -> None:
    """Few major ticks and no minor ticks on a log axis: the tick labels dominate redraw time."""
    from matplotlib.ticker import LogLocator, NullLocator

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_locator(LogLocator(numticks=numticks))
    target.set_minor_locator(NullLocator())


def clear_data(ax) -> None:
    """Remove an axes' lines, patches, collections, texts and legend but keep its ticks, labels and title:
    unlike ``ax.clear()`` nothing is rebuilt, so a redraw stays fast."""
    for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.set_prop_cycle(None)


def _on_grid(value, lo, step, name):
    k = (value - lo) / step
    if abs(k - round(k)) > 1e-9:
        raise ValueError(f"{name}: got {value!r}, expected a value on the slider grid {lo:g} + k * {step:g}")


def float_slider(description: str, value: float, lo: float, hi: float, step: float, *, readout_format=".3g",
                 continuous: bool = True):
    """A slider labelled in words and symbol (e.g. "learning rate η"); ``value`` must lie on its grid.

    continuous: redraw while the handle is dragged (for demos whose redraw is cheap), else on release.
    """
    _on_grid(value, lo, step, "value")
    return w.FloatSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=continuous, readout_format=readout_format, style={"description_width": "initial"},
    )


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1, *, continuous: bool = True):
    """An integer slider labelled in words and symbol; ``continuous`` as in ``float_slider``."""
    _on_grid(value, lo, step, "value")
    return w.IntSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=continuous, style={"description_width": "initial"},
    )


def selection_slider(description: str, options, value, *, continuous: bool = True):
    """A slider over given values, which it shows in increasing order (left to right)."""
    options = sorted(options)
    if value not in options:
        raise ValueError(f"value: got {value!r}, expected one of {options}")
    return w.SelectionSlider(options=options, value=value, description=description, continuous_update=continuous,
                             style={"description_width": "initial"})


def render_png(fig, dpi: int = 72) -> bytes:
    """The figure as PNG bytes, drawn by Agg and encoded with light compression (fast redraws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    fig.set_dpi(dpi)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    img = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    buf = io.BytesIO()
    img.save(buf, format="png", compress_level=1)
    return buf.getvalue()


def divergence(x, g):
    """The x where a curve ``(x, g)`` first stops being finite (the run diverged there), else None."""
    bad = ~np.isfinite(np.asarray(g, dtype=float))
    return float(x[int(np.flatnonzero(bad)[0])]) if bad.any() else None


class DivergenceMarks:
    """A diverged run drawn unmistakably: its curve ends in a large red X pinned inside the top of the axes,
    a red dashed line marks the step, and a bold red label names the run and the step."""

    def __init__(self, ax, y_top: float):
        self.ax, self.y_top = ax, y_top
        (self.crosses,) = ax.plot([], [], "X", color="tab:red", ms=18, mec="white", mew=1.0, zorder=5)
        self.rules = [ax.axvline(0.0, color="tab:red", ls="--", lw=1.5, visible=False) for _ in range(2)]
        self.label = ax.text(0.5, 0.5, "", transform=ax.transAxes, ha="center", va="center", color="tab:red",
                             fontsize=16, fontweight="bold", zorder=6,
                             bbox={"facecolor": "white", "edgecolor": "tab:red", "alpha": 0.9})

    def update(self, events) -> None:
        """events: (x, label) of each diverged run, e.g. (35, "depth 3 diverged at step 35"); [] clears the marks."""
        xs = [float(x) for x, _ in events]
        names = [label for _, label in events]
        self.crosses.set_data(xs, [self.y_top] * len(xs))
        for k, rule in enumerate(self.rules):
            rule.set_visible(k < len(xs))
            if k < len(xs):
                rule.set_xdata([xs[k]] * 2)
        self.label.set_text("\n".join(names))
        self.label.set_visible(bool(names))


class SliderFigure:
    """A figure redrawn into an ``ipywidgets.Image`` whenever one of ``sliders`` changes.

    fig, axes: from ``make_figure``; sliders: name -> widget with a ``value``;
    update: ``update(**values)`` redraws the axes (and may return a status string shown below).
    """

    def __init__(self, fig, axes, sliders: dict, update: Callable[..., str | None], *, dpi: int = 96):
        self.fig, self.axes, self.sliders, self._update, self.dpi = fig, axes, dict(sliders), update, dpi
        self.image = w.Image(format="png")
        self.status = w.HTML(style={"font_size": "14pt"})  # read from the back of the room too
        self.timings_ms: list[float] = []
        self.renders = 0
        for s in self.sliders.values():
            s.observe(self._on_change, names="value")
        controls = w.HBox(list(self.sliders.values()), layout=w.Layout(flex_flow="row wrap"))
        self.ui = w.VBox([controls, self.image, self.status])
        self._fix_layout()
        self.refresh()

    def _fix_layout(self) -> None:
        """Solve a constrained layout once with the default values drawn, then keep those positions:
        no label is clipped, and redraws skip the layout solver (the slowest part of a redraw)."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        with present_style():
            self._update(**self.values)
            self.fig.set_layout_engine("constrained")
            canvas = self.fig.canvas if isinstance(self.fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(self.fig)
            self.fig.set_dpi(self.dpi)
            canvas.draw()
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
        with present_style():
            msg = self._update(**self.values)
            self.image.value = render_png(self.fig, self.dpi)
        self.status.value = msg or ""
        self.renders += 1
        self.timings_ms.append(1000 * (time.perf_counter() - t0))

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)


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
