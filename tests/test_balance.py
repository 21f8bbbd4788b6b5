"""Tests of dlnlib.balance (notebook 03): invariants, their conservation along gradient flow, GD drift,
matrix factorisation, exercises 3.1-3.2, plots and the slider demo."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dlnlib
from dlnlib import balance as bal

F64 = torch.float64



def _relu_problem():
    # The notebook's ReLU setting: no hidden pre-activation changes sign on [0, 0.25] (checked below).
    gen = torch.Generator().manual_seed(6)
    X = torch.randn(10, 4, generator=gen, dtype=F64)
    Y = bal.network_output(dlnlib.init_chain([4, 6, 5, 3], "gaussian", seed=106, device="cpu"), X, "relu")
    student = dlnlib.init_chain([4, 6, 5, 3], "gaussian", scale=0.5, seed=7, device="cpu")
    return X, Y, student


def _linear_problem(batch=()):
    X, Y, _ = dlnlib.data.teacher_regression(5, 4, 40, seed=3, device="cpu")
    chain = dlnlib.init_chain([5, 8, 6, 4], "gaussian", scale=0.3, batch=batch, seed=4, device="cpu")
    return dlnlib.SquaredError(X, Y), chain


# ------------------------------------------------------------------------------------------------
# The invariants themselves
# ------------------------------------------------------------------------------------------------


def test_imbalance_matches_definition_and_is_batched():
    chain = dlnlib.init_chain([3, 5, 4, 2], "gaussian", batch=(4,), seed=0, device="cpu")
    D = bal.imbalance(chain)
    assert [d.shape for d in D] == [(4, 5, 5), (4, 4, 4)]
    for b in range(4):
        single = bal.imbalance([w[b] for w in chain])
        for j in range(2):
            W, V = chain[j][b], chain[j + 1][b]
            assert torch.allclose(single[j], V.T @ V - W @ W.T, rtol=0, atol=1e-14)
            assert torch.allclose(D[j][b], single[j], rtol=0, atol=1e-14)


def test_balanced_init_has_zero_imbalance():
    chain = dlnlib.init_chain([4, 4, 4, 4], "balanced", batch=(3,), seed=1, device="cpu")
    assert max(float(d.abs().max()) for d in bal.imbalance(chain)) < 5e-14


def test_neuron_and_layer_forms_are_diagonal_and_trace():
    chain = dlnlib.init_chain([3, 5, 4, 2], "gaussian", batch=(2, 3), seed=2, device="cpu")
    D = bal.imbalance(chain)
    q = bal.neuron_imbalance(chain)
    lay = bal.layer_imbalance(chain)
    assert lay.shape == (2, 3, 2)
    for j in range(2):
        assert torch.allclose(q[j], torch.diagonal(D[j], dim1=-2, dim2=-1), rtol=0, atol=2e-14)
        assert torch.allclose(lay[..., j], q[j].sum(-1), rtol=0, atol=5e-14)
    norms = bal.layer_norms(chain)
    assert torch.allclose(lay, norms[..., 1:] ** 2 - norms[..., :-1] ** 2, rtol=0, atol=5e-14)
    assert torch.allclose(bal.norm_ratios(chain), norms[..., 1:] / norms[..., :-1], rtol=0, atol=1e-14)
    assert torch.allclose(bal.invariants(chain, "layer")[1], lay[..., 1], rtol=0, atol=1e-14)


def test_rescaling_keeps_homogeneous_networks_only():
    X = dlnlib.data.whitened_gaussian(4, 20, seed=0, device="cpu")
    chain = dlnlib.init_chain([4, 7, 5, 2], "gaussian", seed=3, device="cpu")
    cs = torch.tensor([0.1, 3.0, 50.0], dtype=F64)
    for j in (1, 2):
        rescaled = bal.rescale_pair(chain, j, cs)
        assert rescaled[j - 1].shape == (3, *chain[j - 1].shape)
        for act in bal.ACTIVATIONS:
            f0 = bal.network_output(chain, X, act)
            change = float((bal.network_output(rescaled, X, act) - f0).abs().max() / f0.abs().max())
            if act in bal.HOMOGENEOUS:
                assert change < 1e-14, act
            else:
                assert change > 1e-2, act


def test_network_output_linear_equals_end_to_end():
    X = dlnlib.data.whitened_gaussian(4, 20, seed=0, device="cpu")
    chain = dlnlib.init_chain([4, 7, 5, 2], "gaussian", batch=(3,), seed=3, device="cpu")
    assert torch.allclose(bal.network_output(chain, X, "linear"), dlnlib.apply_chain(chain, X), rtol=0, atol=2e-14)


def test_network_loss_linear_matches_closed_form_squared_error():
    # autograd through ChainLoss vs SquaredError's closed-form gradient and the chain rule
    loss_sq, chain = _linear_problem(batch=(2,))
    X, Y, _ = dlnlib.data.teacher_regression(5, 4, 40, seed=3, device="cpu")
    net = bal.network_loss(X, Y, "linear")
    v1, g1 = net.chain_value_and_grads(chain)
    v2, g2 = loss_sq.chain_value_and_grads(chain)
    assert torch.allclose(v1, v2, rtol=0, atol=1e-14)  # equal here
    for a, b in zip(g1, g2):
        assert torch.allclose(a, b, rtol=0, atol=2e-14)


def test_activation_pattern_shape_and_meaning():
    X, _, student = _relu_problem()
    pat = bal.activation_pattern(student, X)
    assert pat.shape == (10, 6 + 5) and pat.dtype == torch.bool
    z1 = X @ student[0].T
    assert torch.equal(pat[:, :6], z1 > 0)


# ------------------------------------------------------------------------------------------------
# Conservation along gradient flow (tight tolerances)
# ------------------------------------------------------------------------------------------------


def test_linear_flow_conserves_all_three_laws():
    loss, chain = _linear_problem()
    flow = dlnlib.gradient_flow(chain, loss, np.linspace(0.0, 30.0, 61))
    assert float(flow.losses[-1]) < 1e-3 * float(flow.losses[0])  # the weights really moved
    for kind in bal.KINDS:
        assert float(bal.invariant_drift(flow, kind).max()) <= 2e-11, kind  # DOP853 at rtol 1e-10: 5.8e-13 measured
    # absolute drift of the matrix law, list-of-tensors input
    absolute = bal.invariant_drift(flow.chains, "matrix", relative=False)
    assert absolute.shape == (61,) and float(absolute.max()) < 1e-10


def test_relu_flow_conserves_per_neuron_law_not_matrix_law():
    X, Y, student = _relu_problem()
    flow = dlnlib.gradient_flow(student, bal.network_loss(X, Y, "relu"), np.linspace(0.0, 0.25, 26))
    pats = bal.activation_pattern(flow.chains, X)
    assert bool((pats == pats[0]).all())  # an ordinary ODE on this window
    assert float(flow.losses[-1]) < 0.5 * float(flow.losses[0])
    assert float(bal.invariant_drift(flow, "neuron").max()) <= 1e-10
    assert float(bal.invariant_drift(flow, "layer").max()) <= 5e-11
    assert float(bal.invariant_drift(flow, "matrix").max()) > 1e-2


def test_tanh_flow_breaks_the_laws():
    X, Y, student = _relu_problem()
    flow = dlnlib.gradient_flow(student, bal.network_loss(X, Y, "tanh"), np.linspace(0.0, 0.25, 11))
    assert float(bal.invariant_drift(flow, "neuron").max()) > 1e-3


def test_invariant_drift_from_train_result():
    loss, chain = _linear_problem()
    run = dlnlib.gradient_descent(chain, loss, lr=0.01, steps=20, record=("loss", "chain"))
    d = bal.invariant_drift(run, "matrix", relative=False)
    assert d.shape == (21,) and float(d[0]) == 0.0 and float(d[-1]) > 0


# ------------------------------------------------------------------------------------------------
# Gradient descent: exact one-step change, drift ~ lr, decaying steps
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [0.05, 0.3])
def test_one_gd_step_changes_imbalance_by_lr_squared_q(lr):
    loss, chain = _linear_problem(batch=(3,))
    after = dlnlib.gradient_descent(chain, loss, lr=lr, steps=1).chain
    pred = bal.gradient_imbalance(chain, loss)
    for a, b, p in zip(bal.imbalance(after), bal.imbalance(chain), pred):
        assert torch.allclose(a - b, lr**2 * p, rtol=0, atol=2e-14)  # an exact identity: round-off only


def test_one_gd_step_relu_per_neuron():
    X, Y, student = _relu_problem()
    loss = bal.network_loss(X, Y, "relu")
    after = dlnlib.gradient_descent(student, loss, lr=0.2, steps=1).chain
    pred = bal.gradient_imbalance(student, loss, "neuron")
    for a, b, p in zip(bal.neuron_imbalance(after), bal.neuron_imbalance(student), pred):
        assert torch.allclose(a - b, 0.04 * p, rtol=0, atol=2e-14)


def test_drift_ladder_scales_like_lr_and_matches_flow_prediction():
    loss, chain = _linear_problem(batch=(2,))
    lrs = torch.tensor([0.00125, 0.0025, 0.005], dtype=F64)
    lad = bal.drift_ladder(chain, loss, lrs, 1.0)
    assert lad.drift.shape == (3, 2) and lad.steps.tolist() == [800, 400, 200]
    assert abs(lad.slope - 1.0) < 0.05
    flow = dlnlib.gradient_flow(chain, loss, np.linspace(0.0, 1.0, 201))
    rate = bal.flow_drift_rate(flow, loss)
    assert torch.allclose(lad.drift[0] / lrs[0], rate, rtol=0.02, atol=0)  # O(lr) gap between GD and the flow
    # batched ladder = one ladder per trial
    single = bal.drift_ladder([w[1] for w in chain], loss, lrs, 1.0)
    assert torch.allclose(single.drift, lad.drift[:, 1], rtol=1e-10, atol=1e-15)


def test_decaying_step_equals_explicit_schedule():
    M = bal.low_rank_target(6, 5, 2, seed=0, device="cpu")
    loss = bal.factorisation_loss(M)
    init = bal.factorisation_init(6, 5, 2, scale=0.1, batch=(2,), seed=1, device="cpu")
    sched = bal.DecayingStep(0.25, t0=5.0)
    run = dlnlib.gradient_descent(init, loss, lr=0.1, steps=30, direction=sched)
    assert sched.calls == 30
    chain = [w.clone() for w in init]
    for k in range(30):
        eta = 0.1 * (1 + k / 5.0) ** -0.75
        _, grads = loss.chain_value_and_grads(chain)
        chain = [w - eta * g for w, g in zip(chain, grads)]
    for a, b in zip(run.chain, chain):
        assert torch.allclose(a, b, rtol=0, atol=5e-15)
    assert np.allclose(sched.factor([0, 5]), [1.0, 2.0**-0.75], rtol=1e-14, atol=0)


# ------------------------------------------------------------------------------------------------
# Matrix factorisation
# ------------------------------------------------------------------------------------------------


def test_factorisation_loss_value_and_gradient():
    M = bal.low_rank_target(5, 4, 2, seed=2, device="cpu")
    vt, u = bal.factorisation_init(5, 4, 2, scale=0.5, ratio=2.0, seed=3, device="cpu")
    lam = 0.7
    val, (g_vt, g_u) = bal.factorisation_loss(M, lam).chain_value_and_grads([vt, u])
    R = u @ vt - M
    D = u.T @ u - vt @ vt.T
    assert torch.allclose(val, 0.5 * (R * R).sum() + 0.25 * lam * (D * D).sum(), rtol=1e-14, atol=0)
    assert torch.allclose(g_u, R @ vt.T + lam * u @ D, rtol=0, atol=2e-14)
    assert torch.allclose(g_vt, u.T @ R - lam * D @ vt, rtol=0, atol=1e-14)
    # plain problem = the squared error of the end-to-end matrix with identity input covariance
    plain = dlnlib.SquaredError.from_covariances(torch.eye(4, dtype=F64), M, float((M * M).sum()))
    value = bal.factorisation_loss(M).chain_value_and_grads([vt, u])[0]
    assert torch.allclose(value, plain(u @ vt), rtol=1e-14, atol=0)


def test_low_rank_target_and_init_shapes():
    M = bal.low_rank_target(7, 5, 3, singular_values=[3.0, 2.0, 1.0], batch=(2,), seed=0, device="cpu")
    assert M.shape == (2, 7, 5)
    sv = torch.linalg.svdvals(M)[..., :3]
    assert torch.allclose(sv, torch.tensor([3.0, 2.0, 1.0], dtype=F64), rtol=0, atol=5e-14)
    vt, u = bal.factorisation_init(7, 5, 3, scale=0.1, ratio=3.0, batch=(4,), seed=1, device="cpu")
    assert vt.shape == (4, 3, 5) and u.shape == (4, 7, 3)


def test_plain_and_regularised_reach_the_same_loss():
    M = bal.low_rank_target(8, 6, 2, seed=4, device="cpu")
    init = bal.factorisation_init(8, 6, 2, scale=1e-2, batch=(4,), seed=5, device="cpu")
    lam = torch.tensor([[0.0], [1.0]], dtype=F64)
    run = dlnlib.gradient_descent([w.expand(2, *w.shape) for w in init], bal.factorisation_loss(M, lam),
                                  lr=0.1, steps=1500, tol=1e-14)
    fit = bal.factorisation_loss(M)(run.chain)
    assert bool(run.converged.all())
    assert float(fit.max()) < 1e-13
    steps = run.stopped_at.double().median(-1).values
    assert abs(float(steps[0] - steps[1])) < 0.1 * float(steps[0])  # competitive rates (Fig 1a)
    assert float(bal.norm_ratios(run.chain).sub(1).abs().max()) < 1e-2  # small start ends balanced (2.7e-4 measured)


def test_regulariser_removes_imbalance_under_flow():
    M = bal.low_rank_target(5, 4, 2, seed=6, device="cpu")
    init = bal.factorisation_init(5, 4, 2, scale=0.5, ratio=2.0, seed=7, device="cpu")
    flow = dlnlib.gradient_flow(init, bal.factorisation_loss(M, 1.0), np.linspace(0.0, 30.0, 3))
    d = [torch.linalg.matrix_norm(bal.imbalance(flow.chain_at(k))[0]) for k in range(3)]
    # decays until the ODE solver's accuracy (rtol 1e-10 on O(1) weights) limits it: 1.4e-12 d[0] measured at t = 30
    assert float(d[-1]) < 1e-9 * float(d[0])


def test_rank_one_linear_rate_matches_balanced_prediction():
    M = bal.low_rank_target(10, 10, 1, singular_values=[1.0], seed=8, device="cpu")
    run = dlnlib.gradient_descent(bal.factorisation_init(10, 10, 1, scale=1e-2, batch=(6,), seed=9, device="cpu"),
                                  bal.factorisation_loss(M), lr=0.1, steps=400, record_every=2)
    rho = bal.linear_rate(run.losses, run.steps, lo=1e-24, hi=1e-8)
    vt, u = run.chain
    pred = (1 - 0.1 * torch.minimum((u * u).sum((-2, -1)), (vt * vt).sum((-2, -1)))) ** 2
    # the rate is fitted over a window of the run, the prediction uses the final weights: they differ by 4.6e-5
    assert torch.allclose(rho, pred, rtol=0, atol=2e-4)


def test_linear_rate_and_loglog_slope_on_exact_data():
    steps = torch.arange(0, 100, 5)
    losses = torch.stack([0.9 ** steps.double(), 0.5 ** steps.double()], -1) * 1e-7
    assert torch.allclose(bal.linear_rate(losses, steps), torch.tensor([0.9, 0.5], dtype=F64), rtol=0, atol=1e-14)
    assert bool(torch.isnan(bal.linear_rate(losses, steps, lo=1e-30, hi=1e-29)).all())
    slope, intercept = bal.loglog_slope([1.0, 2.0, 4.0], [3.0, 12.0, 48.0])
    assert abs(slope - 2.0) < 2e-14 and abs(intercept - np.log(3.0)) < 2e-14


# ------------------------------------------------------------------------------------------------
# Bad inputs
# ------------------------------------------------------------------------------------------------


def _chain2():
    return dlnlib.init_chain([3, 4, 2], "gaussian", seed=0, device="cpu")


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: bal.imbalance([torch.zeros(3, 3, dtype=F64)]), r"chain: got depth N = 1, expected N >= 2"),
        (lambda: bal.neuron_imbalance("W"), r"chain: W_1 is str"),
        (lambda: bal.invariants(_chain2(), "trace"), r"kind: got 'trace'"),
        (lambda: bal.invariant_drift(_chain2(), "matrix"), r"trajectory: expected a list of N >= 2 tensors"),
        (lambda: bal.rescale_pair(_chain2(), 2, 2.0), r"j: got 2, expected 1 <= j <= N-1 = 1"),
        (lambda: bal.rescale_pair(_chain2(), 1, -1.0), r"c: got -1.0, expected a finite number > 0"),
        (lambda: bal.activation("softplus"), r"activation: got 'softplus'"),
        (lambda: bal.activation("leaky_relu", negative_slope=1.5), r"negative_slope: got 1.5, expected a number in"),
        (lambda: bal.network_output(_chain2(), torch.zeros(5, 4, dtype=F64)), r"X: got shape \(5, 4\), expected"),
        (lambda: bal.network_loss(torch.zeros(5, 3), torch.zeros(4, 2)), r"X, Y: got shapes \(5, 3\) and \(4, 2\)"),
        (lambda: bal.factorisation_loss(torch.eye(3), lam=-1.0), r"lam: got -1.0, expected a finite number >= 0"),
        (lambda: bal.factorisation_loss(torch.eye(3), lam=torch.tensor([0.0, -2.0])), r"lam: got \[0.0, -2.0\]"),
        (lambda: bal.factorisation_init(3, 3, 1, scale=0.0), r"scale: got 0.0, expected a finite number > 0"),
        (lambda: bal.factorisation_init(3, 3, 1, scale=0.1, ratio=-2.0), r"ratio: got -2.0"),
        (lambda: bal.low_rank_target(3, 2, 3), r"rank: got 3, expected rank <= min\(d1, d2\) = 2"),
        (lambda: bal.low_rank_target(3, 3, 2, singular_values=[1.0]), r"singular_values: got \[1.0\], expected 2"),
        (lambda: bal.DecayingStep(0.7), r"delta: got 0.7, expected 0 < delta <= 1/2"),
        (lambda: bal.DecayingStep(0.2, t0=0.0), r"t0: got 0.0, expected a finite number > 0"),
        (lambda: bal.loglog_slope([1.0, 2.0], [1.0, -1.0]), r"x, y: expected finite positive numbers"),
        (lambda: bal.loglog_slope([1.0], [1.0]), r"x, y: got sizes 1 and 1"),
        (lambda: bal.linear_rate(torch.ones(5, 2), torch.arange(4)), r"losses, steps: got shapes \(5, 2\) and \(4,\)"),
        (lambda: bal.linear_rate(torch.ones(5), torch.arange(5), lo=1e-3, hi=1e-4), r"hi: got 0.0001, expected"),
        (lambda: bal.flow_drift_rate("flow", None), r"flow: got str, expected a FlowResult"),
        (lambda: bal.gradient_imbalance(_chain2(), "loss"), r"loss: got str, expected a dlnlib.losses.Loss"),
    ],
)
def test_bad_inputs_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_inputs_of_the_losses_at_call_time():
    with pytest.raises(ValueError, match=r"chain: got depth 3, expected the two factors"):
        bal.factorisation_loss(torch.eye(3))(dlnlib.init_chain([3, 3, 3, 3], "gaussian", seed=0, device="cpu"))
    with pytest.raises(ValueError, match=r"chain: U V\^T has shape \(2, 3\), expected the target's \(3, 3\)"):
        bal.factorisation_loss(torch.eye(3))(dlnlib.init_chain([3, 1, 2], "gaussian", seed=0, device="cpu"))
    with pytest.raises(ValueError, match=r"Y: got 2 output columns, expected d_N = 3"):
        bal.network_loss(torch.zeros(4, 2), torch.zeros(4, 2))(dlnlib.init_chain([2, 3, 3], "gaussian", seed=0))
    run = dlnlib.gradient_descent(_chain2(), bal.factorisation_loss(torch.eye(2, 3)), lr=0.1, steps=2)
    with pytest.raises(ValueError, match=r"trajectory: this TrainResult has no 'chain' history"):
        bal.invariant_drift(run)


def test_drift_ladder_bad_rates():
    loss, chain = _linear_problem()
    with pytest.raises(ValueError, match=r"lrs: got shape \(1,\), expected a 1-D tensor of at least 2"):
        bal.drift_ladder(chain, loss, [0.1], 1.0)
    with pytest.raises(ValueError, match=r"lrs: the largest rate 4 exceeds time = 1"):
        bal.drift_ladder(chain, loss, [0.1, 4.0], 1.0)
    with pytest.raises(ValueError, match=r"lrs: got \[0.1, -0.1\], expected finite numbers > 0"):
        bal.drift_ladder(chain, loss, [0.1, -0.1], 1.0)


# ------------------------------------------------------------------------------------------------
# Exercises 3.1 and 3.2
# ------------------------------------------------------------------------------------------------



# ------------------------------------------------------------------------------------------------
# Plots and the slider demo
# ------------------------------------------------------------------------------------------------


def test_plots_return_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlnlib.plotting import balance as bplot

    loss, chain = _linear_problem(batch=(2,))
    lad = bal.drift_ladder(chain, loss, torch.tensor([0.01, 0.02], dtype=F64), 0.2)
    fig, axes = plt.subplots(1, 5)
    assert bplot.plot_rescaling(torch.tensor([0.5, 2.0]), {"relu": torch.tensor([0.0, 1e-16])}, ax=axes[0]) is axes[0]
    assert bplot.plot_drift(np.arange(3.0), torch.ones(3, 2), ax=axes[1]) is axes[1]
    assert bplot.plot_drift_ladder(lad, ax=axes[2], predicted=1.0) is axes[2]
    assert bplot.plot_band(np.arange(4), torch.rand(4, 5), ax=axes[3], logy=True, individual=2) is axes[3]
    assert bplot.plot_layer_norms(np.arange(4), torch.rand(4, 3), ax=axes[4]) is axes[4]
    plt.close(fig)


def test_slider_demo_redraws_on_every_slider():
    from dlnlib.widgets.balance import balance_demo

    handle = balance_demo()
    assert "median objective" in handle.status.value
    grid = {"lr": [0.1, 0.3], "scale": [0.5, 0.05], "ratio": [3.0, 1.0], "lam": [1.0, 0.0]}
    for name, values in grid.items():
        for v in values:
            before = handle.image.value
            handle.sliders[name].value = v
            assert handle.image.value != before, (name, v)
    assert len(handle.timings_ms) == 1 + sum(len(v) for v in grid.values())
    assert all(t > 0 for t in handle.timings_ms)


def test_slider_demo_batched_runs_give_the_experiments_numbers():
    # The demo runs a block of a slider's grid at once with its own loop; every setting must get the numbers of
    # factorisation_experiment, bit for bit: trials that diverge, settings where all do, lambda = 0 next to > 0.
    from dlnlib.widgets import balance as wb

    seen = set()
    for name, base, every in (("scale", (0.46, 0.5, 1.0, 0.3), 12), ("lam", (0.4, 0.5, 2.0, 0.0), 5),
                              ("lr", (0.2, 0.1, 1.0, 0.0), 8)):
        settings = wb._line(name, base, whole=True)
        sweep = wb._Sweep(settings)
        for i in range(0, len(settings), every):
            ref, got = wb.factorisation_experiment(*settings[i]), sweep.result(i)
            div = ref.diverged_at >= 0
            seen.add("all" if bool(div.all()) else "some" if bool(div.any()) else "none")
            assert torch.equal(got.steps, ref.steps) and got.n_steps == ref.n_steps, settings[i]
            for a, b in ((got.diverged_at, ref.diverged_at), (got.stopped_at, ref.stopped_at),
                         (got.final_loss, ref.final_loss), *zip(got.chain, ref.chain),
                         *((got.history[k], ref.history[k]) for k in ("loss", "ratio", "drift"))):
                assert a.shape == b.shape and torch.equal(a.nan_to_num(-1.0), b.nan_to_num(-1.0)), settings[i]
    assert seen == {"all", "some", "none"}


def test_slider_demo_reports_divergence():
    from dlnlib.widgets.balance import balance_demo

    handle = balance_demo(lr=0.5, scale=1.0, ratio=4.0)
    assert "diverged" in handle.status.value
