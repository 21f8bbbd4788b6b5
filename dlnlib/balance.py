"""Balancedness: the quantities gradient flow conserves in homogeneous networks (Du, Hu & Lee 2018; notebook 03).

Vocabulary (chain ``[W_1, ..., W_N]``, ``W_j`` of shape ``(*batch, d_j, d_{j-1})``):

- matrix imbalance ``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` (j = 1..N-1), shape ``(*batch, d_j, d_j)``:
  conserved by gradient flow when the activation between layers j and j+1 is linear (Du et al. Thm 2.2);
- neuron imbalance ``q_j[i] = ||W_{j+1}[:, i]||^2 - ||W_j[i, :]||^2`` (outgoing minus incoming squared norm of
  hidden neuron i), the diagonal of ``D_j``: conserved for ReLU / leaky-ReLU networks too (Thm 2.1);
- layer imbalance ``||W_{j+1}||_F^2 - ||W_j||_F^2``, the trace of ``D_j`` (Corollary 2.1).

Du et al. write the differences as incoming minus outgoing; we use the sign of the balancedness
convention of the series (``W_{j+1}^T W_{j+1} = W_j W_j^T`` means balanced), so every quantity here is
minus theirs. Conservation does not care about the sign.

Gradient descent with step ``lr`` changes each of these by exactly ``lr^2`` times the same quantity
evaluated on the layer gradients (``gradient_imbalance``): the O(lr) terms cancel as in the proof.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import torch

from .chains import validate_chain
from .core import (
    MAX_STEPS,
    as_tensor,
    check_batch,
    check_choice,
    check_int,
    check_nonneg,
    check_positive,
    check_size,
    get_device,
    make_generator,
    resolve_dtype,
)
from .losses import ChainLoss
from .train import gradient_descent

__all__ = [
    "ACTIVATIONS",
    "HOMOGENEOUS",
    "KINDS",
    "activation",
    "network_output",
    "activation_pattern",
    "network_loss",
    "rescale_pair",
    "imbalance",
    "neuron_imbalance",
    "layer_imbalance",
    "invariants",
    "layer_norms",
    "norm_ratios",
    "invariant_drift",
    "gradient_imbalance",
    "DriftLadder",
    "drift_ladder",
    "flow_drift_rate",
    "loglog_slope",
    "DecayingStep",
    "low_rank_target",
    "factorisation_loss",
    "factorisation_init",
    "linear_rate",
]

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid")
HOMOGENEOUS = ("linear", "relu", "leaky_relu")
KINDS = ("matrix", "neuron", "layer")


# ----------------------------------------------------------------------------------------------
# Networks with an activation between the layers
# ----------------------------------------------------------------------------------------------


def activation(name: str, *, negative_slope: float = 0.1):
    """The elementwise activation ``phi`` called ``name`` (one of ``ACTIVATIONS``); leaky ReLU is max(a z, z).

    Homogeneous of degree 1 (phi(c z) = c phi(z) for c > 0): linear, relu, leaky_relu; not tanh, sigmoid.
    """
    return _activation("activation", name, negative_slope)


def _activation(arg: str, name, negative_slope):
    # ``arg``: the caller's name for the activation argument, so that the message names it
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"{arg}: got {name!r}, expected the name of one of {', '.join(map(repr, ACTIVATIONS))}")
    if isinstance(negative_slope, bool) or not (isinstance(negative_slope, numbers.Real) and 0 < negative_slope < 1):
        raise ValueError(f"negative_slope: got {negative_slope!r}, expected a number in (0, 1)")
    return {
        "linear": lambda z: z,
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, negative_slope),
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
    }[name]


def _check_inputs(X, chain) -> torch.Tensor:
    w = chain[0]
    X = as_tensor("X", X, device=w.device, dtype=w.dtype)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim < 2 or X.shape[-1] != w.shape[-1]:
        raise ValueError(f"X: got shape {tuple(X.shape)}, expected (*batch, n, {w.shape[-1]}) with samples as rows")
    return X


def network_output(chain, X, activation_name: str = "relu", *, negative_slope: float = 0.1) -> torch.Tensor:
    """``f(x) = W_N phi(... phi(W_1 x))`` for every row of X (Du et al.'s model, no biases; notebook 03).

    chain: ``[W_1, ..., W_N]`` with batch shape B; X: (n, d_0) or (*B, n, d_0). Returns (*B, n, d_N).
    """
    chain = validate_chain(chain, finite=True)
    phi = _activation("activation_name", activation_name, negative_slope)
    h = _check_inputs(X, chain)
    for j, w in enumerate(chain):
        h = h @ w.transpose(-1, -2)
        if j < len(chain) - 1:
            h = phi(h)
    return h


def activation_pattern(chain, X) -> torch.Tensor:
    """Which hidden pre-activations are positive, ``W_j h_{j-1} > 0`` for j < N, in a ReLU network (notebook 03).

    The ReLU gradient field jumps where an entry flips, so a flow integrated without a flip is an ordinary ODE.
    chain: batch shape B; X: (n, d_0). Returns a bool tensor (*B, n, d_1 + ... + d_{N-1}).
    """
    chain = _deep(chain)
    h = _check_inputs(X, chain)
    signs = []
    for w in chain[:-1]:
        z = h @ w.transpose(-1, -2)
        signs.append(z > 0)
        h = torch.relu(z)
    lead = torch.broadcast_shapes(*(s.shape[:-1] for s in signs))
    return torch.cat([s.expand(*lead, s.shape[-1]) for s in signs], dim=-1)


def network_loss(X, Y, activation_name: str = "relu", *, negative_slope: float = 0.1) -> ChainLoss:
    """``L = 1/(2n) sum_i ||f(x_i) - y_i||^2`` for the network ``network_output`` (a ChainLoss, autograd).

    X: (n, d_0), Y: (n, d_N) with samples as rows. The loss value has the chain's batch shape.
    """
    _activation("activation_name", activation_name, negative_slope)  # validates the name early
    X = as_tensor("X", X)
    Y = as_tensor("Y", Y)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[0] != Y.shape[0] or X.shape[0] == 0:
        raise ValueError(
            f"X, Y: got shapes {tuple(X.shape)} and {tuple(Y.shape)}, expected (n, d_0) and (n, d_N) with n >= 1"
        )

    def fn(chain):
        out = network_output(chain, X.to(chain[0].device, chain[0].dtype), activation_name,
                             negative_slope=negative_slope)
        if out.shape[-1] != Y.shape[-1]:
            raise ValueError(f"Y: got {Y.shape[-1]} output columns, expected d_N = {out.shape[-1]}")
        r = out - Y.to(out.device, out.dtype)
        return 0.5 * (r * r).sum((-2, -1)) / X.shape[0]

    return ChainLoss(fn)


def rescale_pair(chain, j: int, c) -> list[torch.Tensor]:
    """The chain with ``W_j -> c W_j`` and ``W_{j+1} -> W_{j+1} / c`` (Du et al.'s rescaling; notebook 03).

    chain: ``[W_1, ..., W_N]``; j: 1-based layer index, 1 <= j <= N-1; c: a number > 0 or a tensor of
    positive factors broadcastable to the batch shape (one factor per trial). Returns a new chain.
    """
    chain = validate_chain(chain, finite=True)
    j = check_int("j", j, minimum=1)
    if j > len(chain) - 1:
        raise ValueError(f"j: got {j}, expected 1 <= j <= N-1 = {len(chain) - 1}")
    if isinstance(c, torch.Tensor):
        c = as_tensor("c", c, device=chain[0].device, dtype=chain[0].dtype)
        try:
            torch.broadcast_shapes(c.shape, *(w.shape[:-2] for w in chain))
        except RuntimeError:
            raise ValueError(f"c: got shape {tuple(c.shape)}, expected a shape that broadcasts with the chain's batch "
                             f"{tuple(chain[0].shape[:-2])}") from None
    check_positive("c", c)
    c = torch.as_tensor(c, dtype=chain[0].dtype, device=chain[0].device)[..., None, None]
    out = list(chain)
    out[j - 1] = c * chain[j - 1]
    out[j] = chain[j] / c
    if not (bool(torch.isfinite(out[j - 1]).all()) and bool(torch.isfinite(out[j]).all())):
        raise ValueError(f"c: got {c.flatten()[:6].tolist()}; c W_j or W_(j+1) / c overflows float64, expected a "
                         "moderate factor")
    return out


# ----------------------------------------------------------------------------------------------
# The invariants
# ----------------------------------------------------------------------------------------------


def _deep(chain, name="chain") -> list[torch.Tensor]:
    chain = validate_chain(chain, name, finite=True)
    if len(chain) < 2:
        raise ValueError(f"{name}: got depth N = 1, expected N >= 2 layers (an invariant links adjacent layers)")
    return chain


def _gram_pairs(chain, kind):
    # (outgoing, incoming) pieces whose difference is the invariant of each hidden layer.
    pairs = []
    for w, v in zip(chain[:-1], chain[1:]):
        if kind == "matrix":
            pairs.append((v.transpose(-1, -2) @ v, w @ w.transpose(-1, -2)))
        elif kind == "neuron":
            pairs.append(((v * v).sum(-2), (w * w).sum(-1)))
        else:
            pairs.append(((v * v).sum((-2, -1)), (w * w).sum((-2, -1))))
    return pairs


def imbalance(chain) -> list[torch.Tensor]:
    """``D_j = W_{j+1}^T W_{j+1} - W_j W_j^T`` for j = 1..N-1 (Du et al. Thm 2.2; zero for a balanced chain).

    chain: ``[W_1, ..., W_N]``, N >= 2, batch shape B. Returns N-1 tensors of shape (*B, d_j, d_j).
    For matrix factorisation with ``chain = [V^T, U]`` this is ``U^T U - V^T V``.
    """
    return [a - b for a, b in _gram_pairs(_deep(chain), "matrix")]


def neuron_imbalance(chain) -> list[torch.Tensor]:
    """Per hidden neuron i of layer j: ``||W_{j+1}[:, i]||^2 - ||W_j[i, :]||^2`` (Du et al. Thm 2.1, ReLU nets).

    chain: ``[W_1, ..., W_N]``, N >= 2, batch shape B. Returns N-1 tensors of shape (*B, d_j): the diagonal
    of ``imbalance(chain)``, i.e. outgoing minus incoming squared weight norm of each neuron.
    """
    return [a - b for a, b in _gram_pairs(_deep(chain), "neuron")]


def layer_imbalance(chain) -> torch.Tensor:
    """``||W_{j+1}||_F^2 - ||W_j||_F^2`` for j = 1..N-1 (Du et al. Corollary 2.1); shape (*B, N-1)."""
    return torch.stack([a - b for a, b in _gram_pairs(_deep(chain), "layer")], dim=-1)


def invariants(chain, kind: str = "matrix") -> list[torch.Tensor]:
    """The conserved quantities of one ``kind`` ("matrix", "neuron" or "layer") as a list over j = 1..N-1."""
    check_choice("kind", kind, KINDS)
    return [a - b for a, b in _gram_pairs(_deep(chain), kind)]


def layer_norms(chain) -> torch.Tensor:
    """Frobenius norms ``||W_j||_F`` of every layer; chain with batch shape B -> tensor (*B, N)."""
    chain = validate_chain(chain, finite=True)
    return torch.stack(torch.broadcast_tensors(*[torch.linalg.matrix_norm(w) for w in chain]), -1)


def norm_ratios(chain) -> torch.Tensor:
    """``||W_{j+1}||_F / ||W_j||_F`` for j = 1..N-1 (Du et al. Fig. 1b / Fig. 2); shape (*B, N-1).

    For matrix factorisation with ``chain = [V^T, U]`` this is the ratio ``||U||_F / ||V||_F``.
    """
    chain = _deep(chain)
    norms = [torch.linalg.matrix_norm(w) for w in chain]
    out = torch.stack(torch.broadcast_tensors(*[b / a for a, b in zip(norms[:-1], norms[1:])]), -1)
    if not bool(torch.isfinite(out).all()):
        raise ValueError("chain: some layer W_j (j < N) has norm 0, expected nonzero layers (the ratio divides by it)")
    return out


def _norm(q, kind) -> torch.Tensor:
    # Frobenius norm of a matrix invariant, Euclidean of a per-neuron vector, absolute value of a layer scalar.
    if kind == "layer":
        return q.abs()
    return torch.linalg.vector_norm(q, dim=(-2, -1) if kind == "matrix" else -1)


def _trajectory(trajectory) -> list[torch.Tensor]:
    if hasattr(trajectory, "chains"):  # FlowResult
        return list(trajectory.chains)
    if hasattr(trajectory, "history"):  # TrainResult
        if "chain" not in trajectory.history:
            raise ValueError("trajectory: this TrainResult has no 'chain' history; run with record=('loss', 'chain')")
        return list(trajectory.history["chain"])
    return _deep(trajectory, "trajectory")


def invariant_drift(trajectory, kind: str = "matrix", *, relative: bool = True) -> torch.Tensor:
    """How far the invariants moved from their initial value, ``max_j ||Q_j(t) - Q_j(t_0)||`` (notebook 03).

    trajectory: a ``FlowResult``, a ``TrainResult`` recorded with ``"chain"``, or a list over layers of
    tensors (T, *B, d_j, d_{j-1}) whose first index is time. kind: "matrix", "neuron" or "layer".
    relative: divide by ``||A_j(t)|| + ||B_j(t)||``, the size of the two terms whose difference Q_j = A_j - B_j
    is (e.g. ``||W_{j+1}^T W_{j+1}||_F + ||W_j W_j^T||_F``), so the number is the fraction of the
    cancelling terms that failed to cancel. Norms: Frobenius / Euclidean. Returns (T, *B).
    """
    check_choice("kind", kind, KINDS)
    layers = _trajectory(trajectory)
    if len(layers) < 2 or layers[0].ndim < 3:
        raise ValueError("trajectory: expected a list of N >= 2 tensors of shape (T, *batch, d_j, d_{j-1})")
    worst = []
    for a, b in _gram_pairs(layers, kind):
        q = a - b
        size = _norm(q - q[:1], kind)
        if relative:
            size = size / torch.clamp(_norm(a, kind) + _norm(b, kind), min=torch.finfo(size.dtype).tiny)
        worst.append(size)
    return torch.stack(torch.broadcast_tensors(*worst), 0).amax(0)


def gradient_imbalance(chain, loss, kind: str = "matrix") -> list[torch.Tensor]:
    """The invariants evaluated on the layer gradients, ``Q(G)``: one GD step of size lr changes Q by lr^2 Q(G).

    For linear layers ``D_j(W - lr G) - D_j(W) = lr^2 (G_{j+1}^T G_{j+1} - G_j G_j^T)`` exactly, because the
    O(lr) terms are the gradient-flow derivative, which vanishes (Du et al. Thm 2.2); the per-neuron and
    layer forms hold the same way for ReLU nets (Thm 2.1). chain: batch shape B; loss: a dlnlib Loss.
    Returns the list Q_j(G), shapes as ``invariants(chain, kind)``.
    """
    chain = _deep(chain)
    check_choice("kind", kind, KINDS)
    if not hasattr(loss, "chain_value_and_grads"):
        raise ValueError(f"loss: got {type(loss).__name__}, expected a dlnlib.losses.Loss")
    _, grads = loss.chain_value_and_grads(chain)
    return invariants(grads, kind)


# ----------------------------------------------------------------------------------------------
# Gradient descent versus gradient flow
# ----------------------------------------------------------------------------------------------


def _max_norm(qs, kind) -> torch.Tensor:
    return torch.stack(torch.broadcast_tensors(*[_norm(q, kind) for q in qs]), 0).amax(0)


@dataclass
class DriftLadder:
    """What ``drift_ladder`` returns: for each learning rate, the invariant's drift after time ``lr * steps``.

    lrs: (L,); steps: (L,) number of GD steps per rate; times: (L,) = lrs * steps; drift: (L, *B) absolute
    drift ``max_j ||Q_j(T) - Q_j(0)||``; slope, intercept: least-squares fit of log(median drift / time)
    against log(lr) (the drift per unit time ~ lr^slope; Du et al. predict slope 1).
    """

    lrs: torch.Tensor
    steps: torch.Tensor
    times: torch.Tensor
    drift: torch.Tensor
    slope: float
    intercept: float


def drift_ladder(chain, loss, lrs, time: float, *, kind: str = "matrix") -> DriftLadder:
    """GD for a fixed training time ``T = lr * steps`` at every rate in ``lrs``, all rates in one batched run.

    chain: ``[W_1, ..., W_N]`` with batch shape B (trials); loss: a dlnlib Loss; lrs: 1-D positive rates;
    time: the training time T (each rate runs round(T / lr) steps). kind: which invariant ("matrix",
    "neuron", "layer"). Returns a ``DriftLadder`` with drift of shape (L, *B).
    """
    chain = _deep(chain)
    check_choice("kind", kind, KINDS)
    check_positive("time", time, allow_tensor=False)
    w0 = chain[0]
    lrs = as_tensor("lrs", lrs, device=w0.device, dtype=w0.dtype)
    if lrs.ndim != 1 or lrs.numel() < 2:
        raise ValueError(f"lrs: got shape {tuple(lrs.shape)}, expected a 1-D tensor of at least 2 learning rates")
    check_positive("lrs", lrs)
    steps = torch.round(time / lrs)
    if float(steps.max()) > MAX_STEPS:
        raise ValueError(f"time: got {time:g}, which takes {float(steps.max()):.3g} steps at the smallest rate "
                         f"{float(lrs.min()):.3g}; expected at most {MAX_STEPS:,} steps (a shorter time or larger "
                         "rates)")
    steps = steps.long()
    if int(steps.min()) < 1:
        raise ValueError(f"lrs: the largest rate {float(lrs.max()):.3g} exceeds time = {time:g}; expected lr <= time")
    n_b = max(w.ndim for w in chain) - 2
    batch = torch.broadcast_shapes(*(w.shape[:-2] for w in chain))
    stacked = [w.expand(*batch, *w.shape[-2:]).unsqueeze(0).expand(len(lrs), *batch, *w.shape[-2:]) for w in chain]
    q0 = invariants(stacked, kind)

    def drift(c):
        return _max_norm([q - p for q, p in zip(invariants(c, kind), q0)], kind)

    run = gradient_descent(stacked, loss, lr=lrs.view(-1, *([1] * n_b)), steps=int(steps.max()),
                           record_steps=sorted(set(steps.tolist())), callbacks={"drift": drift})
    if bool(run.diverged.any()):
        bad = run.diverged.reshape(len(lrs), -1).any(-1)
        raise ValueError(f"lrs: gradient descent diverged at the rate(s) {[round(v, 6) for v in lrs[bad].tolist()]} "
                         f"before time {time:g} (in {int(run.diverged.sum())} of {run.diverged.numel()} runs), "
                         "expected rates at which GD stays stable (the drift of a diverged run has no meaning)")
    where = {int(s): k for k, s in enumerate(run.steps.tolist())}
    rows = torch.stack([run.history["drift"][where[int(s)], i] for i, s in enumerate(steps)])
    times = lrs * steps.to(lrs.dtype)
    per_time = (rows.reshape(len(lrs), -1).median(-1).values / times).cpu().numpy()
    slope, intercept = loglog_slope(lrs.cpu().numpy(), per_time)
    return DriftLadder(lrs=lrs, steps=steps, times=times, drift=rows, slope=slope, intercept=intercept)


def flow_drift_rate(flow, loss, kind: str = "matrix") -> torch.Tensor:
    """First-order prediction of GD's drift per unit learning rate: ``||int_0^T Q(G(t)) dt||`` along the flow.

    GD with step lr for time T changes Q by ``sum_k lr^2 Q(G_k) = lr * int_0^T Q(G(t)) dt + O(lr^2)``, so the
    drift divided by lr tends to this number as lr -> 0. flow: a ``FlowResult`` on a fine time grid
    (trapezoid rule); loss: the flow's loss. Returns (*B,) the max over j of the integral's norm.
    """
    if not hasattr(flow, "chains") or not hasattr(flow, "times"):
        raise ValueError(f"flow: got {type(flow).__name__}, expected a FlowResult from dlnlib.gradient_flow")
    check_choice("kind", kind, KINDS)
    if len(flow.times) < 2:
        raise ValueError("flow: got a single time, expected a time grid of at least 2 points")
    per_time = [gradient_imbalance(flow.chain_at(k), loss, kind) for k in range(len(flow.times))]
    t = flow.times.to(flow.chains[0].dtype)
    integrals = []
    for j in range(len(per_time[0])):
        q = torch.stack([p[j] for p in per_time])
        shape = (-1,) + (1,) * (q.ndim - 1)
        integrals.append(torch.trapezoid(q, t.to(q.device).view(shape), dim=0))
    return _max_norm(integrals, kind)


def _real(name: str, x) -> torch.Tensor:
    # a float64 CPU copy of a list, array or tensor on any device, NaN kept (a diverged trial's losses are NaN),
    # or a ValueError naming ``name``
    if (isinstance(x, torch.Tensor) and x.is_complex()) or np.iscomplexobj(x):
        raise ValueError(f"{name}: got complex numbers, expected real numbers")
    try:
        if isinstance(x, torch.Tensor):
            return x.detach().to("cpu", torch.float64)
        return torch.as_tensor(np.asarray(x, dtype=float))
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: got {type(x).__name__}, expected an array of numbers") from exc


def _numpy(name: str, x) -> np.ndarray:
    # 1-D float64 numpy copy of a list, array or tensor on any device
    return _real(name, x).numpy().ravel()


def loglog_slope(x, y) -> tuple[float, float]:
    """Least-squares line through ``(log x, log y)``: returns ``(slope, intercept)`` so that y ~ e^b x^slope."""
    x, y = _numpy("x", x), _numpy("y", y)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"x, y: got sizes {x.size} and {y.size}, expected two arrays of equal size >= 2")
    if not (np.all(x > 0) and np.all(y > 0) and np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("x, y: expected finite positive numbers (a log-log fit)")
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(intercept)


class DecayingStep:
    """Step sizes ``eta_k = lr * (1 + k / t0)^(-(1/2 + delta))`` for ``gradient_descent`` (Du et al. Lemma 3.1).

    The engine's ``lr`` is constant, so the schedule enters as its ``direction``: the k-th call (k = 0, 1, ...)
    returns the layer gradients times ``factor(k)``; ``gradient_descent(..., lr=lr, direction=DecayingStep(d))``
    then takes the steps eta_k. The engine calls its direction once per update, so use a fresh instance
    per run (``calls`` counts them). delta: 0 < delta <= 1/2; t0 > 0 sets when the decay starts.
    """

    def __init__(self, delta: float, *, t0: float = 1.0):
        check_positive("delta", delta, allow_tensor=False)
        if delta > 0.5:
            raise ValueError(f"delta: got {delta!r}, expected 0 < delta <= 1/2 (Lemma 3.1)")
        check_positive("t0", t0, allow_tensor=False)
        self.delta, self.t0, self.calls = float(delta), float(t0), 0

    def factor(self, k) -> float | np.ndarray:
        """``(1 + k / t0)^(-(1/2 + delta))`` for step k (a number or an array of steps)."""
        steps = _numpy("k", k)
        if not (np.all(np.isfinite(steps)) and np.all(steps >= 0)):
            raise ValueError(f"k: got {k!r}, expected step numbers >= 0")
        return (1.0 + np.asarray(k, dtype=float) / self.t0) ** (-(0.5 + self.delta))

    def __call__(self, chain, grads):
        f = float(self.factor(self.calls))
        self.calls += 1
        return [f * g for g in grads]


# ----------------------------------------------------------------------------------------------
# Matrix factorisation  min 1/2 ||U V^T - M||_F^2  as the two-layer chain [V^T, U]
# ----------------------------------------------------------------------------------------------


def low_rank_target(d1: int, d2: int, rank: int, *, singular_values=None, batch=(), generator=None, seed=None,
                    device=None, dtype=None) -> torch.Tensor:
    """A rank-``rank`` target ``M* = A diag(s) B^T`` with Haar-orthonormal A (d1 x r), B (d2 x r); (*batch, d1, d2).

    singular_values: r positive numbers (default ``1, ..., 1/r`` spaced linearly from 1 down to 1/r).
    """
    d1 = check_int("d1", d1, minimum=1)
    d2 = check_int("d2", d2, minimum=1)
    rank = check_int("rank", rank, minimum=1)
    if rank > min(d1, d2):
        raise ValueError(f"rank: got {rank}, expected rank <= min(d1, d2) = {min(d1, d2)}")
    batch = check_batch("batch", batch)
    check_size("batch, d1, d2", (*batch, max(d1, d2), max(d1, d2)))
    dev, dt = get_device(device), resolve_dtype(dtype)
    if singular_values is None:
        s = torch.linspace(1.0, 1.0 / rank, rank, dtype=torch.float64)
    else:
        s = as_tensor("singular_values", singular_values, device="cpu", dtype=torch.float64).reshape(-1)
        if s.numel() != rank or not bool((s > 0).all()):
            raise ValueError(f"singular_values: got {s.tolist()}, expected {rank} positive numbers")
    gen = make_generator(seed=seed, generator=generator)
    a, _ = torch.linalg.qr(torch.randn(*batch, d1, rank, generator=gen, dtype=torch.float64))
    b, _ = torch.linalg.qr(torch.randn(*batch, d2, rank, generator=gen, dtype=torch.float64))
    m = (a * s) @ b.transpose(-1, -2)
    return m.to(dev, dt)


def factorisation_loss(target, lam=0.0) -> ChainLoss:
    """``1/2 ||U V^T - M*||_F^2 + lam/4 ||U^T U - V^T V||_F^2`` on the chain ``[V^T, U]`` (Du et al. Fig. 1).

    target: M* of shape (*B, d1, d2) (one target per trial allowed); lam: a number >= 0, or a tensor of
    shape broadcastable to the batch (e.g. plain and regularised trials in one run). lam = 0 is the plain
    problem. A ChainLoss (autograd); chain: ``[W_1 = V^T (r, d2), W_2 = U (d1, r)]``. Value: (*B,).
    """
    m = as_tensor("target", target, ndim_min=2)
    if m.numel() == 0:
        raise ValueError(f"target: got shape {tuple(m.shape)}, expected (*B, d1, d2) with d1, d2 >= 1")
    if isinstance(lam, torch.Tensor):
        if lam.is_complex():
            raise ValueError("lam: got complex numbers, expected finite numbers >= 0")
        lam_t = lam.detach().to(m.device, m.dtype)
        if lam_t.numel() == 0 or not bool(torch.isfinite(lam_t).all()) or bool((lam_t < 0).any()):
            raise ValueError(f"lam: got {lam_t.flatten()[:6].tolist()}, expected finite numbers >= 0")
    else:
        check_nonneg("lam", lam)
        lam_t = torch.tensor(float(lam), dtype=m.dtype, device=m.device)
    regularised = bool((lam_t != 0).any())

    def fn(chain):
        if len(chain) != 2:
            raise ValueError(f"chain: got depth {len(chain)}, expected the two factors [V^T, U]")
        vt, u = chain
        if u.shape[-2] != m.shape[-2] or vt.shape[-1] != m.shape[-1]:
            raise ValueError(
                f"chain: U V^T has shape ({u.shape[-2]}, {vt.shape[-1]}), expected the target's {tuple(m.shape[-2:])}"
            )
        r = u @ vt - m
        val = 0.5 * (r * r).sum((-2, -1))
        if regularised:
            d = u.transpose(-1, -2) @ u - vt @ vt.transpose(-1, -2)
            val = val + 0.25 * lam_t * (d * d).sum((-2, -1))
        return val

    return ChainLoss(fn)


def factorisation_init(d1: int, d2: int, rank: int, *, scale: float, ratio: float = 1.0, batch=(),
                       generator=None, seed=None, device=None, dtype=None) -> list[torch.Tensor]:
    """Gaussian factors as the chain ``[V^T, U]``: U entries N(0, (ratio*scale)^2), V entries N(0, (scale/ratio)^2).

    ratio = 1 is Du et al.'s i.i.d. N(0, scale^2) initialisation; ratio != 1 makes it unbalanced
    (E||U||_F / ||V||_F ~ ratio^2 sqrt(d1/d2)). Returns [V^T of shape (*batch, r, d2), U of shape (*batch, d1, r)].
    """
    d1 = check_int("d1", d1, minimum=1)
    d2 = check_int("d2", d2, minimum=1)
    rank = check_int("rank", rank, minimum=1)
    check_positive("scale", scale, allow_tensor=False)
    check_positive("ratio", ratio, allow_tensor=False)
    batch = check_batch("batch", batch)
    check_size("batch, d1, d2, rank", (*batch, rank, max(d1, d2)))
    dev, dt = get_device(device), resolve_dtype(dtype)
    gen = make_generator(seed=seed, generator=generator)
    vt = torch.randn(*batch, rank, d2, generator=gen, dtype=torch.float64) * (scale / ratio)
    u = torch.randn(*batch, d1, rank, generator=gen, dtype=torch.float64) * (scale * ratio)
    out = [vt.to(dev, dt), u.to(dev, dt)]
    if not all(bool(torch.isfinite(w).all()) for w in out):
        raise ValueError(f"scale, ratio: got scale = {scale!r}, ratio = {ratio!r}; the factors overflow "
                         f"{dt}, expected moderate scales")
    return out


def linear_rate(losses, steps, *, lo: float = 1e-24, hi: float = 1e-6) -> torch.Tensor:
    """Per-step contraction factor rho of a linearly converging loss (loss_k ~ C rho^k; Du et al. Thm 3.2).

    Fits log(loss) against step by least squares over the recorded points with lo <= loss <= hi.
    losses: (T, *B) as in ``TrainResult.history["loss"]``; steps: (T,). Returns (*B,) on the CPU, NaN where
    fewer than 3 points lie in the window.
    """
    losses = _real("losses", losses)
    steps = _real("steps", steps)
    if losses.ndim < 1 or steps.ndim != 1 or losses.shape[0] != steps.shape[0]:
        raise ValueError(f"losses, steps: got shapes {tuple(losses.shape)} and {tuple(steps.shape)}, "
                         "expected (T, *B) and (T,)")
    if not bool(torch.isfinite(steps).all()):
        raise ValueError("steps: contains NaN or infinite entries, expected finite step numbers")
    check_positive("lo", lo, allow_tensor=False)
    check_positive("hi", hi, allow_tensor=False)
    if not hi > lo:
        raise ValueError(f"hi: got {hi!r}, expected a number > lo = {lo!r}")
    x = steps.view(-1, *([1] * (losses.ndim - 1))).expand_as(losses)
    keep = torch.isfinite(losses) & (losses >= lo) & (losses <= hi)
    y = torch.where(keep, losses, torch.ones_like(losses)).log()
    w = keep.to(torch.float64)
    n = w.sum(0)
    sx, sy = (w * x).sum(0), (w * y).sum(0)
    sxx, sxy = (w * x * x).sum(0), (w * x * y).sum(0)
    den = n * sxx - sx * sx
    slope = (n * sxy - sx * sy) / torch.where(den > 0, den, torch.ones_like(den))
    return torch.where((n >= 3) & (den > 0), slope.exp(), torch.full_like(slope, float("nan")))

