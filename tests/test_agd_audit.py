"""Theorem 1's audit in notebook 05: random problems, the output-space race of AGD against shallow GD (checked
against the parameter-space implementations), the counterexample search, the closed-form GD loss, Figure 4's grid."""

import math

import pytest
import torch

from dlnlib import agd, data

F64 = torch.float64


def test_random_problems_satisfy_assumption_1_and_the_condition_bound():
    X, y = agd.random_problems(40, 5, 3, cond=25.0, seed=3)
    assert X.shape == (40, 5, 3) and y.shape == (40, 5) and X.dtype == F64
    assert float(y.abs().max()) <= 1
    lam = torch.linalg.eigvalsh(X @ X.transpose(1, 2) / 5)[:, -3:]  # the min(n, d) = 3 nonzero eigenvalues
    assert float(lam.min()) > 1e-6
    ratio = lam[:, -1] / lam[:, 0]
    assert float(ratio.max()) <= 25 * (1 + 1e-10) and float(ratio.max()) > 3  # spread, within the bound
    Xs, ys = agd.random_problems(40, 3, 6, labels="signs", seed=3)
    assert set(ys.unique().tolist()) == {-1.0, 1.0} and torch.linalg.matrix_rank(Xs).eq(3).all()
    X2, y2 = agd.random_problems(40, 5, 3, cond=25.0, seed=3)
    assert torch.equal(X, X2) and torch.equal(y, y2)


def _param_space_iterations(X, y, lr, depth, steps, tol):
    """Iterations to ||E^sol||^2 <= tol ||Y^sol||^2 for shallow_gd (engine) and aligned_gd, from their losses."""
    n = len(y)
    y_sol = agd.solution_outputs(X, y)
    opt = float(((y - y_sol) ** 2).sum()) / (2 * n)
    target = tol * float((y_sol ** 2).sum()) / (2 * n)
    gd = agd.shallow_gd(X, y, lr=lr, steps=steps).losses - opt
    ag = agd.aligned_gd(X, y, depth=depth, lr=lr, steps=steps).losses - opt
    return int(agd.iterations_to(gd, target)), int(agd.iterations_to(ag, target))


@pytest.mark.parametrize("n, d, depth", [(3, 5, 2), (6, 3, 2), (4, 4, 3)])
def test_race_matches_shallow_gd_and_aligned_gd(n, d, depth):
    X, y = agd.random_problems(6, n, d, seed=n + d)
    top = torch.linalg.eigvalsh(X @ X.transpose(1, 2) / n)[:, -1]
    lr = torch.stack([0.5 * 2 / top, 0.95 * 2 / top], 1)
    race = agd.race_agd_gd(X, y, lr, depth=depth, steps=2000, tol=1e-6)
    assert race["gd"].shape == (6, 2) and bool((race["gd"] > 0).all()) and bool((race["agd"] > 0).all())
    steps = int(race["iterations"])  # every trial reached tol by then
    for b in range(6):
        for r in range(2):
            gd, ag = _param_space_iterations(X[b], y[b], float(lr[b, r]), depth, steps, 1e-6)
            assert (gd, ag) == (int(race["gd"][b, r]), int(race["agd"][b, r]))
    # the largest ||Yhat||^2/(2n) a deep sub-step meets, against aligned_gd's recorded outputs
    run = agd.aligned_gd(X[0], y[0], depth=depth, lr=float(lr[0, 1]), steps=int(race["iterations"]),
                         record_outputs=True)
    inputs = run.history["outputs"][:, 1:-1]  # the outputs each deep sub-step starts from
    r2n = float(((inputs ** 2).sum(-1) / (2 * n)).max())
    assert abs(r2n - float(race["yhat_sq_over_2n"][0, 1])) <= 5e-14 * r2n


def test_search_finds_counterexamples_and_checks_the_bounds_of_the_proof():
    out = agd.search_counterexamples([(3, 5), (2, 2)], count=150, steps=2000)
    assert out["problems"] == 600 and out["pairs"] == 3000 and out["undecided"] == 0
    assert len(out["same_rate"]) == 5 and sum(out["same_rate"]) > 0  # AGD is not always faster at the same rate
    assert out["same_rate"][0] == 0  # at 0.25 x 2/lambda_max none was found (measured: 0 of 600)
    assert out["yhat_sq_over_2n"] > 1  # the proof's ||Yhat||^2 < 2n fails ...
    assert out["yhat_sq_over_4ysol"] < 1  # ... while ||Yhat||^2 < 4 ||Y^sol||^2 holds
    assert min(out["speedup"]) > 1  # the median problem is faster with AGD
    X, y, lr, gd, ag = out["worst"]
    assert ag > gd
    assert _param_space_iterations(X, y, lr, 2, 500, 1e-6) == (gd, ag)


