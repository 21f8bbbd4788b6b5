"""Property tests of the input promise on the entry points students call most: any bad value of any one
argument ends in a ValueError or TypeError from dlnlib's own validation that names the argument, or in a
finite result; never a raw torch/numpy/scipy error from inside, never NaN, never more than a few seconds.

Each entry point has one valid call; Hypothesis replaces one argument at a time by a value drawn from the bad
values of that argument's kind (tensor, chain, number, count, name, time grid). A bad value that happens to be
acceptable (0.0 as a starting coordinate, float32 data) must then give a finite result.
"""

import inspect
import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dlnlib
from dlnlib import agd, balance, saxe
from dlnlib import endtoend as e2e

F64 = torch.float64


def _t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


CHAIN = dlnlib.init_chain([2, 3, 2], "gaussian", seed=0, device="cpu")
X, Y = _t(6, 2, seed=1), _t(6, 2, seed=2)
LOSS = dlnlib.SquaredError(X, Y)
SPD = _t(3, 3, seed=3) @ _t(3, 3, seed=3).T + torch.eye(3, dtype=F64)
U3, _, V3 = saxe.mode_basis(_t(2, 2, seed=4))

# name -> (callable, valid keyword arguments, {argument: kind}); kinds pick the bad values below
ENTRIES = {
    "end_to_end": (dlnlib.end_to_end, {"chain": CHAIN}, {"chain": "chain"}),
    "layer_gradients": (dlnlib.layer_gradients, {"chain": CHAIN, "grad_w": _t(2, 2)},
                        {"chain": "chain", "grad_w": "tensor"}),
    "gradient_descent": (dlnlib.gradient_descent, {"chain": CHAIN, "loss": LOSS, "lr": 0.1, "steps": 5},
                         {"chain": "chain", "lr": "positive", "steps": "count", "tol": "positive",
                          "record_every": "count", "weight_decay": "number", "blowup": "positive"}),
    "gradient_flow": (dlnlib.gradient_flow, {"chain": CHAIN, "loss": LOSS, "times": [0.0, 0.1]},
                      {"chain": "chain", "times": "times", "rtol": "positive", "atol": "positive",
                       "method": "name", "max_evals": "count"}),
    "imbalance": (balance.imbalance, {"chain": CHAIN}, {"chain": "chain"}),
    "init_chain": (dlnlib.init_chain, {"dims": [2, 3, 2], "scheme": "gaussian", "seed": 0, "device": "cpu"},
                   {"dims": "dims", "scheme": "name", "scale": "positive", "seed": "count", "batch": "dims"}),
    "SquaredError": (dlnlib.SquaredError, {"X": X, "Y": Y}, {"X": "tensor", "Y": "tensor"}),
    "LpLoss": (dlnlib.LpLoss, {"X": X, "Y": Y, "p": 4.0}, {"X": "tensor", "Y": "tensor", "p": "positive"}),
    "DiagonalCompletion": (dlnlib.DiagonalCompletion, {"target": _t(2, 2)},
                           {"target": "tensor", "reduction": "name"}),
    "psd_power": (e2e.psd_power, {"S": SPD, "alpha": 0.5}, {"S": "tensor", "alpha": "number"}),
    "preconditioned_gradient": (e2e.preconditioned_gradient, {"W": _t(2, 3), "grad": _t(2, 3), "depth": 3},
                                {"W": "tensor", "grad": "tensor", "depth": "count"}),
    "balanced_factorization": (e2e.balanced_factorization, {"W": _t(3, 3), "depth": 3},
                               {"W": "tensor", "depth": "count"}),
    "mode_basis": (saxe.mode_basis, {"sigma_yx": _t(3, 2)}, {"sigma_yx": "tensor"}),
    "mode_vectors": (saxe.mode_vectors, {"chain": dlnlib.init_chain([2, 3, 2], "gaussian", seed=1, device="cpu"),
                                         "U": U3, "V": V3}, {"chain": "chain", "U": "tensor", "V": "tensor"}),
    "mode_strength": (saxe.mode_strength, {"t": 1.0, "s": 2.0, "u0": 0.01},
                      {"t": "number", "s": "number", "u0": "positive", "tau": "positive"}),
    "deep_mode_strength": (saxe.deep_mode_strength, {"t": 1.0, "s": 2.0, "u0": 0.01, "depth": 3},
                           {"t": "number", "s": "positive", "u0": "positive", "depth": "count"}),
    "ab_trajectory": (saxe.ab_trajectory, {"a0": 0.1, "b0": 0.2, "s": 1.0, "times": [0.0, 1.0]},
                      {"a0": "number", "b0": "number", "s": "number", "times": "times", "tau": "positive"}),
    "shallow_gd": (agd.shallow_gd, {"X": _t(5, 2, seed=5), "y": _t(5, seed=6), "lr": 0.1, "steps": 5},
                   {"X": "tensor", "y": "tensor", "lr": "positive", "steps": "count"}),
    "aligned_gd": (agd.aligned_gd, {"X": _t(5, 2, seed=5), "y": _t(5, seed=6), "depth": 2, "lr": 0.1, "steps": 5},
                   {"X": "tensor", "y": "tensor", "depth": "count", "lr": "positive", "steps": "count"}),
    "teacher_regression": (dlnlib.data.teacher_regression, {"d_in": 2, "d_out": 2, "n": 5, "seed": 0},
                           {"d_in": "count", "d_out": "count", "n": "count", "noise": "number"}),
}

