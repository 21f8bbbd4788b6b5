"""dlnlib.endtoend (notebook 04): fractional powers, the end-to-end operator, downstairs runs through the
engine, the equivalence with layerwise GD, the single-output form, l_p tools, the data loaders, the
exercises 4.1-4.3 and the sliders."""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

import dlnlib
from dlnlib import endtoend as e2e
from dlnlib import geometry
from dlnlib.endtoend import _sym_eigh


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def low_rank(m, n, rank, batch=(), seed=0):
    return rand(*batch, m, rank, seed=seed) @ rand(*batch, rank, n, seed=seed + 1)


def explicit_sum(W, G, N):
    """The defining sum with one fractional power per term (psd_power is tested against scipy below)."""
    L, R = W @ W.transpose(-1, -2), W.transpose(-1, -2) @ W
    return sum(e2e.psd_power(L, (j - 1) / N) @ G @ e2e.psd_power(R, (N - j) / N) for j in range(1, N + 1))


# ------------------------------------------------------------------------------ fractional powers


@pytest.mark.parametrize("alpha", [1 / 3, 0.5, 2 / 3, 1.0, 1.5])
def test_psd_power_matches_scipy_on_spd_matrices(alpha):
    B = rand(3, 5, 5, seed=1)
    S = B @ B.transpose(-1, -2) + 0.1 * torch.eye(5, dtype=torch.float64)
    ours = e2e.psd_power(S, alpha)
    for k in range(3):
        ref = scipy.linalg.fractional_matrix_power(S[k].numpy(), alpha).real
        assert np.abs(ours[k].numpy() - ref).max() < 1e-12


@pytest.mark.parametrize("alpha", [1 / 3, 0.5, 3 / 4])
def test_psd_power_is_exact_for_singular_matrices(alpha):
    B = rand(5, 2, seed=2)
    S = B @ B.T
    U, s, _ = scipy.linalg.svd(B.numpy(), full_matrices=False)  # exact range and singular values of S
    exact = U @ np.diag(s ** (2 * alpha)) @ U.T
    ours = e2e.psd_power(S, alpha)
    assert torch.isfinite(ours).all()
    assert np.abs(ours.numpy() - exact).max() < 5e-14  # 8.9e-16 measured
    if alpha == 1 / 3:  # what goes wrong without the clamp: |lambda| ~ 1e-16 becomes ~ 1e-6
        evals, Q = torch.linalg.eigh(S)
        naive = Q @ torch.diag_embed(evals.abs() ** alpha) @ Q.T
        assert np.abs(naive.numpy() - exact).max() > 1e-9


def test_psd_power_zero_exponent_is_identity_even_for_zero_matrix():
    out = e2e.psd_power(torch.zeros(2, 3, 3, dtype=torch.float64), 0)
    assert torch.equal(out, torch.eye(3, dtype=torch.float64).expand(2, 3, 3))
    zero = torch.zeros(3, 3, dtype=torch.float64)
    assert torch.equal(e2e.psd_power(zero, 0.5), zero)


def test_two_by_two_eigh_reconstructs_including_degenerate_cases():
    S = torch.stack([rand(2, 2, seed=3) @ rand(2, 2, seed=3).T, torch.eye(2, dtype=torch.float64),
                     torch.zeros(2, 2, dtype=torch.float64), torch.diag(torch.tensor([2.0, 5.0], dtype=torch.float64)),
                     torch.diag(torch.tensor([5.0, 2.0], dtype=torch.float64)),
                     torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=torch.float64)])
    evals, evecs = _sym_eigh(S)
    assert torch.allclose(evecs @ torch.diag_embed(evals) @ evecs.transpose(-1, -2), S, rtol=0, atol=1e-14)
    eye = torch.eye(2, dtype=torch.float64).expand(6, 2, 2)
    assert torch.allclose(evecs.transpose(-1, -2) @ evecs, eye, rtol=0, atol=1e-14)
    # eigenvalues up to 5: ~10 ulps (5.6e-17 measured)
    assert torch.allclose(evals, torch.linalg.eigvalsh(S), rtol=0, atol=1e-14)


@pytest.mark.parametrize("bad, alpha, match", [
    (torch.zeros(3, 4, dtype=torch.float64), 0.5, r"S: got shape \(3, 4\), expected square"),
    (torch.eye(3, dtype=torch.float64), -0.5, r"alpha: got -0.5, expected a finite real number >= 0"),
    (torch.full((2, 2), float("nan"), dtype=torch.float64), 0.5, "S: contains NaN"),
    ([[1.0, 0.0], [0.0, 1.0]], 0.5, r"S: got list, expected a floating tensor"),
    # negative beyond round-off: not PSD (before, silently set to 0); a power beyond float64's range
    (torch.diag(torch.tensor([1.0, -1e-6], dtype=torch.float64)), 0.5,
     r"S: has eigenvalue -1e-06 < 0, beyond round-off .*expected a positive semi-definite matrix"),
    (torch.diag(torch.tensor([1e300, 1.0], dtype=torch.float64)), 2.0, r"S\^alpha: overflows torch.float64"),
])
def test_psd_power_rejects_bad_input(bad, alpha, match):
    with pytest.raises(ValueError, match=match):
        e2e.psd_power(bad, alpha)


