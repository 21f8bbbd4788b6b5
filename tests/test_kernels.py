"""The compiled loop (dlnlib.kernels) against the torch engine: the same TrainResult bit for bit wherever ``plan``
lets it run, and a stated reason wherever it does not."""

import pytest
import torch

import dlnlib
from dlnlib import kernels
from dlnlib.losses import DiagonalCompletion, LpLoss, SquaredError

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba is not installed")


def _equal(a, b) -> bool:
    """Equal tensors (NaN where NaN), lists and dicts of them, or equal values."""
    if isinstance(a, torch.Tensor):
        return (a.shape == b.shape and a.dtype == b.dtype and torch.equal(a.isnan(), b.isnan())
                and torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0)))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return set(a) == set(b) and all(_equal(a[k], b[k]) for k in a)
    return a == b


def both(chain, loss, **kw):
    """The torch engine's and the compiled loop's results; fails unless every field is identical."""
    ref = dlnlib.gradient_descent(chain, loss, engine="torch", progress=False, **kw)
    out = dlnlib.gradient_descent(chain, loss, engine="compiled", progress=False, **kw)
    assert out.info["engine"] == "compiled"
    for field in ("chain", "steps", "history", "stopped_at", "diverged_at", "final_loss", "n_steps", "tol"):
        assert _equal(getattr(ref, field), getattr(out, field)), field
    return ref


RUNS = {  # learning rates and records that exercise stops, divergence, weight decay and every record kind
    "stops": dict(lr=0.1, steps=250, tol=1e-7),
    "records": dict(lr=0.1, steps=40, record=("loss", "chain", "end_to_end", "singular_values")),
    "diverges": dict(lr=3.0, steps=150, tol=1e-6),
    "decay": dict(lr=0.05, steps=200, tol=1e-5, record_every=7, weight_decay=1e-3),
    "steps": dict(lr=0.2, steps=300, tol=1e-6, record_steps=[0, 3, 17, 299], blowup=1e3),
    "some start stopped": dict(lr=0.1, steps=60, tol=0.4, record_every=5, record=("loss", "chain")),
    "some start diverged": dict(lr=0.1, steps=60, blowup=0.9, record_every=5, record=("loss", "chain")),
}


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("depth,d", [(1, 2), (2, 3), (3, 2), (6, 4), (4, 1)])
def test_diagonal_completion_is_the_torch_engine_bit_for_bit(dtype, depth, d):
    chain = dlnlib.init_chain([d] * (depth + 1), "default", batch=(6, 2), seed=depth + d, dtype=dtype)
    target = dlnlib.data.completion_targets(d, (6, 2), seed=3, dtype=dtype)
    outcomes = set()
    for reduction in ("mean", "energy"):
        for kw in RUNS.values():
            ref = both(chain, DiagonalCompletion(target, reduction, dtype=dtype), **kw)
            outcomes |= {"stopped"} if bool(ref.converged.any()) else set()
            outcomes |= {"diverged"} if bool(ref.diverged.any()) else set()
    assert outcomes == {"stopped", "diverged"}  # both endings were compared, not only runs to the cap


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("d_in,d_out,width,depth", [(2, 2, 2, 3), (2, 1, 3, 2), (1, 4, 5, 4), (1, 1, 1, 1)])
def test_squared_error_is_the_torch_engine_bit_for_bit(dtype, d_in, d_out, width, depth):
    X, Y, _ = dlnlib.data.teacher_regression(d_in, d_out, 20, noise=0.1, seed=depth, device="cpu")
    loss = SquaredError(X, Y, dtype=dtype)
    chain = dlnlib.init_chain([d_in] + [width] * (depth - 1) + [d_out], "default", batch=(9,), seed=1, dtype=dtype)
    lr = torch.linspace(0.02, 4.0, 9, dtype=dtype)  # one rate per trial; the largest diverge
    ref = both(chain, loss, lr=lr, steps=300, tol=1e-3, record_every=11, record=("loss", "end_to_end"))
    both(chain, loss, lr=0.05, steps=30, record=("chain",))
    assert bool(ref.diverged.any())


