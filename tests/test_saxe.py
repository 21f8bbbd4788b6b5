"""dlnlib.saxe (notebook 02): mode coordinates against autograd, decoupling from the orthogonal init, closed-form
learning curves against the ODE integrator and gradient descent, the (a, b) system, its exercises and sliders."""

import math

import numpy as np
import pytest
import torch

import dlnlib
from dlnlib import saxe
from dlnlib.exercises import saxe as ex

F64 = torch.float64
# Tolerances: float64 identities (no ODE, no training) hold to round-off, 1e-16 to 2e-15 measured on x86-64; the
# bounds are 10-100x that (rtol=0 so that the bound is the stated atol), enough for other BLAS/LAPACK builds. Where
# a check is exact here the bound allows some tens of ulps of the compared values.


def _task(s=(3.0, 2.0, 1.0, 0.5), d_out=5, d_in=4, seed=0):
    A, _, _ = saxe.random_mode_task(list(s), d_out, d_in, seed=seed)
    U, sv, V = saxe.mode_basis(A)
    return A, U, sv, V


# ------------------------------------------------------------------------------------------ mode coordinates


def test_mode_basis_reconstructs_with_fixed_signs_and_batches():
    A, U, s, V = _task()
    assert torch.allclose(s, torch.tensor([3.0, 2.0, 1.0, 0.5], dtype=F64), rtol=0, atol=5e-14)
    assert torch.allclose(U @ saxe.rect_diag(s, 5, 4) @ V.T, A, rtol=0, atol=5e-14)
    assert torch.allclose(U.T @ U, torch.eye(5, dtype=F64), rtol=0, atol=5e-14)
    assert torch.allclose(V.T @ V, torch.eye(4, dtype=F64), rtol=0, atol=5e-14)
    r = s.numel()
    rows = U[:, :r].abs().argmax(0)
    assert bool((U[rows, torch.arange(r)] > 0).all())  # largest entry of each u^i positive
    batch = torch.stack([A, 2 * A, -A])
    Ub, sb, Vb = saxe.mode_basis(batch)
    for k in range(3):
        Uk, sk, Vk = saxe.mode_basis(batch[k])
        assert torch.allclose(sb[k], sk, rtol=0, atol=1e-13) and torch.allclose(Vb[k], Vk, rtol=0, atol=1e-13)
        assert torch.allclose(Ub[k][:, :r], Uk[:, :r], rtol=0, atol=1e-13)


def test_mode_vectors_round_trip():
    _, U, _, V = _task()
    chain = dlnlib.init_chain([4, 6, 5], "gaussian", seed=1)
    a, b = saxe.mode_vectors(chain, U, V)
    assert a.shape == (4, 6) and b.shape == (5, 6)
    back = saxe.chain_from_modes(a, b, U, V)
    assert all(torch.allclose(x, y, rtol=0, atol=2e-14) for x, y in zip(back, chain))
    # the end-to-end map in mode coordinates is b a^T, whose diagonal holds the mode strengths
    assert torch.allclose(saxe.mode_couplings(a, b), U.T @ dlnlib.end_to_end(chain) @ V, rtol=0, atol=1e-14)
    assert torch.allclose(saxe.mode_strengths(chain, U, V), torch.diagonal(b @ a.T), rtol=0, atol=1e-14)


@pytest.mark.parametrize("dims,batch,tau", [((4, 6, 5), (), 1.0), ((5, 3, 2), (3,), 0.7), ((3, 3, 3), (2, 2), 2.5)])
def test_mode_dynamics_equal_rotated_autograd_and_minus_grad_energy(dims, batch, tau):
    d_in, d_h, d_out = dims
    s = torch.linspace(2.0, 0.5, min(d_in, d_out), dtype=F64)
    A, U, V = saxe.random_mode_task(s, d_out, d_in, seed=3)
    chain = dlnlib.init_chain(list(dims), "gaussian", batch=batch, seed=4)
    leaves = [w.clone().requires_grad_(True) for w in chain]
    g1, g2 = torch.autograd.grad(saxe.WhitenedSquaredError(A)(leaves[1] @ leaves[0]).sum(), leaves)
    a, b = saxe.mode_vectors(chain, U, V)
    da, db = saxe.mode_dynamics(a, b, s, tau)
    assert torch.allclose(da, -(g1 @ V).transpose(-1, -2) / tau, rtol=0, atol=5e-14)
    assert torch.allclose(db, -(U.T @ g2) / tau, rtol=0, atol=5e-14)
    al, bl = a.clone().requires_grad_(True), b.clone().requires_grad_(True)
    ga, gb = torch.autograd.grad(saxe.mode_energy(al, bl, s, tau).sum(), [al, bl])
    assert torch.allclose(-ga, da, rtol=0, atol=2e-14) and torch.allclose(-gb, db, rtol=0, atol=2e-14)


