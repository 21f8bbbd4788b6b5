"""dlnlib's engine against hand-written peers (batched torch, NumPy, JAX) on seed 000's experiment, in one run.

Columns: dlnlib's engine as ``gradient_descent`` runs it (the compiled per-trial loop of ``dlnlib.kernels``), the
same call with ``engine="torch"`` (the batched torch engine it replaced for these runs), then the peers.
Setting (Hu 2023): diagonal completion of random d x d targets (d = 2), depth N = 3 (also 2 and 6),
nn.Linear's default init, learning rate 0.1, PyTorch's mean-squared error on the diagonals, each trial
stops at the first step with loss <= 1e-7. Every implementation starts from the same weights and
uses the same closed-form gradient, so the iteration counts should agree trial by trial; the script
checks that (and says in how many trials they differ), then prints the best of ``--repeats`` wall
times and each peer's time over the engine's. The torch peer updates with the engine's fused
``addcmul``; NumPy and JAX write ``w - lr * g``, which can round differently, so on trials that sit
on a plateau for tens of thousands of steps (depth 6) their counts can differ.
JAX (CPU, float64) is a benchmark-only peer: without it the JAX columns say "n/a".

    python benchmarks/engine_peers.py            # all rows (several minutes on 2 cores)
    python benchmarks/engine_peers.py --quick    # 100 and 1,000 trials only
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import dlnlib

LR, TOL = 0.1, 1e-7
ROWS = [  # (trials, depth, step cap)
    (100, 3, 100_000), (1_000, 3, 100_000), (10_000, 3, 100_000),
    (1_000, 2, 100_000), (1_000, 6, 100_000),
]


def setup(trials: int, depth: int, d: int = 2, seed: int = 0):
    """Seed 000's starting chains (float64) and targets, as in ``benchmarks/seed000_upstairs.py``."""
    chain = dlnlib.init_chain([d] * (depth + 1), "default", batch=(trials,), seed=seed, device="cpu")
    targets = dlnlib.data.completion_targets(d, (trials,), seed=seed + 1, device="cpu")
    return chain, torch.diagonal(targets, dim1=-2, dim2=-1).contiguous()


def engine(chain, tdiag, cap, which="compiled"):
    """dlnlib.gradient_descent: stop steps, -1 for a trial that never reached tol. ``which="compiled"`` is what
    ``engine="auto"`` picks for these runs once the loop is compiled (dlnlib.kernels); ``"torch"`` the torch
    engine (the one the compiled loop replaced for them)."""
    loss = dlnlib.DiagonalCompletion(torch.diag_embed(tdiag))
    res = dlnlib.gradient_descent(chain, loss, lr=LR, steps=cap, tol=TOL, record_steps=[0], progress=False,
                                  engine=which)
    return res.stopped_at.numpy()


def _value_grads(ws, tdiag, lib):
    """Loss and layer gradients of one batch of chains, in the engine's order of operations."""
    mm, tr = (torch.matmul, lambda a: a.mT) if lib is torch else (np.matmul, lambda a: np.swapaxes(a, -1, -2))
    pre = [ws[0]]
    for w in ws[1:]:
        pre.append(mm(w, pre[-1]))
    d = tdiag.shape[-1]
    diff = (pre[-1][..., range(d), range(d)] if lib is np else torch.diagonal(pre[-1], dim1=-2, dim2=-1)) - tdiag
    value = (1.0 / d) * (diff * diff).sum(-1)
    left = (2.0 * (1.0 / d)) * diff
    n = len(ws)
    grads = [None] * n
    for j in range(n - 1, 0, -1):
        below_t = tr(pre[j - 1])
        if j == n - 1:
            grads[j], left = left[..., :, None] * below_t, tr(ws[j]) * left[..., None, :]
        else:
            grads[j], left = mm(left, below_t), mm(tr(ws[j]), left)
    grads[0] = left
    return value, grads


