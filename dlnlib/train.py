"""The one gradient-descent engine of the series, and gradient flow through an ODE solver.

``gradient_descent`` runs many independent trials at once: every tensor of the chain carries
leading batch dimensions, the learning rate may be a tensor broadcast against them, each trial
stops on its own when its loss reaches ``tol``, and a trial whose loss becomes non-finite or
explodes is frozen at its last finite iterate and reported in ``TrainResult.diverged``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from .chains import _product, validate_chain
from .core import check_int, check_nonneg, check_positive

__all__ = ["TrainResult", "FlowResult", "gradient_descent", "gradient_flow", "progress_enabled"]

Direction = Callable[[list, list], list]


def progress_enabled(progress: bool | None, work: int) -> bool:
    """Whether to show a tqdm bar: explicit ``progress`` wins; otherwise on for long runs unless
    the environment variable ``DLNLIB_PROGRESS=0`` (set by the test suite and notebook runner)."""
    if progress is not None:
        return bool(progress)
    return os.environ.get("DLNLIB_PROGRESS", "1") != "0" and work >= 200_000


@dataclass
class TrainResult:
    """What ``gradient_descent`` returns. Batch shape ``B`` is that of the trials.

    chain: final ``[W_1, ..., W_N]`` (stopped trials at their stop, diverged ones at their last finite iterate).
    steps: recorded step indices, shape (T,).
    history: name -> tensor of shape (T, *B, ...); ``"loss"`` is always there. Entries of a diverged
        trial after its divergence are NaN (plot with ``dlnlib.plot_losses``, which stops the curve).
    stopped_at: (*B,) first step whose loss was <= tol, -1 if never (or no tol).
    diverged_at: (*B,) step at which the loss became non-finite or exploded, -1 if never.
    final_loss: (*B,) loss of the returned chain.
    n_steps: number of update steps actually taken (the run ends early once every trial stopped).
    """

    chain: list
    steps: torch.Tensor
    history: dict
    stopped_at: torch.Tensor
    diverged_at: torch.Tensor
    final_loss: torch.Tensor
    n_steps: int
    tol: float | None = None
    info: dict = field(default_factory=dict)

    @property
    def losses(self) -> torch.Tensor:
        return self.history["loss"]

    @property
    def converged(self) -> torch.Tensor:
        return self.stopped_at >= 0

    @property
    def diverged(self) -> torch.Tensor:
        return self.diverged_at >= 0

    def summary(self) -> str:
        """One line: how many trials converged, diverged, or are still running."""
        total = self.final_loss.numel()
        n_div = int(self.diverged.sum())
        parts = [f"{total} trial(s), {self.n_steps} step(s) run"]
        if self.tol is not None:
            parts.append(f"{int(self.converged.sum())} reached loss <= {self.tol:g}")
        if n_div:
            first = int(self.diverged_at[self.diverged].min())
            parts.append(f"{n_div} diverged (first at step {first})")
        else:
            parts.append("none diverged")
        return "; ".join(parts)


def _lr_tensor(lr, like: torch.Tensor) -> torch.Tensor:
    if isinstance(lr, torch.Tensor):
        check_positive("lr", lr)
        return lr.to(device=like.device, dtype=like.dtype)
    check_positive("lr", lr)
    return torch.tensor(float(lr), device=like.device, dtype=like.dtype)


def _record_steps(steps: int, record_every, record_steps) -> set[int]:
    if record_steps is not None:
        out = set()
        for s in record_steps:
            s = check_int("record_steps", int(s) if isinstance(s, (np.integer,)) else s, minimum=0)
            out.add(s)
        return out
    every = check_int("record_every", record_every, minimum=1)
    return set(range(0, steps + 1, every)) | {steps}


_BUILTIN_RECORDS = ("loss", "end_to_end", "singular_values", "chain")


def gradient_descent(
    chain,
    loss,
    *,
    lr,
    steps: int,
    tol: float | None = None,
    record: Iterable[str] = ("loss",),
    record_every: int = 1,
    record_steps: Iterable[int] | None = None,
    callbacks: dict[str, Callable] | None = None,
    direction: Direction | None = None,
    weight_decay: float = 0.0,
    blowup: float = 1e8,
    progress: bool | None = None,
) -> TrainResult:
    """Batched gradient descent ``W_j <- W_j - lr * (D_j + weight_decay * W_j)`` on every layer.

    D_j is the layer gradient ``dL/dW_j`` (upstairs, layerwise GD), or ``direction(chain, grads)[j]``
    when a direction is given (e.g. the end-to-end preconditioned gradient of notebook 04).
    chain: ``[W_1, ..., W_N]``, each ``(*B, d_j, d_{j-1})``; loss: a ``dlnlib.losses.Loss``;
    lr: float or tensor broadcastable to ``B`` (one learning rate per trial/grid point);
    steps: maximum number of updates; tol: a trial stops at the first step with loss <= tol;
    record: any of "loss", "end_to_end", "singular_values", "chain"; callbacks: name -> fn(chain) -> Tensor,
    recorded too; blowup: a loss above ``blowup * max(initial loss, 1)`` counts as divergence.
    With ``tol`` and a loss that ``supports_take``, trials that stopped are dropped from the working batch,
    so ``direction`` must act trial by trial on whatever (flattened) batch of chains it is given.
    """
    chain = [w.clone() for w in validate_chain(chain)]
    if not hasattr(loss, "chain_value_and_grads"):
        raise ValueError(f"loss: got {type(loss).__name__}, expected a dlnlib.losses.Loss")
    steps = check_int("steps", steps, minimum=0)
    if tol is not None:
        check_positive("tol", tol, allow_tensor=False)
    check_nonneg("weight_decay", weight_decay)
    check_positive("blowup", blowup, allow_tensor=False)
    record = tuple(record)
    for name in record:
        if name not in _BUILTIN_RECORDS:
            raise ValueError(f"record: got {name!r}, expected names from {_BUILTIN_RECORDS}")
    callbacks = dict(callbacks or {})
    for name, fn in callbacks.items():
        if not callable(fn):
            raise ValueError(f"callbacks: {name!r} is {type(fn).__name__}, expected a callable fn(chain)")
    if direction is not None and not callable(direction):
        raise ValueError(f"direction: got {type(direction).__name__}, expected a callable (chain, grads) -> list")
    rec_at = _record_steps(steps, record_every, record_steps)

    ref = chain[0]
    lr_t = _lr_tensor(lr, ref)
    value, grads = loss.chain_value_and_grads(chain)
    try:
        batch = torch.broadcast_shapes(value.shape, lr_t.shape, *(w.shape[:-2] for w in chain))
    except RuntimeError as exc:
        raise ValueError(
            f"lr: shape {tuple(lr_t.shape)} does not broadcast against the trials' batch shape {tuple(value.shape)}"
        ) from exc
    if batch != value.shape or any(w.shape[:-2] != batch for w in chain):
        chain = [w.expand(*batch, *w.shape[-2:]).clone() for w in chain]
        value, grads = loss.chain_value_and_grads(chain)
    lr_b = lr_t.expand(batch)
    device = ref.device
    n_trials = value.numel()
    # Working set: once most trials have stopped, the rest continue as a smaller batch. Only for
    # losses that can restrict their per-trial data (``supports_take``); results are unchanged.
    compact = tol is not None and n_trials > 1 and getattr(loss, "supports_take", False)
    idx = None
    if compact:
        idx = torch.arange(n_trials, device=device)
        chain = [w.reshape(n_trials, *w.shape[-2:]) for w in chain]
        lr_b = lr_b.reshape(n_trials)
        flat_loss = loss.take(idx, batch)
        loss = flat_loss
        value, grads = loss.chain_value_and_grads(chain)
        full_chain = [w.clone() for w in chain]
        full_value = value.clone()
    state_shape = value.shape
    active = torch.ones(state_shape, dtype=torch.bool, device=device)
    stopped_at = torch.full(state_shape, -1, dtype=torch.long, device=device)
    diverged_at = torch.full(state_shape, -1, dtype=torch.long, device=device)
    finite0 = torch.isfinite(value)
    limit = blowup * torch.clamp(torch.where(finite0, value, torch.ones_like(value)), min=1.0)
    hist: dict[str, list] = {k: [] for k in (*record, *callbacks)}
    hist.setdefault("loss", [])
    rec_steps: list[int] = []
    prev = None
    bar = None
    if progress_enabled(progress, steps * max(1, n_trials)):
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="gradient descent", leave=False)

    def mark(arr, mask, t):
        if idx is None:
            return torch.where(mask, torch.full_like(arr, t), arr)
        arr[idx[mask]] = t
        return arr

    def full_state():
        if idx is None:
            return chain, value
        for fw, w in zip(full_chain, chain):
            fw[idx] = w
        full_value[idx] = value
        return [fw.reshape(*batch, *fw.shape[-2:]) for fw in full_chain], full_value.reshape(batch)

    t = 0
    while True:
        bad = active & (~torch.isfinite(value) | (value > limit))
        if bool(bad.any()):
            diverged_at = mark(diverged_at, bad, t)
            active = active & ~bad
            if prev is not None:
                m = bad[..., None, None]
                chain = [torch.where(m, p, w) for p, w in zip(prev, chain)]
                value, grads = loss.chain_value_and_grads(chain)
        if tol is not None:
            hit = active & (value <= tol)
            if bool(hit.any()):
                stopped_at = mark(stopped_at, hit, t)
                active = active & ~hit
        done = t == steps or not bool(active.any())
        if t in rec_at or done:
            rec_steps.append(t)
            c_full, v_full = full_state()
            div_full = diverged_at.reshape(v_full.shape) >= 0
            shown = torch.where(div_full, torch.full_like(v_full, float("nan")), v_full)
            hist["loss"].append(shown.detach().clone())
            w_end = _product(c_full) if ("end_to_end" in record or "singular_values" in record) else None
            if "end_to_end" in record:
                hist["end_to_end"].append(w_end.detach().clone())
            if "singular_values" in record:
                hist["singular_values"].append(torch.linalg.svdvals(w_end).detach())
            if "chain" in record:
                hist["chain"].append([w.detach().clone() for w in c_full])
            for name, fn in callbacks.items():
                hist[name].append(torch.as_tensor(fn(c_full)).detach().clone())
        if done:
            break
        if compact and 2 * int(active.sum()) <= active.numel() and active.numel() > 8:
            full_state()
            keep = active.nonzero().squeeze(1)
            idx, active, limit, lr_b = idx[keep], active[keep], limit[keep], lr_b[keep]
            chain = [w[keep] for w in chain]
            loss = flat_loss.take(idx, (n_trials,))
            value, grads = loss.chain_value_and_grads(chain)
        dirs = grads if direction is None else direction(chain, grads)
        step_lr = lr_b[..., None, None]
        prev = chain
        if weight_decay:
            dirs = [d + weight_decay * w for w, d in zip(chain, dirs)]
        if bool(active.all()):
            chain = [torch.addcmul(w, step_lr, d, value=-1.0) for w, d in zip(chain, dirs)]
        else:
            m = active[..., None, None]
            chain = [torch.where(m, torch.addcmul(w, step_lr, d, value=-1.0), w) for w, d in zip(chain, dirs)]
        value, grads = loss.chain_value_and_grads(chain)
        t += 1
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    chain, value = full_state()
    stopped_at, diverged_at = stopped_at.reshape(batch), diverged_at.reshape(batch)

    history = {}
    for name, vals in hist.items():
        if name == "chain":
            history[name] = [torch.stack([v[j] for v in vals]) for j in range(len(chain))]
        else:
            history[name] = torch.stack(vals)
    return TrainResult(
        chain=chain,
        steps=torch.tensor(rec_steps, dtype=torch.long),
        history=history,
        stopped_at=stopped_at,
        diverged_at=diverged_at,
        final_loss=value.detach(),
        n_steps=t,
        tol=tol,
    )


@dataclass
class FlowResult:
    """What ``gradient_flow`` returns: the chain and loss at each requested time.

    times: (T,); chains: list over layers of tensors (T, *B, d_j, d_{j-1}); losses: (T, *B).
    """

    times: torch.Tensor
    chains: list
    losses: torch.Tensor
    nfev: int

    def chain_at(self, k: int) -> list:
        """The chain at the k-th requested time."""
        return [w[k] for w in self.chains]


def gradient_flow(
    chain,
    loss,
    times,
    *,
    direction: Direction | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    method: str = "DOP853",
) -> FlowResult:
    """Gradient flow ``dW_j/dt = -dL/dW_j`` (or ``-direction(chain, grads)[j]``), solved with scipy.

    The continuous-time limit of ``gradient_descent``: time t corresponds to t / lr steps
    (Saxe et al.'s tau = 1/eta). chain: ``[W_1, ..., W_N]`` (any batch shape); times: increasing
    1-D array starting at the initial time. The state is integrated in float64 by
    ``scipy.integrate.solve_ivp`` at tight tolerances; gradients are evaluated on the chain's device.
    """
    from scipy.integrate import solve_ivp

    chain = validate_chain(chain)
    check_positive("rtol", rtol, allow_tensor=False)
    check_positive("atol", atol, allow_tensor=False)
    ts = np.asarray(times, dtype=float).ravel()
    if ts.size < 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts) <= 0):
        raise ValueError(f"times: got {ts[:6].tolist()}..., expected a finite, strictly increasing 1-D array")
    shapes = [w.shape for w in chain]
    sizes = [w.numel() for w in chain]
    dev, dt = chain[0].device, chain[0].dtype

    def unflatten(y):
        parts = np.split(y, np.cumsum(sizes)[:-1])
        return [torch.from_numpy(np.ascontiguousarray(p)).reshape(s).to(dev, dt) for p, s in zip(parts, shapes)]

    def rhs(_t, y):
        c = unflatten(y)
        _, g = loss.chain_value_and_grads(c)
        d = g if direction is None else direction(c, g)
        return -np.concatenate([x.detach().reshape(-1).to("cpu", torch.float64).numpy() for x in d])

    y0 = np.concatenate([w.detach().to("cpu", torch.float64).reshape(-1).numpy() for w in chain])
    if ts.size == 1:
        sol_y = y0[:, None]
        nfev = 0
    else:
        sol = solve_ivp(rhs, (ts[0], ts[-1]), y0, method=method, t_eval=ts, rtol=rtol, atol=atol)
        if not sol.success:
            raise RuntimeError(f"gradient_flow: the ODE solver failed: {sol.message}")
        sol_y, nfev = sol.y, sol.nfev
    per_time = [unflatten(sol_y[:, k].copy()) for k in range(sol_y.shape[1])]
    chains = [torch.stack([c[j] for c in per_time]) for j in range(len(chain))]
    losses = torch.stack([loss.chain_value_and_grads(c)[0] for c in per_time])
    return FlowResult(times=torch.from_numpy(ts), chains=chains, losses=losses, nfev=int(nfev))
