"""Reproduction studies of notebook 04: the readings of seed 000's experiment and the l_p depth study.

Seed 000 (a 2023 report) times layerwise gradient descent ("upstairs") against the end-to-end iteration
("downstairs") on diagonal completion and reports 113.43 +- 15.84 and 180.34 +- 171.46 iterations over
100 trials, without saying how it initialised, whether every trial had its own target, or whether its
Eq. (1)'s factor 1/N was in the code. :func:`run_completion_readings` runs every combination of those
choices in two batched engine calls (one upstairs, one downstairs), and :func:`rank_readings` resamples
100-trial blocks from those runs (with replacement: the blocks are not independent experiments) and says how
likely the reported numbers are under each.

Arora, Cohen & Hazan (2018, Sec. 8) compare depths 1-3 on l_p regression with a scalar output.
:func:`depth_study` tunes each depth's learning rate with a geometric grid that brackets the depth's own
stability limit (coarse, then refined around the best), counting iterations to a fixed relative
sub-optimality over several random initialisations; :func:`bursts` finds loss spikes in a curve.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from .chains import SCHEMES, _check_dims, _layer_gradients, _product, init_chain
from .core import (
    MAX_DEPTH,
    MAX_STEPS,
    as_tensor,
    check_batch,
    check_choice,
    check_int,
    check_positive,
    check_real,
    check_size,
    make_generator,
)
from .endtoend import _check_counts, _rates, downstairs_direction
from .losses import DiagonalCompletion, Loss
from .train import gradient_descent

__all__ = [
    "SEED000",
    "COMPLETION_INITS",
    "TARGET_MODES",
    "completion_chains",
    "completion_targets_for",
    "CompletionRuns",
    "run_completion_readings",
    "block_statistics",
    "tail_probability",
    "resample_blocks",
    "rank_readings",
    "DepthStudy",
    "depth_study",
    "bursts",
    "SEED001_GRID",
    "GridRuns",
    "grid_runs",
]

SEED000 = {"d": 2, "depth": 3, "lr": 0.1, "tol": 1e-7, "trials": 100,
           "up": (113.43, 15.84), "down": (180.34, 171.46)}
"""Seed 000's setting and its reported (mean, +-) iteration counts upstairs and downstairs."""

COMPLETION_INITS = ("nn.Linear default", "standard normal", "normal 1/sqrt(d)", "uniform [0, 1)",
                    "Xavier uniform", "orthogonal", "near identity")
"""Initialisations a PyTorch user of 2023 could have meant (seed 000 does not say)."""

TARGET_MODES = ("new target per trial", "one target per 100 trials")


def _generator(generator) -> torch.Generator:
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator: got {type(generator).__name__}, expected a torch.Generator "
                         "(torch.Generator().manual_seed(0))")
    return generator


def _sequence(name: str, value, what: str) -> list:
    """``value`` as a non-empty list; ValueError naming ``name`` for a non-iterable, a string or an empty one."""
    items = None if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__") else list(value)
    if not items:
        raise ValueError(f"{name}: got {value!r}, expected a non-empty list of {what}")
    return items




# ---------------------------------------------------------------------------------------------
# Seed 000: readings of the setup
# ---------------------------------------------------------------------------------------------


def completion_chains(init: str, d: int, depth: int, batch, *, generator: torch.Generator) -> list[torch.Tensor]:
    """A chain of ``depth`` square ``d x d`` layers under one of :data:`COMPLETION_INITS` (notebook 04).

    nn.Linear default: U(-1/sqrt(d), 1/sqrt(d)); standard normal: N(0, 1); normal 1/sqrt(d): N(0, 1/d);
    uniform [0, 1): ``torch.rand``; Xavier uniform: U(-sqrt(3/d), sqrt(3/d)) (fan_in = fan_out = d);
    orthogonal: Haar orthogonal; near identity: I + N(0, 0.01^2). batch: leading trial dimensions.
    """
    check_choice("init", init, COMPLETION_INITS)
    d = check_int("d", d, minimum=1)
    depth = check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
    check_size("depth, d, batch", (depth, *check_batch("batch", batch), d, d))
    _generator(generator)
    dims = [d] * (depth + 1)
    if init == "nn.Linear default":
        return init_chain(dims, "default", batch=batch, generator=generator)
    if init == "standard normal":
        return init_chain(dims, "gaussian", scale=1.0, batch=batch, generator=generator)
    if init == "normal 1/sqrt(d)":
        return init_chain(dims, "gaussian", batch=batch, generator=generator)
    if init == "Xavier uniform":
        return init_chain(dims, "default", scale=math.sqrt(3.0), batch=batch, generator=generator)
    if init == "orthogonal":
        return init_chain(dims, "orthogonal", batch=batch, generator=generator)
    if init == "near identity":
        return init_chain(dims, "identity", scale=0.01, batch=batch, generator=generator)
    return [torch.rand(*batch, d, d, generator=generator, dtype=torch.float64) for _ in range(depth)]