def test_energy_is_the_loss_above_its_minimum_over_tau():
    A, U, s, V = _task()
    X = dlnlib.data.whitened_gaussian(4, 50, seed=2)
    loss = dlnlib.SquaredError(X, X @ A.T + 0.3 * torch.randn(50, 5, generator=torch.Generator().manual_seed(0),
                                                               dtype=F64))
    U, s, V = saxe.mode_basis(loss.sigma_yx)
    chains = [dlnlib.init_chain([4, 6, 5], "gaussian", seed=k) for k in range(3)]
    e = torch.stack([loss(dlnlib.end_to_end(c)) for c in chains])
    f = torch.stack([saxe.mode_energy(*saxe.mode_vectors(c, U, V), s, tau=2.0) for c in chains])
    assert torch.allclose(e - 2.0 * f, (e - 2.0 * f)[0].expand(3), rtol=0, atol=1e-13)  # differ by a constant only


def test_mode_energy_loss_terms():
    s = torch.tensor([2.0, 1.0, 0.5], dtype=F64)
    gen = torch.Generator().manual_seed(5)
    a, b = torch.randn(3, 4, generator=gen, dtype=F64), torch.randn(3, 4, generator=gen, dtype=F64)
    C = saxe.mode_couplings(a, b)
    both = saxe.ModeEnergy(s, 3, 3)
    own, cross = saxe.ModeEnergy(s, 3, 3, "own"), saxe.ModeEnergy(s, 3, 3, "cross")
    assert torch.allclose(both.value(C), saxe.mode_energy(a, b, s), rtol=0, atol=1e-13)
    assert torch.allclose(own.value(C) + cross.value(C), both.value(C), rtol=0, atol=1e-13)
    Cl = C.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(cross.value(Cl), Cl)
    assert torch.allclose(g, cross.grad(C), rtol=0, atol=5e-14)
    with pytest.raises(ValueError, match="terms: got"):
        saxe.ModeEnergy(s, 3, 3, ("own", "both"))
    with pytest.raises(ValueError, match=r"s: got shape \(3,\), expected \(2,\)"):
        saxe.ModeEnergy(s, 2, 4)


def test_whitened_squared_error_matches_squared_error_up_to_a_constant():
    A, _, _, _ = _task()
    X = dlnlib.data.whitened_gaussian(4, 40, seed=6)
    full, white = dlnlib.SquaredError(X, X @ A.T), saxe.WhitenedSquaredError(A)
    Ws = torch.randn(3, 5, 4, generator=torch.Generator().manual_seed(1), dtype=F64)
    assert torch.allclose(full.value(Ws), white.value(Ws), rtol=0, atol=5e-13)
    assert torch.allclose(full.grad(Ws), white.grad(Ws), rtol=0, atol=2e-13)


# ------------------------------------------------------------------------------------------ orthogonal init


def test_decoupled_init_stays_decoupled_along_gradient_descent():
    A, U, s, V = _task()
    loss = saxe.WhitenedSquaredError(A)
    callbacks = {"cross": lambda c: saxe.cross_coupling(c, U, V), "u": lambda c: saxe.mode_strengths(c, U, V)}
    good = saxe.decoupled_init(U, V, [6], [0.1, 0.1], seed=1)
    run = dlnlib.gradient_descent(good, loss, lr=0.02, steps=800, record_every=10, callbacks=callbacks)
    assert float(run.history["cross"].max()) < 5e-14  # round-off only: 1.3e-15 measured
    a, b = saxe.ab_gradient_descent(0.1, 0.1, s, 0.02, 800)
    assert torch.allclose(run.history["u"], (a * b)[run.steps], rtol=0, atol=2e-13)  # modes follow (9)-(10) exactly
    printed = saxe.decoupled_init(U, V, [6], [0.1, 0.1], form="transposed", seed=1)
    generic = dlnlib.init_chain([4, 6, 5], "gaussian", scale=0.05, seed=1)
    for chain in (printed, generic):
        r = dlnlib.gradient_descent(chain, loss, lr=0.02, steps=800, record_every=10, callbacks=callbacks)
        assert float(r.history["cross"].max()) > 1e-2


