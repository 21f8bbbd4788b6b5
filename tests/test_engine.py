"""The engine's chunks: exact stop and divergence steps between host looks, chunk size changing no
result, fused closed-form gradients against autograd for every loss, and the CUDA path."""

import pytest
import torch

import dlnlib
from dlnlib import train
from dlnlib.losses import ChainLoss, DiagonalCompletion, LpLoss, SquaredError
from dlnlib.saxe import ModeEnergy, WhitenedSquaredError


def seed000(trials, seed=0, depth=3, device="cpu"):
    chain = dlnlib.init_chain([2] * (depth + 1), "default", batch=(trials,), seed=seed, device=device)
    return chain, dlnlib.data.completion_targets(2, (trials,), seed=seed + 1, device=device)


def plain_loop(chain, loss, lr, steps, tol=None, blowup=1e8):
    """One trial, step by step, with a host decision every step: (stop step, divergence step, chain)."""
    chain = [w.clone() for w in chain]
    value, grads = loss.chain_value_and_grads(chain)
    limit = blowup * max(float(value), 1.0)
    lr_t = torch.tensor(lr, dtype=value.dtype)
    prev = None
    for t in range(steps + 1):
        v = float(value)
        if not (v <= limit):  # non-finite or blown up: report it, keep the last finite iterate
            return -1, t, prev
        if tol is not None and v <= tol:
            return t, -1, chain
        if t == steps:
            return -1, -1, chain
        prev = chain
        chain = [torch.addcmul(w, lr_t, g, value=-1.0) for w, g in zip(chain, grads)]  # the engine's fused update
        value, grads = loss.chain_value_and_grads(chain)


@pytest.mark.parametrize("engine", ["torch", "compiled"])
def test_a_trial_crossing_tol_inside_a_chunk_reports_its_first_crossing_step(engine):
    chain, phi = seed000(12)
    res = dlnlib.gradient_descent(chain, DiagonalCompletion(phi), lr=0.1, steps=3000, tol=1e-7, record_steps=[0],
                                  engine=engine)
    if engine == "torch":
        assert res.info["looks"] <= 3000 // train.CHUNK + 2  # the host looked once per chunk, not per step
    inside = 0
    for k in range(12):
        stop, div, final = plain_loop([w[k:k + 1] for w in chain], DiagonalCompletion(phi[k:k + 1]), 0.1, 3000,
                                      tol=1e-7)
        assert int(res.stopped_at[k]) == stop and div == -1
        inside += stop % train.CHUNK != 0
        for a, b in zip(final, res.chain):
            assert torch.equal(a, b[k:k + 1])
    assert inside >= 10  # most stops fall strictly inside a chunk of the torch engine (measured: 12 of 12)
    assert res.n_steps == int(res.stopped_at.max())


def test_a_trial_diverging_inside_a_chunk_is_reported_at_its_step_with_its_last_finite_iterate():
    X, Y, _ = dlnlib.data.teacher_regression(3, 2, 40, noise=0.1, seed=0, device="cpu")
    loss = SquaredError(X, Y)
    chain = dlnlib.init_chain([3, 4, 2], "gaussian", scale=0.3, batch=(4,), seed=1, device="cpu")
    lrs = [0.05, 0.3, 0.9, 1.6]
    res = dlnlib.gradient_descent(chain, loss, lr=torch.tensor(lrs, dtype=torch.float64), steps=400, tol=0.05,
                                  record_every=50)  # (3 x 2 end-to-end: the torch engine; tests/test_kernels.py
    # compares the compiled loop's divergences with the torch engine's)
    assert res.info["replays"] >= 1  # the chunk with the blow-up was run again with exact checks
    seen = 0
    for k, lr in enumerate(lrs):
        stop, div, final = plain_loop([w[k:k + 1] for w in chain], loss, lr, 400, tol=0.05)
        assert (int(res.stopped_at[k]), int(res.diverged_at[k])) == (stop, div)
        for a, b in zip(final, res.chain):
            assert torch.equal(a, b[k:k + 1])
        seen += div > 0 and div % train.CHUNK != 0
    assert seen >= 1  # at least one divergence strictly inside a chunk
    assert torch.isnan(res.losses[-1][res.diverged]).all()


@pytest.mark.parametrize("chunk", [1, 7])
def test_the_chunk_length_changes_no_result(monkeypatch, chunk):
    chain, phi = seed000(60, seed=2)
    lr = torch.linspace(0.05, 0.6, 60, dtype=torch.float64)  # the largest rates diverge
    kw = dict(lr=lr, steps=700, tol=1e-7, record_every=9, record=("loss", "chain"), engine="torch")
    ref = dlnlib.gradient_descent(chain, DiagonalCompletion(phi), **kw)
    monkeypatch.setattr(train, "CHUNK", chunk)
    other = dlnlib.gradient_descent(chain, DiagonalCompletion(phi), **kw)
    assert int(ref.diverged.sum()) > 0 and int(ref.converged.sum()) > 0
    assert torch.equal(ref.stopped_at, other.stopped_at) and torch.equal(ref.diverged_at, other.diverged_at)
    assert ref.n_steps == other.n_steps and torch.equal(ref.steps, other.steps)
    for a, b in zip(ref.chain + ref.history["chain"], other.chain + other.history["chain"]):
        assert torch.equal(a, b)
    assert torch.equal(ref.losses.nan_to_num(7.0), other.losses.nan_to_num(7.0))