def completion_targets_for(mode: str, blocks: int, block_size: int, d: int, *,
                           generator: torch.Generator) -> torch.Tensor:
    """Standard-normal ``d x d`` targets, shape (blocks, block_size, d, d): one per trial, or one per block.

    mode: one of :data:`TARGET_MODES`. Seed 000's code draws ``target = torch.randn((d, d))`` next to the
    model; whether that line ran once per trial or once per 100-trial experiment is not shown.
    """
    check_choice("mode", mode, TARGET_MODES)
    blocks = check_int("blocks", blocks, minimum=1)
    block_size = check_int("block_size", block_size, minimum=1)
    d = check_int("d", d, minimum=1)
    check_size("blocks, block_size, d", (blocks, block_size, d, d))
    _generator(generator)
    if mode == TARGET_MODES[0]:
        return torch.randn(blocks, block_size, d, d, generator=generator, dtype=torch.float64)
    one = torch.randn(blocks, 1, d, d, generator=generator, dtype=torch.float64)
    return one.expand(blocks, block_size, d, d).clone()


@dataclass
class CompletionRuns:
    """Iteration counts of seed 000's experiment under every reading.

    up: (I, M, G, m) upstairs iterations to loss <= tol (-1 when it never got there: cap or divergence),
    G groups of m trials, one target per group in the shared mode; down: (I, M, F, G, m) downstairs,
    F = len(factors) (1 = Arora et al.'s Theorem 1, 1/N = Eq. (1));
    inits, modes, factors: the labels of the axes; caps: (upstairs, downstairs) step caps.
    """

    up: torch.Tensor
    down: torch.Tensor
    inits: tuple
    modes: tuple
    factors: tuple
    caps: tuple


def run_completion_readings(*, groups: int, group_size: int = 40, inits: Sequence[str] = COMPLETION_INITS,
                            factors: Sequence[float] = (1.0, 1.0 / 3.0), steps_up: int = 2000,
                            steps_down: int = 3000, seed: int = 0) -> CompletionRuns:
    """Seed 000's upstairs and downstairs runs for every init x target mode (x factor), batched (notebook 04).

    d = 2, N = 3, lr = 0.1, stop at the mean-squared diagonal loss <= 1e-7 (seed 000's loop). Upstairs is
    one ``gradient_descent`` call over all (init, mode, block, trial); downstairs is one call over the same
    end-to-end starts times the factors (a factor multiplies the step, so it rides on the learning rate).
    groups x group_size trials per (init, target mode): in the shared-target mode each group has one
    target (:func:`rank_readings` builds 100-trial blocks from a group). Returns :class:`CompletionRuns`.
    """
    blocks = check_int("groups", groups, minimum=1)
    block_size = check_int("group_size", group_size, minimum=2)
    inits = tuple(check_choice("inits", i, COMPLETION_INITS)
                  for i in _sequence("inits", inits, f"names from {COMPLETION_INITS}"))
    factors = tuple(check_real("factors", f) for f in _sequence("factors", factors, "step factors > 0"))
    for f in factors:
        check_positive("factors", f, allow_tensor=False)
    for name, n in (("steps_up", steps_up), ("steps_down", steps_down)):
        check_int(name, n, minimum=0, maximum=MAX_STEPS)
    check_size("groups, group_size", (len(inits), len(TARGET_MODES), len(factors), blocks, block_size,
                                      SEED000["depth"], SEED000["d"], SEED000["d"]))
    d, depth, lr, tol = SEED000["d"], SEED000["depth"], SEED000["lr"], SEED000["tol"]
    gen = make_generator(seed=seed)
    n_modes = len(TARGET_MODES)
    per_init = [completion_chains(i, d, depth, (n_modes, blocks, block_size), generator=gen) for i in inits]
    chain = [torch.stack([c[j] for c in per_init]) for j in range(depth)]  # (I, M, B, n, d, d)
    targets = torch.stack([completion_targets_for(m, blocks, block_size, d, generator=gen) for m in TARGET_MODES])
    targets = targets.expand(len(inits), *targets.shape).contiguous()
    task = DiagonalCompletion(targets, "mean")
    up = gradient_descent(chain, task, lr=lr, steps=steps_up, tol=tol, record_steps=[0], progress=False)
    W0 = _product(chain).unsqueeze(2).expand(-1, -1, len(factors), -1, -1, -1, -1).contiguous()
    task_down = DiagonalCompletion(targets.unsqueeze(2).expand_as(W0).contiguous(), "mean")
    lr_down = (lr * torch.tensor(factors, dtype=torch.float64)).reshape(1, 1, -1, 1, 1)
    down = gradient_descent([W0], task_down, lr=lr_down, steps=steps_down, tol=tol, record_steps=[0],
                            direction=downstairs_direction(depth), progress=False)
    return CompletionRuns(up=up.stopped_at, down=down.stopped_at, inits=inits, modes=TARGET_MODES,
                          factors=factors, caps=(steps_up, steps_down))


