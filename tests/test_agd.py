"""Aligned Gradient Descent (dlnlib.agd, notebook 05): Theorem 1's identities, AGD against a plain loop,
shallow GD through the engine and its divergence, small utilities, bad inputs, exercises, plots and the slider."""

import math

import pytest
import torch

import dlnlib
from dlnlib import agd, data

F64 = torch.float64


def rand_data(n, d, seed):
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=gen, dtype=F64)
    y = 2 * torch.rand(n, generator=gen, dtype=F64) - 1
    return X, y


def plain_agd(X, y, depth, lr, steps, start=None):
    """Algorithm 1 the straightforward way: every parameter a leaf, each gradient by autograd at the current iterate."""
    n = X.shape[0]
    theta1 = torch.zeros(X.shape[1], dtype=F64) if start is None else torch.as_tensor(start, dtype=F64).clone()
    scales = [torch.tensor(1.0, dtype=F64) for _ in range(depth - 1)]

    def loss_of(t1, sc):
        out = X @ t1
        for s in sc:
            out = s * out
        return ((out - y) ** 2).sum() / (2 * n)

    losses = [float(loss_of(theta1, scales))]
    for _ in range(steps):
        leaf = theta1.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(loss_of(leaf, scales), leaf)
        s = math.prod(float(v) for v in scales)
        theta1 = theta1 - lr / s**2 * g
        for l in range(depth - 1):
            leaves = [v.clone().requires_grad_(True) for v in scales]
            (g,) = torch.autograd.grad(loss_of(theta1, leaves), leaves[l])
            scales[l] = scales[l] - 0.5 * scales[l] ** 2 * g
        losses.append(float(loss_of(theta1, scales)))
    return torch.tensor(losses, dtype=F64), math.prod(float(v) for v in scales) * theta1


# --------------------------------------------------------------------------- shallow GD (Proposition 1)


def test_shallow_gd_follows_proposition_1_through_the_engine():
    X, y = data.two_point_regression(0.01)
    run = agd.shallow_gd(X, y, lr=0.1, steps=200, record_weights=True)
    assert run.losses.shape == (201,)
    assert run.losses[0] == pytest.approx(float(y @ y) / 4, rel=1e-14, abs=0)
    lam = torch.tensor([1.0, 0.01], dtype=F64)
    t = torch.arange(201, dtype=F64)[:, None]
    closed = ((1 - 0.1 * lam) ** (2 * t) * y**2).sum(1) / 4
    assert torch.allclose(run.losses, closed, rtol=5e-14, atol=0)  # 200 steps: 1e-15 relative measured
    E = y - run.history["weights"] @ X.T
    K = agd.output_kernel(X)
    assert torch.allclose(E[1:], E[:-1] @ (torch.eye(2, dtype=F64) - 0.1 * K).T, rtol=0, atol=1e-14)


def test_shallow_gd_divergence_above_two_over_lambda_max_is_reported():
    X, y = rand_data(12, 4, 0)
    limit = 2 / float(agd.kernel_eigenvalues(X).max())
    run = agd.shallow_gd(X, y, lr=torch.tensor([0.95, 1.05], dtype=F64) * limit, steps=400)
    assert run.losses.shape == (401, 2)
    assert run.diverged.tolist() == [False, True]
    at = int(run.diverged_at[1])
    assert 0 < at <= 400
    assert torch.isnan(run.losses[at:, 1]).all() and torch.isfinite(run.losses[:at, 1]).all()
    single = agd.shallow_gd(X, y, lr=1.05 * limit, steps=400)
    assert single.losses.shape == (401,) and int(single.diverged_at) == at