_NAN = torch.full((2, 2), float("nan"), dtype=F64)
BAD = {
    "tensor": [_NAN, torch.full((2, 3), float("inf"), dtype=F64), torch.ones(2, dtype=F64),
               torch.tensor(1.0, dtype=F64), torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.bool),
               torch.ones(2, 2, dtype=torch.complex128), torch.ones(0, 2, dtype=F64), torch.ones(2, 2),
               torch.ones(7, 7, dtype=F64), [[1.0, 2.0], [3.0, 4.0]], "abc", None, 3],
    "chain": [[CHAIN[0], _NAN], [w.long() for w in CHAIN], [CHAIN[0].float(), CHAIN[1]], [], "abc", None,
              [torch.ones(3, dtype=F64)], [CHAIN[0], CHAIN[0]], [w.to(torch.complex128) for w in CHAIN], CHAIN[0]],
    "positive": [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e300, "x", None, True, [1.0], 1j],
    "number": [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e300, "x", None, [1.0], 1j],
    "count": [-1, 0, 2.5, 10**12, "3", None, True, float("nan")],
    "name": ["nonsense", 3, None, ""],
    "times": [[0.0, float("nan")], [1.0, 0.0], [0.0, 0.0], "abc", None, [], [[0.0, 1.0]], [0.0, float("inf")]],
    "dims": [[], [2], [2, 0, 2], [2, -1], [2.5, 3], "abc", None, [10**12, 2]],
}
CASES = [(name, arg, kind) for name, (_, _, args) in ENTRIES.items() for arg, kind in args.items()]
RAW = (RuntimeError, IndexError, KeyError, AttributeError, ZeroDivisionError, OverflowError, MemoryError,
       AssertionError, NotImplementedError, UnboundLocalError, NameError)


def _finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out).all())
    if isinstance(out, (list, tuple)):
        return all(_finite(o) for o in out)
    if hasattr(out, "diverged") and bool(torch.as_tensor(out.diverged).any()):
        return True  # a run that blew up says so (diverged, diverged_at): reported, not silent
    for field in ("final_loss", "chain"):  # result objects: what a student reads first
        if hasattr(out, field):
            return _finite(getattr(out, field))
    return True


def _check_call(name, arg, bad):
    """The promise for one call with one bad argument."""
    fn, valid, _ = ENTRIES[name]
    t0 = time.perf_counter()
    try:
        out = fn(**{**valid, arg: bad})
    except (ValueError, TypeError) as exc:
        message = str(exc)
        # the argument itself, or one it must agree with (a depth-1 chain changes the shape grad_w must have)
        named = [p for p in inspect.signature(fn).parameters if f"{p}:" in message or f"{p} " in message]
        assert arg in message or named, (name, arg, bad, message)
    except RAW as exc:  # a raw error from inside torch, numpy or scipy: the promise is broken
        pytest.fail(f"{name}({arg}={bad!r}) raised {type(exc).__name__}: {exc}")
    else:
        assert _finite(out), f"{name}({arg}={bad!r}) returned a non-finite result"
    assert time.perf_counter() - t0 < 5, f"{name}({arg}={bad!r}) took {time.perf_counter() - t0:.1f} s"


@pytest.mark.parametrize("name,arg,kind", CASES, ids=[f"{n}-{a}" for n, a, _ in CASES])
def test_every_listed_bad_value_is_refused_by_name_or_gives_a_finite_result(name, arg, kind):
    for bad in BAD[kind]:
        _check_call(name, arg, bad)


# Random garbage for the scalar arguments: any float (NaN, infinities, subnormals, huge), integers outside the
# range a run could use in seconds (a valid 10^6 steps would just be slow), short strings, None and booleans.
GARBAGE = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**3, 10**3),
                    st.integers(10**9, 10**13), st.text(max_size=3), st.none(), st.booleans())
SCALAR_CASES = [c for c in CASES if c[2] in ("positive", "number", "count")]


@pytest.mark.parametrize("name,arg,kind", SCALAR_CASES, ids=[f"{n}-{a}" for n, a, _ in SCALAR_CASES])
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(bad=GARBAGE)
def test_random_scalar_garbage_is_refused_by_name_or_gives_a_finite_result(name, arg, kind, bad):
    _check_call(name, arg, bad)


def test_every_entry_point_accepts_its_valid_call():
    for name, (fn, valid, _) in ENTRIES.items():
        assert _finite(fn(**valid)), name