def test_the_widest_chains_plan_accepts_match():
    # 14 x 14 x 2 = 392: torch's own small-matrix loop (one more row and it calls BLAS, which plan refuses)
    chain = dlnlib.init_chain([2, 14, 14, 2], "default", batch=(4,), seed=5)
    ref = both(chain, DiagonalCompletion(dlnlib.data.completion_targets(2, (4,), seed=6)), lr=0.02, steps=200,
               tol=1e-4, record_every=40)
    assert ref.info["looks"] >= 1


def test_per_trial_data_and_broadcast_chains_match():
    # one target per trial, one shared chain broadcast over them, one learning rate per row of the grid
    target = dlnlib.data.completion_targets(2, (4, 5), seed=2)
    chain = dlnlib.init_chain([2, 2, 2], "default", seed=0)
    both(chain, DiagonalCompletion(target), lr=torch.tensor([[0.05], [0.1], [0.4], [1.2]], dtype=torch.float64),
         steps=400, tol=1e-8, record_every=50)
    sxx = torch.eye(2, dtype=torch.float64).expand(3, 2, 2) * torch.tensor([1.0, 2.0, 0.5])[:, None, None]
    both(dlnlib.init_chain([2, 3, 2], "default", batch=(3,), seed=4),
         SquaredError.from_covariances(sxx, torch.ones(2, 2, dtype=torch.float64), 1.0), lr=0.1, steps=100, tol=1e-4)


def test_a_trial_is_computed_the_same_alone_and_in_a_batch():
    chain = dlnlib.init_chain([2] * 4, "default", batch=(50,), seed=8)
    target = dlnlib.data.completion_targets(2, (50,), seed=9)
    lr = torch.linspace(0.05, 2.0, 50, dtype=torch.float64)
    res = dlnlib.gradient_descent(chain, DiagonalCompletion(target), lr=lr, steps=2000, tol=1e-7, engine="compiled")
    for k in (0, 17, 49):
        one = dlnlib.gradient_descent([w[k:k + 1] for w in chain], DiagonalCompletion(target[k:k + 1]), lr=lr[k:k + 1],
                                      steps=2000, tol=1e-7, engine="compiled")
        assert (int(one.stopped_at), int(one.diverged_at)) == (int(res.stopped_at[k]), int(res.diverged_at[k]))
        assert all(torch.equal(a[0], b[k]) for a, b in zip(one.chain, res.chain))


def test_auto_picks_the_compiled_loop_only_where_plan_allows_and_loading_it_pays():
    chain = dlnlib.init_chain([2, 2, 2], "default", batch=(3,), seed=0)
    loss = DiagonalCompletion(dlnlib.data.completion_targets(2, (3,), seed=1))
    dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5, engine="compiled")  # loaded in this process now
    assert dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5).info["engine"] == "compiled"
    assert "looks" in dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5, engine="torch").info
    assert "looks" in dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5, callbacks={"n": lambda c: c[0].sum()}).info


class _NotLoaded:
    signatures = []


@pytest.mark.parametrize("on_disk", [False, True])
def test_auto_loads_the_compiled_loop_only_for_runs_long_enough_to_pay_for_it(monkeypatch, on_disk):
    monkeypatch.setattr(kernels, "_descend", _NotLoaded())
    monkeypatch.setattr(kernels, "_on_disk", lambda: on_disk)
    assert not kernels.worth_it(1_000, 300, torch.float64)  # about 30 ms on the torch engine
    assert kernels.worth_it(1_000, 100_000, torch.float64) == on_disk  # about 9 s: pays for loading, not compiling
    assert kernels.worth_it(10_000, 100_000, torch.float64)  # about 36 s


