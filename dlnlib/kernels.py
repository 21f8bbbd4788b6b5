"""Compiled inner loop of ``gradient_descent`` for small chains on the CPU (numba).

The torch engine (``dlnlib.train``) steps every trial of a batch in lock step, a few dozen tensor
operations per step; for the series' small chains (2 x 2 to 14 x 14 layers) nearly all of that time is
the cost of issuing the operations, not arithmetic, and trials that need ten thousand steps keep the
whole machinery running long after the others stopped. Here the trials run in compiled code, in lanes:
up to ``LANES`` trials side by side, every number of a trial in one column of (rows, lanes) arrays, so
each operation of a step is one loop over the lanes that the compiler turns into vector instructions.
A trial that stops or diverges leaves its lane at once and the next waiting trial takes it; when none
waits, the last lane moves into the gap, so the lanes in use are always exactly the live trials. The host
is not involved between the start and the end of a run (or of a window of records, see ``descend``).

The loop repeats the torch engine's arithmetic operation for operation, so the two give the same numbers
bit for bit (``tests/test_kernels.py`` compares them):
- a matrix product accumulates ``0 + a_0 b_0 + a_1 b_1 + ...`` in order, as torch's small-matrix batched
  product does (it is used when ``k * rows * cols < 400``; larger products go to BLAS);
- a sum of at most 4 terms is added left to right, as torch's reduction does (longer sums use
  processor-dependent partial sums, so losses that need them stay on the torch engine);
- the update ``W - lr * D`` is one fused multiply-add, as torch's ``addcmul`` computes it.
Which calls qualify is decided by :func:`plan`; everything else (CUDA, directions, callbacks, other losses,
wide layers) runs on the torch engine.
"""

from __future__ import annotations

import os

import numpy as np
import torch

try:  # numba is a dependency; without it (an unsupported Python, say) every run uses the torch engine
    import numba
    from numba import njit
    from numba.extending import intrinsic
except ImportError:  # pragma: no cover - exercised only where numba cannot be installed
    numba = None

# Internal: the public surface is ``gradient_descent(..., engine=...)``; ``plan`` and ``available`` are for tests
# and for readers who want to know which engine a call gets.
__all__: list[str] = []

# torch's batched product switches from its own loop to BLAS at k * rows * cols >= 400
_SMALL_PRODUCT = 400
_DIAGONAL, _SQUARED = 0, 1


def available() -> bool:
    """Whether the compiled loop can run here (numba imports)."""
    return numba is not None


def _on_disk() -> bool:
    """Whether numba's cache of the loop is on disk (then loading it takes about a second)."""
    try:
        return os.path.exists(_descend._cache._cache_file._index_path)
    except AttributeError:  # pragma: no cover - another numba's internals
        return False


def worth_it(n_trials: int, steps: int, dtype: torch.dtype) -> bool:
    """Whether ``engine="auto"`` should take the compiled loop (the results are the same either way): always once
    it is loaded in this process; otherwise only when the torch engine would run long enough to pay for loading it
    (about 1.5 s from numba's cache) or for compiling it (about 17 s, once per machine and Python)."""
    kind = numba.from_dtype(np.dtype(str(dtype).removeprefix("torch.")))
    if any(sig[0].dtype == kind for sig in _descend.signatures):
        return True
    torch_seconds = steps * (60e-6 + 3e-8 * n_trials)  # the torch engine's cost per step (upper bound: no early stop)
    return torch_seconds >= (1.0 if _on_disk() else 20.0)