def test_psd_power_takes_round_off_negative_eigenvalues_as_zero():
    # B B^T of rank 2 in 4 dimensions: eigh returns two eigenvalues of size ~1e-16 whose signs are round-off
    B = torch.randn(4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    S = B @ B.T
    for S_ in (S, S - 1e-15 * torch.eye(4, dtype=torch.float64)):  # pushed just below zero: still round-off
        out = e2e.psd_power(S_, 1 / 3)
        assert bool(torch.isfinite(out).all())
    U, s, _ = torch.linalg.svd(B, full_matrices=False)
    exact = U @ torch.diag(s ** (2 / 3)) @ U.T
    assert float((e2e.psd_power(S, 1 / 3) - exact).abs().max()) < 5e-14  # 6.7e-16 measured


# ------------------------------------------------------------------------------ the operator A_W


@pytest.mark.parametrize("shape, batch, N, rank", [
    ((3, 3), (), 3, 3), ((2, 2), (5,), 2, 2), ((2, 4), (2,), 3, 2), ((4, 2), (), 4, 2), ((3, 3), (), 3, 1),
    ((2, 2), (3,), 5, 1), ((1, 5), (), 3, 1), ((3, 3), (), 1, 3),
])
def test_preconditioned_gradient_equals_the_defining_sum(shape, batch, N, rank):
    W = low_rank(*shape, rank, batch=batch, seed=4)
    G = rand(*batch, *shape, seed=5)
    ours = e2e.preconditioned_gradient(W, G, N)
    assert torch.isfinite(ours).all()
    assert torch.allclose(ours, explicit_sum(W, G, N), rtol=0, atol=1e-12)  # entries up to 26: 2.9e-14 measured


def test_preconditioned_gradient_batched_equals_one_at_a_time_and_broadcasts():
    W, G = rand(4, 3, 2, seed=6), rand(4, 3, 2, seed=7)
    batched = e2e.preconditioned_gradient(W, G, 3)
    for k in range(4):
        # exact here; ~30 ulps of |entries| <= 23
        assert torch.allclose(batched[k], e2e.preconditioned_gradient(W[k], G[k], 3), rtol=0, atol=1e-13)
    shared = e2e.preconditioned_gradient(W[0], G, 3)  # one W, many gradients
    assert shared.shape == (4, 3, 2)
    assert torch.allclose(shared[2], e2e.preconditioned_gradient(W[0], G[2], 3), rtol=0, atol=1e-13)


def test_preconditioned_gradient_of_zero_matrix_is_zero_for_depth_two_and_more():
    G = rand(3, 3, seed=8)
    assert torch.equal(e2e.preconditioned_gradient(torch.zeros(3, 3, dtype=torch.float64), G, 3),
                       torch.zeros(3, 3, dtype=torch.float64))
    assert torch.equal(e2e.preconditioned_gradient(torch.zeros(3, 3, dtype=torch.float64), G, 1), G)


EYE2, ZERO22, ZERO33 = (torch.eye(2, dtype=torch.float64), torch.zeros(2, 2, dtype=torch.float64),
                        torch.zeros(3, 3, dtype=torch.float64))


@pytest.mark.parametrize("W, G, depth, match", [
    (EYE2, ZERO33, 2, r"grad: got shape \(3, 3\)"),
    (EYE2, ZERO22, 0, "depth: got 0, expected an integer >= 1"),
    (EYE2, ZERO22, 2.5, "depth: got 2.5, expected an integer"),
    (torch.zeros(3, 2, 2, dtype=torch.float64), torch.zeros(4, 2, 2, dtype=torch.float64), 2, "does not broadcast"),
    (torch.ones(2), torch.ones(2), 2, r"W: got \(2,\), expected a floating tensor"),
])
def test_preconditioned_gradient_rejects_bad_input(W, G, depth, match):
    with pytest.raises(ValueError, match=match):
        e2e.preconditioned_gradient(W, G, depth)


def test_preconditioner_matrix_is_symmetric_and_its_spectrum_is_the_weights():
    W = rand(2, 3, seed=9)
    A = e2e.preconditioner_matrix(W, 3)
    Z = rand(2, 3, seed=10)
    assert torch.allclose(A, A.T, rtol=0, atol=1e-14)
    assert torch.allclose(A @ Z.reshape(-1), e2e.preconditioned_gradient(W, Z, 3).reshape(-1), rtol=0, atol=5e-14)
    lam, _, mu, _ = e2e.gram_spectra(W)
    weights = e2e.preconditioner_weights(lam, mu, 3).flatten().sort().values
    # eigvalsh, values up to 9: 1.1e-14 measured
    assert torch.allclose(torch.linalg.eigvalsh(A), weights, rtol=0, atol=2e-13)
    assert float(torch.linalg.eigvalsh(A).min()) > 0.1  # full rank: positive definite
    ev = torch.linalg.eigvalsh(e2e.preconditioner_matrix(low_rank(3, 3, 1, seed=11), 3))
    assert int((ev.abs() < 1e-13).sum()) == 4  # rank 1 of 3: (3-1) x (3-1) zero weights
    batched = e2e.preconditioner_matrix(rand(2, 2, 2, seed=12), 2)
    assert batched.shape == (2, 4, 4)


def test_upstairs_velocity_equals_the_operator_exactly_when_balanced():
    X, Y, _ = dlnlib.data.teacher_regression(4, 3, 32, seed=0, device="cpu")
    loss = dlnlib.SquaredError(X, Y)
    chain = dlnlib.init_chain([4, 5, 6, 3], "balanced", seed=1, device="cpu")
    W = dlnlib.end_to_end(chain)
    G = loss.grad(W)
    assert torch.allclose(e2e.upstairs_velocity(chain, G), e2e.preconditioned_gradient(W, G, 3), rtol=0, atol=5e-14)
    unbalanced = dlnlib.init_chain([4, 5, 6, 3], "gaussian", seed=1, device="cpu")
    Wu = dlnlib.end_to_end(unbalanced)
    gap = (e2e.upstairs_velocity(unbalanced, loss.grad(Wu)) - e2e.preconditioned_gradient(Wu, loss.grad(Wu), 3))
    assert float(gap.norm()) > 1e-2


@pytest.mark.parametrize("shape, depth", [((3, 3), 3), ((2, 5), 4), ((5, 2), 2), ((3, 3), 1)])
def test_balanced_factorization_reproduces_W_and_is_balanced(shape, depth):
    W = rand(2, *shape, seed=13)
    chain = e2e.balanced_factorization(W, depth)
    assert len(chain) == depth
    assert torch.allclose(dlnlib.end_to_end(chain), W, rtol=0, atol=5e-14)
    for lower, upper in zip(chain[:-1], chain[1:]):
        assert torch.allclose(upper.transpose(-1, -2) @ upper, lower @ lower.transpose(-1, -2), rtol=0, atol=1e-13)


# ------------------------------------------------------------------------------ single output


@pytest.mark.parametrize("N", [1, 2, 3, 5])
def test_single_output_form_equals_general_operator(N):
    w, g = rand(5, 1, 7, seed=14), rand(5, 1, 7, seed=15)
    # entries up to 50: 1.2e-14 measured
    assert torch.allclose(e2e.single_output_update(w, g, N), e2e.preconditioned_gradient(w, g, N), rtol=0, atol=5e-13)


def test_single_output_at_zero_is_finite():
    g = rand(1, 4, seed=16)
    assert torch.equal(e2e.single_output_update(torch.zeros(1, 4, dtype=torch.float64), g, 3),
                       torch.zeros(1, 4, dtype=torch.float64))
    assert torch.equal(e2e.single_output_update(torch.zeros(1, 4, dtype=torch.float64), g, 1), g)
    with pytest.raises(ValueError, match=r"expected \(\*batch, 1, d\) each"):
        e2e.single_output_update(rand(2, 4), rand(2, 4), 2)


# ------------------------------------------------------------------------------ downstairs runs


def completion_task(trials, seed=0):
    chain = dlnlib.init_chain([2, 2, 2, 2], "default", batch=(trials,), seed=seed, device="cpu")
    targets = dlnlib.data.completion_targets(2, (trials,), seed=seed + 1, device="cpu")
    return chain, dlnlib.DiagonalCompletion(targets, "mean"), targets


def test_downstairs_batched_trials_equal_one_at_a_time():
    chain, loss, targets = completion_task(6)
    W0 = dlnlib.end_to_end(chain)
    batched = e2e.downstairs_descent(W0, loss, 3, lr=0.1, steps=3000, tol=1e-7, record_steps=[0])
    assert bool(batched.converged.all())
    for k in range(6):
        single = e2e.downstairs_descent(W0[k], dlnlib.DiagonalCompletion(targets[k], "mean"), 3, lr=0.1, steps=3000,
                                        tol=1e-7, record_steps=[0])
        assert int(single.stopped_at) == int(batched.stopped_at[k])
        # equal here; round-off may accumulate over up to 3000 steps
        assert torch.allclose(single.chain[0], batched.chain[0][k], rtol=0, atol=1e-12)


def test_downstairs_step_is_w_minus_lr_factor_times_operator():
    chain, loss, _ = completion_task(3)
    W0 = dlnlib.end_to_end(chain)
    for factor in (1.0, 1 / 3):
        one = e2e.downstairs_descent(W0, loss, 3, lr=0.1, steps=1, factor=factor, record_steps=[0])
        expected = W0 - 0.1 * factor * e2e.preconditioned_gradient(W0, loss.grad(W0), 3)
        assert torch.allclose(one.chain[0], expected, rtol=0, atol=1e-15)


def test_downstairs_direction_rejects_a_deep_chain_and_bad_factor():
    chain, loss, _ = completion_task(2)
    with pytest.raises(ValueError, match="expected the one-matrix chain"):
        dlnlib.gradient_descent(chain, loss, lr=0.1, steps=2, direction=e2e.downstairs_direction(3))
    with pytest.raises(ValueError, match="factor: got 0"):
        e2e.downstairs_direction(3, factor=0)


def test_equivalence_gap_shrinks_like_eta_only_from_a_balanced_chain():
    X, Y, _ = dlnlib.data.teacher_regression(4, 3, 32, seed=0, device="cpu")
    loss = dlnlib.SquaredError(X, Y)
    unbalanced = dlnlib.init_chain([4, 3, 3, 3], "gaussian", scale=0.3, seed=1, device="cpu")
    balanced = e2e.balanced_factorization(dlnlib.end_to_end(unbalanced), 3)
    lrs = [0.1, 0.05, 0.025]
    bal = e2e.equivalence_gap(balanced, loss, lrs, 1.0, points=10).max_gap
    unb = e2e.equivalence_gap(unbalanced, loss, lrs, 1.0, points=10).max_gap
    ratios = bal[:-1] / bal[1:]
    assert bool(((ratios > 1.7) & (ratios < 2.3)).all())
    assert float(unb.min()) > 3 * float(bal.max())
    assert float(unb[0] / unb[-1]) < 1.5


def test_equivalence_gap_with_weight_decay_uses_n_lambda_downstairs():
    X, Y = dlnlib.data.sklearn_regression("diabetes", device="cpu")
    loss = dlnlib.SquaredError(X, Y)
    chain = dlnlib.init_chain([10, 6, 6, 1], "balanced", scale=0.3, seed=2, device="cpu")
    gaps = e2e.equivalence_gap(chain, loss, [0.05, 0.025, 0.0125], 1.0, points=4, weight_decay=0.05).max_gap
    assert bool((gaps[:-1] / gaps[1:] > 1.7).all())
    up = dlnlib.gradient_descent(chain, loss, lr=0.0125, steps=80, weight_decay=0.05, record_steps=[0])
    wrong = e2e.downstairs_descent(dlnlib.end_to_end(chain), loss, 3, lr=0.0125, steps=80, weight_decay=0.05,
                                   record_steps=[0])
    assert float((dlnlib.end_to_end(up.chain) - wrong.chain[0]).norm()) > 3 * float(gaps[-1])


def test_equivalence_gap_validates_the_ladder():
    chain, loss, _ = completion_task(1)
    with pytest.raises(ValueError, match="expected an integer multiple of points"):
        e2e.equivalence_gap(chain, loss, [0.3], 1.0, points=4)
    with pytest.raises(ValueError, match="lrs: got an empty list"):
        e2e.equivalence_gap(chain, loss, [], 1.0)


def test_equivalence_gap_marks_diverged_runs_infinite():
    X, Y, _ = dlnlib.data.teacher_regression(3, 3, 16, seed=0, device="cpu")
    loss = dlnlib.SquaredError(X, Y)
    chain = dlnlib.init_chain([3, 3, 3], "gaussian", scale=2.0, seed=0, device="cpu")
    res = e2e.equivalence_gap(chain, loss, [1.0, 0.01], 1.0, points=1)
    assert math.isinf(float(res.max_gap[0])) and math.isfinite(float(res.max_gap[1]))


def test_circulation_zero_for_gradients_exact_for_rotation_nonzero_for_depth():
    W0, C, E1, E2 = (rand(2, 2, seed=20 + k) for k in range(4))
    grad_field = e2e.circulation(lambda W: 4 * (W * W).sum((-2, -1), keepdim=True) * W, W0, E1, E2, radius=0.5)
    assert abs(float(grad_field)) < 1e-13  # round-off: 3.3e-15 measured
    e1 = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    e2 = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)

    def rotation(W):  # V = (-y, x) in the (e1, e2) plane: circulation 2 pi r^2
        return torch.stack([torch.stack([-W[..., 0, 1], W[..., 0, 0]], -1), torch.zeros_like(W[..., 0, :])], -2)

    assert abs(float(e2e.circulation(rotation, torch.zeros(2, 2, dtype=torch.float64), e1, e2, radius=2.0))
               - 8 * math.pi) < 1e-13
    depth1 = e2e.circulation(lambda W: e2e.preconditioned_gradient(W, C.expand_as(W), 1), W0, E1, E2, radius=0.5)
    depth3 = [float(e2e.circulation(lambda W: e2e.preconditioned_gradient(W, C.expand_as(W), 3), W0, E1, E2,
                                    radius=0.5, points=p)) for p in (128, 256)]
    assert abs(float(depth1)) < 1e-14  # round-off of a 256-term sum of terms <= 0.5 (3.4e-17 measured)
    # periodic trapezoid rule: converged to round-off
    assert abs(depth3[0]) > 0.1 and abs(depth3[0] - depth3[1]) < 1e-14
    with pytest.raises(ValueError, match="expected three matrices of the same shape"):
        e2e.circulation(rotation, W0, E1, rand(3, 3))