def block_statistics(stopped_at: torch.Tensor, cap: int):
    """Mean and sample standard deviation of every block of trials (last dimension), and censored counts.

    stopped_at: (..., n) iterations, -1 for a trial that reached ``cap`` without stopping (counted as
    ``cap``: the statistics are then lower bounds). Returns ``(mean, sd, censored)``, each of shape (...).
    """
    _check_counts("stopped_at", stopped_at)
    if stopped_at.shape[-1] < 2:
        raise ValueError(f"stopped_at: got shape {tuple(stopped_at.shape)}, expected (..., n) with n >= 2 trials per "
                         "block")
    cap = check_int("cap", cap, minimum=1)
    censored = stopped_at < 0
    it = torch.where(censored, torch.full_like(stopped_at, cap), stopped_at).to(torch.float64)
    return it.mean(-1), it.std(-1), censored.sum(-1)


def tail_probability(samples: torch.Tensor, value: float) -> float:
    """Two-sided empirical tail probability of ``value`` among ``samples``: ``2 min(P(X <= v), P(X >= v))``, <= 1.

    0 means the value lies outside every sample (probability below 1 / len(samples)).
    """
    s = as_tensor("samples", samples, device=samples.device if isinstance(samples, torch.Tensor) else "cpu",
                  dtype=torch.float64).reshape(-1)
    if s.numel() == 0:
        raise ValueError("samples: got an empty tensor, expected at least one sample")
    value = check_real("value", value)
    below = float((s <= value).double().mean())
    above = float((s >= value).double().mean())
    return min(1.0, 2.0 * min(below, above))


def _near(x: torch.Tensor, target: float, rel: float) -> torch.Tensor:
    return (x - target).abs() <= rel * abs(target)


def resample_blocks(pool: torch.Tensor, shared: bool, *, blocks: int, block_size: int = 100,
                    generator: torch.Generator) -> torch.Tensor:
    """``blocks`` experiments of ``block_size`` trials drawn with replacement from a pool of runs (notebook 04).

    pool: (..., G, m) iterations of G groups of m trials. shared=False: trials are i.i.d. (a new target per
    trial), so a block draws from all G m trials; shared=True: a block picks one group (one target) and
    draws its trials from that group's m. Returns (..., blocks, block_size).
    """
    blocks = check_int("blocks", blocks, minimum=1)
    block_size = check_int("block_size", block_size, minimum=1)
    if not isinstance(pool, torch.Tensor) or pool.ndim < 2 or pool.numel() == 0:
        shape = tuple(pool.shape) if isinstance(pool, torch.Tensor) else type(pool).__name__
        raise ValueError(f"pool: got {shape}, expected a non-empty tensor (..., G, m) of G groups of m runs")
    if pool.dtype.is_floating_point and not bool(torch.isfinite(pool).all()):
        raise ValueError("pool: contains NaN or infinite entries, expected finite iteration counts")
    if not isinstance(shared, bool):
        raise ValueError(f"shared: got {shared!r}, expected True (one target per group) or False")
    _generator(generator)
    check_size("blocks, block_size", (*pool.shape[:-2], blocks, block_size))
    G, m = pool.shape[-2:]
    if shared:
        g = torch.randint(G, (blocks, 1), generator=generator)
        idx = g * m + torch.randint(m, (blocks, block_size), generator=generator)
    else:
        idx = torch.randint(G * m, (blocks, block_size), generator=generator)
    return pool.reshape(*pool.shape[:-2], G * m)[..., idx]