def test_decoupled_init_deep_is_balanced_with_the_right_strengths():
    _, U, _, V = _task()
    u0 = torch.tensor([0.5, 0.2, 0.1, 0.05], dtype=F64)
    chain = saxe.decoupled_init(U, V, [6, 7, 6], [u0 ** 0.25] * 4, seed=2)
    assert [tuple(w.shape) for w in chain] == [(6, 4), (7, 6), (6, 7), (5, 6)]
    for lower, upper in zip(chain[:-1], chain[1:]):
        assert torch.allclose(upper.T @ upper, lower @ lower.T, rtol=0, atol=2e-14)
    assert torch.allclose(saxe.mode_strengths(chain, U, V), u0, rtol=0, atol=1e-14)
    assert float(saxe.cross_coupling(chain, U, V)) < 1e-14
    batched = saxe.decoupled_init(U, V, [6], [torch.rand(3, 4, dtype=F64), 0.3], seed=2)
    assert batched[0].shape == (3, 6, 4) and batched[1].shape == (5, 6)


def test_decoupled_init_rejects_bad_input():
    _, U, _, V = _task()
    with pytest.raises(ValueError, match="strengths: expected a list of 2"):
        saxe.decoupled_init(U, V, [6], [0.1])
    with pytest.raises(ValueError, match="form: got 'printed'"):
        saxe.decoupled_init(U, V, [6], [0.1, 0.1], form="printed")
    with pytest.raises(ValueError, match="form: 'transposed' is the homework's two-layer formula, got depth 3"):
        saxe.decoupled_init(U, V, [6, 6], [0.1] * 3, form="transposed")
    with pytest.raises(ValueError, match="U: is not orthogonal"):
        saxe.decoupled_init(2 * U, V, [6], [0.1, 0.1])
    with pytest.raises(ValueError, match="strengths: got 5 values per layer, expected at most min"):
        saxe.decoupled_init(U, V, [6], [torch.ones(5), 0.1])


# ------------------------------------------------------------------------------------------ the (a, b) system


def test_ab_jacobian_matches_autograd_batched():
    a = torch.tensor([0.0, 2.0, -0.3, 1.2], dtype=F64)
    b = torch.tensor([0.0, 0.5, 1.7, -0.4], dtype=F64)
    s = torch.tensor([1.0, 1.0, 2.0, 0.5], dtype=F64)
    J = saxe.ab_jacobian(a, b, s, tau=0.8)
    for k in range(4):
        def field(x, k=k):
            return torch.stack(saxe.ab_field(x[0], x[1], s[k], 0.8))

        Jk = torch.autograd.functional.jacobian(field, torch.stack([a[k], b[k]]))
        assert torch.allclose(J[k], Jk, rtol=0, atol=2e-14)


@pytest.mark.parametrize("a,b,s,tau,kind,eig", [
    (0.0, 0.0, 1.5, 1.0, "saddle", (-1.5, 1.5)),
    (2.0, 0.5, 1.0, 1.0, "line of minima", (-4.25, 0.0)),
    (-0.5, -4.0, 2.0, 0.5, "line of minima", (-32.5, 0.0)),
    (0.0, 1.0, 1.0, 1.0, "not a fixed point", None),
])
def test_ab_fixed_point_type(a, b, s, tau, kind, eig):
    got_eig, got_kind = saxe.ab_fixed_point_type(a, b, s, tau)
    assert got_kind == kind
    if eig is not None:
        assert torch.allclose(got_eig, torch.tensor(eig, dtype=F64), rtol=0, atol=2e-13)
    ref_eig, ref_kind = ex.classify_reference(a, b, s, tau)
    assert ref_kind == kind and torch.allclose(ref_eig, got_eig, rtol=0, atol=2e-13)


