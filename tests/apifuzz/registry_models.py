"""Fuzz entries for dlnlib.agd, dlnlib.balance and dlnlib.geometry."""

import torch

import dlnlib
from dlnlib import agd, balance, geometry

from .common import CHAIN, F64, Entry, tensor

# --------------------------------------------------------------------------- tiny valid objects
X, Y = tensor(5, 2, seed=5), tensor(5, seed=6)
AGD_RUN = agd.aligned_gd(X, Y, depth=2, lr=0.1, steps=3, record_outputs=True)  # unbatched, outputs recorded
PLAIN_RUN = agd.aligned_gd(X, Y, depth=2, lr=0.1, steps=3)  # nothing recorded
DEEP_RUN = agd.deep_gd(X, Y, init="he", lr=0.05, steps=3, depth=2, width=2, record_chain=True)
GRID_LRS = [0.01, 0.05]
GRID_RUN = agd.deep_gd(X, Y, init="he", lr=torch.tensor(GRID_LRS, dtype=F64)[:, None], steps=3, width=2,
                       trials=2)  # batch (2 rates, 2 trials)
OTHER_RUN = agd.aligned_gd(tensor(4, 2, seed=7), tensor(4, seed=8), depth=2, lr=0.1, steps=3,
                           record_outputs=True)  # n = 4: does not fit X
SCALAR_CHAIN = dlnlib.init_chain([2, 3, 1], "gaussian", seed=2, device="cpu")
RX, RY = agd.random_problems(2, 3, 2, seed=0)
RLR = 0.5 * 2 / torch.linalg.eigvalsh(RX @ RX.transpose(1, 2) / 3)[:, -1:]  # (2, 1), stable for GD
LOSS = dlnlib.SquaredError(tensor(6, 2, seed=1), tensor(6, 2, seed=2))
MISFIT = dlnlib.SquaredError(tensor(6, 3, seed=1), tensor(6, 2, seed=2))  # 3 inputs: does not fit CHAIN
BLOWUP = dlnlib.SquaredError(100 * tensor(6, 2, seed=1), tensor(6, 2, seed=2))  # GD at lr 0.05 diverges
TRAIN = dlnlib.gradient_descent(CHAIN, LOSS, lr=0.1, steps=3, record=("loss", "chain"))
TRAIN_NO_CHAIN = dlnlib.gradient_descent(CHAIN, LOSS, lr=0.1, steps=3)
FLOW = dlnlib.gradient_flow(CHAIN, LOSS, times=[0.0, 0.05, 0.1])
FLOW_ONE = dlnlib.gradient_flow(CHAIN, LOSS, times=[0.0])
LIN_LOSSES = 1e-7 * 0.5 ** torch.arange(12, dtype=F64)  # geometric: inside [1e-24, 1e-6] throughout
W2 = tensor(2, 2, seed=9) + 2 * torch.eye(2, dtype=F64)  # full rank
Q2, P2 = geometry.polar_qp(W2)
ZERO_LAYER = [torch.zeros(3, 2, dtype=F64), CHAIN[1]]
SCHEDULE = balance.DecayingStep(0.25)

KINDS = {
    # runs for the audit tools: not a run, a run without the needed records, a batched one, one on other data
    "models.run": [3, "abc", None, [], CHAIN, PLAIN_RUN, TRAIN],
    # a trajectory of chains for invariant_drift
    "models.trajectory": [3, "abc", None, [], TRAIN_NO_CHAIN, [CHAIN[0][None]], CHAIN,
                          [w[None].expand(2, -1, -1).clone().fill_(float("nan")) for w in CHAIN]],
    "models.flow": [3, "abc", None, TRAIN, FLOW_ONE, CHAIN],
    "models.shapes": [[], "abc", None, 3, [(3,)], [(0, 2)], [(10**9, 2)], [(2.5, 2)], [("a", 2)], [(3, 2, 1)],
                      [(-1, 2)], (3, 2)],
    "models.lr": [torch.tensor([0.1, -1.0], dtype=F64), torch.tensor([float("nan")], dtype=F64),
                  torch.tensor([0.1, 0.0], dtype=F64), torch.tensor([1j]), torch.ones(7, 7, dtype=F64)],
}

