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
from .core import (
    MAX_STEPS,
    check_choice,
    check_int,
    check_nonneg,
    check_ode_options,
    check_positive,
    solve_ode,
    time_grid,
)
from .losses import Loss

__all__ = ["TrainResult", "FlowResult", "gradient_descent", "gradient_flow", "progress_enabled"]

Direction = Callable[[list, list], list]


def progress_enabled(progress: bool | None, work: int) -> bool:
    """Whether to show a tqdm bar: explicit ``progress`` wins; otherwise on for long runs unless
    the environment variable ``DLNLIB_PROGRESS=0`` (set by the test suite and notebook runner)."""
    if progress is not None:
        if not isinstance(progress, bool):
            raise ValueError(f"progress: got {progress!r}, expected True, False or None (automatic)")
        return progress
    check_int("work", work, minimum=0)
    return os.environ.get("DLNLIB_PROGRESS", "1") != "0" and work >= 200_000


def _progress_bar(progress, steps: int, n_trials: int):
    """A tqdm bar over ``steps`` when ``progress_enabled``, else None."""
    if not progress_enabled(progress, steps * max(1, n_trials)):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=steps, desc="gradient descent", leave=False)


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


def _names_tuple(name: str, value) -> tuple:
    """A tuple of names from one name or an iterable of names; ValueError naming ``name`` otherwise."""
    if isinstance(value, str):
        return (value,)
    try:
        names = tuple(value)
    except TypeError:
        raise ValueError(f"{name}: got {value!r}, expected a name or a list of names") from None
    for v in names:
        if not isinstance(v, str):
            raise ValueError(f"{name}: got {v!r} in the list, expected names (strings)")
    return names


def _n_trials(chain, lr) -> int:
    """How many trials the chain and learning rate make (before the loss's own batch is counted)."""
    shapes = [w.shape[:-2] for w in chain] + [lr.shape if isinstance(lr, torch.Tensor) else ()]
    try:
        return torch.broadcast_shapes(*shapes).numel()
    except RuntimeError:
        return 1  # (the shapes are refused with their reason later)


def _blowup_limit(value: torch.Tensor, blowup: float) -> torch.Tensor:
    """Each trial's divergence threshold: ``blowup * max(initial loss, 1)`` (1 for a non-finite initial loss)."""
    return blowup * torch.clamp(torch.where(torch.isfinite(value), value, torch.ones_like(value)), min=1.0)


def _stop_steps(active: torch.Tensor, diverged: torch.Tensor, age: torch.Tensor) -> tuple:
    """``(stopped_at, diverged_at)`` from the trials' final status and their count of updates, -1 where not."""
    minus = torch.full_like(age, -1)
    return torch.where(~active & ~diverged, age, minus), torch.where(diverged, age, minus)


def _lr_tensor(lr, like: torch.Tensor) -> torch.Tensor:
    if isinstance(lr, torch.Tensor):
        check_positive("lr", lr)
        return lr.to(device=like.device, dtype=like.dtype)
    check_positive("lr", lr)
    return torch.tensor(float(lr), device=like.device, dtype=like.dtype)


class _EverySteps:
    """Steps 0, every, 2 every, ... and the last step, as a membership test (no set of 10^9 numbers is built)."""

    def __init__(self, every: int, last: int):
        self.every, self.last = every, last

    def __contains__(self, s) -> bool:
        return s == self.last or (0 <= s <= self.last and s % self.every == 0)


def _record_steps(steps: int, record_every, record_steps):
    if record_steps is not None:
        if isinstance(record_steps, (str, bytes)) or not hasattr(record_steps, "__iter__"):
            raise ValueError(f"record_steps: got {type(record_steps).__name__}, expected a list of step numbers")
        out = set()
        for s in record_steps:
            s = check_int("record_steps", int(s) if isinstance(s, (np.integer,)) else s, minimum=0)
            out.add(s)
        return out
    every = check_int("record_every", record_every, minimum=1)
    return _EverySteps(every, steps)




_BUILTIN_RECORDS = ("loss", "end_to_end", "singular_values", "chain")
# Steps between two host looks. A look costs one synchronisation; between looks every decision
# (stop, divergence, freezing) is a tensor operation, so the loop never waits for the device.
CHUNK = 64


