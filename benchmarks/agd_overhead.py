"""The cost of depth in Aligned Gradient Descent (the AGD paper's Table 1), measured instead of counted.

For each data set and depth L, one AGD iteration is timed (depth 1 runs shallow GD in the same loop) and
printed as a ratio to depth 1, next to the counted multiplications per iteration and the paper's
``(3d + 5L) / 3d`` per-example bound. Small problems are dominated by per-operation dispatch, so the
measured ratio exceeds the arithmetic one; larger n and d bring them together.

    python benchmarks/agd_overhead.py --steps 300 --repeats 5
"""

from __future__ import annotations

import argparse

import torch

from dlnlib import agd, data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    sets = {
        "two-point (n=2, d=2)": data.two_point_regression(0.01),
        "digits 3/8 (n=250, d=53)": data.sklearn_binary("digits")[:2],
        "random (n=2000, d=500)": (torch.randn(2000, 500, generator=gen, dtype=torch.float64) / 22,
                                   torch.sign(torch.randn(2000, generator=gen, dtype=torch.float64))),
    }
    for name, (X, y) in sets.items():
        n, d = X.shape
        lr = 0.5 * agd.optimal_lr(X)
        base = agd.seconds_per_iteration(X, y, depth=1, lr=lr, steps=args.steps, repeats=args.repeats)
        print(f"{name}: depth 1 takes {1e3 * base:.3f} ms per iteration")
        for L in (2, 4, 8):
            t = agd.seconds_per_iteration(X, y, depth=L, lr=lr, steps=args.steps, repeats=args.repeats)
            mul_ratio = agd.count_operations(d, L, min(n, 50))["mul"] / agd.count_operations(d, 1, min(n, 50))["mul"]
            print(f"  L = {L}: time ratio {t / base:.2f}, counted multiplications ratio {mul_ratio:.3f} "
                  f"(n = {min(n, 50)}), paper's per-example bound {(3 * d + 5 * L) / (3 * d):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