def test_ab_trajectory_conserves_imbalance_and_matches_the_generic_flow():
    a0 = torch.tensor([0.3, -1.2, 2.0], dtype=F64)
    b0 = torch.tensor([2.0, 0.4, -0.1], dtype=F64)
    times = np.linspace(0.0, 6.0, 31)
    a, b = saxe.ab_trajectory(a0, b0, 1.0, times)
    assert a.shape == (31, 3)
    # DOP853 at rtol 1e-10: 3e-12 measured
    assert float((saxe.ab_invariant(a, b) - saxe.ab_invariant(a0, b0)).abs().max()) < 1e-10
    chain = [a0[:, None, None], b0[:, None, None]]
    flow = dlnlib.gradient_flow(chain, saxe.WhitenedSquaredError(torch.ones(3, 1, 1, dtype=F64)), times)
    # two DOP853 solves at rtol 1e-10 (equal here): a round-off flip of one step-size decision moves each by its
    # global error (~2e-9, see the learning-curve tests), so the bound stays at the solver's scale
    assert torch.allclose(flow.chains[0][..., 0, 0], a, rtol=0, atol=1e-8)
    assert torch.allclose(flow.chains[1][..., 0, 0], b, rtol=0, atol=1e-8)


def test_ab_end_point_matches_the_flow_and_needs_the_sign_of_a_plus_b():
    gen = torch.Generator().manual_seed(5)
    a0, b0 = (3 * torch.rand(2, 60, generator=gen, dtype=F64) - 1.5).unbind(0)
    s = torch.tensor(0.7, dtype=F64)
    a_end, b_end = saxe.ab_end_point(a0, b0, s)
    a, b = saxe.ab_trajectory(a0, b0, s, np.array([0.0, 80.0]), tau=0.5)  # the end point does not depend on tau
    # DOP853 at rtol 1e-10 to t = 80: 3e-10 measured
    assert float(((a[-1] - a_end) ** 2 + (b[-1] - b_end) ** 2).sqrt().max()) < 1e-8
    assert torch.allclose(a_end * b_end, s.expand(60), rtol=0, atol=1e-14)  # on the curve of minima
    assert torch.allclose(saxe.ab_invariant(a_end, b_end), saxe.ab_invariant(a0, b0), rtol=0, atol=5e-14)
    # same imbalance, opposite sign of a + b: opposite end points
    pa, pb = saxe.ab_end_point(torch.tensor([1.0, -1.0], dtype=F64), torch.tensor([0.5, -0.5], dtype=F64), 1.0)
    a_star = math.sqrt((0.75 + math.sqrt(0.75**2 + 4)) / 2)  # c = 0.75, s = 1
    assert torch.allclose(pa, torch.tensor([a_star, -a_star], dtype=F64), rtol=0, atol=1e-14)
    assert torch.allclose(pa * pb, torch.ones(2, dtype=F64), rtol=0, atol=1e-14)
    # the anti-diagonal flows into the saddle
    za, zb = saxe.ab_end_point(0.8, -0.8, 1.0)
    assert float(za) == 0.0 and float(zb) == 0.0
    fa, fb = saxe.ab_trajectory(0.8, -0.8, 1.0, np.array([0.0, 20.0]))
    assert abs(float(fa[-1])) < 1e-7 and abs(float(fb[-1])) < 1e-7  # 0.8 e^(-t): 1.3e-9 at t = 20
    with pytest.raises(ValueError, match="s: got"):
        saxe.ab_end_point(1.0, 0.5, 0.0)
    with pytest.raises(ValueError, match="a0: contains NaN"):
        saxe.ab_end_point(float("nan"), 0.5, 1.0)
    with pytest.raises(ValueError, match="broadcast"):
        saxe.ab_end_point(torch.zeros(3), torch.zeros(2), 1.0)