def test_optimal_lr_effective_radius_and_solution_outputs():
    X, y = data.two_point_regression(0.01)
    assert agd.optimal_lr(X) == pytest.approx(2 / 1.01, rel=1e-14, abs=0)
    assert float(agd.effective_spectral_radius(X, 2 / 1.01)) == pytest.approx(0.99 / 1.01, rel=2e-14, abs=0)
    Xr, yr = rand_data(10, 3, 1)  # n > d: seven zero eigenvalues
    lam = agd.kernel_eigenvalues(Xr)
    nz = torch.linalg.eigvalsh(Xr.T @ Xr / 10)
    assert agd.optimal_lr(Xr) == pytest.approx(float(2 / (nz.max() + nz.min())), rel=2e-14, abs=0)
    assert float((1 - 0.1 * lam).abs().max()) == pytest.approx(1.0, rel=1e-14, abs=0)  # the full radius is stuck at 1
    assert float(agd.effective_spectral_radius(Xr, 0.1)) < 1
    ysol = agd.solution_outputs(Xr, yr)
    assert torch.allclose(Xr.T @ (yr - ysol), torch.zeros(3, dtype=F64), rtol=0, atol=2e-14)  # residual orthogonal
    Xw, yw = rand_data(3, 6, 2)
    assert torch.allclose(agd.solution_outputs(Xw, yw), yw, rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- AGD


@pytest.mark.parametrize("n, d, depth", [(2, 2, 2), (5, 8, 3), (12, 3, 5), (4, 4, 1)])
def test_aligned_gd_equals_a_plain_autograd_loop(n, d, depth):
    X, y = rand_data(n, d, 10 + depth)
    lr = 0.5 * agd.optimal_lr(X)
    run = agd.aligned_gd(X, y, depth=depth, lr=lr, steps=25)
    losses, w = plain_agd(X, y, depth, lr, 25)
    assert run.losses.shape == (26,)
    assert torch.allclose(run.losses, losses, rtol=1e-13, atol=1e-16)
    assert torch.allclose(run.weights, w, rtol=5e-14, atol=1e-15)


def test_batched_aligned_gd_equals_runs_one_at_a_time():
    X, y = rand_data(6, 4, 3)
    lrs = torch.tensor([0.05, 0.2, 0.5], dtype=F64) * agd.optimal_lr(X)
    batched = agd.aligned_gd(X, y, depth=4, lr=lrs, steps=40, record_weights=True, record_outputs=True)
    assert batched.losses.shape == (41, 3)
    assert batched.history["outputs"].shape == (40, 5, 3, 6)
    assert batched.history["scales"].shape == (41, 3, 3)
    for k in range(3):
        one = agd.aligned_gd(X, y, depth=4, lr=float(lrs[k]), steps=40, record_weights=True, record_outputs=True)
        assert torch.allclose(batched.losses[:, k], one.losses, rtol=2e-14, atol=1e-16)
        assert torch.allclose(batched.weights[k], one.weights, rtol=2e-14, atol=1e-15)
        assert torch.allclose(batched.history["outputs"][:, :, k], one.history["outputs"], rtol=0, atol=1e-14)
        assert torch.allclose(batched.chain[1][k], one.chain[1], rtol=1e-14, atol=0)  # equal here


def test_a_given_start_runs_from_there_and_the_default_is_unchanged():
    X, y = data.two_point_regression(0.01)
    for depth in (1, 2, 3):
        plain = agd.aligned_gd(X, y, depth=depth, lr=0.1, steps=60, record_weights=True, record_outputs=True)
        zero = agd.aligned_gd(X, y, depth=depth, lr=0.1, steps=60, record_weights=True, record_outputs=True,
                              start=torch.zeros(2, dtype=F64))
        assert torch.equal(plain.losses, zero.losses) and torch.equal(plain.weights, zero.weights)
        assert all(torch.equal(plain.history[k], zero.history[k]) for k in ("weights", "scales", "outputs"))
    gd0 = agd.shallow_gd(X, y, lr=0.1, steps=60, record_weights=True)
    gdz = agd.shallow_gd(X, y, lr=0.1, steps=60, record_weights=True, start=[0.0, 0.0])
    assert torch.equal(gd0.losses, gdz.losses) and torch.equal(gd0.history["weights"], gdz.history["weights"])
    Xr, yr = rand_data(5, 3, 4)
    start = torch.tensor([0.3, -0.8, 1.1], dtype=F64)
    lr = 0.5 * agd.optimal_lr(Xr)
    run = agd.aligned_gd(Xr, yr, depth=3, lr=lr, steps=25, record_weights=True, start=start)
    losses, w = plain_agd(Xr, yr, 3, lr, 25, start=start)
    assert torch.equal(run.history["weights"][0], start)
    assert torch.allclose(run.losses, losses, rtol=1e-13, atol=1e-16)  # 1e-15 relative measured
    assert torch.allclose(run.weights, w, rtol=5e-14, atol=1e-15)
    # shallow GD from a start: E_t = (I - eta K)^t E_0 (Proposition 1 holds from any start)
    gd = agd.shallow_gd(Xr, yr, lr=lr, steps=30, record_weights=True, start=start)
    E = yr - gd.history["weights"] @ Xr.T
    step = torch.eye(5, dtype=F64) - lr * agd.output_kernel(Xr)
    assert torch.allclose(E[1:], E[:-1] @ step.T, rtol=0, atol=1e-14)
    # a batch of starts (against two rates) equals the runs one at a time
    starts = torch.stack([start, -start, torch.zeros(3, dtype=F64)])
    lrs = torch.tensor([[0.5], [0.25]], dtype=F64) * agd.optimal_lr(Xr)
    batched = agd.aligned_gd(Xr, yr, depth=2, lr=lrs, steps=20, start=starts)
    shallow = agd.shallow_gd(Xr, yr, lr=lrs, steps=20, start=starts)
    assert batched.losses.shape == shallow.losses.shape == (21, 2, 3)
    for i in range(2):
        for j in range(3):
            one = agd.aligned_gd(Xr, yr, depth=2, lr=float(lrs[i, 0]), steps=20, start=starts[j])
            assert torch.allclose(batched.losses[:, i, j], one.losses, rtol=2e-14, atol=1e-16)
            one = agd.shallow_gd(Xr, yr, lr=float(lrs[i, 0]), steps=20, start=starts[j])
            assert torch.allclose(shallow.losses[:, i, j], one.losses, rtol=2e-14, atol=1e-16)
    for fn in (agd.aligned_gd, agd.shallow_gd):
        kwargs = {"depth": 2} if fn is agd.aligned_gd else {}
        with pytest.raises(ValueError, match=r"^start: got shape \(2,\), expected \(d,\)"):
            fn(Xr, yr, lr=0.1, steps=3, start=[1.0, 2.0], **kwargs)
        with pytest.raises(ValueError, match=r"^start, lr: got batch shapes \(3,\), \(2,\)"):
            fn(Xr, yr, lr=torch.tensor([0.1, 0.2], dtype=F64), steps=3, start=starts, **kwargs)
        with pytest.raises(ValueError, match=r"^start: contains NaN"):
            fn(Xr, yr, lr=0.1, steps=3, start=[float("nan"), 0.0, 0.0], **kwargs)


def test_depth_one_is_shallow_gd_and_depth_speeds_up():
    X, y = data.two_point_regression(0.01)
    shallow = agd.shallow_gd(X, y, lr=0.1, steps=500)
    assert torch.allclose(agd.aligned_gd(X, y, depth=1, lr=0.1, steps=500).losses, shallow.losses, rtol=5e-14, atol=0)
    its = [int(agd.aligned_gd(X, y, depth=L, lr=0.1, steps=500).iterations_to(1e-6)) for L in (2, 4, 8)]
    assert its == [321, 300, 296]  # the numbers notebook 05 prints (Figure 1, third panel)
    assert int(agd.aligned_gd(X, y, depth=2, lr=2 / 1.01, steps=100).iterations_to(1e-6)) == 40


def test_round_robin_and_first_layer_step_against_plain_loops():
    gen = torch.Generator().manual_seed(4)
    for batch, deep, n in [((), 3, 4), ((5,), 2, 3), ((2, 3), 6, 7), ((), 1, 2)]:
        scales = 1 + 0.3 * torch.randn(*batch, deep, generator=gen, dtype=F64)
        h = 0.5 * torch.randn(*batch, n, generator=gen, dtype=F64) / math.sqrt(n)  # moderate steps
        y = torch.randn(n, generator=gen, dtype=F64)
        expected = scales.clone()
        for k in range(deep):  # one layer at a time, gradient from the current values
            others = torch.ones(batch, dtype=F64)
            for j in range(deep):
                if j != k:
                    others = others * expected[..., j]
            yhat = (others * expected[..., k])[..., None] * h
            grad = ((yhat - y) * h).sum(-1) / n * others
            expected[..., k] = expected[..., k] - 0.5 * expected[..., k] ** 2 * grad
        assert torch.allclose(agd.round_robin(scales, h, y), expected, rtol=1e-14, atol=1e-16)
    X, y = rand_data(5, 3, 5)
    theta1, scales = torch.randn(3, dtype=F64), torch.tensor([1.3, 0.8], dtype=F64)
    new = agd.first_layer_step(theta1, scales, X, y, 0.1)
    s = float(scales.prod())
    E_old, E_new = y - s * X @ theta1, y - s * X @ new
    # Eq. (4); theta1 comes from the global RNG: 2e-16 to 9e-16 measured
    assert torch.allclose(E_new, E_old - 0.1 * agd.output_kernel(X) @ E_old, rtol=0, atol=5e-14)


@pytest.mark.parametrize("n, d", [(2, 2), (4, 9), (15, 4)])
def test_theorem1_identities_along_a_run(n, d):
    X, y = (data.two_point_regression(0.01) if n == 2 else rand_data(n, d, n + d))
    run = agd.aligned_gd(X, y, depth=3, lr=0.9 * agd.optimal_lr(X), steps=150, record_outputs=True)
    out = agd.theorem1_check(X, y, run)
    assert out["eq4"] < 1e-14 and out["eq6"] < 1e-14  # 2.6e-16 measured
    assert out["eq7"] <= 1e-15
    # the ratios use norms down to 1e-8 ||y||, whose rounding blurs them by up to ~1e-8: slack for that
    assert out["eq5"] <= 1 + 1e-9 and out["eq8"] < 1
    outs = run.history["outputs"]
    assert torch.allclose(outs[1:, 0], outs[:-1, -1], rtol=0, atol=1e-15)  # sub-step L of t is sub-step 0 of t + 1


def test_agd_divergence_is_reported_like_the_engine():
    X, y = rand_data(6, 3, 7)
    run = agd.aligned_gd(X, y, depth=2, lr=torch.tensor([0.5, 3.0], dtype=F64) / float(agd.kernel_eigenvalues(X).max()),
                         steps=300)
    assert run.losses.shape == (301, 2)
    assert not bool(run.diverged[0])
    if bool(run.diverged[1]):
        at = int(run.diverged_at[1])
        assert torch.isnan(run.losses[at:, 1]).all() and torch.isfinite(run.losses[:at, 1]).all()
    huge = agd.aligned_gd(X, y, depth=1, lr=50.0, steps=200)
    assert bool(huge.diverged) and huge.losses.shape == (201,) and torch.isnan(huge.losses[-1])


# --------------------------------------------------------------------------- baselines, kernels, pitfalls, counts


def test_deep_gd_inits_and_lr_selection():
    X, y = data.two_point_regression(0.01)
    start = agd.deep_gd(X, y, init="agd", lr=0.1, steps=0)
    assert start.losses.shape == (1, 1) and float(start.losses[0, 0]) == pytest.approx(0.5, rel=1e-14, abs=0)
    big = agd.deep_gd(X, y, init="xavier", lr=0.1, steps=0, width=3, trials=4000, seed=3)
    assert float(big.chain[0].std()) == pytest.approx(math.sqrt(2 / 5), rel=0.05)
    assert float(big.chain[1].std()) == pytest.approx(math.sqrt(2 / 4), rel=0.05)
    he = agd.deep_gd(X, y, init="he", lr=0.1, steps=0, width=3, trials=4000, seed=3)
    assert float(he.chain[0].std()) == pytest.approx(1.0, rel=0.05)
    lrs = torch.tensor([0.05, 0.2, 0.5], dtype=F64)
    short = agd.deep_gd(X, y, init="normal", lr=lrs[:, None], steps=300, trials=4, seed=1, tol=1e-6)
    assert short.losses.shape == (301, 3, 4)
    with pytest.raises(ValueError, match=r"tol: no learning rate's median trial reaches loss <= tol = 1e-06"):
        agd.select_lr(short, lrs, tol=1e-6)  # one trial of 12 gets there: no rate's median does, nothing to pick
    grid = agd.deep_gd(X, y, init="normal", lr=lrs[:, None], steps=2000, trials=4, seed=1, tol=1e-6)
    best, score = agd.select_lr(grid, lrs, tol=1e-6)  # lower medians of the 4 trials' counts (one at 0.05 never stops)
    assert score.tolist() == [1450.0, 366.0, 413.0] and best == 0.2
    best_loss, _ = agd.select_lr(agd.shallow_gd(X, y, lr=lrs, steps=50), lrs)
    assert best_loss == 0.5


def test_layer_kernels_match_autograd_jacobians():
    gen = torch.Generator().manual_seed(8)
    X = torch.randn(5, 3, generator=gen, dtype=F64)
    chain = [torch.randn(2, 3, generator=gen, dtype=F64), torch.randn(4, 2, generator=gen, dtype=F64),
             torch.randn(1, 4, generator=gen, dtype=F64)]
    kernels = agd.layer_kernels(chain, X)
    for l in range(3):
        def out(w, l=l):
            c = list(chain)
            c[l] = w
            return dlnlib.apply_chain(c, X)[:, 0]
        J = torch.autograd.functional.jacobian(out, chain[l]).reshape(5, -1)
        assert torch.allclose(kernels[l], J @ J.T, rtol=0, atol=5e-13)  # entries up to 46: 1.4e-14 measured


def test_step_spectra_and_figure3_story():
    X, y = data.two_point_regression(4e-4)
    gd = agd.deep_gd(X, y, init="agd", lr=0.1, steps=2200, record_chain=True)
    spec = agd.gd_step_spectra(gd, X, 0.1)
    assert spec[0].shape == (2201, 1, 2)
    theta3 = gd.history["chain"][1][:, 0, 0, 0]
    crossing = int(torch.nonzero(theta3 > math.sqrt(20))[0])
    assert float(spec[0][crossing + 5:].min()) < -1  # an eigenvalue of I - eta K^(1)/n leaves [-1, 1]
    assert agd.count_spikes(gd.losses[:, 0]) >= 1
    run = agd.aligned_gd(X, y, depth=2, lr=0.1, steps=300, record_outputs=True)
    for s in agd.agd_step_spectra(run, X):
        assert float(s.abs().max()) <= 1 + 1e-14  # eigenvalue 1 up to eigvalsh round-off (exact here)
    assert float((run.losses[1:] - run.losses[:-1]).max()) <= 0


def test_pitfall_formulas():
    assert agd.scalar_flow_steps(1e-3, 1, 0.1, 1e-6) == pytest.approx(math.log(0.999 / math.sqrt(2e-6)) / 0.1,
                                                                         rel=2e-13, abs=0)
    # depth 2 from y0: t = 1/2 ln(y (1 - y0) / (y0 (1 - y))) in closed form
    y_end = 1 - math.sqrt(2e-6)
    closed = 0.5 * math.log(y_end * (1 - 1e-3) / (1e-3 * (1 - y_end)))
    assert agd.scalar_flow_steps(1e-3, 2, 1.0, 1e-6) == pytest.approx(closed, rel=1e-14, abs=0)
    X2, y2 = torch.eye(2, dtype=F64), torch.tensor([1.0, 0.2], dtype=F64)
    res = dlnlib.gradient_descent(dlnlib.init_chain([2, 1], "zero"), dlnlib.LpLoss(X2, y2[:, None], 4), lr=1.0,
                                  steps=50, record=("loss", "end_to_end"))
    e = y2 - res.history["end_to_end"][:, 0, :]
    assert torch.allclose(e, agd.lp_error_recursion(y2, 1.0, 4, 2, 50), rtol=0, atol=1e-14)
    assert agd.lp_predicted_steps(0.2, 0.02, 1.0, 4, 2) == pytest.approx(2475.0, rel=1e-14, abs=0)
    assert agd.lp_predicted_steps(1.0, 0.1, 1.0, 2, 2) == pytest.approx(2 * math.log(10), rel=1e-14, abs=0)
    chain = agd.scalar_chain(torch.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=F64))
    assert len(chain) == 2 and chain[1].shape == (2, 1, 1) and float(chain[1][1, 0, 0]) == 2.0