def plan(chain, loss, lr, *, direction, callbacks) -> str | None:
    """``None`` when the compiled loop reproduces the torch engine for this call, else why it cannot."""
    from .losses import DiagonalCompletion, SquaredError

    if numba is None:
        return "numba is not installed"
    if chain[0].device.type != "cpu":
        return f"the chain is on {chain[0].device} (the compiled loop runs on the CPU)"
    if chain[0].dtype not in (torch.float32, torch.float64):
        return f"the chain is {chain[0].dtype} (float32 and float64 only)"
    if direction is not None:
        return "a direction is given (it is Python code, called every step)"
    if callbacks:
        return "callbacks are given (they are Python code, called at every record)"
    if type(loss) is DiagonalCompletion:
        if loss.target_diag.shape[-1] > 4:
            return "the diagonal has more than 4 entries (torch sums them in a processor-dependent order)"
    elif type(loss) is SquaredError:
        if loss.out_dim * loss.in_dim > 4:
            return "the end-to-end matrix has more than 4 entries (torch sums them in a processor-dependent order)"
    else:
        return f"the loss is a {type(loss).__name__} (compiled: DiagonalCompletion and SquaredError)"
    try:
        batch = torch.broadcast_shapes(*(w.shape[:-2] for w in chain), *(t.shape[: t.ndim - core] for t, core in
                                       _data(loss).values()), lr.shape if isinstance(lr, torch.Tensor) else ())
    except RuntimeError:
        return "the shapes do not broadcast (the torch engine says which)"
    if batch == ():
        return "a single trial without a batch dimension (torch multiplies its 2-D matrices through BLAS)"
    dims = [chain[0].shape[-1]] + [w.shape[-2] for w in chain]
    # every product of a step (prefixes W_{j+1} (W_j...W_1), back-propagation through W_{j+1}) is d_{j+1} x d_j x d_0
    if any(dims[j] * dims[j + 1] * dims[0] >= _SMALL_PRODUCT for j in range(1, len(dims) - 1)):
        return "a layer is too wide for torch's small-matrix product (it uses BLAS there)"
    return None


def _jit(**options):
    """numba's ``njit`` with its on-disk cache, or without it where numba finds no writable place for one (a
    read-only install without a home directory): then the loop is compiled once per process instead."""

    def wrap(fn):
        try:
            return njit(cache=True, **options)(fn)
        except RuntimeError:  # "cannot cache function ...: no locator available"
            return njit(**options)(fn)

    return wrap