_REG = {"X": "tensor", "y": "tensor"}

ENTRIES = {
    # ---------------------------------------------------------------- agd: data and spectra
    "dlnlib.agd.output_kernel": Entry(agd.output_kernel, {"X": X}, {"X": "tensor"}),
    "dlnlib.agd.kernel_eigenvalues": Entry(agd.kernel_eigenvalues, {"X": X}, {"X": "tensor"}),
    "dlnlib.agd.optimal_lr": Entry(agd.optimal_lr, {"X": X}, {"X": "tensor"},
                                   extra_bad={"X": [torch.zeros(3, 2, dtype=F64)]}),
    "dlnlib.agd.effective_spectral_radius": Entry(agd.effective_spectral_radius, {"X": X, "lr": 0.1},
                                                  {"X": "tensor", "lr": "positive"},
                                                  extra_bad={"X": [torch.zeros(3, 2, dtype=F64)],
                                                             "lr": KINDS["models.lr"][:4]}),
    "dlnlib.agd.solution_outputs": Entry(agd.solution_outputs, {"X": X, "y": Y}, _REG),
    # ---------------------------------------------------------------- agd: runs
    "dlnlib.agd.shallow_gd": Entry(agd.shallow_gd, {"X": X, "y": Y, "lr": 0.1, "steps": 5},
                                   {**_REG, "lr": "positive", "steps": "count", "record_weights": "flag",
                                    "blowup": "positive", "start": "tensor"},
                                   extra_bad={"lr": KINDS["models.lr"][:4]}),
    "dlnlib.agd.aligned_gd": Entry(agd.aligned_gd, {"X": X, "y": Y, "depth": 2, "lr": 0.1, "steps": 5},
                                   {**_REG, "depth": "count", "lr": "positive", "steps": "count",
                                    "record_outputs": "flag", "record_weights": "flag", "blowup": "positive",
                                    "start": "tensor"},
                                   extra_bad={"lr": KINDS["models.lr"][:4]}),
    "dlnlib.agd.deep_gd": Entry(agd.deep_gd, {"X": X, "y": Y, "init": "he", "lr": 0.05, "steps": 3, "depth": 2,
                                              "width": 2, "trials": 2},
                                {**_REG, "init": "name", "lr": "positive", "steps": "count", "depth": "count",
                                 "width": "count", "trials": "count", "seed": "seed", "tol": "positive",
                                 "record_chain": "flag", "blowup": "positive"},
                                extra_bad={"lr": KINDS["models.lr"][:4]}),
    "dlnlib.agd.first_layer_step": Entry(agd.first_layer_step, {"theta1": tensor(2, seed=3),
                                                                "scales": torch.ones(1, dtype=F64), "X": X, "y": Y,
                                                                "lr": 0.1},
                                         {"theta1": "tensor", "scales": "tensor", **_REG, "lr": "positive"},
                                         extra_bad={"scales": [torch.zeros(1, dtype=F64), [1.0]],
                                                    "lr": KINDS["models.lr"]}),
    "dlnlib.agd.round_robin": Entry(agd.round_robin, {"scales": torch.ones(1, dtype=F64), "h": tensor(5, seed=4),
                                                      "y": Y},
                                    {"scales": "tensor", "h": "tensor", "y": "tensor"}),
    "dlnlib.agd.iterations_to": Entry(agd.iterations_to, {"losses": AGD_RUN.losses, "tol": 0.5},
                                      {"losses": "tensor", "tol": "positive"}),
    "dlnlib.agd.select_lr": Entry(agd.select_lr, {"run": GRID_RUN, "lrs": GRID_LRS},
                                  {"run": "models.run", "lrs": "numbers", "tol": "positive"},
                                  extra_bad={"lrs": [[-0.01, 0.05], [0.0, 0.05]]}),
    "dlnlib.agd.theorem1_check": Entry(agd.theorem1_check, {"X": X, "y": Y, "run": AGD_RUN},
                                       {**_REG, "run": "models.run"}, extra_bad={"run": [OTHER_RUN]}),
    "dlnlib.agd.layer_kernels": Entry(agd.layer_kernels, {"chain": SCALAR_CHAIN, "X": X},
                                      {"chain": "chain", "X": "tensor"}),
    "dlnlib.agd.gd_step_spectra": Entry(agd.gd_step_spectra, {"run": DEEP_RUN, "X": X, "lr": 0.05},
                                        {"run": "models.run", "X": "tensor", "lr": "positive"}),
    "dlnlib.agd.agd_step_spectra": Entry(agd.agd_step_spectra, {"run": AGD_RUN, "X": X},
                                         {"run": "models.run", "X": "tensor"}, extra_bad={"run": [OTHER_RUN]}),
    "dlnlib.agd.count_spikes": Entry(agd.count_spikes, {"losses": AGD_RUN.losses}, {"losses": "tensor",
                                                                                    "factor": "positive"},
                                     extra_bad={"losses": [torch.ones(0, dtype=F64)]}),
    "dlnlib.agd.local_maxima": Entry(agd.local_maxima, {"values": torch.tensor([0.0, 2.0, 1.0, 3.0, 0.5])},
                                     {"values": "tensor", "rel": "number"}),
    # ---------------------------------------------------------------- agd: Section 3's pitfalls
    "dlnlib.agd.scalar_chain": Entry(agd.scalar_chain, {"weights": tensor(3, seed=2)}, {"weights": "tensor"}),
    "dlnlib.agd.scalar_flow_steps": Entry(agd.scalar_flow_steps, {"y0": 1e-3, "depth": 3, "lr": 0.05, "tol": 1e-6},
                                          {"y0": "positive", "depth": "count", "lr": "positive", "tol": "positive"},
                                          extra_bad={"y0": [5e-324, 1e-300], "lr": [5e-324]}),
    "dlnlib.agd.lp_error_recursion": Entry(agd.lp_error_recursion, {"e0": torch.tensor([1.0, 0.2], dtype=F64),
                                                                    "lr": 1.0, "p": 4.0, "n": 2, "steps": 5},
                                           {"e0": "tensor", "lr": "positive", "p": "positive", "n": "count",
                                            "steps": "count"},
                                           extra_bad={"p": [0.5], "lr": [1e10]}),
    "dlnlib.agd.lp_predicted_steps": Entry(agd.lp_predicted_steps, {"e0": 1.0, "target": 0.1, "lr": 1.0, "p": 4.0,
                                                                    "n": 2},
                                           {"e0": "positive", "target": "positive", "lr": "positive",
                                            "p": "positive", "n": "count"},
                                           extra_bad={"target": [2.0], "lr": [5e-324], "p": [0.5, 1e5]}),
    # ---------------------------------------------------------------- agd: Table 1
    "dlnlib.agd.count_operations": Entry(agd.count_operations, {"d": 3, "depth": 3, "n": 2},
                                         {"d": "count", "depth": "count", "n": "count", "seed": "seed"}),
    "dlnlib.agd.seconds_per_iteration": Entry(agd.seconds_per_iteration, {"X": X, "y": Y, "depth": 2, "lr": 0.1,
                                                                          "steps": 3, "repeats": 1},
                                              {**_REG, "depth": "count", "lr": "positive", "steps": "count",
                                               "repeats": "count"}),
    # ---------------------------------------------------------------- agd: Theorem 1 audit
    "dlnlib.agd.random_problems": Entry(agd.random_problems, {"count": 1, "n": 3, "d": 2},
                                        {"count": "count", "n": "count", "d": "count", "cond": "positive",
                                         "labels": "name", "seed": "seed"}),
    "dlnlib.agd.race_agd_gd": Entry(agd.race_agd_gd, {"X": RX, "y": RY, "lr": RLR, "depth": 2, "steps": 20},
                                    {**_REG, "lr": "tensor", "depth": "count", "steps": "count", "tol": "positive"},
                                    extra_bad={"lr": [-RLR, 0 * RLR], "X": [torch.zeros(0, 3, 2, dtype=F64)]}),
    "dlnlib.agd.shallow_loss_after": Entry(agd.shallow_loss_after, {"X": X, "y": Y, "lr": 0.1, "steps": 5},
                                           {**_REG, "lr": "positive", "steps": "count"},
                                           extra_bad={"lr": KINDS["models.lr"][:4] + [1e200]}),
    "dlnlib.agd.search_counterexamples": Entry(agd.search_counterexamples, {"shapes": [(3, 2)], "count": 2,
                                                                            "steps": 100, "tol": 1e-3},
                                               {"shapes": "models.shapes", "count": "count", "fractions": "numbers",
                                                "depth": "count", "cond": "positive", "steps": "count",
                                                "tol": "positive", "seed": "seed"}),
    # ---------------------------------------------------------------- balance: networks with activations
    "dlnlib.balance.activation": Entry(balance.activation, {"name": "leaky_relu"},
                                       {"name": "name", "negative_slope": "positive"}),
    "dlnlib.balance.network_output": Entry(balance.network_output, {"chain": CHAIN, "X": tensor(4, 2, seed=3)},
                                           {"chain": "chain", "X": "tensor", "activation_name": "name",
                                            "negative_slope": "positive"}),
    "dlnlib.balance.activation_pattern": Entry(balance.activation_pattern, {"chain": CHAIN, "X": tensor(4, 2, seed=3)},
                                               {"chain": "chain", "X": "tensor"}),
    "dlnlib.balance.network_loss": Entry(balance.network_loss, {"X": tensor(4, 2, seed=3), "Y": tensor(4, 2, seed=4)},
                                         {"X": "tensor", "Y": "tensor", "activation_name": "name",
                                          "negative_slope": "positive"}),
    "dlnlib.balance.rescale_pair": Entry(balance.rescale_pair, {"chain": CHAIN, "j": 1, "c": 2.0},
                                         {"chain": "chain", "j": "count", "c": "positive"},
                                         extra_bad={"c": KINDS["models.lr"]}),
    # ---------------------------------------------------------------- balance: the invariants
    "dlnlib.balance.imbalance": Entry(balance.imbalance, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.balance.neuron_imbalance": Entry(balance.neuron_imbalance, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.balance.layer_imbalance": Entry(balance.layer_imbalance, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.balance.invariants": Entry(balance.invariants, {"chain": CHAIN, "kind": "neuron"},
                                       {"chain": "chain", "kind": "name"}),
    "dlnlib.balance.layer_norms": Entry(balance.layer_norms, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.balance.norm_ratios": Entry(balance.norm_ratios, {"chain": CHAIN}, {"chain": "chain"},
                                        extra_bad={"chain": [ZERO_LAYER]}),
    "dlnlib.balance.invariant_drift": Entry(balance.invariant_drift, {"trajectory": TRAIN},
                                            {"trajectory": "models.trajectory", "kind": "name", "relative": "flag"}),
    "dlnlib.balance.gradient_imbalance": Entry(balance.gradient_imbalance, {"chain": CHAIN, "loss": LOSS},
                                               {"chain": "chain", "loss": "engine.loss", "kind": "name"},
                                               extra_bad={"loss": [MISFIT]}),
    "dlnlib.balance.drift_ladder": Entry(balance.drift_ladder, {"chain": CHAIN, "loss": LOSS, "lrs": [0.05, 0.1],
                                                                "time": 0.2},
                                         {"chain": "chain", "loss": "engine.loss", "lrs": "numbers",
                                          "time": "positive", "kind": "name"},
                                         extra_bad={"lrs": [[0.1, 1e300], [1e-300, 0.1], [50.0, 100.0]],
                                                    "loss": [MISFIT, BLOWUP]}),
    "dlnlib.balance.flow_drift_rate": Entry(balance.flow_drift_rate, {"flow": FLOW, "loss": LOSS},
                                            {"flow": "models.flow", "loss": "engine.loss", "kind": "name"},
                                            extra_bad={"loss": [MISFIT]}),
    "dlnlib.balance.loglog_slope": Entry(balance.loglog_slope, {"x": [1.0, 2.0, 4.0], "y": [1.0, 2.1, 3.9]},
                                         {"x": "numbers", "y": "numbers"}),
    "dlnlib.balance.DecayingStep": Entry(balance.DecayingStep, {"delta": 0.25}, {"delta": "positive",
                                                                                 "t0": "positive"}),
    "dlnlib.balance.DecayingStep.factor": Entry(SCHEDULE.factor, {"k": [0, 1, 2]}, {"k": "numbers"}),
    # ---------------------------------------------------------------- balance: matrix factorisation
    "dlnlib.balance.low_rank_target": Entry(balance.low_rank_target, {"d1": 3, "d2": 2, "rank": 1, "seed": 0,
                                                                      "device": "cpu"},
                                            {"d1": "count", "d2": "count", "rank": "count",
                                             "singular_values": "numbers", "batch": "engine.batch",
                                             "generator": "engine.generator", "seed": "seed",
                                             "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.balance.factorisation_loss": Entry(balance.factorisation_loss, {"target": tensor(3, 2, seed=3),
                                                                            "lam": 0.1},
                                               {"target": "tensor", "lam": "number"},
                                               extra_bad={"lam": KINDS["models.lr"][1:4]}),
    "dlnlib.balance.factorisation_init": Entry(balance.factorisation_init, {"d1": 3, "d2": 2, "rank": 1,
                                                                            "scale": 0.1, "seed": 0,
                                                                            "device": "cpu"},
                                               {"d1": "count", "d2": "count", "rank": "count", "scale": "positive",
                                                "ratio": "positive", "batch": "engine.batch",
                                                "generator": "engine.generator", "seed": "seed",
                                                "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.balance.linear_rate": Entry(balance.linear_rate, {"losses": LIN_LOSSES, "steps": torch.arange(12)},
                                        {"losses": "tensor", "steps": "numbers", "lo": "positive",
                                         "hi": "positive"}),
    # ---------------------------------------------------------------- geometry
    "dlnlib.geometry.polar_qp": Entry(geometry.polar_qp, {"W": W2}, {"W": "tensor"}),
    "dlnlib.geometry.polar_ru": Entry(geometry.polar_ru, {"W": W2}, {"W": "tensor"}),
    "dlnlib.geometry.svd_from_polar": Entry(geometry.svd_from_polar, {"Q": Q2, "P": P2},
                                            {"Q": "tensor", "P": "tensor"},
                                            extra_bad={"Q": [2 * Q2], "P": [-P2, P2 + torch.tensor([[0.0, 1.0],
                                                                                                    [0.0, 0.0]])]}),
    "dlnlib.geometry.inverse_preconditioned": Entry(geometry.inverse_preconditioned,
                                                    {"W": W2, "Z": tensor(2, 2, seed=4), "depth": 3},
                                                    {"W": "tensor", "Z": "tensor", "depth": "count"}),
    "dlnlib.geometry.preconditioned_metric": Entry(geometry.preconditioned_metric,
                                                   {"W": W2, "Z1": tensor(2, 2, seed=4), "Z2": tensor(2, 2, seed=5),
                                                    "depth": 3},
                                                   {"W": "tensor", "Z1": "tensor", "Z2": "tensor", "depth": "count"}),
}

EXEMPT = {
    "dlnlib.agd.RegressionRun": "a record that shallow_gd, aligned_gd and deep_gd fill in; students read it, never "
                                "build it",
    "dlnlib.balance.DriftLadder": "a record that drift_ladder fills in; students read it, never build it",
}