def test_count_operations_matches_the_paper_for_shallow_gd_and_the_tensor_step():
    for d in (3, 10):
        assert agd.count_operations(d, 1, 1)["mul"] == 3 * d
    c = agd.count_operations(6, 4, 5, seed=2)
    X, y, theta1, scales = c["start"]
    new1 = agd.first_layer_step(theta1, scales, X, y, 0.1)
    assert torch.allclose(c["theta1"], new1, rtol=0, atol=5e-15)  # ~20 ulps of entries <= 1.4 (1.4e-17 measured)
    assert torch.allclose(c["scales"], agd.round_robin(scales, X @ new1, y), rtol=0, atol=5e-15)
    per_layer = agd.count_operations(6, 6, 1)["mul"] - agd.count_operations(6, 5, 1)["mul"]
    assert per_layer == 11
    # deep sub-steps cost O(1) per iteration whatever n
    assert agd.count_operations(6, 8, 50)["mul"] - agd.count_operations(6, 2, 50)["mul"] == \
        agd.count_operations(6, 8, 1)["mul"] - agd.count_operations(6, 2, 1)["mul"]


def test_small_utilities():
    losses = torch.tensor([[1.0, 1.0], [1e-3, 0.5], [1e-7, float("nan")]], dtype=F64)
    assert agd.iterations_to(losses, 1e-6).tolist() == [2, -1]
    assert agd.count_spikes(torch.tensor([1.0, 0.1, 0.01, 0.5, 0.005, 0.001, 0.2, 1e-4])) == 2
    assert agd.local_maxima(torch.tensor([0.0, 1.0, 0.5, 0.7, 0.2, 1e-9, 2e-9, 0.0]), rel=1e-3).tolist() == [1, 3]
    # measured 1.6-1.8e-4 s per iteration here; 1e-2 leaves room for a loaded machine, and catches a timer that
    # returns 0, a total instead of a per-iteration figure, or a run that does not stop
    assert 0 < agd.seconds_per_iteration(*data.two_point_regression(), depth=2, lr=0.1, steps=5, repeats=1) < 1e-2
    run = agd.aligned_gd(*data.two_point_regression(), depth=3, lr=0.1, steps=5)
    assert "AGD (depth 3)" in run.summary() and run.steps == 5 and run.final_loss.shape == ()