def test_ab_gradient_descent_shrinks_imbalance_by_the_exact_factor_and_batches():
    a, b = saxe.ab_gradient_descent(0.3, 2.0, 1.0, 0.2, 40)
    c, r = saxe.ab_invariant(a, b), 1.0 - a * b
    assert torch.allclose(c[1:], c[:-1] * (1 - 0.2**2 * r[:-1] ** 2), rtol=0, atol=5e-14)
    lrs = torch.tensor([0.05, 0.2, 0.5], dtype=F64)
    ab, bb = saxe.ab_gradient_descent(0.3, 2.0, 1.0, lrs, 40)
    for k, lr in enumerate(lrs.tolist()):
        ak, bk = saxe.ab_gradient_descent(0.3, 2.0, 1.0, lr, 40)
        assert torch.allclose(ab[:, k], ak, rtol=0, atol=1e-14) and torch.allclose(bb[:, k], bk, rtol=0, atol=1e-14)
    ad, bd = saxe.ab_gradient_descent(0.3, 2.0, 1.0, 1.5, 30)  # diverges: padded with NaN to steps + 1
    assert ad.shape == (31,) and bool(torch.isnan(ad[-1])) and bool(torch.isfinite(ad[0]))


# ------------------------------------------------------------------------------------------ learning curves


def test_mode_strength_matches_the_integrator_and_broadcasts():
    t = torch.linspace(0.0, 8.0, 41, dtype=F64)
    s = torch.tensor([3.0, 1.0, 0.5], dtype=F64)
    u0 = torch.tensor([0.01, 1e-4, 0.8], dtype=F64)  # the last one starts above its target
    u = saxe.mode_strength(t[:, None], s, u0, tau=1.5)
    assert u.shape == (41, 3)
    a, b = saxe.ab_trajectory(u0.sqrt(), u0.sqrt(), s, t.numpy(), tau=1.5)
    assert float(((a * b - u).abs() / u).max()) < 1e-8
    assert torch.allclose(u[0], u0, rtol=0, atol=1e-14)
    assert torch.allclose(saxe.mode_strength(1e4, s, u0), s, rtol=0, atol=1e-14)  # no overflow
    assert saxe.mode_strength(2.0, 1.0, 0.1).shape == ()


def test_mode_strength_s_zero_limit_and_formula():
    t = torch.tensor([0.0, 0.5, 3.0], dtype=F64)
    assert torch.allclose(saxe.mode_strength(t, 0.0, 0.4), 0.4 / (1 + 2 * 0.4 * t), rtol=0, atol=2e-15)
    s, u0, tau = 2.0, 0.05, 0.7
    e = torch.exp(2 * s * t / tau)
    assert torch.allclose(saxe.mode_strength(t, s, u0, tau), s * e / (e - 1 + s / u0), rtol=0, atol=1e-14)


def test_mode_strength_against_gradient_descent_first_order_in_eta():
    s = torch.tensor([2.0, 1.0], dtype=F64)
    errors = []
    for eta in (0.02, 0.01):
        steps = int(round(6.0 / eta))
        a, b = saxe.ab_gradient_descent(0.1, 0.1, s, eta, steps)
        exact = saxe.mode_strength(eta * torch.arange(steps + 1, dtype=F64)[:, None], s, 0.01)
        errors.append(float(((a * b - exact).abs() / s).max()))
    assert errors[1] < 0.02 and 1.8 < errors[0] / errors[1] < 2.2


def test_deep_mode_strength_against_full_chains_and_its_exact_inverse():
    A, U, s, V = _task(s=(2.0, 1.0, 0.5), d_out=3, d_in=3, seed=8)
    loss = saxe.WhitenedSquaredError(A)
    t = torch.linspace(0.0, 10.0, 21, dtype=F64)
    u0 = 0.01
    for depth in (1, 2, 3, 5):
        chain = saxe.decoupled_init(U, V, [4] * (depth - 1), [u0 ** (1 / depth)] * depth, seed=depth)
        flow = dlnlib.gradient_flow(chain, loss, t)
        u_flow = torch.stack([saxe.mode_strengths(flow.chain_at(k), U, V) for k in range(len(t))])
        u = saxe.deep_mode_strength(t[:, None], s, u0, depth)
        assert float(((u_flow - u).abs() / u).max()) < 1e-8, depth  # ODE solves at rtol 1e-10: 4.4e-10 measured
        ok = (u > 2 * u0) & (u < 0.9 * s)
        back = saxe.learning_time(s.expand_as(u)[ok], u0, u[ok], depth=depth)
        assert float((back - t[:, None].expand_as(u)[ok]).abs().max()) < 2e-9, depth  # 6.7e-11 measured
    assert torch.allclose(saxe.deep_mode_strength(t, 1.0, 0.1, 2), saxe.mode_strength(t, 1.0, 0.1), rtol=0, atol=1e-14)


