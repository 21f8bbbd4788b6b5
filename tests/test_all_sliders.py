"""Every slider UI of the series, driven without a browser through a grid of values for each slider:
each setting renders a figure without error, the figure changes whenever a value changes, and the layered
redraw (kept background, animated artists drawn over it) is pixel for pixel what a full draw gives."""

import io

import numpy as np
import pytest
from PIL import Image

from dlnlib.widgets import SliderFigure, all_demos, slider_grid

DEMOS = all_demos()


def test_the_series_has_its_slider_demos():
    assert {"tour.depth_demo", "gradients.scalar_chain_demo"} <= set(DEMOS)


@pytest.mark.parametrize("name", sorted(DEMOS))
def test_every_slider_setting_redraws(name):
    handle = DEMOS[name]()
    assert isinstance(handle, SliderFigure)
    assert handle.sliders, f"{name} has no sliders"
    previous = bytes(handle.image.value)
    assert previous[:4] == b"\x89PNG"
    moved = 0
    for key, slider in handle.sliders.items():
        for value in slider_grid(slider):
            slider.value = value
            current = bytes(handle.image.value)
            assert current[:4] == b"\x89PNG", f"{name}: {key}={value} rendered no PNG"
            assert current != previous, f"{name}: moving {key} to {value} did not change the figure"
            full = handle._render(full=True)  # everything drawn again, nothing kept
            assert np.array_equal(pixels(current), pixels(full)), \
                f"{name}: after moving {key} to {value} the kept background differs from a full draw"
            previous = current
            moved += 1
    assert handle.renders == 1 + moved and len(handle.timings_ms) == 1 + moved


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))
