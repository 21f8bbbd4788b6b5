"""Fuzz entries for dlnlib.core, dlnlib.chains, dlnlib.losses and dlnlib.train."""

import numpy as np
import torch

import dlnlib
from dlnlib import core

from .common import CHAIN, Entry, tensor

X, Y = tensor(6, 2, seed=1), tensor(6, 2, seed=2)
LOSS = dlnlib.SquaredError(X, Y)


def _finite_result(names, outs, what="the result"):
    """check_finite_result with its tensors as one argument (the registry passes keywords)."""
    return core.check_finite_result(names, *outs, what=what)


def _linear_rhs(t, y):
    return -y


KINDS = {
    "engine.loss": [3, "abc", None, CHAIN, lambda w: w],
    "engine.device": ["gpu9", 3, "cuda:x", [], torch.float64],
    "engine.dtype": [torch.int64, torch.complex128, "float64", 3, torch.float16],
    "engine.record": [["nonsense"], "loss", 3, None, [3]],
    "engine.callbacks": [{"x": 3}, [lambda c: c[0]], "abc", {3: lambda c: c[0].sum()}],
    "engine.batch": [-1, 0, (2, -1), "abc", 2.5, (10**6, 10**6)],
    "engine.bound": [2.5, "3", True, float("nan"), [1]],
    "engine.generator": [3, "abc", torch.Generator().manual_seed(0).get_state()],
}