def test_learning_time_formulas():
    s, u0, uf, tau = 2.0, 1e-3, 1.5, 0.5
    expected = tau / (2 * s) * math.log(uf * (s - u0) / (u0 * (s - uf)))
    assert abs(float(saxe.learning_time(s, u0, uf, tau)) - expected) < 1e-14
    t = saxe.learning_time(s, u0, uf, tau)
    assert abs(float(saxe.mode_strength(t, s, u0, tau)) - uf) < 2e-14
    assert abs(float(saxe.learning_time(1.0, 0.2, 0.9, depth=1)) - math.log(0.8 / 0.1)) < 2e-14
    sv = torch.tensor([0.5, 1.0, 4.0], dtype=F64)
    prod = sv * saxe.learning_time(sv, 1e-3 * sv, sv / 2)  # proportional to 1/s at fixed ratios
    assert torch.allclose(prod, prod[0].expand(3), rtol=0, atol=5e-14)


def test_learning_curve_inputs_are_validated():
    with pytest.raises(ValueError, match="t: got a minimum of -1, expected times >= 0"):
        saxe.mode_strength(torch.tensor([-1.0, 1.0]), 1.0, 0.1)
    with pytest.raises(ValueError, match="s: got a minimum of -0.5, expected singular values >= 0"):
        saxe.mode_strength(1.0, -0.5, 0.1)
    with pytest.raises(ValueError, match="u0: got a minimum of 0, expected initial strengths > 0"):
        saxe.mode_strength(1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="tau: got -1.0, expected a finite number > 0"):
        saxe.mode_strength(1.0, 1.0, 0.1, tau=-1.0)
    with pytest.raises(ValueError, match="do not broadcast"):
        saxe.mode_strength(torch.zeros(3), torch.ones(2), 0.1)
    with pytest.raises(ValueError, match="u0 and uf on the same side of s"):
        saxe.learning_time(1.0, 0.1, 1.2)
    with pytest.raises(ValueError, match="expected 0 < u0, uf < s for depth >= 3"):
        saxe.learning_time(1.0, 1.5, 1.2, depth=3)
    with pytest.raises(ValueError, match="depth: got 0, expected an integer >= 1"):
        saxe.deep_mode_strength(1.0, 1.0, 0.1, 0)
    with pytest.raises(ValueError, match="expected singular values > 0 for depth >= 3"):
        saxe.deep_mode_strength(1.0, 0.0, 0.1, 3)


def test_other_inputs_are_validated():
    _, U, s, V = _task()
    chain = dlnlib.init_chain([4, 6, 5], "gaussian", seed=1)
    with pytest.raises(ValueError, match=r"U: got shape \(4, 4\), expected \(5, 5\)"):
        saxe.mode_coordinates(chain, U[:4, :4], V)
    with pytest.raises(ValueError, match="chain: got depth 3, expected a two-layer chain"):
        saxe.mode_vectors(dlnlib.init_chain([4, 6, 6, 5], seed=1), U, V)
    a, b = saxe.mode_vectors(chain, U, V)
    with pytest.raises(ValueError, match=r"s: got shape \(3,\), expected \(\*batch, 4\)"):
        saxe.mode_dynamics(a, b, s[:3])
    with pytest.raises(ValueError, match="expected both .* with the same hidden width"):
        saxe.mode_energy(a, b[:, :5], s)
    with pytest.raises(ValueError, match="times: got .* strictly increasing"):
        saxe.ab_trajectory(0.1, 0.1, 1.0, [0.0, 2.0, 1.0])
    with pytest.raises(ValueError, match="s: got 0.0, expected a finite number > 0"):
        saxe.ab_fixed_point_type(0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="lr: got"):
        saxe.ab_gradient_descent(0.1, 0.1, 1.0, -0.1, 5)
    with pytest.raises(ValueError, match="s: got .* at most min"):
        saxe.random_mode_task([1.0, 2.0, 3.0], 2, 4)
    with pytest.raises(ValueError, match="s: got shape"):
        saxe.rect_diag(torch.ones(3), 2, 4)