# ------------------------------------------------------------------------------ l_p tools, Adam, statistics


@pytest.mark.parametrize("p", [2, 3, 4])
def test_lp_optimum_is_stationary_and_minimal(p):
    X, Y = dlnlib.data.sklearn_regression("linnerud", device="cpu")
    loss = dlnlib.LpLoss(X, Y, p)
    W, L = e2e.lp_optimum(loss)
    # set by Newton's stopping rule (decrement < 1e-13), not round-off (1e-15 measured)
    assert float(loss.grad(W).norm()) < 1e-10
    for k in range(5):
        assert float(loss.value(W + 1e-3 * rand(*W.shape, seed=30 + k))) > float(L)
    if p == 2:
        assert torch.allclose(W, torch.linalg.lstsq(X, Y).solution.T, rtol=0, atol=1e-14)


def test_lp_optimum_rejects_rank_deficient_data_and_other_losses():
    X = torch.ones(10, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="X has rank 1 < d_in = 2"):
        e2e.lp_optimum(dlnlib.LpLoss(X, torch.ones(10, 1, dtype=torch.float64), 4))
    with pytest.raises(ValueError, match="expected a dlnlib.LpLoss"):
        e2e.lp_optimum(dlnlib.SquaredError(X, torch.ones(10, 1, dtype=torch.float64)))
    X, Y = dlnlib.data.sklearn_regression("diabetes", device="cpu")
    loss = dlnlib.LpLoss(X, Y, 4)
    for bad in (0, -1, 2.5, True, e2e.LP_MAX_ITERS + 1):
        with pytest.raises(ValueError, match="iters"):
            e2e.lp_optimum(loss, iters=bad)
    with pytest.raises(ValueError, match=r"iters: Newton's method did not reach tol = 1e-13 in 2 steps"):
        e2e.lp_optimum(loss, iters=2)  # too few steps: an error, not a wrong optimum
    for bad in (0, -1e-3, float("nan")):
        with pytest.raises(ValueError, match="tol"):
            e2e.lp_optimum(loss, tol=bad)