def rank_readings(runs: CompletionRuns, *, blocks: int = 2000, block_size: int = SEED000["trials"],
                  reported_up=SEED000["up"], reported_down=SEED000["down"], box: float = 0.1,
                  seed: int = 0) -> list[dict]:
    """How likely seed 000's reported numbers are under each reading, best first (notebook 04).

    A reading is (init, target mode, downstairs factor, meaning of "+-"): the sample standard deviation on
    both sides, the standard error sd / sqrt(n) on both, or one of each (``"se up, sd down"``,
    ``"sd up, se down"``: a report can mix them). ``blocks`` 100-trial experiments are resampled from the runs
    (:func:`resample_blocks`). ``p``: the two-sided tail probabilities of the reported mean and spread,
    upstairs and downstairs, among the blocks; ``score``: the smallest of the four (a screening score, not
    a joint p-value); ``box_up``/``box_down``: the fraction of blocks whose mean AND spread both lie within
    ``box`` (relative) of the reported pair. Sorted by score, then by box_up * box_down.
    """
    if not isinstance(runs, CompletionRuns):
        raise ValueError(f"runs: got {type(runs).__name__}, expected the CompletionRuns of run_completion_readings")
    blocks = check_int("blocks", blocks, minimum=1)
    block_size = check_int("block_size", block_size, minimum=2)
    check_size("blocks, block_size", (*runs.down.shape[:-2], blocks, block_size))
    for name, pair in (("reported_up", reported_up), ("reported_down", reported_down)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"{name}: got {pair!r}, expected a pair (mean, spread) of finite numbers")
        check_real(name, pair[0])
        check_real(name, pair[1], minimum=0.0)
    check_positive("box", box, allow_tensor=False)
    gen = make_generator(seed=seed)
    shared = [mode == TARGET_MODES[1] for mode in runs.modes]
    up = torch.stack([resample_blocks(runs.up[:, m], s, blocks=blocks, block_size=block_size, generator=gen)
                      for m, s in enumerate(shared)], 1)
    down = torch.stack([resample_blocks(runs.down[:, m], s, blocks=blocks, block_size=block_size, generator=gen)
                        for m, s in enumerate(shared)], 1)
    mu_up, sd_up, cens_up = block_statistics(up, runs.caps[0])
    mu_dn, sd_dn, cens_dn = block_statistics(down, runs.caps[1])
    rows = []
    se = 1.0 / math.sqrt(block_size)
    spreads = {"sd": (1.0, 1.0), "standard error": (se, se), "se up, sd down": (se, 1.0), "sd up, se down": (1.0, se)}
    for (i, init), (m, mode), (f, factor), (spread, (scale_up, scale_dn)) in itertools.product(
            enumerate(runs.inits), enumerate(runs.modes), enumerate(runs.factors), spreads.items()):
        mu_u, s_u, mu_d, s_d = mu_up[i, m], sd_up[i, m] * scale_up, mu_dn[i, m, f], sd_dn[i, m, f] * scale_dn
        p = {"up mean": tail_probability(mu_u, reported_up[0]), "up spread": tail_probability(s_u, reported_up[1]),
             "down mean": tail_probability(mu_d, reported_down[0]),
             "down spread": tail_probability(s_d, reported_down[1])}
        box_up = float((_near(mu_u, reported_up[0], box) & _near(s_u, reported_up[1], box)).double().mean())
        box_dn = float((_near(mu_d, reported_down[0], box) & _near(s_d, reported_down[1], box)).double().mean())
        rows.append({
            "init": init, "targets": mode, "factor": factor, "spread": spread, "p": p, "score": min(p.values()),
            "box_up": box_up, "box_down": box_dn,
            "up": (float(mu_u.median()), float(s_u.median())), "down": (float(mu_d.median()), float(s_d.median())),
            "not converged": (int((runs.up[i, m] < 0).sum()) + int((runs.down[i, m, f] < 0).sum()),
                              runs.up[i, m].numel() + runs.down[i, m, f].numel()),
        })
    rows.sort(key=lambda r: (-r["score"], -r["box_up"] * r["box_down"]))
    return rows


# ---------------------------------------------------------------------------------------------
# l_p depth study: learning rates that bracket each depth's stability limit
# ---------------------------------------------------------------------------------------------