def test_hierarchical_tree_levels():
    X, Y = dlnlib.data.hierarchical_tree(3)
    assert X.shape == (8, 8) and Y.shape == (8, 15)
    loss = dlnlib.SquaredError(X, Y)
    assert torch.allclose(loss.sigma_xx, torch.eye(8, dtype=F64), rtol=0, atol=1e-14)
    s = saxe.mode_basis(loss.sigma_yx)[1]
    assert len(torch.unique(s.round(decimals=8))) == 4  # one level per depth of the tree
    assert torch.allclose(s[2], s[3], rtol=0, atol=1e-14) and torch.allclose(s[4], s[7], rtol=0, atol=1e-14)
    X3, Y3 = dlnlib.data.hierarchical_tree(2, branching=3)
    assert X3.shape == (9, 9) and Y3.shape == (9, 13)
    with pytest.raises(ValueError, match="branching: got 1, expected an integer >= 2"):
        dlnlib.data.hierarchical_tree(2, branching=1)


# ------------------------------------------------------------------------------------------ exercises



# ------------------------------------------------------------------------------------------ plots and sliders


def test_phase_portrait_demo_redraws_and_reports_divergence():
    from dlnlib.widgets.saxe import phase_portrait_demo

    h = phase_portrait_demo()
    images = [bytes(h.image.value)]
    for name, values in (("s", [0.5, 1.7]), ("a0", [0.4, -2.0]), ("b0", [1.0]), ("eta", [0.5, 0.05])):
        for v in values:
            h.sliders[name].value = v
            images.append(bytes(h.image.value))
    assert len(set(images)) == len(images)
    assert len(h.timings_ms) == len(images) and all(t > 0 for t in h.timings_ms)
    assert "GD moved a² − b²" in h.status.value
    h.sliders["eta"].value = 1.0
    h.sliders["a0"].value, h.sliders["b0"].value = 2.0, -2.0
    assert "diverged" in h.status.value


@pytest.mark.parametrize("setting", [(1.0, -1.2, 1.4, 0.15), (2.0, 2.0, -2.0, 0.9), (0.2, 0.1, 0.0, 0.5)])
def test_phase_line_is_phase_demo_data_run_by_run(setting):
    """A slider line of the phase portrait, computed at once: GD's iterates are those of separate runs bit for bit
    (diverged runs included), the flows agree with separate solves to the solver's tolerance (at most 1.4e-6
    measured: one error control for up to 17 starts, each at rtol 1e-8)."""
    from dlnlib.widgets.saxe import LINE_REACH, PHASE_NAMES, _phase_line, phase_demo_data

    grids = {"s": np.round(np.arange(2, 21) * 0.1, 6), "a0": np.round(np.arange(-20, 21) * 0.1, 6),
             "b0": np.round(np.arange(-20, 21) * 0.1, 6), "eta": np.round(np.arange(1, 101) * 0.01, 6)}
    diverged = 0
    for along, grid in grids.items():
        i = int(np.flatnonzero(grid == setting[PHASE_NAMES.index(along)])[0])
        values = grid[max(0, i - LINE_REACH):i + LINE_REACH + 1].tolist()
        line = _phase_line(setting, along, values)
        assert len(line) == len(values)
        for key, data in line.items():
            ref = phase_demo_data(*key)
            for x, y in zip(data.gd, ref.gd):
                assert x.shape == y.shape and np.array_equal(x, y, equal_nan=True), (along, key)
            assert (data.diverged, data.diverged_at) == (ref.diverged, ref.diverged_at)
            for x, y in zip(data.flow, ref.flow):
                assert np.max(np.abs(x - y)) < 5e-6, (along, key)
            diverged += ref.diverged
    assert diverged > 0 or setting[3] < 0.6  # the large-eta setting reaches diverging runs


def test_phase_portrait_demo_computes_a_line_per_slider_move():
    """A move of one slider computes the settings near it along that slider at once; the moves back only look up."""
    from dlnlib.widgets import saxe as ws

    h = ws.phase_portrait_demo()
    calls = []
    line = ws._phase_line

    def counting(setting, along, values):
        calls.append((along, len(values)))
        return line(setting, along, values)

    ws._phase_line = counting
    try:
        for name, values in (("a0", [-1.1, -1.0, -1.1, -1.2]), ("eta", [0.16, 0.17, 0.16, 0.15])):
            for v in values:
                h.sliders[name].value = v
        assert calls == [("a0", 2 * ws.LINE_REACH + 1), ("eta", 2 * ws.LINE_REACH + 1)]
        # back at the defaults, from the looked-up runs: the status line of the static figure's own runs
        import matplotlib.pyplot as plt

        from dlnlib.plotting.saxe import draw_phase_demo

        fig, axes = plt.subplots(1, 2)
        flow, gd = ws.phase_demo_data(1.0, -1.2, 1.4, 0.15)
        assert h.status.value == draw_phase_demo(axes, 1.0, -1.2, 1.4, 0.15, flow, gd)
        plt.close(fig)
    finally:
        ws._phase_line = line