def _plans():
    X, Y, _ = dlnlib.data.teacher_regression(3, 2, 10, seed=0, device="cpu")
    small = dlnlib.init_chain([2, 2, 2], "default", batch=(3,), seed=0)
    diag = DiagonalCompletion(dlnlib.data.completion_targets(2, (3,), seed=1))
    wide = dlnlib.init_chain([2, 15, 14, 2], "default", batch=(3,), seed=0)  # 15 x 14 x 2 = 420 >= 400
    return {
        "direction": (small, diag, dict(direction=lambda c, g: g), "direction"),
        "callbacks": (small, diag, dict(callbacks={"x": lambda c: c[0].sum()}), "callbacks"),
        "loss type": (dlnlib.init_chain([3, 2], "default", batch=(3,), seed=0), LpLoss(X, Y, 3), {}, "LpLoss"),
        "long sum": (dlnlib.init_chain([3, 2], "default", batch=(3,), seed=0), SquaredError(X, Y), {}, "4 entries"),
        "wide": (wide, diag, {}, "too wide"),
        "no batch": ([w[0] for w in small], DiagonalCompletion(torch.eye(2, dtype=torch.float64)), {}, "single trial"),
        "dtype": ([w.to(torch.float16) for w in small], diag, {}, "float16"),
    }


@pytest.mark.parametrize("case", list(_plans()))
def test_plan_says_why_the_compiled_loop_cannot_run(case):
    chain, loss, kw, words = _plans()[case]
    why = kernels.plan(chain, loss, torch.tensor(0.1), direction=kw.get("direction"), callbacks=kw.get("callbacks"))
    assert why is not None and words in why
    if case != "dtype":  # (the engine refuses float16 chains before planning)
        with pytest.raises(ValueError, match="engine: the compiled loop cannot run this call"):
            dlnlib.gradient_descent(chain, loss, lr=0.1, steps=3, engine="compiled", **kw)
        assert "engine" not in dlnlib.gradient_descent(chain, loss, lr=0.1, steps=3, **kw).info  # auto: torch


def test_engine_must_be_a_known_name():
    chain = dlnlib.init_chain([2, 2], "default", batch=(2,), seed=0)
    loss = DiagonalCompletion(torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="engine"):
        dlnlib.gradient_descent(chain, loss, lr=0.1, steps=3, engine="numba")


@pytest.mark.parametrize("progress", [False, True])
def test_windows_of_records_change_no_result(monkeypatch, progress):
    # a small record budget (or a progress bar) splits the run into windows: trials leave their lanes at each window's
    # end and come back at the next; nothing may change
    monkeypatch.setattr(kernels, "_RECORD_BUDGET", 200)
    chain = dlnlib.init_chain([2, 2, 2, 2], "default", batch=(30,), seed=3)
    loss = DiagonalCompletion(dlnlib.data.completion_targets(2, (30,), seed=4))
    lr = torch.linspace(0.05, 2.5, 30, dtype=torch.float64)
    kw = dict(lr=lr, steps=600, tol=1e-8, record_every=3, record=("loss", "chain"))
    ref = dlnlib.gradient_descent(chain, loss, engine="torch", progress=False, **kw)
    out = dlnlib.gradient_descent(chain, loss, engine="compiled", progress=progress, **kw)
    assert bool(ref.diverged.any()) and bool(ref.converged.any())
    for field in ("chain", "steps", "history", "stopped_at", "diverged_at", "final_loss", "n_steps"):
        assert _equal(getattr(ref, field), getattr(out, field)), field


def test_without_a_writable_cache_the_loop_is_compiled_per_process(monkeypatch):
    # numba raises at decoration when no cache locator works (read-only install, no home directory)
    calls = []

    def njit(**options):
        calls.append(options)
        if options.get("cache"):
            raise RuntimeError("cannot cache function 'f': no locator available for file 'f.py'")
        return lambda fn: fn

    monkeypatch.setattr(kernels, "njit", njit)
    f = kernels._jit(inline="always")(lambda x: x + 1)
    assert f(1) == 2 and calls == [{"cache": True, "inline": "always"}, {"inline": "always"}]