if numba is not None:

    @intrinsic
    def _fma(typingctx, a, b, c):
        """``a * b + c`` rounded once (LLVM's fma), as torch's vectorised ``addcmul``."""
        sig = a(a, b, c)

        def codegen(context, builder, signature, args):
            return builder.fma(*args)

        return sig, codegen

    # The trials run in lanes: every per-trial number is a row of a (rows, lanes) array, so each operation of
    # the step is a loop over the live lanes, which the compiler turns into vector instructions. A trial that
    # stops hands its lane to the next trial waiting; once none waits, the last live lane moves into the freed
    # one, so the lanes in use are always exactly the live trials.
    LANES = 128

    @_jit(inline="always")
    def _matmul(a, a0, b, b0, out, o0, rows, inner, cols, a_t, b_t, acc, width):
        """``out = A @ B`` in every lane, for row-major blocks of rows of ``a``/``b``/``out`` (A rows x inner,
        B inner x cols); ``a_t``/``b_t`` read the stored block transposed. Accumulates from 0 in order of the
        inner index, as torch's small-matrix product."""
        for r in range(rows):
            for c in range(cols):
                oi = o0 + r * cols + c
                for k in range(inner):
                    ia = a0 + k * rows + r if a_t else a0 + r * inner + k
                    ib = b0 + c * inner + k if b_t else b0 + k * cols + c
                    if k == 0:  # 0 + a b, not a b: the sum starts from +0 as torch's does (-0 becomes +0)
                        for l in range(width):
                            out[oi, l] = 0.0 + a[ia, l] * b[ib, l]
                    else:
                        for l in range(width):
                            out[oi, l] += a[ia, l] * b[ib, l]

    @_jit(inline="always")
    def _value_and_grads(w, dims, offs, poffs, pre, left, tmp, acc, g, v, kind, td, sx, sy, const, factor2, factor,
                         width):
        """Loss ``v`` and layer gradients ``g`` of the chains ``w`` (flat layers, one lane per trial), as the
        torch losses' ``_chain_value_and_grads``."""
        n = dims.shape[0] - 1
        d0, dn = dims[0], dims[n]
        for q in range(dims[1] * d0):  # prefix products W_1, W_2 W_1, ... at poffs
            for l in range(width):
                pre[q, l] = w[offs[0] + q, l]
        for j in range(1, n):
            _matmul(w, offs[j], pre, poffs[j - 1], pre, poffs[j], dims[j + 1], dims[j], d0, False, False, acc, width)
        e = poffs[n - 1]  # the end-to-end matrix, d_N x d_0
        if kind == 0:  # diagonal completion: left holds the diagonal of dL/dW
            for l in range(width):
                v[l] = 0
            for i in range(d0):
                for l in range(width):
                    diff = pre[e + i * d0 + i, l] - td[i, l]
                    v[l] += diff * diff
                    left[i, l] = factor2 * diff
            for l in range(width):
                v[l] = factor * v[l]
        else:  # squared error: dL/dW = W Sigma_xx - Sigma_yx
            _matmul(pre, e, sx, 0, tmp, 0, dn, d0, d0, False, False, acc, width)
            for l in range(width):
                acc[l] = 0
                v[l] = 0
            for i in range(dn * d0):
                for l in range(width):
                    acc[l] += pre[e + i, l] * sy[i, l]
            for i in range(dn * d0):
                for l in range(width):
                    v[l] += tmp[i, l] * pre[e + i, l]
            half = v.dtype.type(0.5)  # in the trials' precision, as torch's 0.5 * tensor
            for l in range(width):
                v[l] = (const[l] - acc[l]) + half * v[l]
            for i in range(dn * d0):
                for l in range(width):
                    left[i, l] = tmp[i, l] - sy[i, l]
        # back-propagation: dL/dW_j = (W_N ... W_{j+1})^T G (W_{j-1} ... W_1)^T; left is d_{j+1} x d_0
        rows = dn
        for j in range(n - 1, 0, -1):
            dj, djm = dims[j + 1], dims[j]
            p = poffs[j - 1]  # W_{j-1}...W_1 (0-based), djm x d_0
            if kind == 0 and j == n - 1:
                for r in range(dj):
                    for c in range(djm):
                        for l in range(width):
                            g[offs[j] + r * djm + c, l] = left[r, l] * pre[p + c * d0 + r, l]
                for r in range(djm):
                    for c in range(d0):
                        for l in range(width):
                            tmp[r * d0 + c, l] = w[offs[j] + c * djm + r, l] * left[c, l]
            else:
                _matmul(left, 0, pre, p, g, offs[j], dj, d0, djm, False, True, acc, width)
                _matmul(w, offs[j], left, 0, tmp, 0, djm, dj, d0, True, False, acc, width)
            for i in range(djm * d0):
                for l in range(width):
                    left[i, l] = tmp[i, l]
            rows = djm
        if kind == 0 and n == 1:
            for r in range(d0):
                for c in range(d0):
                    for l in range(width):
                        g[offs[0] + r * d0 + c, l] = left[r, l] if r == c else 0
        else:
            for i in range(rows * d0):
                for l in range(width):
                    g[offs[0] + i, l] = left[i, l]

    @_jit()
    def _load(lane, i, t0, ws, gs, vals, lrs, limits, tdiag, sxx, syx, const, w, g, td, sx, sy, sc, ints):
        """Trial ``i`` (at step ``t0``) into lane ``lane``."""
        for k in range(ws.shape[1]):
            w[k, lane] = ws[i, k]
            g[k, lane] = gs[i, k]
        for k in range(td.shape[0]):
            td[k, lane] = tdiag[i, k]
        for k in range(sx.shape[0]):
            sx[k, lane] = sxx[i, k]
        for k in range(sy.shape[0]):
            sy[k, lane] = syx[i, k]
        sc[0, lane], sc[2, lane], sc[3, lane], sc[4, lane] = vals[i], lrs[i], limits[i], const[i]
        ints[0, lane], ints[1, lane], ints[2, lane] = i, t0, 0

    @_jit(inline="always")
    def _update(w, g, new, lr, wd, width):
        """The update ``W <- W - lr (D + wd W)`` of every lane, rounded once (torch's addcmul), into ``new``."""
        for k in range(w.shape[0]):
            for l in range(width):
                d = g[k, l] + wd * w[k, l] if wd != 0 else g[k, l]
                new[k, l] = _fma(-lr[l], d, w[k, l])

    @_jit()
    def _leave(lane, i, done, first_rec, ws, gs, vals, active, diverged, v, w, g, rec_loss, rec_chain):
        """Trial ``i`` leaves its lane (stopped, diverged, or at the window's end): its state goes back to the
        trial arrays and its records from ``first_rec`` on repeat that state."""
        for k in range(ws.shape[1]):
            ws[i, k] = w[k, lane]
            gs[i, k] = g[k, lane]
        vals[i] = v[lane]
        active[i] = not done
        for r in range(first_rec, rec_loss.shape[0]):
            _keep(lane, i, r, diverged, v, w, rec_loss, rec_chain)

    @_jit()
    def _keep(lane, i, r, diverged, v, w, rec_loss, rec_chain):
        """Record ``r`` of trial ``i`` from its lane (NaN loss once diverged)."""
        rec_loss[r, i] = np.nan if diverged[i] else v[lane]
        if rec_chain.shape[0]:
            for k in range(w.shape[0]):
                rec_chain[r, i, k] = w[k, lane]

    @_jit()
    def _move(arrays, src, dst):
        """Lane ``src`` of every (rows, lanes) array into lane ``dst``."""
        for a in arrays:
            for q in range(a.shape[0]):
                a[q, dst] = a[q, src]

    @_jit()
    def _descend(ws, gs, vals, active, diverged, age, lrs, limits, dims, offs, poffs, kind, tdiag, sxx, syx, const,
                 factor2, factor, tol, has_tol, wd, t0, t1, rec, rec_loss, rec_chain):
        """Every active trial from step ``t0`` to ``t1`` (or its stop or divergence), in lanes; the state arrays
        (one row per trial) are updated in place and the records at steps ``rec`` (in ``(t0, t1]``) written.
        Returns the number of trials still active."""
        n_trials, size = ws.shape
        queue = np.nonzero(active)[0]
        lanes = min(LANES, queue.shape[0])
        width_max = 1
        for k in range(dims.shape[0]):
            width_max = max(width_max, dims[k])
        dt = ws.dtype
        w, g = np.empty((size, lanes), dt), np.empty((size, lanes), dt)
        new, gnew = np.empty((size, lanes), dt), np.empty((size, lanes), dt)
        pre = np.empty((poffs[-1], lanes), dt)
        left, tmp = np.empty((width_max * width_max, lanes), dt), np.empty((width_max * width_max, lanes), dt)
        td, sx, sy = np.empty((tdiag.shape[1], lanes), dt), np.empty((sxx.shape[1], lanes), dt), \
            np.empty((syx.shape[1], lanes), dt)
        # per-lane scalars, as rows: value, new value, lr, limit, const, accumulator
        sc = np.empty((6, lanes), dt)
        v, vnew, lr, lim, cst, acc = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
        ints = np.empty((3, lanes), np.int64)  # trial, step, next record
        trial, step, nrec = ints[0], ints[1], ints[2]
        n_rec = rec.shape[0]

        width = lanes
        for lane in range(lanes):
            _load(lane, queue[lane], t0, ws, gs, vals, lrs, limits, tdiag, sxx, syx, const, w, g, td, sx, sy, sc, ints)
        waiting = lanes
        still = 0
        while width:
            _update(w, g, new, lr, wd, width)
            _value_and_grads(new, dims, offs, poffs, pre, left, tmp, acc, gnew, vnew, kind, td, sx, sy, cst,
                             factor2, factor, width)
            w, new = new, w  # the new iterates are taken; a lane that diverged takes its old one back below
            g, gnew = gnew, g
            l = 0
            while l < width:
                i = trial[l]
                step[l] += 1
                s = step[l]
                age[i] += 1
                x = vnew[l]
                done = False
                if not (np.isfinite(x) and x <= lim[l]):  # diverged: keep the last finite iterate
                    diverged[i] = True
                    done = True
                    for k in range(size):
                        w[k, l] = new[k, l]
                        g[k, l] = gnew[k, l]
                else:
                    v[l] = x
                    done = has_tol and x <= tol
                while nrec[l] < n_rec and rec[nrec[l]] <= s:
                    if rec[nrec[l]] == s:
                        _keep(l, i, nrec[l], diverged, v, w, rec_loss, rec_chain)
                    nrec[l] += 1
                if done or s >= t1:
                    _leave(l, i, done, nrec[l], ws, gs, vals, active, diverged, v, w, g, rec_loss, rec_chain)
                    still += not done
                    if waiting < queue.shape[0]:
                        _load(l, queue[waiting], t0, ws, gs, vals, lrs, limits, tdiag, sxx, syx, const, w, g, td, sx,
                              sy, sc, ints)
                        waiting += 1
                        l += 1
                    else:
                        width -= 1
                        if l < width:  # the last lane (not yet looked at this step) takes this one's place
                            _move((w, g, new, gnew, td, sx, sy, sc), width, l)
                            for q in range(3):
                                ints[q, l] = ints[q, width]
                else:
                    l += 1
        return still