def eager_peer(chain, tdiag, cap, lib):
    """Batched eager loop (torch or NumPy): closed-form gradients, a host check every step, and the
    stopped trials dropped from the batch as soon as they stop."""
    ws = [w.clone() if lib is torch else w.numpy().copy() for w in chain]
    tg = tdiag.clone() if lib is torch else tdiag.numpy().copy()
    idx = np.arange(len(tg))
    out = np.full(len(tg), -1, dtype=np.int64)
    lr_t = torch.tensor(LR, dtype=torch.float64)
    for t in range(cap + 1):
        value, grads = _value_grads(ws, tg, lib)
        hit = (value <= TOL).numpy() if lib is torch else value <= TOL
        if hit.any():
            out[idx[hit]] = t
            keep = ~hit
            idx, tg = idx[keep], tg[torch.from_numpy(keep)] if lib is torch else tg[keep]
            k = torch.from_numpy(keep) if lib is torch else keep
            ws, grads = [w[k] for w in ws], [g[k] for g in grads]
            if not len(idx):
                break
        if t == cap:
            break
        # torch: the engine's fused update (addcmul rounds once less than w - lr * g); NumPy has no fused form
        ws = [torch.addcmul(w, lr_t, g, value=-1.0) if lib is torch else w - LR * g for w, g in zip(ws, grads)]
    return out


