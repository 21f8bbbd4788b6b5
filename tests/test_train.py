"""The gradient-descent engine and gradient flow: batching, stopping, divergence, closed forms."""

import math

import numpy as np
import pytest
import torch

import dlnlib
from dlnlib.losses import DiagonalCompletion, LpLoss, SquaredError


def teacher(seed=0, n=40, d_in=3, d_out=2):
    X, Y, _ = dlnlib.data.teacher_regression(d_in, d_out, n, noise=0.1, seed=seed, device="cpu")
    return X, Y


def test_losses_match_their_definitions_and_autograd():
    X, Y = teacher()
    W = torch.randn(2, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    direct = ((Y - X @ W.T) ** 2).sum() / (2 * len(X))
    se = SquaredError(X, Y)
    assert abs(se.value(W.detach()) - direct.item()) < 2e-14
    (g,) = torch.autograd.grad(direct, W)
    assert torch.allclose(se.grad(W.detach()), g, rtol=0, atol=2e-14)
    for p in (2, 3, 4):
        lp = LpLoss(X, Y, p)
        Wd = W.detach().clone().requires_grad_(True)
        val = ((X @ Wd.T - Y).abs() ** p).sum() / (p * len(X))
        (g,) = torch.autograd.grad(val, Wd)
        assert abs(lp.value(W.detach()) - val.item()) < 2e-14  # equal here; a few ulps of the O(1) loss
        assert torch.allclose(lp.grad(W.detach()), g, rtol=0, atol=2e-14)
    assert abs(LpLoss(X, Y, 2).value(W.detach()) - se.value(W.detach())) < 2e-14


def test_diagonal_completion_mean_is_torch_mse_on_diagonals():
    phi = torch.randn(5, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    W = torch.randn(5, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ref = torch.stack([torch.nn.functional.mse_loss(torch.diag(W[k]), torch.diag(phi[k])) for k in range(5)])
    assert torch.allclose(DiagonalCompletion(phi).value(W), ref, rtol=0, atol=1e-14)
    # values up to 9: ~10 ulps (equal here)
    assert torch.allclose(DiagonalCompletion(phi, "energy").value(W), ref * 3 / 2, rtol=0, atol=2e-14)


def test_batched_run_equals_trials_run_one_at_a_time():
    X, Y = teacher()
    loss = SquaredError(X, Y)
    chain = dlnlib.init_chain([3, 4, 4, 2], "gaussian", scale=0.3, batch=(5,), seed=3, device="cpu")
    lr = torch.tensor([0.02, 0.05, 0.1, 0.2, 0.3], dtype=torch.float64)
    res = dlnlib.gradient_descent(chain, loss, lr=lr, steps=150, tol=1e-3, record_every=10)
    for k in range(5):
        one = dlnlib.gradient_descent([w[k] for w in chain], loss, lr=float(lr[k]), steps=150, tol=1e-3,
                                      record_every=10)
        assert int(one.stopped_at) == int(res.stopped_at[k])
        for a, b in zip(one.chain, res.chain):
            assert torch.allclose(a, b[k], rtol=0, atol=1e-13)  # equal here; 150 steps of batched vs single matmuls


def test_stop_step_is_first_step_below_tol():
    phi = dlnlib.data.completion_targets(2, (20,), seed=4, device="cpu")
    chain = dlnlib.init_chain([2, 2, 2, 2], "default", batch=(20,), seed=5, device="cpu")
    loss = DiagonalCompletion(phi)
    res = dlnlib.gradient_descent(chain, loss, lr=0.1, steps=5000, tol=1e-7, record_every=1)
    assert bool(res.converged.all())
    full = res.losses  # every step recorded
    for k in range(20):
        s = int(res.stopped_at[k])
        assert full[s, k] <= 1e-7 and (s == 0 or full[s - 1, k] > 1e-7)
        assert torch.all(full[s:, k] == full[s, k])  # frozen after stopping


def test_a_diverging_trial_is_reported_while_the_others_finish():
    X, Y = teacher()
    loss = SquaredError(X, Y)
    chain = dlnlib.init_chain([3, 2], "zero", batch=(3,), device="cpu")
    lam_max = torch.linalg.eigvalsh(loss.sigma_xx).max().item()
    lr = torch.tensor([0.5 / lam_max, 1.0 / lam_max, 2.5 / lam_max], dtype=torch.float64)
    res = dlnlib.gradient_descent(chain, loss, lr=lr, steps=2000, tol=None, record_every=50)
    assert res.diverged.tolist() == [False, False, True]
    assert res.diverged_at[2] > 0
    assert torch.isfinite(res.final_loss).all() and torch.isfinite(res.chain[0]).all()
    assert torch.isnan(res.losses[-1, 2]) and torch.isfinite(res.losses[:, :2]).all()
    assert res.final_loss[:2].max() < 0.01
    assert "1 diverged (first at step" in res.summary()


def test_history_records_end_to_end_singular_values_and_callbacks():
    X, Y = teacher()
    chain = dlnlib.init_chain([3, 4, 2], "gaussian", scale=0.5, batch=(2,), seed=6, device="cpu")
    res = dlnlib.gradient_descent(chain, SquaredError(X, Y), lr=0.1, steps=20, record_every=5,
                                  record=("loss", "end_to_end", "singular_values", "chain"),
                                  callbacks={"norm1": lambda c: c[0].norm(dim=(-2, -1))})
    assert res.steps.tolist() == [0, 5, 10, 15, 20]
    assert res.history["end_to_end"].shape == (5, 2, 2, 3)
    assert res.history["singular_values"].shape == (5, 2, 2)
    assert res.history["norm1"].shape == (5, 2)
    assert torch.allclose(res.history["chain"][1][-1], res.chain[1], rtol=0, atol=1e-15)  # the same numbers: equal
    assert torch.allclose(res.history["end_to_end"][-1], dlnlib.end_to_end(res.chain), rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(lr=-0.1, steps=3), r"lr: got -0.1, expected a finite number > 0"),
        (dict(lr=float("nan"), steps=3), r"lr: got nan, expected a finite number > 0"),
        (dict(lr=torch.tensor([0.1, 0.0]), steps=3), r"lr: got \[0.1, 0\], expected finite numbers > 0"),
        (dict(lr=0.1, steps=-1), r"steps: got -1, expected an integer >= 0"),
        (dict(lr=0.1, steps=3, tol=0.0), r"tol: got 0.0, expected a finite number > 0"),
        (dict(lr=0.1, steps=3, record=("weights",)), r"record: got 'weights'"),
        (dict(lr=torch.ones(4) * 0.1, steps=3), r"lr: shape \(4,\) does not broadcast"),
    ],
)
def test_gradient_descent_rejects_bad_input(kwargs, message):
    X, Y = teacher()
    chain = dlnlib.init_chain([3, 2], "zero", batch=(3,), device="cpu")
    with pytest.raises(ValueError, match=message):
        dlnlib.gradient_descent(chain, SquaredError(X, Y), **kwargs)


def test_loss_constructors_reject_bad_input():
    X, Y = teacher()
    with pytest.raises(ValueError, match=r"p: got 1.5, expected a finite number p >= 2"):
        LpLoss(X, Y, 1.5)
    with pytest.raises(ValueError, match=r"Y: got 39 rows but X has 40"):
        SquaredError(X, Y[:-1])
    with pytest.raises(ValueError, match=r"W: got shape \(3, 3\), expected \(\*batch, 2, 3\)"):
        SquaredError(X, Y)(torch.zeros(3, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"reduction: got 'sum'"):
        DiagonalCompletion(torch.eye(2), "sum")


def test_gradient_flow_matches_scalar_closed_form():
    # Scalar two-layer chain with a = b = u/2-balanced start: u' = 2 u (s - u) (Saxe et al. 2014, N = 2, tau = 1),
    # whose solution is u(t) = s e^{2st} / (e^{2st} - 1 + s/u0).
    s, u0 = 2.0, 0.01
    a0 = math.sqrt(u0)
    chain = [torch.tensor([[a0]], dtype=torch.float64), torch.tensor([[a0]], dtype=torch.float64)]
    loss = SquaredError.from_covariances(torch.eye(1), torch.tensor([[s]]), s * s)
    times = np.linspace(0, 3, 31)
    flow = dlnlib.gradient_flow(chain, loss, times)
    u = (flow.chains[1] @ flow.chains[0])[:, 0, 0].numpy()
    exact = s * np.exp(2 * s * times) / (np.exp(2 * s * times) - 1 + s / u0)
    assert np.max(np.abs(u - exact) / exact) < 1e-8


def test_gradient_descent_approaches_gradient_flow_like_eta():
    X, Y = teacher()
    loss = SquaredError(X, Y)
    chain = dlnlib.init_chain([3, 3, 2], "gaussian", scale=0.3, seed=7, device="cpu")
    T = 2.0
    flow = dlnlib.gradient_flow(chain, loss, [0.0, T])
    gaps = []
    for eta in (0.04, 0.02, 0.01):
        res = dlnlib.gradient_descent(chain, loss, lr=eta, steps=round(T / eta), record_steps=[0])
        gaps.append(float((dlnlib.end_to_end(res.chain) - dlnlib.end_to_end(flow.chain_at(-1))).norm()))
    assert 1.8 < gaps[0] / gaps[1] < 2.2 and 1.8 < gaps[1] / gaps[2] < 2.2


class _NoTake(DiagonalCompletion):
    supports_take = False


def test_dropping_stopped_trials_changes_no_result():
    phi = dlnlib.data.completion_targets(2, (4, 50), seed=8, device="cpu")
    chain = dlnlib.init_chain([2, 2, 2, 2], "default", batch=(4, 50), seed=9, device="cpu")
    lr = torch.tensor([0.05, 0.1, 0.2, 0.4], dtype=torch.float64)[:, None]
    fast = dlnlib.gradient_descent(chain, DiagonalCompletion(phi), lr=lr, steps=3000, tol=1e-7, record_every=100)
    plain = dlnlib.gradient_descent(chain, _NoTake(phi), lr=lr, steps=3000, tol=1e-7, record_every=100)
    assert torch.equal(fast.stopped_at, plain.stopped_at) and torch.equal(fast.diverged_at, plain.diverged_at)
    assert fast.stopped_at.shape == (4, 50) and int(fast.converged.sum()) > 150
    for a, b in zip(fast.chain, plain.chain):
        assert torch.allclose(a, b, rtol=0, atol=1e-14)
    assert torch.allclose(fast.losses, plain.losses, rtol=0, atol=1e-14, equal_nan=True)


def test_ode_helpers_end_a_runaway_or_blown_up_flow_with_a_clear_error_in_seconds():
    import time

    from dlnlib import saxe

    loss = dlnlib.SquaredError(torch.randn(20, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                               torch.randn(20, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    chain = dlnlib.init_chain([2, 3, 2], "gaussian", seed=0, device="cpu")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"times: the solver needed more than 2,000 evaluations before t = "):
        dlnlib.gradient_flow(chain, loss, [0.0, 1e300], max_evals=2000)  # before: ran for minutes
    with pytest.raises(ValueError, match=r"times: the flow left float64's range near t = 0"):
        dlnlib.gradient_flow([w * 1e300 for w in chain], loss, [0.0, 1.0])  # before: hung
    with pytest.raises(ValueError, match=r"times: the ODE solver could not go on \(Required step size"):
        dlnlib.gradient_flow([w * 1e100 for w in chain], loss, [0.0, 1.0])
    with pytest.raises(ValueError, match=r"times: the flow left float64's range"):
        saxe.ab_trajectory(1e200, 1e200, 1.0, [0.0, 1.0])
    assert time.perf_counter() - t0 < 10
    for kwargs, match in (({"rtol": float("nan")}, "rtol"), ({"rtol": 2.0}, "rtol: got 2.0, expected a relative"),
                          ({"rtol": 1e-300}, r"rtol: got 1e-300, expected a relative tolerance in \[2.2e-14, 1\)"),
                          ({"atol": 0.0}, "atol"), ({"method": "euler"}, "method"), ({"max_evals": 0}, "max_evals")):
        with pytest.raises(ValueError, match=match):
            dlnlib.gradient_flow(chain, loss, [0.0, 1.0], **kwargs)
    with pytest.raises(ValueError, match=r"times: got 'abc', expected a finite, strictly increasing"):
        dlnlib.gradient_flow(chain, loss, "abc")
    with pytest.raises(ValueError, match=r"chain: its end-to-end map is 2 x 3 \(d_N x d_0\) but the loss expects"):
        dlnlib.gradient_flow(dlnlib.init_chain([3, 2], "gaussian", seed=0, device="cpu"), loss, [0.0, 1.0])


def test_step_and_size_caps_answer_at_once_instead_of_allocating_or_running_for_years():
    import time

    loss = dlnlib.SquaredError(torch.ones(5, 2, dtype=torch.float64), torch.ones(5, 2, dtype=torch.float64))
    chain = dlnlib.init_chain([2, 2, 2], "gaussian", seed=0, device="cpu")
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match=r"steps: got 1,000,000,000,000, expected at most 100,000,000"):
        dlnlib.gradient_descent(chain, loss, lr=0.1, steps=10**12, tol=1e-3)  # before: built set(range(10**12))
    res = dlnlib.gradient_descent(chain, loss, lr=0.1, steps=10**8, tol=1e-3, record_every=7)  # stops at tol
    assert res.steps.tolist() == [0, 7, int(res.n_steps)]
    with pytest.raises(ValueError, match=r"dims: a tensor of shape \(2, 1000000000000\) would hold 2e\+12 numbers"):
        dlnlib.init_chain([10**12, 2], "gaussian", seed=0)
    with pytest.raises(ValueError, match=r"depth: got 1,000,000,000,000, expected at most 10,000"):
        dlnlib.endtoend.preconditioned_gradient(torch.eye(2, dtype=torch.float64),
                                                torch.eye(2, dtype=torch.float64), 10**12)
    assert time.perf_counter() - t0 < 5