def _data(loss) -> dict:
    """The loss's data as name -> (tensor, number of per-trial core dimensions)."""
    if hasattr(loss, "target_diag"):
        return {"tdiag": (loss.target_diag, 1)}
    return {"sxx": (loss.sigma_xx, 2), "syx": (loss.sigma_yx, 2), "const": (torch.as_tensor(loss.const), 0)}


def _record_steps_in(rec_at, t0: int, t1: int) -> np.ndarray:
    """The record steps in ``(t0, t1]``, sorted."""
    every = getattr(rec_at, "every", None)
    if every is None:
        return np.array(sorted(s for s in rec_at if t0 < s <= t1), dtype=np.int64)
    first = (t0 // every + 1) * every
    steps = list(range(first, t1 + 1, every))
    if t0 < rec_at.last <= t1 and (not steps or steps[-1] != rec_at.last):
        steps.append(rec_at.last)
    return np.array(steps, dtype=np.int64)


# Recorded numbers held at once (a window of steps is run between two looks of the host): 4 M entries.
_RECORD_BUDGET = 1 << 22


def descend(chain, loss, lr, *, steps, tol, blowup, weight_decay, record, rec_at, progress):
    """``gradient_descent`` on the compiled loop (the caller has checked the arguments and ``plan``); returns the
    same ``TrainResult`` as the torch engine, bit for bit."""
    from .chains import _product
    from .train import TrainResult, _blowup_limit, _lr_tensor, _progress_bar, _stop_steps

    ref = chain[0]
    dt, np_dt = ref.dtype, (np.float64 if ref.dtype == torch.float64 else np.float32)
    lr_t = _lr_tensor(lr, ref)
    data = _data(loss)
    data_batches = [t.shape[: t.ndim - core] for t, core in data.values()]
    try:
        batch = torch.broadcast_shapes(lr_t.shape, *(w.shape[:-2] for w in chain), *data_batches)
    except RuntimeError as exc:
        raise ValueError(f"lr: shape {tuple(lr_t.shape)} does not broadcast against the trials' batch shape "
                         f"{tuple(torch.broadcast_shapes(*(w.shape[:-2] for w in chain), *data_batches))}") from exc
    n = int(np.prod(batch, dtype=np.int64))
    dims = np.array([ref.shape[-1]] + [w.shape[-2] for w in chain], dtype=np.int64)
    sizes = dims[1:] * dims[:-1]
    offs = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    poffs = np.concatenate([[0], np.cumsum(dims[1:] * dims[0])]).astype(np.int64)
    ws = np.empty((n, int(offs[-1])), dtype=np_dt)
    for j, w in enumerate(chain):
        ws[:, offs[j]:offs[j + 1]] = w.detach().expand(*batch, *w.shape[-2:]).reshape(n, -1).numpy()

    def per_trial(name):
        if name not in data:
            return np.zeros((n, 1), dtype=np_dt)
        t, core = data[name]
        t = t.detach().to(dt).expand(torch.Size(batch) + t.shape[t.ndim - core:]).reshape(n, -1)
        return np.ascontiguousarray(t.numpy())

    flat = [torch.from_numpy(ws[:, offs[j]:offs[j + 1]]).reshape(n, *chain[j].shape[-2:]) for j in range(len(chain))]
    flat_loss = loss.take(torch.arange(n), batch) if n else loss
    value, grads = flat_loss._chain_value_and_grads(flat) if n else (torch.zeros(0, dtype=dt), [])
    gs = np.empty_like(ws)
    for j, g in enumerate(grads):
        gs[:, offs[j]:offs[j + 1]] = g.reshape(n, -1).numpy()
    limit = _blowup_limit(value, blowup)
    diverged = ~(torch.isfinite(value) & (value <= limit))  # step 0, as the torch engine's first exact check
    active = ~diverged
    if tol is not None:
        active &= ~(value <= tol)
    vals, active, diverged = value.numpy().copy(), active.numpy().copy(), diverged.numpy().copy()
    limits, age = limit.numpy().copy(), np.zeros(n, dtype=np.int64)
    lrs = np.ascontiguousarray(lr_t.expand(batch).reshape(n).numpy())
    kind = _DIAGONAL if "tdiag" in data else _SQUARED
    factor = getattr(loss, "_factor", 1.0)
    args = (dims, offs, poffs, kind, per_trial("tdiag"), per_trial("sxx"), per_trial("syx"),
            per_trial("const").reshape(n), np_dt(2.0 * factor), np_dt(factor),
            np_dt(tol if tol is not None else 0.0), tol is not None, np_dt(weight_decay))
    keep_chain = any(name in record for name in ("chain", "end_to_end", "singular_values"))
    rec_steps, rec_loss, rec_chain = [], [], []

    def keep(ss, losses, chains):
        rec_steps.extend(int(s) for s in ss)
        rec_loss.extend(losses)
        if keep_chain:
            rec_chain.extend(chains)

    if 0 in rec_at:
        keep([0], [np.where(diverged, np.nan, vals).astype(np_dt)], [ws.copy()])
    per_record = n * (1 + (ws.shape[1] if keep_chain else 0))
    bar = _progress_bar(progress, steps, n)
    t, still = 0, int(active.sum())
    while still and t < steps:
        t1 = steps
        if bar is not None:
            t1 = min(t1, t + max(1, steps // 100))
        rec = _record_steps_in(rec_at, t, t1)
        if len(rec) * per_record > _RECORD_BUDGET:  # a shorter window: its records fit the budget
            rec = rec[: max(1, _RECORD_BUDGET // per_record)]
            t1 = int(rec[-1])
        r_loss = np.empty((len(rec), n), dtype=np_dt)
        r_chain = np.empty((len(rec) if keep_chain else 0, n, ws.shape[1]), dtype=np_dt)
        frozen = ~active  # (the kernel writes the records of the trials it runs; these repeat their state)
        r_loss[:, frozen] = np.where(diverged, np.nan, vals)[frozen]
        r_chain[:, frozen] = ws[frozen]
        still = _descend(ws, gs, vals, active, diverged, age, lrs, limits, *args, t, t1, rec, r_loss, r_chain)
        keep(rec, r_loss, r_chain)
        if bar is not None:
            bar.update(t1 - t)
        t = t1
    if bar is not None:
        bar.close()
    if not still and n:  # the run ended when the last trial stopped or diverged
        t = int(age.max())
    k = sum(1 for s in rec_steps if s <= t)
    del rec_steps[k:], rec_loss[k:], rec_chain[k:]
    if not rec_steps or rec_steps[-1] != t:
        keep([t], [np.where(diverged, np.nan, vals).astype(np_dt)], [ws.copy()])

    def layers(flat_ws, lead):
        return [torch.from_numpy(np.ascontiguousarray(flat_ws[..., offs[j]:offs[j + 1]])).reshape(
            *lead, *batch, *chain[j].shape[-2:]) for j in range(len(chain))]

    history = {"loss": torch.from_numpy(np.stack(rec_loss)).reshape(len(rec_steps), *batch)}
    if keep_chain:
        stacked = layers(np.stack(rec_chain), (len(rec_steps),))
        w_end = _product(stacked) if ("end_to_end" in record or "singular_values" in record) else None
        if "end_to_end" in record:
            history["end_to_end"] = w_end
        if "singular_values" in record:
            history["singular_values"] = torch.linalg.svdvals(w_end)
        if "chain" in record:
            history["chain"] = stacked
    stopped_at, diverged_at = _stop_steps(*(torch.from_numpy(a).reshape(batch) for a in (active, diverged, age)))
    return TrainResult(
        chain=layers(ws, ()),
        steps=torch.tensor(rec_steps, dtype=torch.long),
        history=history,
        stopped_at=stopped_at,
        diverged_at=diverged_at,
        final_loss=torch.from_numpy(vals).reshape(batch),
        n_steps=t,
        tol=tol,
        info={"engine": "compiled"},
    )