def test_lp_optimum_is_bit_identical_from_run_to_run():
    # torch.linalg.lstsq's default driver gave last-bit differences between calls (5 of 20 repeats differed here),
    # which reached figures/04_lp_depth.png; the Householder QR start is deterministic
    X, Y = dlnlib.data.sklearn_regression("diabetes", device="cpu")
    for p in (2, 4):
        first = e2e.lp_optimum(dlnlib.LpLoss(X, Y, p))
        for _ in range(10):
            again = e2e.lp_optimum(dlnlib.LpLoss(X, Y, p))
            assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_lr_grid():
    assert e2e.lr_grid(1e-3, 1.0).tolist() == [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
    assert e2e.lr_grid(0.03, 0.3).tolist() == [0.05, 0.1, 0.2]
    with pytest.raises(ValueError, match="hi: got 0.1 < lo = 1.0"):
        e2e.lr_grid(1.0, 0.1)


def test_depth_comparison_batches_the_grid_and_best_lr_skips_diverged():
    X, Y = dlnlib.data.sklearn_regression("linnerud", device="cpu")
    loss = dlnlib.LpLoss(X, Y, 4)
    grid = torch.tensor([0.05, 0.2, 50.0], dtype=torch.float64)
    res = e2e.depth_comparison(loss, (1, 2), grid, width=8, steps=60, record_every=10)
    assert set(res) == {1, 2} and res[2].losses.shape == (7, 3)
    assert bool(res[1].diverged[2])
    k, curve = e2e.best_lr(res[1], 0.0)
    assert k in (0, 1) and curve.shape == (7,)
    start = dlnlib.init_chain([3, 8, 3], "gaussian", scale=0.01, batch=(3,), seed=0, device="cpu")
    one = dlnlib.gradient_descent([w[1] for w in start], loss, lr=0.2, steps=60, record_every=10)
    # batched grid point = one run alone: equal with the pinned AVX2 kernels, 1.2e-13 apart with native ones
    assert torch.allclose(one.losses, res[2].losses[:, 1], rtol=0, atol=1e-12)


def test_adam_direction_reproduces_torch_optim_adam():
    X, Y = dlnlib.data.sklearn_regression("linnerud", device="cpu")
    loss = dlnlib.LpLoss(X, Y, 4)
    chain = dlnlib.init_chain([3, 3], "gaussian", scale=0.1, seed=0, device="cpu")
    ours = dlnlib.gradient_descent(chain, loss, lr=0.05, steps=25, direction=e2e.adam_direction(), record_steps=[0])
    param = torch.nn.Parameter(chain[0].clone())
    opt = torch.optim.Adam([param], lr=0.05)
    for _ in range(25):
        opt.zero_grad()
        param.grad = loss.grad(param.detach())
        opt.step()
    assert torch.allclose(ours.chain[0], param.detach(), rtol=0, atol=1e-14)
    with pytest.raises(ValueError, match=r"betas\[0\]: got 1.0"):
        e2e.adam_direction(betas=(1.0, 0.9))


def test_iteration_stats():
    s = e2e.iteration_stats(torch.tensor([10, 20, 30, -1]))
    assert (s["mean"], s["median"], s["max"], s["converged"], s["total"]) == (20.0, 20.0, 30.0, 3, 4)
    assert abs(s["std"] - 10.0) < 1e-14  # sample standard deviation
    assert math.isnan(e2e.iteration_stats(torch.tensor([-1, -1]))["mean"])


# ------------------------------------------------------------------------------ data loaders


def test_sklearn_regression_sets_are_standardised():
    X, Y = dlnlib.data.sklearn_regression("diabetes", device="cpu")
    assert X.shape == (442, 10) and Y.shape == (442, 1)
    # round-off of a mean of 442 values
    assert torch.allclose(X.mean(0), torch.zeros(10, dtype=torch.float64), rtol=0, atol=5e-15)
    assert torch.allclose(X.std(0, unbiased=False), torch.ones(10, dtype=torch.float64), rtol=0, atol=2e-14)
    X2, Y2 = dlnlib.data.sklearn_regression("linnerud", standardize=False, device="cpu")
    assert X2.shape == (20, 3) and Y2.shape == (20, 3) and float(Y2.min()) > 1
    with pytest.raises(ValueError, match="name: got 'housing', expected one of 'diabetes', 'linnerud'"):
        dlnlib.data.sklearn_regression("housing")


def write_uci(path, rows):
    path.write_text("".join(f"{g};{c:.6f} " + " ".join(f"{k + 1}:{v:.6f}" for k, v in enumerate(f)) + "\n"
                            for g, c, f in rows))


def test_gas_sensor_reads_the_uci_format(tmp_path):
    folder = tmp_path / "Dataset"
    folder.mkdir()
    rows1 = [(1, 10.0, [1.0, 2.0, 3.0]), (2, 50.0, [4.0, 5.0, 6.0]), (1, 20.0, [7.0, 8.0, 9.0])]
    rows10 = [(1, 500.0, [0.5, 0.25, 0.125]), (6, 5.0, [1.0, 1.0, 1.0])]
    write_uci(folder / "batch1.dat", rows1)
    write_uci(folder / "batch10.dat", rows10)
    write_uci(folder / "batch2.dat", [(3, 1.0, [0.0, 0.0, 0.0])])
    X, y = dlnlib.data.gas_sensor(folder, device="cpu")  # ethanol, batch files in numeric order
    assert X.shape == (3, 3) and y.shape == (3, 1)
    assert y[:, 0].tolist() == [10.0, 20.0, 500.0]
    assert X[2].tolist() == [0.5, 0.25, 0.125]
    X6, y6 = dlnlib.data.gas_sensor(folder / "batch10.dat", gas=6, device="cpu")
    assert X6.shape == (1, 3) and float(y6) == 5.0
    Xs, ys = dlnlib.data.gas_sensor(folder, standardize=True, device="cpu")
    assert torch.allclose(ys.mean(), torch.tensor(0.0, dtype=torch.float64), rtol=0, atol=5e-15)


def test_gas_sensor_errors(tmp_path):
    with pytest.raises(ValueError, match="which does not exist"):
        dlnlib.data.gas_sensor(tmp_path / "missing")
    with pytest.raises(ValueError, match="has no batch\\*.dat files"):
        dlnlib.data.gas_sensor(tmp_path)
    bad = tmp_path / "batch1.dat"
    bad.write_text("1;10.0 1:2.0 2:3.0\n1,10.0 1:2.0 2:3.0\n")
    with pytest.raises(ValueError, match="batch1.dat line 2 is not in the UCI format"):
        dlnlib.data.gas_sensor(bad)
    write_uci(bad, [(2, 1.0, [1.0])])
    with pytest.raises(ValueError, match=r"gas: no sample of class 1 \(ethanol\)"):
        dlnlib.data.gas_sensor(bad)
    with pytest.raises(ValueError, match="gas: got 7, expected a class in 1-6"):
        dlnlib.data.gas_sensor(bad, gas=7)


# ------------------------------------------------------------------------------ exercises 4.1-4.3



# ------------------------------------------------------------------------------ plots and sliders


def test_plots_return_axes_and_count_unstopped_trials():
    import matplotlib

    matplotlib.use("Agg")
    from dlnlib.plotting.endtoend import first_below, plot_depth_curves, plot_iteration_histograms

    ax = plot_iteration_histograms({"a": torch.tensor([10, 20, -1]), "b": torch.tensor([5, 50, 500])})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "a: median 15, 1 not stopped" and labels[1] == "b: median 50"
    ax = plot_depth_curves({"x": (torch.arange(3), torch.tensor([1.0, 1e-3, 0.0]))})
    assert ax.get_yscale() == "log"
    assert first_below(torch.tensor([0, 5, 10]), torch.tensor([1.0, 1e-3, 1e-5]), 1e-4) == 10


def test_sliders_redraw_and_time_themselves():
    from dlnlib.widgets.endtoend import equivalence_demo, lp_demo

    small = lp_demo(depths=(1, 3), ps=(2, 4), width=6, steps=40)
    for handle, moves in ((small, [("depth", 1), ("lr", 0.5), ("p", 2), ("scale", 0.1)]),
                          (equivalence_demo(depths=(2, 3)), [("depth", 2), ("lr", 0.0125), ("scale", 0.6)])):
        images = [bytes(handle.image.value)]
        for name, value in moves:
            handle.sliders[name].value = value
            images.append(bytes(handle.image.value))
        assert len(set(images)) == len(images)
        assert len(handle.timings_ms) == 1 + len(moves)
        assert handle.status.value


def test_exercises_4_4_and_4_5_accept_student_answers_and_refuse_dlnlib_and_name_mistakes():
    from dlnlib.exercises import check
    from dlnlib.exercises.endtoend import polar_from_svd_reference, product_velocity_reference

    def polar(W):  # a student's answer: thin SVD, works for tall, wide and square W
        U, S, Vh = torch.linalg.svd(W, full_matrices=False)
        return U @ Vh, Vh.mT @ torch.diag_embed(S) @ Vh

    def velocity(chain, G):  # a student's answer: the product-rule sum with layer_gradients as a building block
        grads = dlnlib.layer_gradients(chain, G)
        total = torch.zeros_like(G)
        for j, D in enumerate(grads):
            for w in reversed(chain[:j]):  # D_j (W_{j-1} ... W_1)
                D = D @ w
            for w in chain[j + 1:]:
                D = w @ D
            total = total + D
        return total

    assert check("4.4", polar).ok and check("4.5", velocity).ok
    # dlnlib's own answers are refused, also when wrapped (polar_qp is refused even where it would raise)
    for ex_id, fn in (("4.4", geometry.polar_qp), ("4.4", polar_from_svd_reference),
                      ("4.5", e2e.upstairs_velocity), ("4.5", product_velocity_reference)):
        assert "dlnlib's own answer to this exercise" in check(ex_id, lambda *a, f=fn: f(*a)).message

    def swapped(W):  # P from W W^T: the stretch of the other decomposition
        U, S, Vh = torch.linalg.svd(W, full_matrices=False)
        return U @ Vh, U @ torch.diag_embed(S) @ U.mT

    assert "sqrt(W W^T)" in check("4.4", swapped).message
    # A_W(G) is the velocity of a balanced chain only: named, because the checker's first chains are unbalanced
    res = check("4.5", lambda chain, G: e2e.preconditioned_gradient(dlnlib.end_to_end(chain), G, len(chain)))
    assert "only for a balanced chain" in res.message
    res = check("4.5", lambda chain, G: sum(dlnlib.layer_gradients(chain, G)))
    assert "summed the layer gradients" in res.message


def test_exercise_4_4_and_4_5_expected_values_are_independent_and_exact():
    # the checker's expected values (eigh + solve for 4.4, autograd + forward mode for 4.5) agree with the
    # SVD formulas and with dlnlib's upstairs velocity to rounding level, and the cases separate A_W(G) from
    # the velocity on the unbalanced chains only
    from dlnlib.exercises import endtoend as ex

    for case in ex._cases_4_4():
        Q, P = ex._expected_4_4(case)
        W = case["W"]
        m, n = W.shape[-2:]
        eye = torch.eye(min(m, n), dtype=W.dtype)
        QQ = Q.mT @ Q if m >= n else Q @ Q.mT
        # P comes from eigh of W^T W, whose condition number is kappa(W)^2: Q's departure from orthogonality is
        # of order kappa^2 eps (measured 0.1-0.7 kappa^2 eps over the five cases)
        s = torch.linalg.svdvals(W)
        kappa2_eps = float((s[..., 0] / s[..., -1]).max()) ** 2 * torch.finfo(W.dtype).eps
        assert float((QQ - eye).abs().max()) < 2 * kappa2_eps and float((Q @ P - W).abs().max()) < 5e-14
        assert float((P - P.mT).abs().max()) < 1e-14 and bool((torch.linalg.eigvalsh(P) > -1e-13).all())
    gaps = []
    for case in ex._cases_4_5():
        chain, G = case["chain"], case["G"]
        v = ex._expected_4_5(case)
        assert float((v - e2e.upstairs_velocity(chain, G)).abs().max()) < 1e-14 * max(1.0, float(v.abs().max()))
        gaps.append(float((e2e.preconditioned_gradient(dlnlib.end_to_end(chain), G, len(chain)) - v).abs().max()))
    assert min(gaps[:3]) > 1.0 and max(gaps[3:]) < 2e-13


def _mp_preconditioned(W, G, N):
    """A_W(G) for the float64 matrix W in 60-digit arithmetic (mpmath's SVD of W): the oracle."""
    import mpmath as mp

    with mp.workdps(60):
        U, S, Vt = mp.svd_r(mp.matrix(W.tolist()), full_matrices=True)
        m, n = W.shape
        r = min(m, n)
        rho = [S[i] ** (mp.mpf(2) / N) if i < r else mp.mpf(0) for i in range(m)]
        nu = [S[k] ** (mp.mpf(2) / N) if k < r else mp.mpf(0) for k in range(n)]
        inner = U.T * mp.matrix(G.tolist()) * Vt.T
        for i in range(m):
            for k in range(n):
                inner[i, k] *= mp.fsum(rho[i] ** (j - 1) * nu[k] ** (N - j) for j in range(1, N + 1))
        out = U * inner * Vt
        return torch.tensor([[float(out[i, k]) for k in range(n)] for i in range(m)], dtype=torch.float64)


@pytest.mark.parametrize("m,n", [(2, 2), (5, 5), (4, 3)])
def test_preconditioned_gradient_is_as_accurate_as_the_input_allows_on_near_singular_w(m, n):
    # Against a 60-digit oracle, for condition numbers 1e4, 1e8 and 1e12 and depths 10 and 50. 2 x 2 (the closed
    # form, with an exact determinant): relative error <= 2e-14 at every condition number (measured <= 1.3e-15).
    # Larger W (LAPACK's SVD): at most 1e-13, or 4 times what changing W by one unit in its last place moves the
    # exact answer (the problem's own sensitivity, 1e-12..1e-6 here: no method fed float64 W can promise less);
    # measured 0.1-1.2 times that sensitivity. The Gram-matrix route it replaces was off by up to 4.7e-2.
    eps = torch.finfo(torch.float64).eps
    for smin in (1e-4, 1e-8, 1e-12):
        gen = torch.Generator().manual_seed(1)
        U, _ = torch.linalg.qr(torch.randn(m, m, generator=gen, dtype=torch.float64))
        V, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
        r = min(m, n)
        s = torch.logspace(0, math.log10(smin), r, dtype=torch.float64)
        W = U[:, :r] @ torch.diag(s) @ V[:, :r].T
        G = torch.randn(m, n, generator=gen, dtype=torch.float64)
        for N in (10, 50):
            exact = _mp_preconditioned(W, G, N)
            err = float((e2e.preconditioned_gradient(W, G, N) - exact).norm() / exact.norm())
            if m == n == 2:
                assert err <= 2e-14, (smin, N, err)
                continue
            signs = [torch.sign(torch.randn(W.shape, generator=gen, dtype=W.dtype)) for _ in range(3)]
            sens = max(float((_mp_preconditioned(W * (1 + eps * z), G, N) - exact).norm() / exact.norm())
                       for z in signs)
            assert err <= max(1e-13, 4 * sens), (smin, N, err, sens)


def test_closed_form_2x2_svd_matches_lapack_and_reconstructs():
    gen = torch.Generator().manual_seed(5)
    W = torch.randn(500, 2, 2, generator=gen, dtype=torch.float64)
    special = torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[1.0, 0.0], [0.0, -2.0]], [[1.0, 2.0], [2.0, 4.0]],
                            [[0.0, 3.0], [0.0, 0.0]], [[1e-300, 0.0], [0.0, 1e300]], [[-1.0, 0.0], [0.0, -1.0]]],
                           dtype=torch.float64)
    W = torch.cat([W, special])
    U, s, V = e2e._svd2(W)
    eye = torch.eye(2, dtype=torch.float64)
    assert float((U.mT @ U - eye).abs().max()) < 1e-15 and float((V.mT @ V - eye).abs().max()) < 1e-15
    assert bool((s[..., 0] >= s[..., 1]).all()) and bool((s >= 0).all())
    scale = s[..., :1, None]
    assert float(((U * s[..., None, :] @ V.mT - W).abs() / torch.where(scale > 0, scale, 1)).max()) < 1e-15
    lapack = torch.linalg.svdvals(W)  # agrees to LAPACK's own accuracy, eps * s_max (measured <= 2.3e-16)
    assert float(((s - lapack).abs() / torch.where(scale[..., 0] > 0, scale[..., 0], 1)).max()) < 1e-15
    assert s[-4, 1] == 0 and s[-3, 1] == 0 and s[-6].abs().max() == 0  # rank one and zero: exactly 0