# --------------------------------------------------------------------------- data


def test_two_point_regression_and_sklearn_binary():
    X, y = data.two_point_regression(4e-4)
    assert torch.allclose(agd.output_kernel(X), torch.diag(torch.tensor([1.0, 4e-4], dtype=F64)), rtol=0, atol=1e-14)
    assert float(X[1, 1]) == pytest.approx(math.sqrt(2) * 0.02, rel=1e-14, abs=0)
    Xtr, ytr, Xte, yte = data.sklearn_binary("digits")
    assert Xtr.shape[1] == Xte.shape[1] and Xtr.shape[0] + Xte.shape[0] == 357
    assert set(ytr.tolist()) == {-1.0, 1.0} and int(torch.linalg.matrix_rank(Xtr)) == Xtr.shape[1]
    assert float(Xtr.min()) >= 0 and float(Xtr.max()) <= 1
    Btr, bytr, Bte, byte = data.sklearn_binary("breast_cancer", test_fraction=0.25, seed=1)
    assert torch.allclose(Btr.mean(0), torch.zeros(30, dtype=F64), rtol=0, atol=5e-14)
    assert abs(float((bytr > 0).double().mean() - (byte > 0).double().mean())) < 0.02  # stratified


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("call, match", [
    (lambda: agd.shallow_gd(torch.ones(3), torch.ones(3), lr=0.1, steps=2), r"X: got shape \(3,\), expected \(n, d\)"),
    (lambda: agd.shallow_gd(torch.ones(3, 2), torch.ones(3, 1), lr=0.1, steps=2), r"y: got shape \(3, 1\)"),
    (lambda: agd.aligned_gd(torch.ones(3, 2), torch.ones(4), depth=2, lr=0.1, steps=2), "y: got 4 targets but X has 3"),
    (lambda: agd.aligned_gd(torch.ones(3, 2), torch.ones(3), depth=0, lr=0.1, steps=2), "depth: got 0"),
    (lambda: agd.aligned_gd(torch.ones(3, 2), torch.ones(3), depth=2, lr=-0.1, steps=2), "lr: got -0.1"),
    (lambda: agd.aligned_gd(torch.ones(3, 2), torch.ones(3), depth=2, lr=0.1, steps=-1), "steps: got -1"),
    (lambda: agd.shallow_gd(torch.ones(3, 2), torch.ones(3), lr=torch.tensor([0.1, 0.0]), steps=2), "lr: got"),
    (lambda: agd.aligned_gd(torch.tensor([[math.nan]]), torch.ones(1), depth=2, lr=0.1, steps=2), "X: contains NaN"),
    (lambda: agd.deep_gd(torch.ones(3, 2), torch.ones(3), init="kaiming", lr=0.1, steps=2), "init: got 'kaiming'"),
    (lambda: agd.round_robin(torch.ones(2), torch.ones(3), torch.ones(4)), r"h: got shape \(3,\)"),
    (lambda: agd.round_robin([1.0, 2.0], torch.ones(3), torch.ones(3)), "scales: got list"),
    (lambda: agd.first_layer_step(torch.ones(5), torch.ones(1), torch.ones(3, 2), torch.ones(3), 0.1),
     r"theta1: got shape \(5,\), expected \(\*B, 2\)"),
    (lambda: agd.scalar_flow_steps(1.5, 2, 0.1, 1e-6), r"y0: got 1.5, expected an initial output in \(0, 1\)"),
    (lambda: agd.iterations_to([1.0, 2.0], 1e-6), "losses: got list"),
    (lambda: agd.count_spikes(torch.ones(2, 2)), r"losses: got shape \(2, 2\), expected \(T,\)"),
    (lambda: agd.count_operations(0, 2), "d: got 0"),
    (lambda: data.two_point_regression(0.0), "lambda2: got 0.0"),
    (lambda: data.sklearn_binary("cifar10"), "name: got 'cifar10'"),
    (lambda: data.sklearn_binary("digits", test_fraction=1.5), "test_fraction: got 1.5"),
])
def test_bad_inputs_are_rejected_with_a_message(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_runs_for_the_checks_are_rejected():
    X, y = data.two_point_regression()
    run = agd.aligned_gd(X, y, depth=2, lr=0.1, steps=3)
    with pytest.raises(ValueError, match="record_outputs=True"):
        agd.theorem1_check(X, y, run)
    with pytest.raises(ValueError, match="record_outputs=True"):
        agd.agd_step_spectra(run, X)
    with pytest.raises(ValueError, match="record_chain=True"):
        agd.gd_step_spectra(run, X, 0.1)
    with pytest.raises(ValueError, match="lrs: got 2 learning rates"):
        agd.select_lr(agd.shallow_gd(X, y, lr=torch.tensor([0.1, 0.2, 0.3]), steps=3), [0.1, 0.2])
    with pytest.raises(ValueError, match="chain: expected a scalar-output chain"):
        agd.layer_kernels([torch.ones(2, 3)], torch.ones(4, 3))


# --------------------------------------------------------------------------- exercises



# --------------------------------------------------------------------------- plots and slider


def test_figures_build_and_mark_divergence():
    import matplotlib.pyplot as plt

    from dlnlib.plotting import agd as agdplot

    fig, ax = plt.subplots()
    agdplot.plot_curve(ax, torch.tensor([1.0, 10.0, float("nan"), float("nan")]), label="diverged")
    assert len(ax.lines) == 2 and list(ax.lines[1].get_xdata()) == [1]  # the x sits on the last finite point
    plt.close(fig)
    X, y = data.two_point_regression(0.01)
    run = agd.aligned_gd(X, y, depth=2, lr=0.1, steps=60, record_outputs=True, record_weights=True)
    gd = agd.shallow_gd(X, y, lr=0.1, steps=60, record_weights=True)
    fig, align = agdplot.figure2({"shallow GD": gd.history["weights"], "AGD": run.history["weights"]},
                                 torch.linalg.solve(X, y), run.history["outputs"][:, 1], y, stop=60)
    assert align.shape == (60,)
    plt.close(fig)
    fig = agdplot.figure1([{"title": "t", "curves": [("a", run.losses, {})], "logx": True}], tol=1e-6)
    plt.close(fig)


def test_slider_redraws_on_every_control():
    from dlnlib.widgets.agd import agd_demo

    handle = agd_demo(steps=120)
    assert "AGD" in handle.status.value
    seen = {handle.image.value}
    for name, values in {"lr": [0.3, 2.2], "depth": [1, 5], "lambda2": [0.1, 0.002]}.items():
        for v in values:
            handle.sliders[name].value = v
            seen.add(handle.image.value)
    assert len(seen) == 7 and len(handle.timings_ms) == 7
    # the last settings: eta = 2.2 above 2/lambda_max = 2, L = 5, lambda_2 = 0.002
    assert "shallow GD diverged at step 55; AGD 30 iterations" in handle.status.value
    handle.sliders["lr"].value = 0.3
    assert "diverged" not in handle.status.value and "AGD" in handle.status.value


def test_slider_tables_are_the_single_runs():
    # agd_demo computes the runs of every slider setting at once (_grid_runs); they must be aligned_gd's and
    # shallow_gd's numbers for one setting at a time (agd_vs_gd), bit for bit, diverged runs included
    import numpy as np

    from dlnlib.widgets import agd as wagd

    steps = 60
    handle = wagd.agd_demo(steps=steps)
    lrs = wagd._positions(handle.sliders["lr"], handle.sliders["lr"].value)
    lambda2s = wagd._positions(handle.sliders["lambda2"], handle.sliders["lambda2"].value)
    depths = tuple(range(1, 9))
    (gd_losses, gd_div), (agd_losses, agd_div) = wagd._grid_runs(tuple(lrs), tuple(lambda2s), depths, steps)
    settings = {(d, k, i) for d in range(len(depths)) for k in (0, 10, 20, 30) for i in (0, 20, 40, 60, 67, 68)}
    deep_diverged = [tuple(int(v) for v in p) for p in np.argwhere(agd_div[1:] >= 0)[:6] + (1, 0, 0)]
    assert deep_diverged and bool((gd_div >= 0).any())
    for d, k, i in sorted(settings | set(deep_diverged)):
        gd, run = wagd.agd_vs_gd(float(lrs[i]), depths[d], float(lambda2s[k]), steps)
        assert np.array_equal(run.losses.numpy(), agd_losses[:, d, k, i], equal_nan=True)
        assert int(run.diverged_at) == agd_div[d, k, i]
        assert np.array_equal(gd.losses.numpy(), gd_losses[:, k, i], equal_nan=True)
        assert int(gd.diverged_at) == gd_div[k, i]