def jax_peers():
    """The two JAX peers, or None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def one_trial(ws, t, cap):
        """A while_loop over the steps of one trial (vmapped over trials)."""
        def cond(s):
            _, v, _, it = s
            return (v > TOL) & (it < cap)

        def body(s):
            ws, _, grads, it = s
            ws = tuple(w - LR * g for w, g in zip(ws, grads))
            v, grads = _jvg(ws, t)
            return ws, v, tuple(grads), it + 1

        v, grads = _jvg(ws, t)
        _, v, _, it = jax.lax.while_loop(cond, body, (tuple(ws), v, tuple(grads), jnp.asarray(0)))
        return jnp.where(v <= TOL, it, -1)

    def _jvg(ws, t):
        pre = [ws[0]]
        for w in ws[1:]:
            pre.append(w @ pre[-1])
        d = t.shape[-1]
        diff = jnp.diagonal(pre[-1], axis1=-2, axis2=-1) - t
        value = (1.0 / d) * (diff * diff).sum(-1)
        left = (2.0 * (1.0 / d)) * diff
        n = len(ws)
        grads = [None] * n
        for j in range(n - 1, 0, -1):
            below_t = jnp.swapaxes(pre[j - 1], -1, -2)
            if j == n - 1:
                grads[j], left = left[..., :, None] * below_t, jnp.swapaxes(ws[j], -1, -2) * left[..., None, :]
            else:
                grads[j], left = left @ below_t, jnp.swapaxes(ws[j], -1, -2) @ left
        grads[0] = left
        return value, grads

    vmapped = jax.jit(jax.vmap(one_trial, in_axes=(0, 0, None)), static_argnums=2)

    def plain(chain, tdiag, cap):
        ws = tuple(jnp.asarray(w.numpy()) for w in chain)
        return np.asarray(vmapped(ws, jnp.asarray(tdiag.numpy()), cap))

    chunk_len = 64
    value_grads = jax.jit(_jvg)

    @jax.jit
    def chunk(ws, t, active, it, v, grads, n):
        """n masked steps of a bucket of trials; a trial stops at its first loss <= tol."""
        def body(_, s):
            ws, active, it, v, grads = s
            m = active[:, None, None]
            ws = tuple(jnp.where(m, w - LR * g, w) for w, g in zip(ws, grads))
            it = it + active
            v, grads = _jvg(ws, t)
            return ws, active & (v > TOL), it, v, tuple(grads)

        return jax.lax.fori_loop(0, n, body, (ws, active, it, v, grads))

    def compacting(chain, tdiag, cap):
        """Chunks of jitted steps; the host counts the live trials after each chunk and, once they fit
        in half of their power-of-two bucket, packs them into a smaller bucket."""
        ws = [w.numpy().copy() for w in chain]
        tg = tdiag.numpy()
        out = np.full(len(tg), -1, dtype=np.int64)
        its = np.zeros(len(tg), dtype=np.int64)
        live, done, state = np.arange(len(tg)), 0, None
        while len(live):
            if state is None:  # pack the live trials (padded with copies of the first, kept inactive)
                size = 1 << max(0, int(len(live) - 1).bit_length())
                sel = live[np.concatenate([np.arange(len(live)), np.zeros(size - len(live), dtype=np.int64)])]
                bws, bt = tuple(jnp.asarray(w[sel]) for w in ws), jnp.asarray(tg[sel])
                v, grads = value_grads(bws, bt)
                active = jnp.asarray(np.arange(size) < len(live)) & (v > TOL)
                state = (bws, active, jnp.asarray(its[sel]), v, tuple(grads))
            steps = min(chunk_len, cap - done)
            if steps:
                bws, active, it, v, grads = chunk(state[0], bt, *state[1:], steps)
                state = (bws, active, it, v, grads)
                done += steps
            n_live = int(state[1].sum())
            if n_live <= size // 2 or done >= cap:  # write the bucket back; pack again (or finish)
                bws, active, it, v, _ = state
                k = len(live)
                active, it, v = np.asarray(active)[:k], np.asarray(it)[:k], np.asarray(v)[:k]
                for w, bw in zip(ws, bws):
                    w[live] = np.asarray(bw)[:k]
                its[live] = it
                stopped = ~active & (v <= TOL)
                out[live[stopped]] = it[stopped]
                live, state = live[active], None
                if done >= cap:
                    break
        return out

    return {"JAX jit+vmap+while_loop": plain, "JAX, with compaction": compacting}


def best_time(fn, args, repeats, warm=True):
    """Best wall time of ``repeats`` calls, after one warm-up call (compilation, first allocations) if ``warm``."""
    out = fn(*args) if warm else None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t0)
        if times[-1] > 5.0:  # long cells: one timing is enough against the contention it averages over
            break
    return min(times), out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="only the 100- and 1,000-trial rows at depth 3")
    p.add_argument("--repeats", type=int, default=3, help="timed calls per cell (best is shown)")
    p.add_argument("--big-repeats", type=int, default=1, help="timed calls per cell for 10,000 trials")
    p.add_argument("--no-jax", action="store_true", help="skip the JAX peers")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    peers = {
        "engine='torch'": lambda c, t, cap: engine(c, t, cap, "torch"),
        "batched torch": lambda c, t, cap: eager_peer(c, t, cap, torch),
        "NumPy": lambda c, t, cap: eager_peer(c, t, cap, np),
    }
    jp = None if args.no_jax else jax_peers()
    names = ["dlnlib engine (compiled)", *peers, "JAX jit+vmap+while_loop", "JAX, with compaction"]
    if jp is not None:
        peers.update(jp)
    rows = ROWS[:2] if args.quick else ROWS
    print(f"torch {torch.__version__}, numpy {np.__version__}, "
          + (f"jax {__import__('jax').__version__}" if jp is not None else "jax not installed"))
    print("| trials | depth | cap | " + " | ".join(names) + " | identical counts |")
    print("|---" * (len(names) + 4) + "|")
    all_same, torch_same = True, True
    for trials, depth, cap in rows:
        chain, tdiag = setup(trials, depth)
        reps = args.big_repeats if trials >= 10_000 else args.repeats
        big = trials >= 10_000  # long rows: only the JAX peers (which compile) get a warm-up call
        t_eng, ref = best_time(engine, (chain, tdiag, cap), reps, warm=not big)
        cells, same = [f"{1e3 * t_eng:.1f} ms"], True
        for name in names[1:]:
            if name not in peers:
                cells.append("n/a")
                continue
            t, out = best_time(peers[name], (chain, tdiag, cap), reps, warm=not big or name.startswith("JAX"))
            n_diff = int((out != ref).sum())
            same &= n_diff == 0
            torch_same = n_diff == 0 if name == "engine='torch'" else torch_same
            cells.append(f"{1e3 * t:.1f} ms ({t / t_eng:.2g}x{f', {n_diff} counts differ' if n_diff else ''})")
        all_same &= torch_same  # the torch engine must agree exactly; peers with an unfused update may not
        unconverged = int((ref < 0).sum())
        print(f"| {trials:,} | {depth} | {cap:,} ({unconverged} never stop) | " + " | ".join(cells) + f" | {same} |")
    print("(x) = peer time / engine time: above 1 means the engine is faster. Best of "
          f"{args.repeats} (10,000 trials: {args.big_repeats}) calls after a warm-up call (10,000 trials: JAX"
          " only); 1 torch thread.")
    return 0 if all_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
