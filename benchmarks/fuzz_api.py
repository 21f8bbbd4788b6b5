"""The input promise measured over dlnlib's whole public API: every registered call with one argument replaced
by each listed bad value of its kind (and a fixed sample of scalar garbage), counted by outcome.

    python benchmarks/fuzz_api.py                 # counts per area and in total, then every broken call
    python benchmarks/fuzz_api.py --quiet         # counts only

Outcomes (``tests/apifuzz/common.py``): refused (dlnlib's ValueError/TypeError naming the argument) and finite
(an acceptable value, a finite result) keep the promise; raw (a torch/numpy/scipy/Python error), foreign (a
ValueError/TypeError raised inside a dependency), unnamed (dlnlib's message does not name the argument),
nonfinite (NaN/inf returned), wrong (fails the entry's check), slow (> 5 s) and hung (> 30 s) break it.
The same calls are what ``tests/test_properties.py`` asserts; this script only counts them. Run it against
another checkout of dlnlib (``PYTHONPATH=<checkout> python benchmarks/fuzz_api.py``) to compare versions.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("DLNLIB_DEVICE", "cpu")
os.environ.setdefault("DLNLIB_PROGRESS", "0")
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from apifuzz.common import GOOD, SCALAR_KINDS, classify, public_callables  # noqa: E402
from apifuzz.registry import cases, load  # noqa: E402

GARBAGE = [float("nan"), -float("inf"), 5e-324, 1e308, -7, 3, 10**13, "", "é", None, False]
OUTCOMES = ("refused", "finite", "raw", "foreign", "unnamed", "nonfinite", "wrong", "slow", "hung")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="print the counts only")
    args = parser.parse_args(argv)
    import dlnlib

    entries, exempt, kinds = load()
    public = public_callables()
    covered = sorted(set(public) & set(entries))
    print(f"dlnlib at {Path(dlnlib.__file__).parent}")
    print(f"public callables: {len(public)}; with a fuzz entry: {len(covered)}; exempted: "
          f"{len(set(public) & set(exempt))}; entries for methods: {len(set(entries) - set(public))}")
    counts: dict[str, Counter] = {}
    broken = []
    t0 = time.perf_counter()
    for name, arg, kind in cases(entries, kinds):
        area = name.split(".")[1]
        values = kinds[kind] + entries[name].extra_bad.get(arg, []) + (GARBAGE if kind in SCALAR_KINDS else [])
        for bad in values:
            outcome, detail = classify(entries[name], arg, bad)
            counts.setdefault(area, Counter())[outcome] += 1
            if outcome not in GOOD:
                broken.append(f"{name}({arg}={bad!r:.60}): {outcome}: {detail[:160]}")
    total = sum(counts.values(), Counter())
    print(f"\n{'area':<12}{'calls':>7}" + "".join(f"{o:>10}" for o in OUTCOMES))
    for area in sorted(counts) + ["total"]:
        c = total if area == "total" else counts[area]
        print(f"{area:<12}{sum(c.values()):>7}" + "".join(f"{c[o]:>10}" for o in OUTCOMES))
    print(f"\n{sum(total.values())} calls in {time.perf_counter() - t0:.0f} s; promise broken by "
          f"{sum(total[o] for o in OUTCOMES if o not in GOOD)}")
    if not args.quiet:
        print("\n".join(broken))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