class _RatioLp(Loss):
    """Scalar-output l_p regression with one p per trial; ``value`` is ``L_p(W) / L_p*`` (one stopping level
    then serves every p), ``grad`` is the gradient of ``L_p`` itself (the steps are plain GD on L_p).

    X: (n, d); Y: (n, 1); p, optimum: tensors of the trials' batch shape. The residual is computed once per
    step and even integer powers by products (this loss runs thousands of steps inside a notebook).
    """

    def __init__(self, X, Y, p: torch.Tensor, optimum: torch.Tensor):
        self.X, self.y = X, Y[:, 0]
        self.p, self.optimum = p, optimum
        self.in_dim, self.out_dim = X.shape[1], 1

    def _parts(self, W):
        r = W[..., 0, :] @ self.X.T - self.y  # (*B, n)
        r2 = r * r
        power, slope = torch.zeros_like(r), torch.zeros_like(r)
        for v in torch.unique(self.p).tolist():
            m = (self.p == v)[..., None]
            if v == 2.0:
                a, g = r2, r
            elif v == 4.0:
                a, g = r2 * r2, r * r2
            else:
                a, g = r.abs().pow(v), torch.sign(r) * r.abs().pow(v - 1)
            power, slope = torch.where(m, a, power), torch.where(m, g, slope)
        n = self.X.shape[0]
        value = power.sum(-1) / (self.p * n) / self.optimum
        return value, (slope @ self.X / n).unsqueeze(-2)

    def value(self, W):
        return self._parts(W)[0]

    def grad(self, W):
        return self._parts(W)[1]

    def chain_value_and_grads(self, chain):
        value, grad = self._parts(_product(chain))
        return value, _layer_gradients(chain, grad)


def _depth_masked(depths: torch.Tensor, optimizer: str):
    """A ``direction=`` that freezes layers j > N of a trial of depth N (they stay at 1): exact depth-N GD
    (or Adam) on the chain ``[w, a_2, ..., a_N]`` inside one deeper chain of scalars."""
    from .endtoend import adam_direction

    adam = adam_direction() if optimizer == "adam" else None

    def direction(chain, grads):
        masked = [g if j == 0 else g * (depths >= j + 1).to(g)[..., None, None] for j, g in enumerate(grads)]
        return masked if adam is None else adam(chain, masked)

    return direction


def _balanced_scalar_chains(A: torch.Tensor, depths: torch.Tensor, top: int) -> list[torch.Tensor]:
    """Balanced chains ``[w, a_2, ..., a_N, 1, ..., 1]`` with end-to-end row A: ``||w|| = |a_j| = ||A||^{1/N}``."""
    norm = A.norm(dim=-1, keepdim=True)  # (..., 1, 1)
    n = depths.to(A)[..., None, None]
    root = norm.pow(1.0 / n)
    w = A * root / norm
    return [w] + [torch.where(depths[..., None, None] >= j, root, torch.ones_like(root)) for j in range(2, top + 1)]


@dataclass
class DepthStudy:
    """Arora et al. 2018's l_p depth comparison on one data set, every depth with its own tuned rate (notebook 04).

    Axes: P = len(ps), D = len(depths), S = seeds. coarse_lrs: (Kc,) the geometric grid; coarse_diverged:
    (P, D, Kc) whether some init diverged there; lrs: (P, D, Kf) the refined grid around each best coarse
    rate; iterations: (P, D, Kf, S) to ``L <= (1 + rel_gap) L*`` (inf if not within the cap or diverged);
    diverged: (P, D, Kf, S); chosen: (P, D) rate with the fewest median iterations; bracket: (P, D, 2) the
    largest rate where no init diverged and the smallest where one did (both grids), which bracket the
    measured stability limit; steps: (T,) recorded steps; gap: (T, P, D, S) ``L - L*`` at the chosen rate;
    optimum: (P,) L*; cap: the step cap.
    """

    ps: tuple
    depths: tuple
    coarse_lrs: torch.Tensor
    coarse_diverged: torch.Tensor
    lrs: torch.Tensor
    iterations: torch.Tensor
    diverged: torch.Tensor
    chosen: torch.Tensor
    bracket: torch.Tensor
    steps: torch.Tensor
    gap: torch.Tensor
    optimum: torch.Tensor
    rel_gap: float
    cap: int

    def chosen_iterations(self) -> torch.Tensor:
        """(P, D, S) iterations of each init at the chosen rate."""
        k = (self.lrs == self.chosen[..., None]).to(torch.int64).argmax(-1)  # (P, D)
        return torch.gather(self.iterations, 2, k[..., None, None].expand(*k.shape, 1, self.iterations.shape[-1]))[
            :, :, 0]