def _losses():
    X, Y, _ = dlnlib.data.teacher_regression(3, 3, 30, noise=0.1, seed=3, device="cpu")
    phi = torch.randn(5, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    return {
        "squared error": SquaredError(X, Y),
        "l3": LpLoss(X, Y, 3),
        "l4": LpLoss(X, Y, 4),
        "diagonal mean": DiagonalCompletion(phi),
        "diagonal energy": DiagonalCompletion(phi, "energy"),
        "whitened": WhitenedSquaredError(torch.randn(3, 3, dtype=torch.float64)),
        "mode energy": ModeEnergy(torch.tensor([2.0, 1.0, 0.5]), 3, 3),
        "chain loss": ChainLoss(lambda c: (dlnlib.end_to_end(c) ** 4).sum((-2, -1)) + (c[0] ** 2).sum((-2, -1))),
    }


@pytest.mark.parametrize("name", list(_losses()))
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_fused_value_and_gradients_match_autograd(name, depth):
    loss = _losses()[name]
    chain = dlnlib.init_chain([3] * (depth + 1), "gaussian", scale=0.7, batch=(5,), seed=depth, device="cpu")
    value, grads = loss.chain_value_and_grads(chain)
    leaves = [w.clone().requires_grad_(True) for w in chain]
    ref = loss(leaves) if isinstance(loss, ChainLoss) else loss(dlnlib.end_to_end(leaves))
    auto = torch.autograd.grad(ref.sum(), leaves)
    assert value.shape == (5,) and torch.allclose(value, ref.detach(), rtol=2e-14, atol=0)  # equal here
    for g, a in zip(grads, auto):
        assert g.shape == a.shape
        assert torch.allclose(g, a, rtol=1e-12, atol=1e-13)  # measured: <= 5e-16 relative to the largest entry


def test_diagonal_gradient_equals_the_dense_chain_rule_bit_for_bit():
    # The diagonal loss passes on only diag(G); the result must be the dense products' exactly.
    chain, phi = seed000(50, seed=5, depth=4)
    loss = DiagonalCompletion(phi)
    value, grads = loss.chain_value_and_grads(chain)
    dense = dlnlib.layer_gradients(chain, loss.grad(dlnlib.end_to_end(chain)))
    assert torch.equal(value, loss.value(dlnlib.end_to_end(chain)))
    for a, b in zip(grads, dense):
        assert torch.equal(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (none on this machine)")
def test_the_engine_runs_on_cuda_with_the_cpu_iteration_counts():
    chain, phi = seed000(500, seed=6, device="cpu")
    cpu = dlnlib.gradient_descent(chain, DiagonalCompletion(phi), lr=0.1, steps=20_000, tol=1e-7, record_every=100)
    gpu = dlnlib.gradient_descent([w.cuda() for w in chain], DiagonalCompletion(phi.cuda()), lr=0.1, steps=20_000,
                                  tol=1e-7, record_every=100)
    assert gpu.chain[0].is_cuda and gpu.info["looks"] <= 20_000 // train.CHUNK + 2
    same = (gpu.stopped_at.cpu() == cpu.stopped_at).double().mean().item()
    assert same >= 0.99  # different matmul kernels may move a last bit and, rarely, a stop step by one
    assert torch.allclose(gpu.final_loss.cpu(), cpu.final_loss, rtol=0, atol=1e-9)


def test_a_loss_built_from_a_tensor_stays_on_its_device_and_a_mixed_device_run_is_refused(monkeypatch):
    # On a GPU machine "auto" means CUDA; a loss built from CPU tensors must stay on the CPU beside a CPU chain
    # (the engine's first CUDA run found DiagonalCompletion(cpu_target) moved to the GPU, then a raw torch error).
    from dlnlib import core

    monkeypatch.setattr(core, "_auto_device", lambda: torch.device("meta"))
    chain, phi = seed000(3)
    loss = DiagonalCompletion(phi)
    assert loss.target_diag.device.type == "cpu"
    assert SquaredError(torch.ones(4, 2), torch.ones(4, 2)).sigma_xx.device.type == "cpu"
    loss.target_diag = loss.target_diag.to("meta")  # as if built on another device
    with pytest.raises(ValueError, match=r"loss: its data are on meta but the chain is on cpu; build the loss with"):
        dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5)
