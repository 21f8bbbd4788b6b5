"""Projector-grade slider figures: every demo of ``dlnlib.widgets`` (``all_demos()``) is inspected at its
defaults and after each slider leaves them. No text below 12 pt at displayed size, no text outside the
canvas, sliders labelled in words with their symbol, increasing to the right, defaults on their grid."""

from __future__ import annotations

import math
import re
from unittest.mock import patch

import ipywidgets as w
import pytest
from matplotlib.text import Text

from dlnlib.widgets import MIN_POINTS, all_demos, slider_grid

DEMOS = all_demos()
# The widest image that a 1280-px browser window shows at natural size in Voila and JupyterLab
# (the browser test checks that the image really is shown unscaled).
MAX_WIDTH_PX = 1000


def drawn_texts(fig) -> list[Text]:
    """The texts matplotlib actually draws on the canvas (tick labels beyond the view limits are not drawn)."""
    drawn, original = [], Text.draw

    def record(self, renderer):
        drawn.append(self)
        return original(self, renderer)

    with patch.object(Text, "draw", record):
        fig.canvas.draw()  # the PNG shown is this Agg drawing
    return [t for t in drawn if t.get_visible() and t.get_text().strip()]


def text_problems(handle) -> list[str]:
    """Every drawn text of the figure smaller than MIN_POINTS pt or reaching outside the canvas."""
    fig = handle.fig
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    width, height = fig.canvas.get_width_height()
    problems = []
    for t in texts:
        if t.get_fontsize() < MIN_POINTS:
            problems.append(f"{t.get_text()!r} at {t.get_fontsize():.3g} pt")
        box = t.get_window_extent(renderer)
        if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
            problems.append(f"{t.get_text()!r} clipped: extent {tuple(round(v) for v in box.extents)} "
                            f"outside the {width}x{height} canvas")
    assert texts, "no text drawn"
    return problems


def settings(handle):
    """Defaults first, then each slider through its grid (the others at the values reached so far)."""
    yield "defaults"
    for key, slider in handle.sliders.items():
        for value in slider_grid(slider):
            slider.value = value
            yield f"{key}={value}"


def test_min_points_is_projector_grade():
    assert MIN_POINTS >= 12


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_no_small_or_clipped_text_at_any_setting(name):
    handle = DEMOS[name]()
    width_px = handle.fig.get_figwidth() * handle.dpi
    assert width_px <= MAX_WIDTH_PX, f"{name}: {width_px:.0f} px wide, scaled down in a 1280-px window"
    assert handle.image.layout.width == f"{int(width_px)}px"  # shown at natural size: figure pt = displayed pt
    for where in settings(handle):
        problems = text_problems(handle)
        assert not problems, f"{name} at {where}: " + "; ".join(problems)


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_sliders_are_labelled_increase_to_the_right_and_start_on_their_grid(name):
    handle = DEMOS[name]()
    for key, s in handle.sliders.items():
        words = re.findall(r"[A-Za-z]{4,}", s.description)
        assert words and len(s.description.split()) >= 2, f"{name}: slider {key} is labelled {s.description!r}"
        if isinstance(s, w.SelectionSlider):
            values = [o[1] if isinstance(o, tuple) else o for o in s.options]
            assert values == sorted(values), f"{name}: {key} options {values} do not increase to the right"
            continue
        assert s.min < s.max and s.step > 0
        pos = (math.log(s.value, s.base) - s.min if isinstance(s, w.FloatLogSlider) else s.value - s.min) / s.step
        # round-off of (value - min) / step: <= 7e-15 measured
        assert abs(pos - round(pos)) < 5e-13, f"{name}: default {key} = {s.value} is off its slider grid"


def _phase_portrait():
    from dlnlib.widgets.saxe import clickable_phase_portrait

    return clickable_phase_portrait()


def _alignment_paths(**kwargs):
    from dlnlib.widgets.agd import clickable_alignment_paths

    return clickable_alignment_paths(**kwargs)


@pytest.mark.parametrize("build, points", [
    (_phase_portrait, ((-1.2, 1.4), (2.4, -2.4), (0.05, 0.05))),
    (_alignment_paths, ((0.0, 0.0), (2.0, 10.0), (-1.0, -2.0))),
    (lambda: _alignment_paths(lr=2.5), ((0.5, 1.0),)),  # shallow GD diverges: the red label must fit too
], ids=["phase_portrait", "alignment_paths", "alignment_paths_diverged"])
def test_clickable_figures_are_projector_grade(build, points):
    handle = build()
    assert handle.fig.get_figwidth() * handle.fig.dpi <= MAX_WIDTH_PX
    for a, b in points:
        handle.click(a, b)
        problems = text_problems(handle)
        assert not problems, f"clicked at ({a}, {b}): " + "; ".join(problems)
    for key, s in handle.sliders.items():  # labelled in words, as the demos' sliders are
        assert re.findall(r"[A-Za-z]{4,}", s.description) and len(s.description.split()) >= 2, key
