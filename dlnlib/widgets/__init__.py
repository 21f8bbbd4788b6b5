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

import ipywidgets as w
from matplotlib.figure import Figure

__all__ = [
    "PRESENT_RC",
    "SliderFigure",
    "all_demos",
    "float_slider",
    "int_slider",
    "light_log_axis",
    "make_figure",
    "render_png",
    "slider_grid",
]

# Readable from the back of a lecture hall: used by every slider figure.
PRESENT_RC = {"font.size": 13, "axes.titlesize": 13, "axes.labelsize": 13, "legend.fontsize": 11}


def make_figure(nrows: int = 1, ncols: int = 1, *, figsize=(9.0, 3.6)):
    """A pyplot-free figure (so it is never auto-displayed) and its axes array."""
    import matplotlib as mpl

    with mpl.rc_context(PRESENT_RC):
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


def float_slider(description: str, value: float, lo: float, hi: float, step: float, *, readout_format=".3g"):
    """A continuous slider that only fires on release of the mouse (keeps redraws interactive)."""
    return w.FloatSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=False, readout_format=readout_format, style={"description_width": "initial"},
    )


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1):
    """An integer slider that fires on release."""
    return w.IntSlider(
        value=value, min=lo, max=hi, step=step, description=description,
        continuous_update=False, style={"description_width": "initial"},
    )


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


class SliderFigure:
    """A figure redrawn into an ``ipywidgets.Image`` whenever one of ``sliders`` changes.

    fig, axes: from ``make_figure``; sliders: name -> widget with a ``value``;
    update: ``update(**values)`` redraws the axes (and may return a status string shown below).
    """

    def __init__(self, fig, axes, sliders: dict, update: Callable[..., str | None], *, dpi: int = 96):
        self.fig, self.axes, self.sliders, self._update, self.dpi = fig, axes, dict(sliders), update, dpi
        self.image = w.Image(format="png")
        self.status = w.HTML()
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
        import matplotlib as mpl
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        with mpl.rc_context(PRESENT_RC):
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
        import matplotlib as mpl

        t0 = time.perf_counter()
        with mpl.rc_context(PRESENT_RC):
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
