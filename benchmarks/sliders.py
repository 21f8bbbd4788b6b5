"""Latency of every slider callback of the series: median and worst redraw over each slider's grid.

    python benchmarks/sliders.py            # target: well under 100 ms per redraw on a 2-core CPU

A redraw is what a student waits for after releasing a slider: recompute, redraw, encode the PNG.
The first render of each demo (imports, caches) is reported separately and not counted.
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
    return first, handle.timings_ms[1:]


def main() -> int:
    print(f"{'slider demo':<38} {'redraws':>7} {'median ms':>10} {'worst ms':>9} {'first ms':>9}")
    worst_median = 0.0
    for name, builder in all_demos().items():
        first, times = measure(builder)
        med = statistics.median(times)
        worst_median = max(worst_median, med)
        print(f"{name:<38} {len(times):>7} {med:>10.0f} {max(times):>9.0f} {first:>9.0f}")
    print(f"largest median redraw: {worst_median:.0f} ms (target < 100 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
