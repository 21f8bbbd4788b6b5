"""Seed 000's upstairs experiment two ways: a per-trial autograd + torch.optim.SGD loop, and one batched run.

Setting (Hu 2023, "Training the Deep Linear Network"): diagonal completion of a random 2x2 target,
depth N = 3, layers 2x2 with nn.Linear's default init, learning rate 0.1, PyTorch's mean-squared
error on the diagonals, stop at loss <= 1e-7. Both paths start from the same weights and targets, so
their iteration counts must agree trial by trial; the script checks that and prints both times.

    python benchmarks/seed000_upstairs.py --trials 1000
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import dlnlib


def setup(trials: int, seed: int, d: int = 2, depth: int = 3, device="cpu"):
    chain = dlnlib.init_chain([d] * (depth + 1), "default", batch=(trials,), seed=seed, device=device)
    targets = dlnlib.data.completion_targets(d, (trials,), seed=seed + 1, device=device)
    return chain, targets


def loop_trials(chain, targets, lr=0.1, tol=1e-7, max_steps=100_000):
    """One trial at a time, the way seed 000's code trains: autograd, SGD, a while loop on the loss."""
    iterations = []
    for k in range(targets.shape[0]):
        params = [torch.nn.Parameter(w[k].clone()) for w in chain]
        opt = torch.optim.SGD(params, lr=lr)
        target = targets[k]
        it = 0
        while True:
            opt.zero_grad()
            W = params[0]
            for layer in params[1:]:
                W = layer @ W
            loss = F.mse_loss(torch.diag(W), torch.diag(target))
            if loss.item() <= tol or it >= max_steps:
                break
            loss.backward()
            opt.step()
            it += 1
        iterations.append(it)
    return torch.tensor(iterations)


def batched_trials(chain, targets, lr=0.1, tol=1e-7, max_steps=100_000):
    """All trials in one call of dlnlib's engine."""
    loss = dlnlib.DiagonalCompletion(targets, reduction="mean", device=targets.device)
    res = dlnlib.gradient_descent(chain, loss, lr=lr, steps=max_steps, tol=tol, record_steps=[0], progress=False)
    return res.stopped_at


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gpu-trials", type=int, default=10_000, help="trials for the CPU/GPU comparison")
    args = p.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    chain, targets = setup(args.trials, args.seed)
    batched_trials(chain[:], targets)  # warm-up (first-call allocations)
    t0 = time.perf_counter()
    it_batched = batched_trials(chain, targets)
    t_batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    it_loop = loop_trials(chain, targets)
    t_loop = time.perf_counter() - t0
    same = bool(torch.equal(it_loop, it_batched))
    print(f"trials: {args.trials}, torch threads: {torch.get_num_threads()}")
    print(f"iterations (loop):    mean {it_loop.double().mean():.2f} +- {it_loop.double().std():.2f}")
    print(f"iterations (batched): mean {it_batched.double().mean():.2f} +- {it_batched.double().std():.2f}")
    print(f"identical iteration counts per trial: {same}")
    print(f"per-trial SGD loop: {t_loop:.2f} s")
    print(f"batched engine:     {t_batched:.3f} s")
    print(f"speed-up (loop / batched): {t_loop / t_batched:.0f}x")
    gpu_part(args.gpu_trials, args.seed)
    return 0 if same else 1


def timed_batched(trials, seed, device):
    chain, targets = setup(trials, seed, device=device)
    batched_trials(chain, targets)  # warm-up: kernels, allocator
    if device != "cpu":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    it = batched_trials(chain, targets)
    if device != "cpu":
        torch.cuda.synchronize()
    return time.perf_counter() - t0, it


def gpu_part(trials: int, seed: int) -> None:
    """On a CUDA machine, the batched engine at a size where a GPU pays off, against the CPU."""
    if not torch.cuda.is_available():
        print("CUDA not available: GPU comparison skipped")
        return
    t_cpu, it_cpu = timed_batched(trials, seed, "cpu")
    t_gpu, it_gpu = timed_batched(trials, seed, "cuda")
    agree = float((it_cpu == it_gpu.cpu()).double().mean())
    print(f"GPU ({torch.cuda.get_device_name()}), {trials} trials: CPU {t_cpu:.2f} s, GPU {t_gpu:.2f} s, "
          f"CPU/GPU ratio {t_cpu / t_gpu:.1f}x; same iteration count in {100 * agree:.1f}% of trials")


if __name__ == "__main__":
    raise SystemExit(main())
