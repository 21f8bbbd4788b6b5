"""Latency of every slider callback of the series: median and worst redraw over each slider's grid.

    python benchmarks/sliders.py            # the kernel's share of a redraw, on a 2-core CPU

A redraw is what a student waits for after moving a slider: recompute, redraw, encode the PNG.
The first render of each demo (imports, caches) is reported separately and not counted. What the
browser adds (transfer, decoding) is measured by ``tests/test_browser.py`` from key press to new image;
there the targets are a median under 60 ms and a worst under 150 ms. The column "drag" says whether the
demo redraws while a slider is dragged (continuous update) or on release.
"""

from __future__ import annotations

import statistics

from dlnlib.widgets import all_demos, slider_grid


def measure(builder, repeats: int = 1):
    handle = builder()
    first = handle.timings_ms[0]
    for _ in range(repeats):
        for slider in handle.sliders.values():
            start = slider.value
            for value in slider_grid(slider, points=4):
                slider.value = value
            slider.value = start
    drag = "yes" if all(s.continuous_update for s in handle.sliders.values()) else "no"
    return first, handle.timings_ms[1:], drag


def main() -> int:
    print(f"{'slider demo':<38} {'redraws':>7} {'median ms':>10} {'worst ms':>9} {'first ms':>9} {'drag':>5}")
    worst_median = 0.0
    for name, builder in all_demos().items():
        first, times, drag = measure(builder)
        med = statistics.median(times)
        worst_median = max(worst_median, med)
        print(f"{name:<38} {len(times):>7} {med:>10.0f} {max(times):>9.0f} {first:>9.0f} {drag:>5}")
    print(f"largest median redraw in the kernel: {worst_median:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