STUDY_MAX_RATES = 100
"""The most learning rates one stage of :func:`depth_study` may try (coarse grid, or refined grid)."""


def depth_study(X: torch.Tensor, y: torch.Tensor, optima: Sequence[float], *, ps: Sequence[float] = (2, 4),
                depths: Sequence[int] = (1, 2, 3), rel_gap: float = 1e-4, scale: float = 0.1, seeds: int = 3,
                lo: float = 1e-2, hi: float = 64.0, coarse_steps: int = 200, steps: int = 2000, refine: int = 2,
                record_every: int = 10, optimizer: str = "gd", seed: int = 0) -> DepthStudy:
    """Depth 1..N linear regression with a scalar output, weight row times N-1 scalars (Arora et al. 2018, Sec. 8).

    Balanced near-zero start: an end-to-end row A with N(0, scale^2) entries (one per seed, the same for
    every depth), split as ``||w|| = |a_j| = ||A||^{1/N}``. Plain GD (or Adam) on ``L_p = 1/(p n) sum |r|^p``.
    Learning rates: a coarse geometric grid ``lo * 2^k <= hi`` run for ``coarse_steps`` steps must contain a
    rate where some init diverges for every (p, depth) (else ValueError: raise ``hi``); the best stable
    coarse rate (fewest median iterations, then lowest median loss) is refined on ``2^(i/refine)`` times
    it (i = -refine..refine) for ``steps`` steps. Every stage is ONE engine call over p x depth x rates x
    seeds (shallower depths run inside the deepest chain with their extra layers frozen at 1).
    X: (n, d); y: (n, 1); optima: L_p* for each p (e.g. ``dlnlib.endtoend.lp_optimum``).
    """
    for name, t in (("X", X), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dtype not in (torch.float32, torch.float64) or t.numel() == 0:
            got = f"{t.dtype} of shape {tuple(t.shape)}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise ValueError(f"{name}: got {got}, expected a non-empty float64 (or float32) tensor")
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name}: contains NaN or infinite entries, expected finite numbers")
    if X.ndim != 2 or y.ndim != 2 or y.shape != (X.shape[0], 1):
        raise ValueError(f"X, y: got shapes {tuple(X.shape)} and {tuple(y.shape)}, expected tensors of shapes (n, d) "
                         "and (n, 1)")
    ps = tuple(check_real("ps", p, minimum=2.0) for p in _sequence("ps", ps, "exponents p >= 2"))
    depths = tuple(check_int("depths", n, minimum=1, maximum=MAX_DEPTH) for n in _sequence("depths", depths, "depths"))
    optima = _sequence("optima", optima, "minimum losses L_p* > 0")
    if len(optima) != len(ps):
        raise ValueError(f"optima: got {len(optima)} values, expected one per p ({len(ps)})")
    for o in optima:
        check_positive("optima", check_real("optima", o), allow_tensor=False)
    check_positive("rel_gap", rel_gap, allow_tensor=False)
    check_positive("scale", scale, allow_tensor=False)
    check_positive("lo", lo, allow_tensor=False)
    check_positive("hi", hi, allow_tensor=False)
    if not hi > lo:
        raise ValueError(f"hi: got {hi!r}, expected a number > lo = {lo!r}")
    if math.log2(hi) - math.log2(lo) >= STUDY_MAX_RATES:
        raise ValueError(f"hi: got hi / lo = 2^{math.log2(hi) - math.log2(lo):.0f}, expected at most "
                         f"2^{STUDY_MAX_RATES - 1} (a grid of {STUDY_MAX_RATES} rates)")
    seeds = check_int("seeds", seeds, minimum=1)
    refine = check_int("refine", refine, minimum=1, maximum=STUDY_MAX_RATES // 2)
    coarse_steps = check_int("coarse_steps", coarse_steps, minimum=1, maximum=MAX_STEPS)
    steps = check_int("steps", steps, minimum=1, maximum=MAX_STEPS)
    check_size("seeds", (len(ps), len(depths), STUDY_MAX_RATES, seeds, max(depths), X.shape[1]))
    check_choice("optimizer", optimizer, ("gd", "adam"))
    P, D, top = len(ps), len(depths), max(depths)
    p_t = torch.tensor(ps, dtype=X.dtype)
    opt_t = torch.tensor([float(o) for o in optima], dtype=X.dtype)
    gen = make_generator(seed=seed)
    A = scale * torch.randn(seeds, 1, X.shape[1], generator=gen, dtype=X.dtype)
    dep_t = torch.tensor(depths)
    if not all(bool(torch.isfinite(w).all()) for w in _balanced_scalar_chains(A, dep_t[:, None], top)):
        raise ValueError(f"scale: got {scale!r}, whose balanced start ||A||^(1/N) A / ||A|| is not finite in "
                         f"{X.dtype}; expected a moderate scale such as 0.1")

    def run(lr, n_steps, every):  # lr: (P, D, K, 1)
        K = lr.shape[2]
        shape = (P, D, K, seeds)
        dep = dep_t.reshape(1, D, 1, 1).expand(shape)
        chain = _balanced_scalar_chains(A.expand(*shape, 1, X.shape[1]), dep, top)
        loss = _RatioLp(X, y, p_t.reshape(P, 1, 1, 1).expand(shape), opt_t.reshape(P, 1, 1, 1).expand(shape))
        res = gradient_descent(chain, loss, lr=lr.expand(shape), steps=n_steps, tol=1.0 + rel_gap,
                               record_every=every, direction=_depth_masked(dep, optimizer), progress=False)
        it = torch.where(res.stopped_at >= 0, res.stopped_at.to(X.dtype), torch.full(shape, math.inf))
        return res, it, res.diverged

    n_coarse = int(math.floor(math.log2(hi / lo) + 1e-9)) + 1
    coarse = lo * 2.0 ** torch.arange(n_coarse, dtype=X.dtype)
    res_c, it_c, div_c = run(coarse.reshape(1, 1, -1, 1).expand(P, D, -1, 1), coarse_steps, coarse_steps)
    div_any = div_c.any(-1)  # (P, D, Kc)
    if not bool(div_any.any(-1).all()):
        raise ValueError(f"hi: for some (p, depth) no rate up to {hi:g} diverged within {coarse_steps} steps, so "
                         "the grid does not bracket the stability limit; expected a larger hi")
    med = it_c.median(-1).values
    fin = res_c.final_loss.median(-1).values
    best = torch.empty(P, D, dtype=X.dtype)
    for a, b in itertools.product(range(P), range(D)):
        ok = [k for k in range(n_coarse) if not div_any[a, b, k]]
        if not ok:
            raise ValueError(f"lo: every rate from {lo:g} diverged for p = {ps[a]:g}, depth {depths[b]}; "
                             "expected a smaller lo")
        best[a, b] = coarse[min(ok, key=lambda k: (float(med[a, b, k]), float(fin[a, b, k])))]
    factors = 2.0 ** (torch.arange(-refine, refine + 1, dtype=X.dtype) / refine)
    fine = best[..., None] * factors  # (P, D, Kf)
    res_f, it_f, div_f = run(fine[..., None], steps, record_every)
    med_f = torch.where(div_f.any(-1), torch.full_like(fine, math.inf), it_f.median(-1).values)
    fin_f = torch.where(div_f.any(-1), torch.full_like(fine, math.inf), res_f.final_loss.median(-1).values)
    k_best = torch.empty(P, D, dtype=torch.int64)
    bracket = torch.empty(P, D, 2, dtype=X.dtype)
    for a, b in itertools.product(range(P), range(D)):
        k_best[a, b] = min(range(len(factors)), key=lambda k: (float(med_f[a, b, k]), float(fin_f[a, b, k])))
        rates = torch.cat([coarse, fine[a, b]])
        bad = torch.cat([div_any[a, b], div_f[a, b].any(-1)])
        first_bad = float(rates[bad].min())
        bracket[a, b] = torch.tensor([float(rates[~bad & (rates < first_bad)].max()), first_bad])
    chosen = torch.gather(fine, 2, k_best[..., None])[..., 0]
    losses = res_f.losses  # (T, P, D, Kf, S), as ratios L / L*
    idx = k_best.reshape(1, P, D, 1, 1).expand(losses.shape[0], P, D, 1, seeds)
    gap = (torch.gather(losses, 3, idx)[:, :, :, 0] - 1.0) * opt_t.reshape(1, P, 1, 1)
    return DepthStudy(ps=ps, depths=depths, coarse_lrs=coarse, coarse_diverged=div_any, lrs=fine, iterations=it_f,
                      diverged=div_f, chosen=chosen, bracket=bracket, steps=res_f.steps, gap=gap, optimum=opt_t,
                      rel_gap=float(rel_gap), cap=int(steps))


def bursts(curve: torch.Tensor, *, factor: float = 2.0) -> int:
    """Number of loss spikes: times a finite curve rises above ``factor`` times its running minimum (notebook 04).

    curve: (T,) losses (or loss minus optimum) along one run; a spike counts once from when it rises above
    the threshold until it falls back below it. Seed 001 reports unexplained "bursts" of the loss.
    """
    check_positive("factor", factor, allow_tensor=False)
    if isinstance(curve, torch.Tensor) and (curve.is_complex() or curve.dtype == torch.bool):
        raise ValueError(f"curve: got dtype {curve.dtype}, expected real losses")
    try:
        c = torch.as_tensor(curve, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"curve: got {type(curve).__name__}, expected a 1-D tensor of losses") from exc
    c = c[torch.isfinite(c)]
    if c.numel() == 0:
        return 0
    running = torch.cummin(c, 0).values
    above = c > factor * running
    return int((above[1:] & ~above[:-1]).sum()) + int(above[0])


SEED001_GRID = (1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 1e-2)
"""Seed 001's learning-rate grid (for PyTorch's MSE, which is twice ``dlnlib.LpLoss(p=2)``)."""


@dataclass
class GridRuns:
    """Seed 001-style runs: one network, every init seed x learning rate in one engine call (notebook 04).

    lrs: (K,); best: index of the rate with the lowest median final loss among rates where no seed
    diverged (seed 001 keeps "the run with the best training loss at the last epoch"); steps: (T,);
    losses: (T, S) at the best rate; bursts: (S,) loss spikes (:func:`bursts`) at the best rate;
    bursts_all: total spikes over every non-diverged run of the grid.
    """

    lrs: torch.Tensor
    best: int
    steps: torch.Tensor
    losses: torch.Tensor
    bursts: torch.Tensor
    bursts_all: int

    @property
    def lr(self) -> float:
        return float(self.lrs[self.best])

    @property
    def final(self) -> torch.Tensor:
        """(S,) final loss of each seed at the best rate."""
        return self.losses[-1]


def grid_runs(loss, dims: Sequence[int], lrs, *, init: str = "default", scale=None, seeds: int = 3,
              steps: int = 500, record_every: int = 5, optimizer: str = "gd", seed: int = 0) -> GridRuns:
    """Train ``init_chain(dims, init, scale)`` for ``seeds`` seeds x every rate of ``lrs`` in ONE engine call.

    optimizer: "gd" or "adam" (``dlnlib.endtoend.adam_direction``). Returns :class:`GridRuns`.
    """
    from .endtoend import adam_direction

    seeds = check_int("seeds", seeds, minimum=1)
    check_int("seed", seed, minimum=0)
    check_choice("init", init, SCHEMES)
    check_choice("optimizer", optimizer, ("gd", "adam"))
    lrs = _rates("lrs", lrs)
    K = lrs.numel()
    dims = _check_dims(dims)
    check_size("seeds", (seeds, K, max(a * b for a, b in zip(dims, dims[1:]))))
    per = [init_chain(dims, init, scale=scale, seed=seed + s) for s in range(seeds)]
    chain = [torch.stack([c[j] for c in per]).unsqueeze(1).expand(seeds, K, *per[0][j].shape).clone()
             for j in range(len(dims) - 1)]
    res = gradient_descent(chain, loss, lr=lrs.reshape(1, K), steps=steps, record_every=record_every,
                           direction=adam_direction() if optimizer == "adam" else None, progress=False)
    bad = res.diverged.any(0)
    if bool(bad.all()):
        raise ValueError("lrs: every rate diverged for some seed, expected at least one stable rate")
    med = torch.where(bad, torch.full((K,), math.inf, dtype=torch.float64), res.final_loss.median(0).values)
    best = int(med.argmin())
    losses = res.losses[:, :, best]
    counts = torch.tensor([bursts(losses[:, s]) for s in range(seeds)])
    total = sum(bursts(res.losses[:, s, k]) for s in range(seeds) for k in range(K) if not bool(bad[k]))
    return GridRuns(lrs=lrs, best=best, steps=res.steps, losses=losses, bursts=counts, bursts_all=int(total))