def test_depth_delay_demo_redraws():
    from dlnlib.widgets.saxe import depth_delay_demo

    h = depth_delay_demo()
    images = [bytes(h.image.value)]
    for name, v in (("depth", 1), ("depth", 6), ("log10_u0", -1.0), ("s", 2.0)):
        h.sliders[name].value = v
        images.append(bytes(h.image.value))
    assert len(set(images)) == len(images) and len(h.timings_ms) == 5
    assert "reaches u = s/2" in h.status.value


def test_static_plots_return_axes():
    import matplotlib.pyplot as plt

    from dlnlib.plotting.saxe import draw_phase_demo, plot_mode_curves, plot_phase_portrait
    from dlnlib.widgets.saxe import draw_depth_curves, phase_demo_data

    fig, axes = plt.subplots(1, 4, figsize=(12, 3))
    assert plot_phase_portrait(1.0, ax=axes[0], field="quiver", starts=[(0.1, 0.2)]) is axes[0]
    t = torch.linspace(0, 5, 11, dtype=F64)
    u = saxe.mode_strength(t[:, None], torch.tensor([2.0, 1.0], dtype=F64), 0.01)
    assert plot_mode_curves(t, u, exact=u, s=torch.tensor([2.0, 1.0]), ax=axes[1]) is axes[1]
    flow, gd = phase_demo_data(1.0, 0.3, 1.5, 0.2)
    assert "GD moved" in draw_phase_demo(axes[2:4], 1.0, 0.3, 1.5, 0.2, flow, gd)
    fig2, ax2 = plt.subplots()
    assert "reaches u = s/2" in draw_depth_curves(ax2, 1.0, -2.0, 4)
    plt.close(fig)
    plt.close(fig2)
    with pytest.raises(ValueError, match="field: got 'arrows'"):
        from dlnlib.plotting.saxe import plot_ab_plane

        plot_ab_plane(1.0, field="arrows")


def test_mode_basis_fixes_repeated_singular_values_and_null_spaces_whatever_basis_lapack_returns():
    # The tree's levels repeat singular values (0.6124 twice, 0.3536 four times): LAPACK may return any basis of
    # those subspaces, and different processors do. mode_basis must return the same one for any of them.
    X, Y = dlnlib.data.hierarchical_tree(3)
    syx = dlnlib.SquaredError(X, Y).sigma_yx
    U, s, V = saxe.mode_basis(syx)
    r = s.numel()
    assert torch.allclose(U[:, :r] @ torch.diag(s) @ V[:, :r].T, syx, rtol=0, atol=1e-14)
    assert float((U.T @ U - torch.eye(15, dtype=F64)).abs().max()) < 1e-14
    assert float((V.T @ V - torch.eye(8, dtype=F64)).abs().max()) < 1e-13
    gen = torch.Generator().manual_seed(3)
    for block in ((2, 4), (4, 8), (8, 15)):  # the two repeated levels, then U's null space
        i, j = block
        R, _ = torch.linalg.qr(torch.randn(j - i, j - i, generator=gen, dtype=F64))
        other = U[:, i:j] @ R  # another orthonormal basis of the same subspace, as another LAPACK might return
        assert not torch.allclose(other, U[:, i:j], atol=1e-3)
        assert float((saxe.canonical_span(other) - U[:, i:j]).abs().max()) < 2e-14
    # a batch gives each matrix's own basis, null-space columns included
    Ub, sb, Vb = saxe.mode_basis(torch.stack([syx, 2 * syx]))
    assert torch.allclose(Ub[1], U, rtol=0, atol=1e-14) and torch.allclose(Vb[1], V, rtol=0, atol=1e-14)