def test_the_reflection_bound_near_the_stability_limit():
    # one sample, x = y = 1, so K = 1: the layer-1 step at eta = f * 2 leaves Yhat = 2f after the first step,
    # so ||Yhat||^2 / (2n) = 2 f^2 y^2 > 1 for f > 1/sqrt 2 (y = 1): the proof's "< 2n" fails, "< 4 ||Y^sol||^2" holds
    X, y = torch.ones(1, 1, 1, dtype=F64), torch.ones(1, 1, dtype=F64)
    race = agd.race_agd_gd(X, y, torch.tensor([[1.8]], dtype=F64), depth=2, steps=200)
    assert math.isclose(float(race["yhat_sq_over_2n"]), 2 * 0.9 ** 2, rel_tol=1e-14)
    assert math.isclose(float(race["yhat_sq_over_4ysol"]), 0.9 ** 2, rel_tol=1e-14)


def test_shallow_loss_after_equals_the_engine():
    X, y, _ = data.teacher_regression(4, 1, 9, noise=0.3, seed=2)
    lrs = torch.tensor([0.05, 0.2, 0.6], dtype=F64)
    run = agd.shallow_gd(X, y[:, 0], lr=lrs, steps=150)
    closed = agd.shallow_loss_after(X, y[:, 0], lrs, 150)
    assert torch.allclose(closed, run.final_loss, rtol=1e-12, atol=0)  # 150 steps: 2.4e-14 relative measured
    start = float(agd.shallow_loss_after(X, y[:, 0], 0.1, 0))
    assert start == pytest.approx(float((y ** 2).sum() / 18), rel=1e-14, abs=0)


@pytest.mark.parametrize("call, match", [
    (lambda: agd.random_problems(0, 2, 2), "count: got 0"),
    (lambda: agd.random_problems(3, 2, 2, cond=0.5), "cond: got 0.5"),
    (lambda: agd.random_problems(3, 2, 2, labels="gauss"), "labels: got 'gauss'"),
    (lambda: agd.race_agd_gd(torch.ones(2, 3), torch.ones(2), torch.ones(2, 1), steps=3), r"X, y: got shapes \(2, 3\)"),
    (lambda: agd.race_agd_gd(torch.ones(2, 3, 1), torch.ones(2, 3), torch.ones(3, 1), steps=3),
     r"lr: got shape \(3, 1\)"),
    (lambda: agd.race_agd_gd(torch.ones(1, 1, 1), torch.ones(1, 1), torch.tensor([[2.5]]), steps=3),
     "lr: some rate is >= 2 / lambda_max"),
    (lambda: agd.search_counterexamples([]), "shapes: got"),
    (lambda: agd.search_counterexamples([(2, 2, 2)]), r"shapes: entry \(2, 2, 2\)"),
    (lambda: agd.search_counterexamples([(2, 2)], fractions=(0.5, 1.0)), r"fractions: got \(0.5, 1.0\)"),
    (lambda: agd.shallow_loss_after(torch.ones(3, 2), torch.ones(3), 0.1, -1), "steps: got -1"),
])
def test_bad_inputs_are_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_figure4_grid_has_a_row_per_dataset():
    import matplotlib.pyplot as plt

    from dlnlib.plotting import agd as agdplot

    curve = torch.linspace(1, 0.1, 30, dtype=F64)
    fig = agdplot.figure4_grid({"a": {"GD": (curve, curve), "AGD, L = 2": (curve / 2, curve)},
                                "b": {"GD": (curve, curve)}}, checkpoints=(10,))
    assert len(fig.axes) == 4 and fig.axes[0].get_title() == "a: train loss" and len(fig.axes[0].lines) == 3
    assert fig.axes[0].get_xlim() == (0, 29)  # iterations 0..29, no empty negative half of the symlog axis
    plt.close(fig)