ENTRIES = {
    # core: the validation toolkit every module uses
    "dlnlib.core.get_device": Entry(core.get_device, {"device": "cpu"}, {"device": "engine.device"}),
    "dlnlib.core.resolve_dtype": Entry(core.resolve_dtype, {"dtype": torch.float64}, {"dtype": "engine.dtype"}),
    "dlnlib.core.make_generator": Entry(core.make_generator, {"seed": 0},
                                        {"seed": "seed", "generator": "engine.generator", "device": "engine.device"}),
    "dlnlib.core.as_tensor": Entry(core.as_tensor, {"name": "value", "value": [[1.0, 2.0]], "device": "cpu"},
                                   {"value": "tensor", "dtype": "engine.dtype", "ndim_min": "count",
                                    "device": "engine.device"}),
    "dlnlib.core.check_positive": Entry(core.check_positive, {"name": "value", "value": 1.0}, {"value": "positive"}),
    "dlnlib.core.check_nonneg": Entry(core.check_nonneg, {"name": "value", "value": 1.0}, {"value": "number"},
                                      extra_bad={"value": [-1e-300]}),
    "dlnlib.core.check_int": Entry(core.check_int, {"name": "value", "value": 3, "minimum": 1, "maximum": 10},
                                   {"value": "count", "minimum": "engine.bound", "maximum": "engine.bound"}),
    "dlnlib.core.check_choice": Entry(core.check_choice, {"name": "value", "value": "a", "choices": ("a", "b")},
                                      {"value": "name", "choices": "text"}),
    "dlnlib.core.check_batch": Entry(core.check_batch, {"name": "batch", "batch": (2, 3)}, {"batch": "engine.batch"}),
    "dlnlib.core.check_ode_options": Entry(core.check_ode_options,
                                           {"rtol": 1e-8, "atol": 1e-10, "method": "RK45", "max_evals": 100},
                                           {"rtol": "positive", "atol": "positive", "method": "name",
                                            "max_evals": "count"}),
    "dlnlib.core.solve_ode": Entry(core.solve_ode, {"rhs": _linear_rhs, "t_span": (0.0, 1.0), "y0": np.ones(2),
                                                    "t_eval": np.array([0.0, 1.0]), "rtol": 1e-8, "atol": 1e-10},
                                   {"rhs": "callable", "t_span": "times", "y0": "numbers", "t_eval": "times",
                                    "rtol": "positive", "atol": "positive", "method": "name", "max_evals": "count"}),
    "dlnlib.core.time_grid": Entry(core.time_grid, {"times": [0.0, 1.0]}, {"times": "times"}),
    "dlnlib.core.check_size": Entry(core.check_size, {"name": "shape", "shape": (2, 3)}, {"shape": "dims"}),
    # chains
    "dlnlib.chains.init_chain": Entry(dlnlib.init_chain, {"dims": [2, 3, 2], "scheme": "gaussian", "seed": 0,
                                                          "device": "cpu"},
                                      {"dims": "dims", "scheme": "name", "scale": "positive", "seed": "seed",
                                       "batch": "engine.batch", "generator": "engine.generator",
                                       "device": "engine.device", "dtype": "engine.dtype"}),
    "dlnlib.chains.validate_chain": Entry(dlnlib.chains.validate_chain, {"chain": CHAIN, "finite": True},
                                          {"chain": "chain", "finite": "flag"}),
    "dlnlib.chains.end_to_end": Entry(dlnlib.end_to_end, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.chains.apply_chain": Entry(dlnlib.chains.apply_chain, {"chain": CHAIN, "X": X},
                                       {"chain": "chain", "X": "tensor"}),
    "dlnlib.chains.layer_gradients": Entry(dlnlib.layer_gradients, {"chain": CHAIN, "grad_w": tensor(2, 2)},
                                           {"chain": "chain", "grad_w": "tensor"}),
    # losses
    "dlnlib.losses.Loss": Entry(dlnlib.losses.Loss, {}, {}),
    "dlnlib.losses.SquaredError": Entry(dlnlib.SquaredError, {"X": X, "Y": Y},
                                        {"X": "tensor", "Y": "tensor", "device": "engine.device",
                                         "dtype": "engine.dtype"}),
    "dlnlib.losses.LpLoss": Entry(dlnlib.LpLoss, {"X": X, "Y": Y, "p": 4.0},
                                  {"X": "tensor", "Y": "tensor", "p": "positive", "device": "engine.device",
                                   "dtype": "engine.dtype"}),
    "dlnlib.losses.DiagonalCompletion": Entry(dlnlib.DiagonalCompletion, {"target": tensor(2, 2)},
                                              {"target": "tensor", "reduction": "name", "device": "engine.device",
                                               "dtype": "engine.dtype"}),
    "dlnlib.losses.ChainLoss": Entry(dlnlib.ChainLoss, {"fn": lambda c: c[0].sum()}, {"fn": "callable"}),
    # methods students call on a loss
    "dlnlib.losses.SquaredError.__call__": Entry(LOSS, {"W": tensor(2, 2)}, {"W": "tensor"}),
    "dlnlib.losses.SquaredError.chain_value_and_grads": Entry(LOSS.chain_value_and_grads, {"chain": CHAIN},
                                                              {"chain": "chain"}),
    "dlnlib.losses.DiagonalCompletion.chain_value_and_grads": Entry(
        dlnlib.DiagonalCompletion(tensor(2, 2)).chain_value_and_grads, {"chain": CHAIN}, {"chain": "chain"}),
    "dlnlib.losses.ChainLoss.chain_value_and_grads": Entry(
        dlnlib.ChainLoss(lambda c: (c[0] ** 2).sum((-2, -1))).chain_value_and_grads, {"chain": CHAIN},
        {"chain": "chain"}),
    # train
    "dlnlib.train.gradient_descent": Entry(dlnlib.gradient_descent, {"chain": CHAIN, "loss": LOSS, "lr": 0.1,
                                                                     "steps": 5},
                                           {"chain": "chain", "loss": "engine.loss", "lr": "positive",
                                            "steps": "count", "tol": "positive", "record": "engine.record",
                                            "record_every": "count", "record_steps": "numbers",
                                            "callbacks": "engine.callbacks", "direction": "callable",
                                            "weight_decay": "number", "blowup": "positive", "progress": "flag",
                                            "engine": "name"}),
    "dlnlib.train.gradient_flow": Entry(dlnlib.gradient_flow, {"chain": CHAIN, "loss": LOSS, "times": [0.0, 0.1]},
                                        {"chain": "chain", "loss": "engine.loss", "times": "times",
                                         "direction": "callable", "rtol": "positive", "atol": "positive",
                                         "method": "name", "max_evals": "count"}),
    "dlnlib.train.progress_enabled": Entry(dlnlib.train.progress_enabled, {"progress": None, "work": 10},
                                           {"progress": "flag", "work": "count"}),
}

EXEMPT = {
    "dlnlib.train.TrainResult": "a record that gradient_descent fills in; students read it, never build it",
    "dlnlib.train.FlowResult": "a record that gradient_flow fills in; students read it, never build it",
}

ENTRIES.update({
    "dlnlib.core.check_real": Entry(core.check_real, {"name": "value", "value": 1.5, "minimum": 0.0, "maximum": 2.0},
                                    {"value": "number", "minimum": "engine.real_bound",
                                     "maximum": "engine.real_bound"}),
    "dlnlib.core.check_flag": Entry(core.check_flag, {"name": "value", "value": True}, {"value": "flag"}),
    "dlnlib.core.check_finite_result": Entry(_finite_result, {"names": "x", "outs": [tensor(2)], "what": "the sum"},
                                             {"outs": "engine.outs", "what": "text"}),
    "dlnlib.core.shown": Entry(core.shown, {"value": [1, 2]}, {"value": "object"}),
})
KINDS["engine.real_bound"] = ["x", [1.0], 1j]
KINDS["engine.outs"] = [[], [3], [tensor(2), "abc"], [None]]
