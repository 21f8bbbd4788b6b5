"""Redraw times of notebook 03's slider demo (``dlnlib.widgets.balance.balance_demo``).

Moves every slider over a few values (each a fresh, uncached GD run plus a render) and prints the median and
maximum redraw time in milliseconds, with torch limited to one thread as in the notebook.

    python benchmarks/balance_slider.py --rounds 3
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from dlnlib.widgets.balance import balance_demo, factorisation_experiment

GRID = {
    "lr": [0.1, 0.3, 0.05, 0.2],
    "scale": [0.5, 0.05, 0.2, 0.1],
    "ratio": [3.0, 0.5, 2.0, 1.0],
    "lam": [1.0, 0.5, 2.0, 0.0],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    for r in range(args.rounds):
        factorisation_experiment.cache_clear()
        handle = balance_demo()
        for name, values in GRID.items():
            for v in values:
                handle.sliders[name].value = v
        t = np.array(handle.timings_ms[1:])
        print(f"round {r + 1}: {len(t)} redraws, median {np.median(t):.1f} ms, max {t.max():.1f} ms (wall)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
