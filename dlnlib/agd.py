"""Aligned Gradient Descent (AGD) and the shallow GD baseline for scalar regression; notebook 05.

Source: "Faster gradient descent in deep linear networks: the advantage of depth" (the AGD paper,
Sections 2-4, Algorithm 1, Theorem 1). Conventions of this module:

- data: ``X`` of shape ``(n, d)`` (rows are samples) and ``y`` of shape ``(n,)``. The paper writes
  ``X`` as ``d x n``, so its ``X^T X`` (an ``n x n`` matrix) is our ``X X^T``;
- loss: ``L = 1/(2n) sum_i (yhat_i - y_i)^2`` (the paper's normalisation, also dlnlib's);
- errors: ``E = y - Yhat`` (target minus output, as in the paper's Definition 2), shape ``(n,)``;
- the AGD network has width 1: ``Theta^(1)`` is a row of ``d`` weights, ``Theta^(2..L)`` are scalars
  ("scales"), and the effective parameter is ``Theta^(1:L) = Theta^(2:L) Theta^(1)`` (shape ``(d,)``).

Every run function takes a learning rate that may be a tensor; its shape is the batch of independent
trials, and all results carry that batch shape after their own leading dimensions.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import torch

from .chains import init_chain, validate_chain
from .core import (
    MAX_DEPTH,
    MAX_STEPS,
    as_tensor,
    check_choice,
    check_finite_result,
    check_int,
    check_nonneg,
    check_positive,
    check_size,
    make_generator,
)
from .losses import SquaredError
from .train import gradient_descent

__all__ = [
    "RegressionRun",
    "INITS",
    "output_kernel",
    "kernel_eigenvalues",
    "optimal_lr",
    "effective_spectral_radius",
    "solution_outputs",
    "shallow_gd",
    "aligned_gd",
    "deep_gd",
    "first_layer_step",
    "round_robin",
    "iterations_to",
    "select_lr",
    "theorem1_check",
    "layer_kernels",
    "gd_step_spectra",
    "agd_step_spectra",
    "scalar_chain",
    "scalar_flow_steps",
    "lp_error_recursion",
    "lp_predicted_steps",
    "count_operations",
    "seconds_per_iteration",
    "count_spikes",
    "local_maxima",
    "random_problems",
    "race_agd_gd",
    "shallow_loss_after",
    "search_counterexamples",
]

INITS = ("normal", "he", "xavier", "agd")


# --------------------------------------------------------------------------- data and spectra


def _matrix(X) -> torch.Tensor:
    # the data matrix X: (n, d), n >= 1 samples as rows, d >= 1 features, finite
    X = as_tensor("X", X)
    if X.ndim != 2:
        raise ValueError(f"X: got shape {tuple(X.shape)}, expected (n, d) with samples as rows")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"X: got shape {tuple(X.shape)}, expected n >= 1 samples and d >= 1 features")
    return X


def _data(X, y) -> tuple[torch.Tensor, torch.Tensor]:
    X = _matrix(X)
    y = as_tensor("y", y)
    if y.ndim != 1:
        raise ValueError(f"y: got shape {tuple(y.shape)}, expected (n,) (one scalar target per sample)")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"y: got {y.shape[0]} targets but X has {X.shape[0]} rows; expected one target per sample")
    return X, y.to(X.device)


def _lr(lr, like: torch.Tensor) -> torch.Tensor:
    if isinstance(lr, torch.Tensor):
        return check_positive("lr", as_tensor("lr", lr, device=like.device, dtype=like.dtype))
    check_positive("lr", lr, allow_tensor=False)
    return torch.tensor(float(lr), device=like.device, dtype=like.dtype)


def output_kernel(X) -> torch.Tensor:
    """``K = X X^T / n``, the matrix of the shallow error recursion ``E_{t+1} = (I - eta K) E_t`` (Eq. 1).

    X: (n, d). Returns (n, n); its nonzero eigenvalues are those of ``Sigma_xx = X^T X / n``.
    """
    X = _matrix(X)
    return X @ X.T / X.shape[0]


def kernel_eigenvalues(X) -> torch.Tensor:
    """Eigenvalues of ``X X^T / n`` in ascending order (the lambda_i of Definition 1, scaled by 1/n).

    X: (n, d). Returns (n,); when n > d at least n - d of them are zero.
    """
    return torch.linalg.eigvalsh(output_kernel(X))




def _nonzero(lam: torch.Tensor) -> torch.Tensor:
    # Eigenvalues below this floor are zero up to rounding (Definition 1's "lambda_i != 0").
    floor = lam.abs().max() * lam.shape[-1] * torch.finfo(lam.dtype).eps * 10
    live = lam[lam > floor]
    if live.numel() == 0:
        raise ValueError("X: got X = 0 (X X^T / n has no nonzero eigenvalue), expected data with a nonzero entry")
    return live


def optimal_lr(X) -> float:
    """``eta* = 2 / (lambda_max + lambda_min^eff)`` for shallow GD (Section 2, "Choice of learning rate").

    X: (n, d); the lambdas are the eigenvalues of ``X X^T / n``, lambda_min^eff the smallest nonzero one.
    """
    lam = _nonzero(kernel_eigenvalues(X))
    return float(2.0 / (lam.max() + lam.min()))


def effective_spectral_radius(X, lr) -> torch.Tensor:
    """``rho^eff(I - eta X X^T / n) = max over nonzero lambda_i of |1 - eta lambda_i|`` (Definition 1).

    X: (n, d); lr: float or tensor of any shape. Returns a tensor of lr's shape.
    """
    lam = _nonzero(kernel_eigenvalues(X))
    lr_t = _lr(lr, lam)
    return check_finite_result("lr", (1.0 - lr_t[..., None] * lam).abs().amax(-1), what="rho^eff")


def solution_outputs(X, y) -> torch.Tensor:
    """``Y*^sol``, the projection of y onto the column span of X (Definition 2); equals y when X X^T is invertible.

    X: (n, d); y: (n,). Returns (n,).
    """
    X, y = _data(X, y)
    return X @ (torch.linalg.pinv(X) @ y)


# --------------------------------------------------------------------------- results


@dataclass
class RegressionRun:
    """What ``shallow_gd``, ``aligned_gd`` and ``deep_gd`` return; ``B`` is the batch shape of the trials.

    losses: (steps + 1, *B), ``losses[0]`` at initialisation, ``1/(2n) sum (yhat - y)^2``; entries from a
        trial's divergence on are NaN (as in ``TrainResult.history``), and ``diverged_at`` says where.
    diverged_at: (*B,) step at which the loss became non-finite or exploded, -1 if never.
    weights: (*B, d) final effective parameter ``Theta^(1:L)``; chain: final ``[W_1 (*B, w, d), ...]``.
    history: optional records: ``"weights"`` (steps + 1, *B, d); for AGD also ``"scales"`` (steps + 1, *B, L - 1)
        with them; ``"outputs"`` (steps, L + 1, *B, n), the
        outputs ``Yhat_{t + l/L}`` at every AGD sub-step l = 0..L of iteration t; ``"chain"`` (engine runs).
    """

    method: str
    depth: int
    lr: torch.Tensor
    losses: torch.Tensor
    diverged_at: torch.Tensor
    weights: torch.Tensor
    chain: list
    history: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.losses.shape[0] - 1

    @property
    def diverged(self) -> torch.Tensor:
        return self.diverged_at >= 0

    @property
    def final_loss(self) -> torch.Tensor:
        return self.losses[-1]

    def iterations_to(self, tol: float) -> torch.Tensor:
        """First step with loss <= tol, per trial (-1 if never); shape (*B,)."""
        return iterations_to(self.losses, tol)

    def summary(self) -> str:
        """One line: method, depth, trials, divergences."""
        n_div = int(self.diverged.sum())
        return (f"{self.method} (depth {self.depth}): {self.diverged_at.numel()} trial(s), {self.steps} steps, "
                f"{n_div} diverged")


def iterations_to(losses, tol: float) -> torch.Tensor:
    """Index of the first entry of ``losses`` (along dim 0) that is <= tol, -1 where none is.

    losses: (T, *B). Returns a long tensor of shape (*B,). NaN entries never count.
    """
    if not isinstance(losses, torch.Tensor) or losses.ndim < 1:
        raise ValueError(f"losses: got {type(losses).__name__}, expected a tensor of shape (T, *B)")
    if losses.is_complex() or losses.shape[0] == 0:
        raise ValueError(f"losses: got {losses.dtype} of shape {tuple(losses.shape)}, expected real numbers of shape "
                         "(T, *B) with T >= 1")
    check_positive("tol", tol, allow_tensor=False)
    hit = losses <= tol
    first = hit.to(torch.int8).argmax(0)
    return torch.where(hit.any(0), first, torch.full_like(first, -1))


def _pad(losses: torch.Tensor, steps: int) -> torch.Tensor:
    # The engine stops early once every trial diverged; those trials' later losses are NaN anyway.
    missing = steps + 1 - losses.shape[0]
    if missing <= 0:
        return losses
    filler = torch.full((missing, *losses.shape[1:]), float("nan"), dtype=losses.dtype, device=losses.device)
    return torch.cat([losses, filler])


# --------------------------------------------------------------------------- shallow and deep GD (the engine)


def shallow_gd(X, y, *, lr, steps: int, record_weights: bool = False, blowup: float = 1e8,
               start=None) -> RegressionRun:
    """Gradient descent on the shallow model ``yhat = theta . x`` from theta = 0 (Proposition 1), via the engine.

    X: (n, d); y: (n,); lr: float or tensor (one learning rate per trial, any shape B); steps: updates.
    start: the initial theta instead of 0, (d,) or (*B', d) with B' broadcasting against lr's shape (the batch
    is then the broadcast of both); None (the default) is theta = 0.
    Divergence (any eta > 2 / lambda_max of ``X X^T / n``) is reported in ``diverged_at``.
    Returns a ``RegressionRun`` with losses (steps + 1, *B) and weights (*B, d).
    """
    X, y = _data(X, y)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    lr_t = _lr(lr, X)
    if start is None:
        chain = init_chain([X.shape[1], 1], "zero", device=X.device, dtype=X.dtype)
    else:
        theta0 = _start(start, X)
        _batch("start, lr", theta0.shape[:-1], lr_t.shape)
        chain = [theta0[..., None, :].clone()]
    record = ("loss", "end_to_end") if record_weights else ("loss",)
    res = gradient_descent(chain, SquaredError(X, y[:, None]), lr=lr_t, steps=steps, record=record,
                           blowup=blowup, progress=False)
    history = {}
    if record_weights:
        history["weights"] = res.history["end_to_end"][..., 0, :]
    return RegressionRun("shallow GD", 1, lr_t, _pad(res.losses, steps), res.diverged_at,
                         res.chain[0][..., 0, :], res.chain, history)


def _start(start, X: torch.Tensor) -> torch.Tensor:
    # a starting parameter: finite, (d,) or (*B, d), on X's device and dtype
    theta0 = as_tensor("start", start, device=X.device, dtype=X.dtype, ndim_min=1)
    if theta0.shape[-1] != X.shape[1] or theta0.numel() == 0:
        raise ValueError(f"start: got shape {tuple(theta0.shape)}, expected (d,) or (*B, d) with d = {X.shape[1]} "
                         "(one weight per column of X) and at least one start")
    check_size("start", theta0.shape)
    return theta0


def _standard_chain(dims, init: str, trials: int, gen) -> list[torch.Tensor]:
    if init == "agd":
        return [torch.zeros(trials, dims[1], dims[0], dtype=torch.float64)] + [
            torch.ones(trials, dims[j + 1], dims[j], dtype=torch.float64) for j in range(1, len(dims) - 1)
        ]
    chain = []
    for j in range(len(dims) - 1):
        fan_in, fan_out = dims[j], dims[j + 1]
        std = {"normal": 1.0, "he": math.sqrt(2.0 / fan_in), "xavier": math.sqrt(2.0 / (fan_in + fan_out))}[init]
        chain.append(std * torch.randn(trials, fan_out, fan_in, generator=gen, dtype=torch.float64))
    return chain


def deep_gd(X, y, *, init: str, lr, steps: int, depth: int = 2, width: int = 1, trials: int = 1, seed: int = 0,
            tol: float | None = None, record_chain: bool = False, blowup: float = 1e8) -> RegressionRun:
    """Plain (simultaneous) gradient descent on a deep linear network with a standard initialisation, via the engine.

    The baselines of the AGD paper's Figure 1 (right) and Figure 3. init: "normal" (N(0, 1) entries),
    "he" (N(0, 2/fan_in)), "xavier" (N(0, 2/(fan_in + fan_out))) or "agd" (Theta^(1) = 0, the others 1).
    Network: dims [d, width, ..., width, 1] with ``depth`` layers. X: (n, d); y: (n,).
    lr: float or tensor; the batch is ``broadcast(lr.shape, (trials,))``, e.g. lr of shape (K, 1) gives a
    (K, trials) grid. With ``tol``, a trial that reaches it is frozen (its later losses repeat).
    Returns a ``RegressionRun`` with losses (steps + 1, *B); history["chain"] when ``record_chain``.
    """
    X, y = _data(X, y)
    check_choice("init", init, INITS)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    width = check_int("width", width, minimum=1)
    trials = check_int("trials", trials, minimum=1)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    gen = make_generator(seed=check_int("seed", seed, minimum=0))
    lr_t = _lr(lr, X)
    dims = [X.shape[1]] + [width] * (depth - 1) + [1]
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))  # per trial
    check_size("trials, width, depth", (trials, weights))
    if record_chain:
        check_size("steps (record_chain)", (steps + 1, lr_t.numel(), trials, weights))
    chain = [w.to(X.device, X.dtype) for w in _standard_chain(dims, init, trials, gen)]
    record = ("loss", "chain") if record_chain else ("loss",)
    res = gradient_descent(chain, SquaredError(X, y[:, None]), lr=lr_t, steps=steps, tol=tol, record=record,
                           blowup=blowup, progress=False)
    losses = res.losses
    if losses.shape[0] < steps + 1:  # everyone stopped or diverged: frozen trials keep their loss
        last = torch.where(res.diverged, torch.full_like(losses[-1], float("nan")), losses[-1])
        losses = torch.cat([losses, last.expand(steps + 1 - losses.shape[0], *last.shape)])
    history = {"chain": res.history["chain"]} if record_chain else {}
    w_end = res.chain[0]
    for w in res.chain[1:]:
        w_end = w @ w_end
    return RegressionRun(f"GD ({init} init)", depth, lr_t, losses, res.diverged_at, w_end[..., 0, :],
                         res.chain, history)


def select_lr(run: RegressionRun, lrs, *, tol: float | None = None) -> tuple[float, torch.Tensor]:
    """The best learning rate of a batched run whose first batch dimension indexes ``lrs``.

    With ``tol``: the smallest median (over the remaining trial dimensions) number of iterations to reach
    loss <= tol (a trial that never does counts as infinite); without: the smallest median final loss
    (diverged trials count as infinite). Returns ``(best lr, score per lr)``, scores of shape (K,).
    """
    _check_run(run)
    lrs = check_positive("lrs", as_tensor("lrs", lrs).reshape(-1))
    batch = run.losses.shape[1:]
    if len(batch) < 1 or batch[0] != lrs.numel():
        raise ValueError(f"lrs: got {lrs.numel()} learning rates, expected one per entry of the run's first "
                         f"batch dimension (batch shape {tuple(batch)})")
    if tol is not None:
        it = run.iterations_to(tol).to(torch.float64)
        score = torch.where(it >= 0, it, torch.full_like(it, math.inf))
    else:
        score = torch.where(run.diverged, torch.full_like(run.final_loss, math.inf), run.final_loss)
    score = score.reshape(lrs.numel(), -1).median(-1).values
    if not bool(torch.isfinite(score).any()):
        what = f"reaches loss <= tol = {tol:g} within the run's steps" if tol is not None else "converges"
        raise ValueError(f"{'tol' if tol is not None else 'lrs'}: no learning rate's median trial {what}; expected "
                         "a run in which at least one does (a larger tol, more steps, smaller rates)")
    return float(lrs[int(score.argmin())]), score


# --------------------------------------------------------------------------- Aligned Gradient Descent


def _col(x):
    return x.unsqueeze(-1) if isinstance(x, torch.Tensor) else x


def _dot(a: torch.Tensor, b: torch.Tensor, scalar: bool):
    return (a @ b).item() if scalar else (a * b).sum(-1)


def _first_layer_update(theta1, h, s, X, y, lr, n):
    # Theta^(1) <- Theta^(1) - eta / (Theta^(2:L))^2 grad_{Theta^(1)} L, with the gradient at Theta_t:
    # grad = s/n X^T (s h - y), h = X Theta^(1)^T the hidden feature of every sample.
    grad = _col(s) * ((_col(s) * h - y) @ X) / n
    return theta1 - _col(lr / (s * s)) * grad


def _round_robin_core(thetas: list, hh, hy, n: int, track: bool = False):
    """Layers 2..L of Algorithm 1, one after the other; numbers are floats (one trial) or (*B,) tensors.

    thetas: the scalars [Theta^(2), ..., Theta^(L)]; hh = <h, h>, hy = <h, y> for the hidden feature
    h = X Theta^(1)^T after the layer-1 step (it does not change while layers 2..L move).
    Returns (new thetas, new Theta^(2:L), products) with products[k] = Theta^(2:L) after sub-step k
    when ``track`` (else None).
    """
    # after[k]: product of the layers above layer k, still at their old values (None = empty product)
    after = [None] * len(thetas)
    for k in range(len(thetas) - 1, 0, -1):
        after[k - 1] = _mul(thetas[k], after[k])
    before, new, products = None, [], [] if track else None
    for k, theta in enumerate(thetas):
        others = _mul(before, after[k])  # every other deep layer, at the current iterate
        s = _mul(others, theta)
        grad = _mul((s * hh - hy) / n, others)  # dL/dTheta^(k+2) = 1/n sum_i (s h_i - y_i) h_i * others
        theta = theta - 0.5 * theta * theta * grad
        before = _mul(before, theta)
        new.append(theta)
        if track:
            products.append(_mul(before, after[k]))
    return new, (1.0 if before is None else before), products


def _mul(a, b):
    # product that skips empty factors (None), so counted runs do not count multiplications by one
    if a is None:
        return b
    return a if b is None else a * b


def _check_scales(scales, name="scales") -> torch.Tensor:
    if not isinstance(scales, torch.Tensor) or scales.ndim < 1:
        shape = tuple(scales.shape) if isinstance(scales, torch.Tensor) else type(scales).__name__
        raise ValueError(f"{name}: got {shape}, expected a tensor of shape (*B, L - 1) holding Theta^(2..L)")
    return as_tensor(name, scales, device=scales.device)


def first_layer_step(theta1, scales, X, y, lr) -> torch.Tensor:
    """Algorithm 1, line 3: ``Theta^(1) <- Theta^(1) - eta / (Theta^(2:L))^2 grad_{Theta^(1)} L`` (AGD paper).

    theta1: (*B, d); scales: (*B, L - 1), the deep scalars Theta^(2..L); X: (n, d); y: (n,); lr: float or
    tensor of shape B. Returns the new Theta^(1), (*B, d). In output space this is one shallow GD step (Eq. 4).
    """
    X, y = _data(X, y)
    theta1 = as_tensor("theta1", theta1, ndim_min=1)
    scales = _check_scales(scales)
    if theta1.shape[-1] != X.shape[1]:
        raise ValueError(f"theta1: got shape {tuple(theta1.shape)}, expected (*B, {X.shape[1]}) to match X")
    s = scales.prod(-1)
    lr_t = _lr(lr, X)
    _batch("theta1, scales, lr", theta1.shape[:-1], s.shape, lr_t.shape)
    if bool((s == 0).any()):
        raise ValueError("scales: the product Theta^(2:L) is 0, expected nonzero deep scalars (the layer-1 rate is "
                         "eta / (Theta^(2:L))^2)")
    return check_finite_result("lr, scales", _first_layer_update(theta1, theta1 @ X.T, s, X, y, lr_t, X.shape[0]),
                               what="the layer-1 step (rate eta / (Theta^(2:L))^2)")


def _batch(names: str, *shapes) -> torch.Size:
    """The common batch shape of ``shapes``, or a ValueError naming the arguments whose batches do not fit."""
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError:
        raise ValueError(f"{names}: got batch shapes {', '.join(str(tuple(s)) for s in shapes)}, expected shapes "
                         "that broadcast together") from None


def round_robin(scales, h, y) -> torch.Tensor:
    """Algorithm 1, inner loop: ``Theta^(l) <- Theta^(l) - 1/2 (Theta^(l))^2 dL/dTheta^(l)`` for l = 2..L in turn.

    Each gradient is taken at the current iterate (after the updates of layers 2..l-1), which is what
    Theorem 1's Eq. (6) needs. scales: (*B, L - 1) holding Theta^(2..L); h: (*B, n), the hidden feature
    ``X Theta^(1)^T`` after the layer-1 step; y: (n,). Returns the new scales, (*B, L - 1).
    """
    scales = _check_scales(scales)
    h = as_tensor("h", h, device=scales.device, ndim_min=1)
    y = as_tensor("y", y, device=scales.device)
    if y.ndim != 1 or h.shape[-1] != y.shape[0]:
        raise ValueError(f"h: got shape {tuple(h.shape)} with y of shape {tuple(y.shape)}; expected h (*B, n), y (n,)")
    _batch("scales, h", scales.shape[:-1], h.shape[:-1])
    hh, hy = (h * h).sum(-1), h @ y
    new, _, _ = _round_robin_core(list(scales.unbind(-1)), hh, hy, y.shape[0])
    if not new:
        return scales.clone()
    return torch.stack(torch.broadcast_tensors(*new), -1)


def aligned_gd(X, y, *, depth: int, lr, steps: int, record_outputs: bool = False, record_weights: bool = False,
               blowup: float = 1e8, start=None) -> RegressionRun:
    """Aligned Gradient Descent, Algorithm 1 of the AGD paper, on a width-1 network of ``depth`` layers.

    Initialisation Theta^(1) = 0, Theta^(2..L) = 1. Each iteration: the layer-1 step with rate
    eta / (Theta^(2:L))^2, then layers 2..L in turn, each with rate (Theta^(l))^2 / 2 and its gradient at
    the current iterate. depth = 1 is shallow GD. X: (n, d); y: (n,); lr: float or tensor (batch B of trials).
    start: Theta^(1) at initialisation instead of 0, (d,) or (*B', d) with B' broadcasting against lr's shape
    (the batch is then the broadcast of both); the deep scalars still start at 1, so the effective parameter
    Theta^(1:L) starts at ``start``. None (the default) is the paper's Theta^(1) = 0.
    Returns a ``RegressionRun``: losses (steps + 1, *B); history["outputs"] (steps, L + 1, *B, n) when
    ``record_outputs``; history["weights"] (steps + 1, *B, d) and history["scales"] (steps + 1, *B, L - 1) when
    ``record_weights``.

    Why not ``dlnlib.gradient_descent``: the engine moves every layer at once from gradients taken at one
    iterate, while AGD updates one layer at a time and takes each layer's gradient at the iterate left by
    the previous sub-step, i.e. L sequential gradient evaluations per iteration with per-layer adaptive
    rates. Hence this dedicated loop (tested against a plain per-layer loop). Because the deep layers are
    scalars, their gradients need only <h, h> and <h, y>; with a single trial those L - 1 sub-steps run on
    Python floats (each tiny torch call would cost microseconds of dispatch), with many trials on tensors.
    Divergence is handled like the engine: non-finite or above ``blowup * max(initial loss, 1)`` freezes the
    trial and is reported in ``diverged_at``.
    """
    X, y = _data(X, y)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    check_positive("blowup", blowup, allow_tensor=False)
    lr_t = _lr(lr, X)
    theta0 = None if start is None else _start(start, X)
    batch = lr_t.shape if theta0 is None else _batch("start, lr", theta0.shape[:-1], lr_t.shape)
    scalar = batch == ()
    n, d = X.shape
    check_size("steps", (steps + 1, *batch, (depth + 1) * n if record_outputs else 1,
                         d + depth if record_weights else 1))
    XT = X.T
    lr_v = lr_t.item() if scalar else lr_t
    one = 1.0 if scalar else X.new_ones(batch)
    scales, s = [one] * (depth - 1), one
    if theta0 is None:
        theta1, h = X.new_zeros(*batch, d), X.new_zeros(*batch, n)
        resid = (-y).expand(*batch, n)  # s h - y at the start
        loss0 = float((y @ y) / (2 * n))
        limit = blowup * max(loss0, 1.0)
        losses = [loss0 if scalar else X.new_full(batch, loss0)]
        weights = [X.new_zeros(*batch, d)]
    else:
        theta1 = theta0.expand(*batch, d).clone()
        h = theta1 @ XT
        resid = h - y  # s = 1
        loss0 = _dot(resid, resid, scalar) / (2 * n)
        limit = blowup * (max(loss0, 1.0) if scalar else torch.clamp(loss0, min=1.0))
        losses = [loss0]
        weights = [theta1.clone()]
    diverged_at = torch.full(batch, -1, dtype=torch.long, device=X.device)
    active = torch.ones(batch, dtype=torch.bool, device=X.device)
    outputs, scale_hist = [], [list(scales)]
    for t in range(steps):
        # layer 1: rate eta / s^2 on the gradient s/n X^T (s h - y) taken at Theta_t
        new_theta1 = theta1 - _col(lr_v / s) * (resid @ X) / n
        new_h = new_theta1 @ XT
        # layers 2..L in turn; they only need <h, h> and <h, y> of the new hidden feature
        new_scales, new_s, products = _round_robin_core(scales, _dot(new_h, new_h, scalar),
                                                        _dot(new_h, y, scalar), n, track=record_outputs)
        if not new_scales:
            new_s = one
        new_resid = _col(new_s) * new_h - y
        loss = _dot(new_resid, new_resid, scalar) / (2 * n)
        if record_outputs:
            outputs.append(torch.stack(torch.broadcast_tensors(
                _col(s) * h, _col(s) * new_h, *[_col(p) * new_h for p in products])))
        if scalar:
            if not (math.isfinite(loss) and loss <= limit):
                diverged_at.fill_(t + 1)
                break
            theta1, h, scales, s, resid = new_theta1, new_h, new_scales, new_s, new_resid
        else:
            bad = active & ~(torch.isfinite(loss) & (loss <= limit))
            if bool(bad.any()):
                diverged_at = torch.where(bad, torch.full_like(diverged_at, t + 1), diverged_at)
                active = active & ~bad
            keep = active[..., None]
            theta1 = torch.where(keep, new_theta1, theta1)
            h = torch.where(keep, new_h, h)
            resid = torch.where(keep, new_resid, resid)
            scales = [torch.where(active, a, b) for a, b in zip(new_scales, scales)]
            s = torch.where(active, new_s, s)
            loss = torch.where(diverged_at >= 0, torch.full_like(loss, float("nan")), loss)
        losses.append(loss)
        if record_weights:
            weights.append(_col(s) * theta1)
            scale_hist.append(list(scales))
        if not scalar and not bool(active.any()):
            break
    losses_t = torch.tensor(losses, dtype=X.dtype, device=X.device) if scalar else torch.stack(losses)
    scale_t = _stack_scales(scales, batch, X)
    history = {}
    if record_outputs:
        history["outputs"] = torch.stack(outputs) if outputs else X.new_zeros(0, depth + 1, *batch, n)
    if record_weights:
        history["weights"] = torch.stack(weights)
        history["scales"] = torch.stack([_stack_scales(v, batch, X) for v in scale_hist])
    chain = [theta1[..., None, :]] + [scale_t[..., k, None, None] for k in range(depth - 1)]
    return RegressionRun("AGD", depth, lr_t, _pad(losses_t, steps), diverged_at, _col(s) * theta1, chain, history)


def _stack_scales(scales: list, batch, X) -> torch.Tensor:
    # the deep scalars (floats or (*B,) tensors) as one (*B, L - 1) tensor
    if not scales:
        return X.new_ones(*batch, 0)
    return torch.stack([torch.as_tensor(v, dtype=X.dtype, device=X.device).expand(batch) for v in scales], -1)


# --------------------------------------------------------------------------- Theorem 1


def theorem1_check(X, y, run: RegressionRun) -> dict:
    """Largest deviations from Theorem 1 (Eqs. 4-8) along an ``aligned_gd`` run recorded with ``record_outputs``.

    Returns floats: "eq4" max |E_{t+1/L} - (I - eta X X^T/n) E_t|; "eq6" max |E_{t+l/L} -
    (I - Yhat Yhat^T/(2n)) E_{t+(l-1)/L}| over l = 2..L; "eq7" max increase of ||E^sol|| over one deep
    sub-step (<= 0 means it never grew); "eq5" and "eq8" the max ratios ||E^sol_{t+1/L}|| / (rho^eff ||E^sol_t||)
    and ||E^sol_{t+1}|| / (rho^eff ||E^sol_t||) (<= 1 as claimed), over iterations with ||E^sol_t|| > 1e-8 ||y||.
    All errors are relative to ||y||. Works for one trial (unbatched run).
    """
    X, y = _data(X, y)
    outs = _agd_outputs(run, X)  # (T, L + 1, n)
    n = X.shape[0]
    lr = float(run.lr)
    scale = float(y.norm())
    E = y - outs
    K = output_kernel(X)
    eq4 = (E[:, 1] - E[:, 0] @ (torch.eye(n, dtype=X.dtype, device=X.device) - lr * K).T).abs().max() / scale
    deep = torch.zeros((), dtype=X.dtype)
    if outs.shape[1] > 2:
        yh, e_prev, e_next = outs[:, 1:-1], E[:, 1:-1], E[:, 2:]
        pred = e_prev - yh * (yh * e_prev).sum(-1, keepdim=True) / (2 * n)
        deep = (e_next - pred).abs().max() / scale
    E_sol = solution_outputs(X, y) - outs
    norms = E_sol.norm(dim=-1)  # (T, L + 1)
    grow = (norms[:, 2:] - norms[:, 1:-1]).max() / scale if outs.shape[1] > 2 else torch.tensor(-math.inf)
    rho = float(effective_spectral_radius(X, lr))
    live = norms[:, 0] > 1e-8 * scale  # below, rounding of ~1e-16 ||y|| would blur the ratios
    eq5 = (norms[live, 1] / (rho * norms[live, 0])).max() if bool(live.any()) else torch.tensor(0.0)
    eq8 = (norms[live, -1] / (rho * norms[live, 0])).max() if bool(live.any()) else torch.tensor(0.0)
    return {"eq4": float(eq4), "eq6": float(deep), "eq7": float(grow), "eq5": float(eq5), "eq8": float(eq8)}


def _check_run(run) -> RegressionRun:
    if not isinstance(run, RegressionRun):
        raise ValueError(f"run: got {type(run).__name__}, expected a RegressionRun (from shallow_gd, aligned_gd or "
                         "deep_gd)")
    return run


def _agd_outputs(run, X: torch.Tensor) -> torch.Tensor:
    # the recorded sub-step outputs (T, L + 1, n) of an unbatched aligned_gd run on data with X's n samples
    _check_run(run)
    if "outputs" not in run.history or run.history["outputs"].ndim != 3:
        raise ValueError("run: expected an unbatched aligned_gd run recorded with record_outputs=True")
    outs = run.history["outputs"]
    if outs.shape[-1] != X.shape[0]:
        raise ValueError(f"run: its outputs have n = {outs.shape[-1]} samples but X has {X.shape[0]} rows; expected "
                         "the run of these data")
    return outs


# --------------------------------------------------------------------------- kernels and step spectra (Figure 3)


def layer_kernels(chain, X) -> list[torch.Tensor]:
    """Per-layer tangent kernels ``K^(l)_ij = <d yhat_i / d W_l, d yhat_j / d W_l>`` of a scalar-output chain.

    For output ``yhat = W_L ... W_1 x``: ``K^(l) = ||W_L ... W_{l+1}||^2 F F^T`` with F = X (W_{l-1} ... W_1)^T
    (the paper's K^(1) = (Theta^(2:L))^2 X X^T and, for width 1, K^(2) = h h^T). chain: [W_1 (*B, d_1, d), ...,
    W_L (*B, 1, d_{L-1})]; X: (n, d). Returns one (*B, n, n) tensor per layer. A GD step of rate eta on layer l
    alone moves the errors by ``E <- (I - eta K^(l) / n) E`` to first order.
    """
    chain = validate_chain(chain, finite=True)
    X = as_tensor("X", X, device=chain[0].device, dtype=chain[0].dtype)
    if X.ndim != 2 or X.shape[0] == 0 or chain[0].shape[-1] != X.shape[1] or chain[-1].shape[-2] != 1:
        raise ValueError("chain: expected a scalar-output chain [W_1 (*B, d_1, d), ..., W_L (*B, 1, d_{L-1})] "
                         f"matching X of shape (n, d); got X {tuple(X.shape)}")
    kernels = []
    feats = X  # (n, d_{l-1}) then (*B, n, d_{l-1})
    for l in range(len(chain)):
        top = chain[-1]
        for w in reversed(chain[l + 1:-1]):
            top = top @ w
        top_sq = (top * top).sum((-2, -1)) if l < len(chain) - 1 else torch.ones(chain[-1].shape[:-2],
                                                                                  dtype=X.dtype, device=X.device)
        kernels.append(top_sq[..., None, None] * (feats @ feats.transpose(-1, -2)))
        feats = feats @ chain[l].transpose(-1, -2)
    return kernels


def gd_step_spectra(run: RegressionRun, X, lr: float) -> list[torch.Tensor]:
    """Eigenvalues of ``I - eta K^(l) / n`` along a ``deep_gd`` run recorded with ``record_chain`` (Figure 3).

    Returns one tensor per layer, shape (T, *B, n), ascending. |eigenvalue| > 1 means that layer's step
    amplifies the error in that direction.
    """
    if "chain" not in _check_run(run).history:
        raise ValueError("run: expected a deep_gd run recorded with record_chain=True")
    check_positive("lr", lr, allow_tensor=False)
    X = as_tensor("X", X)
    kernels = layer_kernels(run.history["chain"], X)
    eye = torch.eye(X.shape[0], dtype=X.dtype, device=X.device)
    steps = [check_finite_result("lr", eye - lr * k / X.shape[0], what="I - eta K^(l) / n") for k in kernels]
    return [torch.linalg.eigvalsh(m) for m in steps]


def agd_step_spectra(run: RegressionRun, X) -> list[torch.Tensor]:
    """Eigenvalues of the operators AGD applies to the errors: ``I - eta X X^T / n`` (layer 1, Eq. 4) and
    ``I - Yhat Yhat^T / (2n)`` at each deep sub-step (Eq. 6), along an unbatched run with ``record_outputs``.

    Returns [layer 1 (T, n), layer 2 (T, n), ..., layer L (T, n)], ascending.
    """
    X = _matrix(X)
    outs = _agd_outputs(run, X)
    T, n = outs.shape[0], outs.shape[-1]
    eye = torch.eye(n, dtype=X.dtype, device=X.device)
    first = torch.linalg.eigvalsh(eye - float(run.lr) * output_kernel(X)).expand(T, n)
    spectra = [first]
    for l in range(1, outs.shape[1] - 1):
        yh = outs[:, l]
        spectra.append(torch.linalg.eigvalsh(eye - yh[:, :, None] * yh[:, None, :] / (2 * n)))
    return spectra


def count_spikes(losses, factor: float = 10.0) -> int:
    """Number of separate excursions of a loss curve above ``factor`` times its running minimum (Figure 3).

    losses: (T,). A spike starts where the loss first exceeds factor * (lowest loss so far) and ends when it
    falls back below that level.
    """
    v = as_tensor("losses", losses)
    if v.ndim != 1 or v.numel() == 0:
        raise ValueError(f"losses: got shape {tuple(v.shape)}, expected (T,)")
    check_positive("factor", factor, allow_tensor=False)
    above = v > factor * torch.cummin(v, 0).values
    starts = above[1:] & ~above[:-1]
    return int(starts.sum()) + int(bool(above[0]))


def local_maxima(values, rel: float = 1e-3) -> torch.Tensor:
    """Indices t with values[t-1] < values[t] >= values[t+1] and values[t] > rel * max(values) (Figure 2's phases).

    values: (T,). Returns a long tensor of indices.
    """
    v = as_tensor("values", values)
    if v.ndim != 1 or v.numel() < 3:
        raise ValueError(f"values: got shape {tuple(v.shape)}, expected (T,) with T >= 3")
    check_nonneg("rel", rel)
    mid = v[1:-1]
    peak = (mid > v[:-2]) & (mid >= v[2:]) & (mid > rel * v.max())
    return torch.nonzero(peak).flatten() + 1


# --------------------------------------------------------------------------- Section 3's pitfalls


def scalar_chain(weights) -> list[torch.Tensor]:
    """A chain of 1 x 1 layers from ``weights`` of shape (*B, L): ``[W_1, ..., W_L]``, each (*B, 1, 1).

    The one-dimensional networks of Section 3 (Shamir's plateau, Saxe et al.'s sigmoidal delay).
    """
    w = as_tensor("weights", weights, ndim_min=1)
    if w.shape[-1] < 1:
        raise ValueError(f"weights: got shape {tuple(w.shape)}, expected (*B, L) with L >= 1")
    return [w[..., k, None, None].clone() for k in range(w.shape[-1])]


def scalar_flow_steps(y0: float, depth: int, lr: float, tol: float) -> float:
    """Predicted GD steps for the balanced scalar chain (x = 1, y = 1, every weight y0^(1/L)) to reach loss tol.

    Gradient flow of the product obeys ``dy/dt = L y^(2 - 2/L) (1 - y)`` (Saxe et al. 2014; Section 3.2);
    the time from y0 to ``1 - sqrt(2 tol)`` (loss 1/2 (1 - y)^2 = tol) divided by eta approximates the steps.
    """
    check_positive("y0", y0, allow_tensor=False)
    if not y0 < 1:
        raise ValueError(f"y0: got {y0!r}, expected an initial output in (0, 1)")
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_positive("lr", lr, allow_tensor=False)
    check_positive("tol", tol, allow_tensor=False)
    from scipy.integrate import quad

    y_end = 1.0 - math.sqrt(2.0 * tol)
    if y_end <= y0:
        return 0.0
    # substitute y = exp(u) so the integrand is smooth near small y0
    def rate(u):
        yv = math.exp(u)
        return yv / (depth * yv ** (2.0 - 2.0 / depth) * (1.0 - yv))

    try:
        total, _ = quad(rate, math.log(y0), math.log(y_end), limit=200, epsabs=0, epsrel=1e-10)
    except (ZeroDivisionError, OverflowError):
        total = math.inf
    if not math.isfinite(total / lr):
        raise ValueError(f"y0, lr: got y0 = {y0!r}, lr = {lr!r}; the predicted number of steps overflows float64, "
                         "expected a larger y0 or lr")
    return total / lr


def lp_error_recursion(e0, lr: float, p: float, n: int, steps: int) -> torch.Tensor:
    """Errors of shallow GD on l_p regression with orthonormal-like inputs X = I (Section 3.3, Arora et al. 2018).

    With dlnlib's ``LpLoss`` normalisation 1/(p n) sum |r|^p and X = I_n, each coordinate obeys
    ``e_{t+1} = e_t - eta/n sign(e_t) |e_t|^(p-1)``. e0: (m,) initial errors. Returns (steps + 1, m).
    """
    e = as_tensor("e0", e0, ndim_min=1)
    check_positive("lr", lr, allow_tensor=False)
    _check_p(p)
    n = check_int("n", n, minimum=1)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    check_size("steps", (steps + 1, *e.shape))
    out = [e]
    for _ in range(steps):
        e = e - lr / n * torch.sign(e) * e.abs() ** (p - 1)
        out.append(e)
    return check_finite_result("lr, p", torch.stack(out), what="the recursion (it diverges)")


def _check_p(p) -> None:
    check_positive("p", p, allow_tensor=False)
    if p < 1:
        raise ValueError(f"p: got {p!r}, expected an exponent p >= 1 (an l_p loss)")


def lp_predicted_steps(e0: float, target: float, lr: float, p: float, n: int) -> float:
    """Steps for |e| to fall from e0 to target under ``de/dt = -(eta/n) |e|^(p-1)`` (continuous-time estimate).

    p = 2: ``n/eta ln(e0/target)`` (geometric); p > 2: ``n/((p-2) eta) (target^-(p-2) - e0^-(p-2))`` (sublinear).
    """
    for name, v in (("e0", e0), ("target", target), ("lr", lr)):
        check_positive(name, v, allow_tensor=False)
    _check_p(p)
    n = check_int("n", n, minimum=1)
    if target > e0:
        raise ValueError(f"target: got {target!r}, expected a value <= e0 = {e0!r} (|e| only falls)")
    try:
        if p == 2:
            steps = n / lr * math.log(e0 / target)
        else:
            steps = n / ((p - 2) * lr) * (target ** (2 - p) - e0 ** (2 - p))
    except OverflowError:
        steps = math.inf
    if not math.isfinite(steps):
        raise ValueError(f"p, lr: got p = {p!r}, lr = {lr!r}; the predicted number of steps overflows float64, "
                         "expected a smaller p or a larger lr")
    return steps


# --------------------------------------------------------------------------- Table 1: operations and time


class _Counted:
    """A float that counts the multiplications/divisions and additions/subtractions done with it."""

    __slots__ = ("v", "ops")

    def __init__(self, v, ops):
        self.v, self.ops = float(v), ops

    def _other(self, o):
        return o.v if isinstance(o, _Counted) else float(o)

    def _arith(self, kind, value):
        self.ops[kind] += 1
        return _Counted(value, self.ops)

    def __add__(self, o):
        return self._arith("add", self.v + self._other(o))

    __radd__ = __add__

    def __sub__(self, o):
        return self._arith("add", self.v - self._other(o))

    def __rsub__(self, o):
        return self._arith("add", self._other(o) - self.v)

    def __mul__(self, o):
        return self._arith("mul", self.v * self._other(o))

    __rmul__ = __mul__

    def __truediv__(self, o):
        return self._arith("mul", self.v / self._other(o))

    def __rtruediv__(self, o):
        return self._arith("mul", self._other(o) / self.v)


def _scalar_iteration(theta1, scales, h, X, y, lr):
    """One AGD iteration (one GD step when there are no scales) written per sample and per coordinate,
    as a plain-arithmetic mirror of ``aligned_gd``; h is the cached feature X Theta^(1)^T."""
    n, d = len(X), len(X[0])
    s = None
    for v in scales:
        s = v if s is None else s * v
    resid = [(h[i] if s is None else s * h[i]) - y[i] for i in range(n)]
    grad = [None] * d
    for i in range(n):
        for j in range(d):
            term = resid[i] * X[i][j]
            grad[j] = term if grad[j] is None else grad[j] + term
    rate = lr / n if s is None else lr / (s * n)  # eta / s^2 times the factor s of the gradient, over n
    theta1 = [theta1[j] - rate * grad[j] for j in range(d)]
    h = []
    for i in range(n):
        acc = None
        for j in range(d):
            term = theta1[j] * X[i][j]
            acc = term if acc is None else acc + term
        h.append(acc)
    if scales:
        hh, hy = None, None
        for i in range(n):
            a, b = h[i] * h[i], h[i] * y[i]
            hh, hy = (a, b) if hh is None else (hh + a, hy + b)
        scales, _, _ = _round_robin_core(list(scales), hh, hy, n)
    return theta1, scales, h


_MAX_COUNTED = 10**5
"""The largest n * d whose AGD iteration ``count_operations`` runs on counting numbers."""


def count_operations(d: int, depth: int, n: int = 1, *, seed: int = 0) -> dict:
    """Count the multiplications (divisions included) and additions of one AGD iteration (Table 1 of the AGD paper).

    Runs one iteration of a plain per-sample, per-coordinate implementation on counting numbers, from a
    random state (seeded), with n samples of dimension d; depth = 1 counts a shallow GD step.
    Returns {"mul", "add"} and, for testing, the new "theta1" (d,), "scales" (L - 1,), "h" (n,) and the
    random "start" ``(X, y, theta1, scales)``.
    """
    d = check_int("d", d, minimum=1)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    n = check_int("n", n, minimum=1)
    if n * d > _MAX_COUNTED:
        raise ValueError(f"n, d: got n * d = {n * d:,}, expected at most {_MAX_COUNTED:,} (every product is a Python "
                         "object here: about a second at the bound)")
    gen = make_generator(seed=check_int("seed", seed, minimum=0))
    X = torch.randn(n, d, generator=gen, dtype=torch.float64)
    y = torch.randn(n, generator=gen, dtype=torch.float64)
    theta1 = torch.randn(d, generator=gen, dtype=torch.float64)
    scales = 1.0 + 0.1 * torch.randn(depth - 1, generator=gen, dtype=torch.float64)
    ops = {"mul": 0, "add": 0}

    def c(v):
        return _Counted(v, ops)

    h0 = [c(v) for v in (X @ theta1).tolist()]  # cached from the previous iteration: not counted
    t1, sc, h = _scalar_iteration([c(v) for v in theta1.tolist()], [c(v) for v in scales.tolist()], h0,
                                  X.tolist(), y.tolist(), 0.1)
    mul, add = ops["mul"], ops["add"]
    return {
        "mul": mul, "add": add,
        "theta1": torch.tensor([v.v for v in t1], dtype=torch.float64),
        "scales": torch.tensor([v.v for v in sc], dtype=torch.float64),
        "h": torch.tensor([v.v for v in h], dtype=torch.float64),
        "start": (X, y, theta1, scales),
    }


def seconds_per_iteration(X, y, *, depth: int, lr: float, steps: int = 200, repeats: int = 3) -> float:
    """Median wall-clock seconds per AGD iteration (depth 1: shallow GD in the same loop) over ``repeats`` runs."""
    repeats = check_int("repeats", repeats, minimum=1, maximum=1000)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        aligned_gd(X, y, depth=depth, lr=lr, steps=steps)
        times.append((time.perf_counter() - t0) / max(steps, 1))
    return sorted(times)[len(times) // 2]


# --------------------------------------------------------------------------- Theorem 1 audit: AGD against GD


def random_problems(count: int, n: int, d: int, *, cond: float = 25.0, labels: str = "uniform", seed: int = 0):
    """A batch of random regression problems satisfying Assumption 1 (|y_i| <= 1, rank X = min(n, d)).

    X = U diag(s) V^T with random orthogonal U (n x n), V (d x d) and min(n, d) singular values drawn
    log-uniformly from [1/sqrt(cond), 1], so the nonzero eigenvalues of ``X X^T`` span a ratio of at most
    ``cond``. labels: "uniform" (y_i uniform in [-1, 1]) or "signs" (y_i = +-1, the extreme of Assumption 1).
    Returns X (count, n, d) and y (count, n), float64, reproducible from ``seed``.
    """
    count = check_int("count", count, minimum=1)
    n = check_int("n", n, minimum=1)
    d = check_int("d", d, minimum=1)
    check_positive("cond", cond, allow_tensor=False)
    if not 1 <= cond <= 1e12:
        raise ValueError(f"cond: got {cond!r}, expected a condition number in [1, 1e12] (float64 tells eigenvalues "
                         "apart down to about 1e-14 of the largest)")
    check_choice("labels", labels, ("uniform", "signs"))
    check_size("count, n, d", (count, max(n, d), max(n, d)))
    gen = make_generator(seed=check_int("seed", seed, minimum=0))
    r = min(n, d)
    U = torch.linalg.qr(torch.randn(count, n, n, generator=gen, dtype=torch.float64))[0]
    V = torch.linalg.qr(torch.randn(count, d, d, generator=gen, dtype=torch.float64))[0]
    s = torch.exp(-0.5 * math.log(cond) * torch.rand(count, r, generator=gen, dtype=torch.float64))
    X = (U[..., :r] * s[:, None, :]) @ V[..., :r].transpose(1, 2)
    u = torch.rand(count, n, generator=gen, dtype=torch.float64)
    y = 2 * u - 1 if labels == "uniform" else torch.where(u < 0.5, -1.0, 1.0).to(torch.float64)
    return X, y


def race_agd_gd(X, y, lr, *, depth: int = 2, steps: int, tol: float = 1e-6) -> dict:
    """Shallow GD and AGD (same eta) on a batch of problems, iteration by iteration, in output space.

    Uses Proposition 1 (``E <- (I - eta K) E``) and Theorem 1's Eqs. (4) and (6) (checked against
    ``aligned_gd`` in notebook 05 and the tests), written in the eigenbasis of ``K = X X^T / n``, where the
    layer-1 step is diagonal and the deep steps are rank-one; directions with a zero eigenvalue carry no
    part of ``E^sol`` and are dropped. Cost per iteration: O(B K n), so thousands of problems run at once.

    X: (B, n, d); y: (B, n); lr: (B, R), R learning rates per problem (each must be stable for GD);
    steps: iterations at most; tol: stop criterion ``||E^sol_t||^2 <= tol ||Y^sol||^2`` (the loss minus its
    optimum, relative to its initial value). Returns tensors of shape (B, R): "gd" and "agd" (iterations
    to tol, -1 if not within ``steps``), "agd_above_gd" (True if AGD's ||E^sol_t|| exceeds GD's at some
    iteration t before GD reaches tol), "yhat_sq_over_2n" and "yhat_sq_over_4ysol" (the largest
    ``||Yhat||^2 / (2n)`` and ``||Yhat||^2 / (4 ||Y^sol||^2)`` met by a deep sub-step), and "iterations"
    (int, iterations run).
    """
    X = as_tensor("X", X)
    y = as_tensor("y", y)
    if X.ndim != 3 or y.ndim != 2 or y.shape != X.shape[:2] or X.numel() == 0:
        raise ValueError(f"X, y: got shapes {tuple(X.shape)} and {tuple(y.shape)}, expected (B, n, d) and (B, n), "
                         "none of them 0")
    lr = as_tensor("lr", lr)
    if lr.ndim != 2 or lr.shape[0] != X.shape[0] or lr.shape[1] == 0:
        raise ValueError(f"lr: got shape {tuple(lr.shape)}, expected (B, R) with B = {X.shape[0]} problems")
    check_positive("lr", lr)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    steps = check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    check_positive("tol", tol, allow_tensor=False)
    n = X.shape[1]
    lam, U = torch.linalg.eigh(X @ X.transpose(1, 2) / n)
    floor = lam.abs().amax(-1, keepdim=True) * n * torch.finfo(lam.dtype).eps * 10
    live = lam > floor
    top = lam.amax(-1, keepdim=True)
    if bool((lr * top >= 2).any()):
        raise ValueError("lr: some rate is >= 2 / lambda_max of its problem, expected rates at which GD is stable")
    # coordinates of Y^sol in the eigenbasis (the zero-eigenvalue part of y is not fitted by any model)
    c = torch.where(live, (U.transpose(1, 2) @ y[..., None])[..., 0], torch.zeros_like(lam))
    c = c[:, None, :].expand(-1, lr.shape[1], -1)
    factor = torch.where(live[:, None, :], 1 - lr[..., None] * lam[:, None, :], torch.zeros_like(c))
    ysol_sq = (c * c).sum(-1)
    target = tol * ysol_sq
    e_gd, e_agd = c.clone(), c.clone()
    never = torch.full(lr.shape, -1, dtype=torch.long)
    it_gd, it_agd = never.clone(), never.clone()
    above = torch.zeros(lr.shape, dtype=torch.bool)
    r2n, r4 = torch.zeros(lr.shape, dtype=lam.dtype), torch.zeros(lr.shape, dtype=lam.dtype)
    t = 0
    for t in range(1, steps + 1):
        e_gd = factor * e_gd
        e_agd = factor * e_agd  # Eq. (4)
        for _ in range(depth - 1):  # Eq. (6): E <- E - <Yhat, E>/(2n) Yhat, with <Yhat, E> = <Yhat, E^sol>
            yh = c - e_agd
            yy = (yh * yh).sum(-1)
            r2n = torch.maximum(r2n, yy / (2 * n))
            r4 = torch.maximum(r4, yy / (4 * ysol_sq))
            e_agd = e_agd - ((yh * e_agd).sum(-1) / (2 * n))[..., None] * yh
        sq_gd, sq_agd = (e_gd * e_gd).sum(-1), (e_agd * e_agd).sum(-1)
        above |= (sq_gd > target) & (sq_agd > sq_gd * (1 + 1e-12))  # compared until GD reaches tol
        it_gd = torch.where((it_gd < 0) & (sq_gd <= target), t, it_gd)
        it_agd = torch.where((it_agd < 0) & (sq_agd <= target), t, it_agd)
        if bool((it_gd >= 0).all()) and bool((it_agd >= 0).all()):
            break
    return {"gd": it_gd, "agd": it_agd, "agd_above_gd": above, "yhat_sq_over_2n": r2n,
            "yhat_sq_over_4ysol": r4, "iterations": t}


def shallow_loss_after(X, y, lr, steps: int) -> torch.Tensor:
    """Loss of shallow GD from theta = 0 after ``steps`` steps, in closed form (Proposition 1).

    ``E_t = (I - eta K)^t y`` with K = X X^T / n; in K's eigenbasis every component is multiplied by
    ``(1 - eta lambda_i)^t``. Used to tune GD's rate on a grid at the cost of one eigen-decomposition
    (notebook 05, Figure 4). X: (n, d); y: (n,); lr: float or tensor (any shape). Returns lr's shape.
    """
    X, y = _data(X, y)
    steps = check_int("steps", steps, minimum=0, maximum=MAX_STEPS)
    lr_t = _lr(lr, X)
    lam, U = torch.linalg.eigh(output_kernel(X))
    c = U.T @ y
    decay = (1 - lr_t[..., None] * lam) ** (2 * steps)
    return check_finite_result("lr", (decay * c * c).sum(-1) / (2 * X.shape[0]),
                               what=f"the loss after {steps} steps (GD diverges for lr > 2 / lambda_max = "
                                    f"{2 / float(lam.max()):.4g})")


def search_counterexamples(shapes, *, count: int = 250, fractions=(0.25, 0.5, 0.75, 0.95), depth: int = 2,
                           cond: float = 25.0, steps: int = 3000, tol: float = 1e-6, seed: int = 0) -> dict:
    """Search random problems for cases where AGD is slower than shallow GD (notebook 05, Section 4.2).

    For every shape (n, d) in ``shapes`` and both label types of ``random_problems``, ``count`` problems
    (seeded from ``seed``, the shape's index and the label type); each runs ``race_agd_gd`` at the rates
    ``fractions x 2 / lambda_max`` and ``eta*`` (the last column). Iterations to tol that are not reached
    within ``steps`` count as infinite; a comparison where neither method reaches tol is "undecided".
    Returns a dict: "problems", "pairs" (problems x rates); counts of counterexamples "same_rate" (AGD at
    rate eta slower than GD at eta, per rate: a list), "tuned" (AGD at GD's best rate slower than GD at it),
    "best" (AGD's best rate slower than GD's best), "above" (AGD's error above GD's at some iteration, over
    pairs), "undecided"; "speedup" (median over problems of GD/AGD iterations, per rate); the largest
    "yhat_sq_over_2n" and "yhat_sq_over_4ysol"; and "worst": the counterexample with the largest
    AGD/GD iteration ratio as (X (n, d), y (n,), lr, GD iterations, AGD iterations) or None.
    """
    if not isinstance(shapes, (list, tuple)) or not shapes:
        raise ValueError(f"shapes: got {shapes!r}, expected a non-empty list of (n, d) pairs")
    count = check_int("count", count, minimum=1)
    for shape in shapes:
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            raise ValueError(f"shapes: entry {shape!r}, expected an (n, d) pair")
        if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1 for v in shape):
            raise ValueError(f"shapes: entry {shape!r}, expected an (n, d) pair of integers >= 1")
        check_size("shapes, count", (count, max(shape), max(shape)))
    frac = as_tensor("fractions", fractions, device="cpu").reshape(-1)
    if frac.numel() == 0 or not bool(((frac > 0) & (frac < 1)).all()):
        raise ValueError(f"fractions: got {fractions!r}, expected numbers in (0, 1) "
                         "(multiples of GD's limit 2/lambda_max)")
    seed = check_int("seed", seed, minimum=0)
    check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    check_positive("tol", tol, allow_tensor=False)
    out = {"problems": 0, "pairs": 0, "same_rate": [0] * (frac.numel() + 1), "tuned": 0, "best": 0, "above": 0,
           "undecided": 0, "yhat_sq_over_2n": 0.0, "yhat_sq_over_4ysol": 0.0, "worst": None}
    ratios, worst_ratio = [], 1.0
    for k, shape in enumerate(shapes):
        if not isinstance(shape, (list, tuple)) or len(shape) != 2:
            raise ValueError(f"shapes: entry {shape!r}, expected an (n, d) pair")
        n, d = shape
        for j, labels in enumerate(("uniform", "signs")):
            X, y = random_problems(count, n, d, cond=cond, labels=labels, seed=seed + 2 * k + j)
            lam = torch.linalg.eigvalsh(X @ X.transpose(1, 2) / n)
            top = lam[:, -1]
            low = torch.where(lam > 1e-10 * top[:, None], lam, torch.full_like(lam, math.inf)).amin(-1)
            lr = torch.cat([frac * 2 / top[:, None], (2 / (top + low))[:, None]], 1)
            race = race_agd_gd(X, y, lr, depth=depth, steps=steps, tol=tol)
            gd = torch.where(race["gd"] < 0, math.inf, race["gd"].to(torch.float64))
            ag = torch.where(race["agd"] < 0, math.inf, race["agd"].to(torch.float64))
            decided = torch.isfinite(gd) | torch.isfinite(ag)
            slower = (ag > gd) & decided
            out["problems"] += count
            out["pairs"] += slower.numel()
            out["undecided"] += int((~decided).sum())
            out["same_rate"] = [a + int(b) for a, b in zip(out["same_rate"], slower.sum(0))]
            k_best = gd.argmin(1, keepdim=True)
            out["tuned"] += int((ag.gather(1, k_best) > gd.gather(1, k_best)).sum())
            out["best"] += int((ag.amin(1) > gd.amin(1)).sum())
            out["above"] += int(race["agd_above_gd"].sum())
            out["yhat_sq_over_2n"] = max(out["yhat_sq_over_2n"], float(race["yhat_sq_over_2n"].max()))
            out["yhat_sq_over_4ysol"] = max(out["yhat_sq_over_4ysol"], float(race["yhat_sq_over_4ysol"].max()))
            ratios.append(gd / ag)
            ratio = torch.where(slower & torch.isfinite(ag), ag / gd, torch.zeros_like(gd))
            if float(ratio.max()) > worst_ratio:
                worst_ratio = float(ratio.max())
                b, r = divmod(int(ratio.argmax()), ratio.shape[1])
                out["worst"] = (X[b], y[b], float(lr[b, r]), int(gd[b, r]), int(ag[b, r]))
    out["speedup"] = torch.cat(ratios).nanmedian(0).values.tolist()
    if not all(math.isfinite(v) for v in out["speedup"]):
        raise ValueError(f"steps, tol: within steps = {steps} iterations too few problems reached tol = {tol:g} "
                         f"for a median GD/AGD ratio at every rate (got {out['speedup']}); expected more steps or a "
                         "larger tol")
    return out