class _Run:
    """The state of one ``gradient_descent`` call and its named steps.

    Working set (tensors over the trials still in the batch; flattened to ``(n,)`` when compacting):
    ``chain``, ``value``, ``grads``, ``active`` (not yet stopped or diverged), ``age`` (updates applied:
    the stop or divergence step once a trial is inactive), ``diverged``, ``step_lr``, ``limit``, and
    ``idx`` (their positions in the full batch). Every update is out of place, so a shallow copy of
    the working set (``save``) is a snapshot. The full batch keeps trials that left the working set.
    """

    def __init__(self, chain, loss, lr, *, tol, blowup, weight_decay, direction, record, callbacks, rec_at):
        self.tol, self.weight_decay, self.direction = tol, weight_decay, direction
        self.record_names, self.callbacks, self.rec_at = record, callbacks, rec_at
        ref = chain[0]
        lr_t = _lr_tensor(lr, ref)
        value, grads = loss._chain_value_and_grads(chain)
        try:
            batch = torch.broadcast_shapes(value.shape, lr_t.shape, *(w.shape[:-2] for w in chain))
        except RuntimeError as exc:
            raise ValueError(
                f"lr: shape {tuple(lr_t.shape)} does not broadcast against the trials' batch shape"
                f" {tuple(value.shape)}"
            ) from exc
        if batch != value.shape or any(w.shape[:-2] != batch for w in chain):
            chain = [w.expand(*batch, *w.shape[-2:]).clone() for w in chain]
            value, grads = loss._chain_value_and_grads(chain)
        lr_b = lr_t.expand(batch)
        self.batch, self.n_trials = batch, value.numel()
        # Working set: once most trials have stopped, the rest continue as a smaller batch. Only for
        # losses that can restrict their per-trial data (``supports_take``); results are unchanged.
        self.compacting = tol is not None and self.n_trials > 1 and getattr(loss, "supports_take", False)
        self.idx = None
        if self.compacting:
            n = self.n_trials
            self.idx = torch.arange(n, device=ref.device)
            chain, lr_b = [w.reshape(n, *w.shape[-2:]) for w in chain], lr_b.reshape(n)
            loss = self.full_loss = loss.take(self.idx, batch)
            value, grads = loss._chain_value_and_grads(chain)
        self.loss, self.chain, self.value, self.grads = loss, chain, value, grads
        self.lr, self.step_lr = lr_b, lr_b[..., None, None]
        self.limit = _blowup_limit(value, blowup)
        self.active = torch.ones(value.shape, dtype=torch.bool, device=ref.device)
        self.age = torch.zeros(value.shape, dtype=torch.long, device=ref.device)
        self.diverged = torch.zeros_like(self.active)
        self.prev = None
        self.vmax = value
        self.none_diverged = True
        if self.compacting:
            self.full = dict(chain=[w.clone() for w in chain], value=value.clone(), age=self.age.clone(),
                             diverged=self.diverged.clone(), active=self.active.clone())
        self.hist = {k: [] for k in ("loss", *record, *callbacks)}
        self.rec_steps: list[int] = []
        self.info = {"looks": 0, "replays": 0, "compactions": 0}

    _WORKING = ("chain", "value", "grads", "active", "age", "diverged", "prev", "vmax")

    def save(self) -> tuple:
        """A snapshot of the working set (its tensors are never changed in place)."""
        return tuple(getattr(self, k) for k in self._WORKING)

    def restore(self, saved) -> None:
        """Back to a ``save``d snapshot."""
        for k, v in zip(self._WORKING, saved):
            setattr(self, k, v)

    def forget_records(self, n_rec: int) -> None:
        """Keep only the first ``n_rec`` records."""
        del self.rec_steps[n_rec:]
        for vals in self.hist.values():
            del vals[n_rec:]

    def update(self, masked: bool) -> None:
        """One gradient step ``W_j <- W_j - lr (D_j + weight_decay W_j)`` on the active trials, then the
        loss and gradients of the new chain. ``masked=False`` when the host knows every trial is active."""
        dirs = self.grads if self.direction is None else self.direction(self.chain, self.grads)
        if self.weight_decay:
            dirs = [d + self.weight_decay * w for w, d in zip(self.chain, dirs)]
        new = [torch.addcmul(w, self.step_lr, d, value=-1.0) for w, d in zip(self.chain, dirs)]
        if masked:
            m = self.active[..., None, None]
            new = [torch.where(m, n, w) for n, w in zip(new, self.chain)]
        self.prev = (self.chain, self.value, self.grads)
        self.chain = new
        self.value, self.grads = self.loss._chain_value_and_grads(new)

    def check(self) -> None:
        """Fast check after a step, on the device: trials at ``loss <= tol`` (or NaN) stop being updated,
        and the running maximum of the loss is kept so that the look can tell whether a trial blew up.
        A stopped trial's chain, hence its loss, no longer changes, so while no working trial has
        diverged, ``loss > tol`` alone says which trials are live."""
        if self.tol is not None:
            live = self.value > self.tol
            self.active = live if self.none_diverged else self.active & live
        self.vmax = torch.maximum(self.vmax, self.value)

    def check_exactly(self) -> None:
        """Careful check, on the device: a trial whose loss is non-finite or above its blow-up limit is
        marked diverged and put back to its last finite iterate; a trial at ``loss <= tol`` stops."""
        v = self.value
        bad = self.active & ~(torch.isfinite(v) & (v <= self.limit))
        self.diverged = self.diverged | bad
        self.active = self.active & ~bad
        if self.prev is not None:
            m = bad[..., None, None]
            chain, value, grads = self.prev
            self.chain = [torch.where(m, p, w) for p, w in zip(chain, self.chain)]
            self.value = torch.where(bad, value, v)
            if self.direction is not None:  # a direction sees every trial's gradient
                self.grads = [torch.where(m, p, g) for p, g in zip(grads, self.grads)]
        if self.tol is not None:
            self.active = self.active & ~(self.value <= self.tol)
        self.vmax = self.value

    def look(self) -> tuple[int, bool]:
        """The host's one synchronisation per chunk: live trials, and whether a live trial's loss left
        its limits (non-finite or blow-up) since the last look."""
        self.info["looks"] += 1
        blew = ~(self.vmax <= self.limit) & ~self.diverged
        n_active, n_blew, n_div = torch.stack([self.active.sum(), blew.sum(), self.diverged.sum()]).tolist()
        self.none_diverged = not n_div
        return int(n_active), bool(n_blew)

    def advance(self, t: int, stop: int, all_active: bool, exact: bool) -> int:
        """Steps ``t -> stop`` with checks and records, then a look; returns the live trials. Fast steps
        first; if a trial blew up inside, the same steps again from a snapshot with exact checks."""
        saved = None if exact else self.save()
        masked = exact or not all_active or self.tol is not None  # else no trial can stop before the look
        pending = []  # (step, working set) to record once the look has passed the chunk
        moved = []  # the masks of the updates: their sum is what each trial's age grows by
        for s in range(t + 1, stop + 1):
            moved.append(self.active)
            self.update(masked)
            self.check_exactly() if exact else self.check()
            if s in self.rec_at:
                pending.append((s, self.working()))
        self.age = self.age + (torch.stack(moved).sum(0) if masked else stop - t)
        n_active, blew = self.look()
        if blew and not exact:
            self.info["replays"] += 1
            self.restore(saved)
            return self.advance(t, stop, all_active, exact=True)
        for s, state in pending:
            self.record(s, state)
        return n_active

    def compact(self) -> None:
        """Drop the inactive trials from the working set (their state is kept in the full batch)."""
        self.info["compactions"] += 1
        self.full_state()
        keep = self.active.nonzero().squeeze(1)
        self.idx, self.lr, self.limit = self.idx[keep], self.lr[keep], self.limit[keep]
        self.step_lr = self.lr[..., None, None]
        self.active, self.age, self.diverged = self.active[keep], self.age[keep], self.diverged[keep]
        self.chain = [w[keep] for w in self.chain]
        self.loss = self.full_loss.take(self.idx, (self.n_trials,))
        self.value, self.grads = self.loss._chain_value_and_grads(self.chain)
        self.vmax, self.prev = self.value, None

    def working(self) -> dict:
        """The working set's chain, loss and trial status (references, not copies)."""
        return dict(chain=self.chain, value=self.value, age=self.age, diverged=self.diverged, active=self.active)

    def full_state(self, state: dict | None = None) -> dict:
        """The full batch with the working trials (now, or as in ``state``) written back into it, in the
        trials' batch shape."""
        state = state or self.working()
        if self.idx is None:
            return state
        f = self.full
        for fw, w in zip(f["chain"], state["chain"]):
            fw[self.idx] = w
        for k in ("value", "age", "diverged", "active"):
            f[k][self.idx] = state[k]
        b = self.batch
        return dict(chain=[fw.reshape(*b, *fw.shape[-2:]) for fw in f["chain"]],
                    **{k: f[k].reshape(b) for k in ("value", "age", "diverged", "active")})

    def record(self, s: int, state: dict | None = None) -> None:
        """Append step ``s`` (the working set now, or ``state``) to the history; the loss of a diverged
        trial shows as NaN. No host sync."""
        full = self.full_state(state)
        chain, value = full["chain"], full["value"]
        self.rec_steps.append(s)
        self.hist["loss"].append(torch.where(full["diverged"], torch.full_like(value, float("nan")), value).detach())
        names = self.record_names
        w_end = _product(chain) if ("end_to_end" in names or "singular_values" in names) else None
        if "end_to_end" in names:
            self.hist["end_to_end"].append(w_end.detach().clone())
        if "singular_values" in names:
            self.hist["singular_values"].append(torch.linalg.svdvals(w_end).detach())
        if "chain" in names:
            self.hist["chain"].append([w.detach().clone() for w in chain])
        for name, fn in self.callbacks.items():
            self.hist[name].append(torch.as_tensor(fn(chain)).detach().clone())

    def stop(self, n_steps: int) -> None:
        """End of the run at step ``n_steps``: records made after it go (every trial was frozen then),
        and ``n_steps`` itself is recorded."""
        self.forget_records(sum(1 for r in self.rec_steps if r <= n_steps))
        if not self.rec_steps or self.rec_steps[-1] != n_steps:
            self.record(n_steps)

    def result(self, n_steps: int) -> TrainResult:
        """The ``TrainResult`` of the run."""
        full = self.full_state()
        stopped_at, diverged_at = _stop_steps(full["active"], full["diverged"], full["age"])
        history = {}
        for name, vals in self.hist.items():
            if name == "chain":
                history[name] = [torch.stack([v[j] for v in vals]) for j in range(len(full["chain"]))]
            else:
                history[name] = torch.stack(vals)
        return TrainResult(
            chain=full["chain"],
            steps=torch.tensor(self.rec_steps, dtype=torch.long),
            history=history,
            stopped_at=stopped_at,
            diverged_at=diverged_at,
            final_loss=full["value"].detach(),
            n_steps=n_steps,
            tol=self.tol,
            info=self.info,
        )


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
    engine: str = "auto",
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

    The host looks at the run every ``CHUNK`` steps; between looks, stopping and freezing are tensor
    operations. A trial that blows up inside a chunk sends the chunk back to its start, to be run
    again with exact per-step checks (with a ``direction``, which may keep state, every step is exact).

    engine: ``"auto"`` runs the compiled loop of ``dlnlib.kernels`` where it gives the torch engine's numbers bit
    for bit (CPU, no direction or callbacks, ``DiagonalCompletion`` or ``SquaredError`` on small layers;
    ``kernels.plan`` says why not otherwise) and where it pays: once it is loaded in the process, or for a run
    long enough to cover loading it (``kernels.worth_it``); the torch engine everywhere else. The results are the
    same either way. ``"torch"`` always runs the torch engine; ``"compiled"`` insists on the compiled loop (a
    ValueError says why it cannot run).
    """
    chain = [w.clone() for w in validate_chain(chain, finite=True)]
    if not isinstance(loss, Loss):
        raise ValueError(f"loss: got {type(loss).__name__}, expected a dlnlib.losses.Loss")
    loss.check_fits(chain)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS,
                      why=" (about an hour of tiny steps); run in parts, passing the returned chain to the next call")
    if tol is not None:
        check_positive("tol", tol, allow_tensor=False)
    check_nonneg("weight_decay", weight_decay)
    check_positive("blowup", blowup, allow_tensor=False)
    record = _names_tuple("record", record)
    for name in record:
        if name not in _BUILTIN_RECORDS:
            raise ValueError(f"record: got {name!r}, expected names from {_BUILTIN_RECORDS}")
    if callbacks is not None and not isinstance(callbacks, dict):
        raise ValueError(f"callbacks: got {type(callbacks).__name__}, expected a dict name -> fn(chain)")
    callbacks = dict(callbacks or {})
    for name, fn in callbacks.items():
        if not isinstance(name, str):
            raise ValueError(f"callbacks: got the key {name!r}, expected names (strings)")
        if not callable(fn):
            raise ValueError(f"callbacks: {name!r} is {type(fn).__name__}, expected a callable fn(chain)")
    if direction is not None and not callable(direction):
        raise ValueError(f"direction: got {type(direction).__name__}, expected a callable (chain, grads) -> list")
    rec_at = _record_steps(steps, record_every, record_steps)
    check_choice("engine", engine, ("auto", "torch", "compiled"))
    from . import kernels  # (imports numba: only when a run starts)

    why = "engine='torch' was asked for" if engine == "torch" else kernels.plan(
        chain, loss, lr, direction=direction, callbacks=callbacks)
    if why is None and engine == "auto" and not kernels.worth_it(_n_trials(chain, lr), steps, chain[0].dtype):
        why = "a short run (loading the compiled loop would take longer than the torch engine)"
    if why is None:
        return kernels.descend(chain, loss, lr, steps=steps, tol=tol, blowup=blowup, weight_decay=weight_decay,
                               record=record, rec_at=rec_at, progress=progress)
    if engine == "compiled":
        raise ValueError(f"engine: the compiled loop cannot run this call: {why}; use engine='auto' or 'torch'")
    run = _Run(chain, loss, lr, tol=tol, blowup=blowup, weight_decay=weight_decay, direction=direction,
               record=record, callbacks=callbacks, rec_at=rec_at)
    bar = _progress_bar(progress, steps, run.n_trials)
    run.check_exactly()  # step 0: a trial that starts non-finite or at loss <= tol never moves
    if 0 in rec_at:
        run.record(0)
    n_active, _ = run.look()
    t = 0
    while n_active and t < steps:
        if run.compacting and 2 * n_active <= run.value.numel() and run.value.numel() > 8:
            run.compact()
        stop = min(t + CHUNK, steps)
        n_active = run.advance(t, stop, all_active=n_active == run.value.numel(), exact=direction is not None)
        if bar is not None:
            bar.update(stop - t)
        t = stop
    if bar is not None:
        bar.close()
    if not n_active and run.n_trials:  # the run ended when the last trial stopped or diverged
        t = int(run.full_state()["age"].max())
    run.stop(t)
    return run.result(t)


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
    max_evals: int = 50_000,
) -> FlowResult:
    """Gradient flow ``dW_j/dt = -dL/dW_j`` (or ``-direction(chain, grads)[j]``), solved with scipy.

    The continuous-time limit of ``gradient_descent``: time t corresponds to t / lr steps
    (the series' convention tau = 1, t = eta k; notebook 01). chain: ``[W_1, ..., W_N]`` (any batch
    shape); times: increasing 1-D array starting at the initial time. The state is integrated in float64 by
    ``scipy.integrate.solve_ivp`` at tight tolerances; gradients are evaluated on the chain's device.
    method: one of solve_ivp's methods. max_evals: a cap on gradient evaluations, so that a flow that blows up
    or a time span far beyond convergence ends with a ValueError saying what to change instead of running for
    minutes; a flow that leaves float64's range is a ValueError too.
    """
    chain = validate_chain(chain, finite=True)
    if not isinstance(loss, Loss):
        raise ValueError(f"loss: got {type(loss).__name__}, expected a dlnlib.losses.Loss")
    loss.check_fits(chain)
    check_ode_options(rtol, atol, method, max_evals)  # also when no solve is needed (a single time)
    if direction is not None and not callable(direction):
        raise ValueError(f"direction: got {type(direction).__name__}, expected a callable (chain, grads) -> list")
    ts = time_grid(times)
    shapes = [w.shape for w in chain]
    sizes = [w.numel() for w in chain]
    dev, dt = chain[0].device, chain[0].dtype

    def unflatten(y):
        parts = np.split(y, np.cumsum(sizes)[:-1])
        return [torch.from_numpy(np.ascontiguousarray(p)).reshape(s).to(dev, dt) for p, s in zip(parts, shapes)]

    def rhs(_t, y):
        c = unflatten(y)
        _, g = loss._chain_value_and_grads(c)
        d = g if direction is None else direction(c, g)
        return -np.concatenate([x.detach().reshape(-1).to("cpu", torch.float64).numpy() for x in d])

    y0 = np.concatenate([w.detach().to("cpu", torch.float64).reshape(-1).numpy() for w in chain])
    if ts.size == 1:
        sol_y = y0[:, None]
        nfev = 0
    else:
        sol_y, nfev = solve_ode(rhs, (ts[0], ts[-1]), y0, ts, rtol=rtol, atol=atol, method=method,
                                max_evals=max_evals, what="times")
    per_time = [unflatten(sol_y[:, k].copy()) for k in range(sol_y.shape[1])]
    chains = [torch.stack([c[j] for c in per_time]) for j in range(len(chain))]
    losses = torch.stack([loss._chain_value_and_grads(c)[0] for c in per_time])
    return FlowResult(times=torch.from_numpy(ts), chains=chains, losses=losses, nfev=int(nfev))
