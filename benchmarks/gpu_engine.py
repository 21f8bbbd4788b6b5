"""The batched engine on the CPU and on a CUDA GPU, side by side in one run (needs a CUDA machine).

Two settings:

* seed 000's headline experiment (diagonal completion, d = 2, depth 3, "default" init, lr 0.1, stop at loss
  <= 1e-7) at 10^4 and 10^5 trials: wall time to the last stop, and in how many trials the two devices
  report the same stop step (different matmul kernels may move a last bit and, rarely, a stop step by one);
* width 256 (layers 256 x 256, depth 3, the same loss) for a fixed number of steps at 1,000 trials on
  both devices, then at 10,000 trials on the GPU alone where memory allows: time per step.

    python benchmarks/gpu_engine.py            # prints a table; exits 2 when CUDA is not available
"""

from __future__ import annotations

import argparse
import time

import torch

import dlnlib


def setup(trials: int, d: int, seed: int, device: str):
    chain = dlnlib.init_chain([d] * 4, "default", batch=(trials,), seed=seed, device="cpu")
    targets = dlnlib.data.completion_targets(d, (trials,), seed=seed + 1, device="cpu")
    return [w.to(device) for w in chain], targets.to(device)


def _sync(device: str) -> None:
    if device != "cpu":
        torch.cuda.synchronize()


def run(chain, targets, *, steps: int, tol):
    loss = dlnlib.DiagonalCompletion(targets, reduction="mean", device=targets.device)
    return dlnlib.gradient_descent(chain, loss, lr=0.1, steps=steps, tol=tol, record_steps=[0], progress=False)


def timed(trials: int, d: int, seed: int, device: str, *, steps: int, tol):
    warm_chain, warm_targets = setup(min(trials, 64), d, seed + 100, device)
    run(warm_chain, warm_targets, steps=min(steps, 200), tol=tol)  # kernels, allocator
    chain, targets = setup(trials, d, seed, device)
    _sync(device)
    t0 = time.perf_counter()
    res = run(chain, targets, steps=steps, tol=tol)
    _sync(device)
    return time.perf_counter() - t0, res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", default="10000,100000", help="comma-separated trial counts for seed 000")
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--width-trials", type=int, default=1000)
    p.add_argument("--width-gpu-trials", type=int, default=10_000)
    p.add_argument("--width-steps", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print("CUDA is not available on this machine: nothing to compare")
        return 2
    print(f"torch {torch.__version__}, GPU {torch.cuda.get_device_name()}, CPU threads {torch.get_num_threads()}")
    print("| setting | trials | CPU | GPU | CPU/GPU | same stop step |")
    print("|---|---|---|---|---|---|")
    for trials in (int(t) for t in args.trials.split(",")):
        t_cpu, r_cpu = timed(trials, 2, args.seed, "cpu", steps=args.max_steps, tol=1e-7)
        t_gpu, r_gpu = timed(trials, 2, args.seed, "cuda", steps=args.max_steps, tol=1e-7)
        same = float((r_cpu.stopped_at == r_gpu.stopped_at.cpu()).double().mean())
        print(f"| seed 000, d = 2, to loss <= 1e-7 (last stop: step {int(r_cpu.stopped_at.max())}) | {trials:,} "
              f"| {t_cpu:.2f} s | {t_gpu:.2f} s | {t_cpu / t_gpu:.1f}x | {100 * same:.2f}% |")
    w, k = args.width, args.width_steps
    t_cpu, r_cpu = timed(args.width_trials, w, args.seed, "cpu", steps=k, tol=None)
    t_gpu, r_gpu = timed(args.width_trials, w, args.seed, "cuda", steps=k, tol=None)
    gap = float((r_cpu.final_loss - r_gpu.final_loss.cpu()).abs().max() / r_cpu.final_loss.abs().max())
    print(f"| d = {w}, {k} steps (per step; final-loss relative gap {gap:.1e}) | {args.width_trials:,} "
          f"| {1e3 * t_cpu / k:.1f} ms | {1e3 * t_gpu / k:.2f} ms | {t_cpu / t_gpu:.1f}x | - |")
    try:
        t_gpu, _ = timed(args.width_gpu_trials, w, args.seed, "cuda", steps=k, tol=None)
        print(f"| d = {w}, {k} steps (per step), GPU only | {args.width_gpu_trials:,} | - "
              f"| {1e3 * t_gpu / k:.2f} ms | - | - |")
    except torch.cuda.OutOfMemoryError:
        print(f"| d = {w}, GPU only | {args.width_gpu_trials:,} | - | out of GPU memory | - | - |")
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
