"""Tests of dlnlib.reproduce: seed 000 readings statistics, the l_p depth study, seed 001 grid runs, bursts."""

import math

import pytest
import torch

import dlnlib
from dlnlib import reproduce as rp


def test_block_statistics_counts_censored_trials_at_the_cap():
    it = torch.tensor([[1, 3, -1], [2, 2, 2]])
    mean, sd, cens = rp.block_statistics(it, 5)
    assert torch.allclose(mean, torch.tensor([3.0, 2.0], dtype=torch.float64), rtol=0, atol=1e-14)
    assert torch.allclose(sd, torch.tensor([2.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-14)
    assert cens.tolist() == [1, 0]
    with pytest.raises(ValueError, match="stopped_at"):
        rp.block_statistics(torch.tensor([1]), 5)


def test_tail_probability_two_sided_and_zero_outside():
    s = torch.arange(1.0, 101.0)
    assert rp.tail_probability(s, 50.5) == pytest.approx(1.0, rel=1e-14, abs=0)
    assert rp.tail_probability(s, 5.0) == pytest.approx(0.10, rel=1e-14, abs=0)
    assert rp.tail_probability(s, 96.0) == pytest.approx(0.10, rel=1e-14, abs=0)
    assert rp.tail_probability(s, 0.0) == 0.0
    with pytest.raises(ValueError, match="value"):
        rp.tail_probability(s, math.nan)


def test_resample_blocks_shared_mode_stays_in_one_group():
    pool = torch.stack([torch.full((5,), g) for g in range(4)])  # group g holds value g
    gen = torch.Generator().manual_seed(0)
    shared = rp.resample_blocks(pool, True, blocks=50, block_size=7, generator=gen)
    assert shared.shape == (50, 7)
    assert bool((shared == shared[:, :1]).all())
    mixed = rp.resample_blocks(pool, False, blocks=50, block_size=7, generator=gen)
    assert bool((mixed != mixed[:, :1]).any())


def test_completion_chains_schemes():
    gen = torch.Generator().manual_seed(0)
    u = rp.completion_chains("uniform [0, 1)", 2, 3, (200,), generator=gen)
    assert len(u) == 3 and bool(((u[0] >= 0) & (u[0] < 1)).all())
    x = rp.completion_chains("Xavier uniform", 2, 3, (2000,), generator=gen)
    assert float(x[0].abs().max()) <= math.sqrt(1.5) and float(x[0].abs().max()) > 0.9 * math.sqrt(1.5)
    d = rp.completion_chains("nn.Linear default", 2, 3, (2000,), generator=gen)
    assert float(d[0].abs().max()) <= 1 / math.sqrt(2)
    o = rp.completion_chains("orthogonal", 2, 3, (4,), generator=gen)
    assert torch.allclose(o[1].mT @ o[1], torch.eye(2, dtype=torch.float64).expand(4, 2, 2), rtol=0, atol=2e-14)
    with pytest.raises(ValueError, match="init"):
        rp.completion_chains("he", 2, 3, (), generator=gen)


def test_targets_per_block_are_shared():
    t = rp.completion_targets_for("one target per 100 trials", 3, 4, 2, generator=torch.Generator().manual_seed(1))
    assert t.shape == (3, 4, 2, 2) and bool((t == t[:, :1]).all()) and not bool((t[0] == t[1]).all())


def test_run_completion_readings_tiny_case_matches_separate_runs():
    runs = rp.run_completion_readings(groups=2, group_size=3, inits=("near identity",), steps_up=400,
                                      steps_down=1200, seed=3)
    assert runs.up.shape == (1, 2, 2, 3) and runs.down.shape == (1, 2, 2, 2, 3)
    # rebuild the same draws and run one trial on its own, up and down (factor 1/3 rides on the rate)
    gen = dlnlib.core.make_generator(seed=3)
    chain = rp.completion_chains("near identity", 2, 3, (2, 2, 3), generator=gen)
    targets = torch.stack([rp.completion_targets_for(m, 2, 3, 2, generator=gen) for m in rp.TARGET_MODES])
    one = [w[1, 0, 2] for w in chain]
    task = dlnlib.DiagonalCompletion(targets[1, 0, 2], "mean")
    up = dlnlib.gradient_descent(one, task, lr=0.1, steps=400, tol=1e-7)
    assert int(up.stopped_at) == int(runs.up[0, 1, 0, 2])
    down = dlnlib.endtoend.downstairs_descent(dlnlib.end_to_end(one), task, 3, lr=0.1, steps=1200, tol=1e-7,
                                             factor=1 / 3)
    assert int(down.stopped_at) == int(runs.down[0, 1, 1, 0, 2])
    rows = rp.rank_readings(runs, blocks=50, block_size=3)
    assert len(rows) == 2 * 2 * 4 and rows[0]["score"] >= rows[-1]["score"]  # modes x factors x meanings of +-


def test_rank_readings_finds_the_reading_that_generated_the_numbers():
    runs = rp.CompletionRuns(
        up=torch.stack([torch.full((1, 4, 10), 100), torch.full((1, 4, 10), 300)]),
        down=torch.stack([torch.full((1, 1, 4, 10), 150), torch.full((1, 1, 4, 10), 50)]),
        inits=("a", "b"), modes=("new target per trial",), factors=(1.0,), caps=(1000, 1000))
    runs.up[0, 0, :, ::2] = 110  # reading "a": block means near 105, sd near 5.3
    rows = rp.rank_readings(runs, blocks=20, block_size=10, reported_up=(105.0, 5.27), reported_down=(150.0, 0.0))
    assert rows[0]["init"] == "a" and rows[0]["spread"] == "sd"
    assert all(r["score"] == 0.0 for r in rows if r["init"] == "b")


def test_rank_readings_finds_a_report_that_mixes_a_standard_error_and_a_standard_deviation():
    gen = torch.Generator().manual_seed(0)
    up = 100 + torch.randint(-20, 21, (1, 1, 4, 50), generator=gen)
    down = 150 + torch.randint(-60, 61, (1, 1, 1, 4, 50), generator=gen)
    runs = rp.CompletionRuns(up=up, down=down, inits=("a",), modes=("new target per trial",), factors=(1.0,),
                             caps=(1000, 1000))
    sd_up, sd_dn = float(up.double().std()), float(down.double().std())
    # reported: upstairs +- as a standard error of 25 trials, downstairs +- as a standard deviation
    rows = rp.rank_readings(runs, blocks=400, block_size=25, reported_up=(100.0, sd_up / 5),
                            reported_down=(150.0, sd_dn))
    assert rows[0]["spread"] == "se up, sd down" and rows[0]["score"] > 0.05
    assert next(r for r in rows if r["spread"] == "sd")["score"] == 0.0  # sd upstairs: far from sd / 5


def _tiny_regression():
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=gen, dtype=torch.float64)
    y = X @ torch.tensor([[1.0], [-0.5], [0.25]], dtype=torch.float64) + 0.3 * torch.randn(40, 1, generator=gen,
                                                                                           dtype=torch.float64)
    return X, y


def test_depth_study_brackets_depth_one_stability_limit_and_masks_are_exact():
    X, y = _tiny_regression()
    optima = [float(dlnlib.endtoend.lp_optimum(dlnlib.LpLoss(X, y, p))[1]) for p in (2, 4)]
    st = rp.depth_study(X, y, optima, seeds=2, steps=400, coarse_steps=60, record_every=400)
    limit = 2 / float(torch.linalg.eigvalsh(X.T @ X / 40)[-1])
    lo, hi = (float(v) for v in st.bracket[0, 0])
    assert lo <= limit <= hi and hi / lo <= 2.0 + 1e-14  # a doubling: 2 up to an ulp
    assert st.chosen.shape == (2, 3) and bool((st.chosen <= st.bracket[..., 1]).all())
    its = st.chosen_iterations()
    assert its.shape == (2, 3, 2) and bool(torch.isfinite(its).all())
    # depth 2 inside the depth-3 chain equals plain GD on the chain [w, a]
    A = 0.1 * torch.randn(1, 1, 3, generator=dlnlib.core.make_generator(seed=0), dtype=torch.float64)
    norm = A[0].norm()
    chain = [A[0] / norm.sqrt(), norm.sqrt().reshape(1, 1)]
    lr = float(st.chosen[0, 1])
    plain = dlnlib.gradient_descent(chain, dlnlib.LpLoss(X, y, 2), lr=lr, steps=400,
                                    tol=optima[0] * (1 + st.rel_gap))
    assert int(plain.stopped_at) == int(its[0, 1, 0])


def test_depth_study_errors():
    X, y = _tiny_regression()
    with pytest.raises(ValueError, match="hi: for some"):
        rp.depth_study(X, y, [1.0, 1.0], seeds=1, lo=1e-4, hi=1e-3, steps=10, coarse_steps=10)
    with pytest.raises(ValueError, match="optima"):
        rp.depth_study(X, y, [1.0], seeds=1)
    with pytest.raises(ValueError, match="X, y"):
        rp.depth_study(X, y[:, 0], [1.0, 1.0])


def test_bursts_counts_spikes_above_running_minimum():
    assert rp.bursts(torch.tensor([4.0, 3.0, 2.0, 1.0])) == 0
    assert rp.bursts(torch.tensor([4.0, 1.0, 3.0, 1.0, 0.5, 2.0, 0.4])) == 2
    assert rp.bursts(torch.tensor([4.0, 1.0, 1.5, math.nan])) == 0
    with pytest.raises(ValueError, match="factor"):
        rp.bursts(torch.ones(3), factor=0)


def test_grid_runs_picks_lowest_final_loss_and_skips_divergence():
    X, y = _tiny_regression()
    loss = dlnlib.LpLoss(X, y, 2)
    r = rp.grid_runs(loss, [3, 4, 1], [0.01, 0.1, 50.0], seeds=2, steps=100, record_every=10)
    assert r.lr == pytest.approx(0.1, rel=1e-15, abs=0) and r.losses.shape == (11, 2)
    adam = rp.grid_runs(loss, [3, 1], [0.01, 0.1], seeds=2, steps=100, record_every=10, optimizer="adam")
    assert bool((adam.final < adam.losses[0]).all())


def test_scalar_regression_sets_are_standardised_and_scalar():
    for name in dlnlib.data.SCALAR_REGRESSION:
        X, y = dlnlib.data.scalar_regression(name, device="cpu")
        assert y.shape == (X.shape[0], 1)
        assert torch.allclose(X.mean(0), torch.zeros(X.shape[1], dtype=torch.float64), rtol=0, atol=5e-14)
        assert torch.allclose(y.std(0, unbiased=False), torch.ones(1, dtype=torch.float64), rtol=0, atol=1e-13)
    shapes = {n: tuple(dlnlib.data.scalar_regression(n)[0].shape) for n in dlnlib.data.SCALAR_REGRESSION}
    assert shapes == {"diabetes": (442, 10), "linnerud": (20, 3), "breast_cancer": (569, 30), "wine": (178, 13)}
    with pytest.raises(ValueError, match="name"):
        dlnlib.data.scalar_regression("boston")


def test_lp_and_completion_plots_draw_every_series():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dlnlib.plotting.endtoend import plot_completion_figures, plot_lp_study

    X, y = _tiny_regression()
    optima = [float(dlnlib.endtoend.lp_optimum(dlnlib.LpLoss(X, y, p))[1]) for p in (2, 4)]
    st = rp.depth_study(X, y, optima, seeds=2, steps=60, coarse_steps=30, record_every=10)
    ax = plot_lp_study(st, 1, title="p = 4")
    assert len(ax.get_lines()) == 4 and ax.get_title() == "p = 4"  # three depths and the target level
    steps = torch.arange(5)
    losses = torch.rand(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64) + 0.1
    axes = plot_completion_figures({"up": (steps, losses), "down": (steps, 2 * losses)})
    assert len(axes) == 3 and len(axes[-1].get_lines()) == 4 and len(axes[0].get_lines()) == 2
    plt.close("all")
