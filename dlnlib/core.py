"""Device, dtype, random generators and input validation shared by every dlnlib module.

Nothing here has an import-time side effect: the device is resolved the first time it is
asked for, and no global random state is touched.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Sequence
from functools import cache

import torch

__all__ = [
    "get_device",
    "resolve_dtype",
    "make_generator",
    "as_tensor",
    "check_positive",
    "check_real",
    "check_flag",
    "check_finite_result",
    "shown",
    "check_nonneg",
    "check_int",
    "MAX_STEPS",
    "MAX_DEPTH",
    "check_choice",
    "check_batch",
    "solve_ode",
    "check_ode_options",
    "time_grid",
    "MAX_ELEMENTS",
    "check_size",
]


@cache
def _auto_device() -> torch.device:
    # Resolved once per process: $DLNLIB_DEVICE if set (e.g. "cpu" to pin a GPU machine to the CPU),
    # else CUDA when a device is visible, else the CPU.
    forced = os.environ.get("DLNLIB_DEVICE")
    if forced:
        try:
            return torch.device(forced)
        except RuntimeError as exc:
            raise ValueError(f"DLNLIB_DEVICE: got {forced!r}, expected 'cpu', 'cuda' or 'cuda:<index>'") from exc
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def get_device(device: str | torch.device | None = "auto") -> torch.device:
    """The torch device dlnlib computes on; ``"auto"`` (or None) picks ``$DLNLIB_DEVICE`` if set, else CUDA
    when available, else the CPU (resolved once per process).

    device: "auto", None, "cpu", "cuda", "cuda:0" or a ``torch.device``.
    """
    if device is None or (isinstance(device, str) and device == "auto"):
        return _auto_device()
    if isinstance(device, torch.device):
        return device
    if isinstance(device, str):
        try:
            return torch.device(device)
        except RuntimeError as exc:
            raise ValueError(
                f"device: got {device!r}, expected 'auto', 'cpu', 'cuda' or 'cuda:<index>'"
            ) from exc
    raise ValueError(f"device: got {device!r}, expected a string or torch.device")


def resolve_dtype(dtype: torch.dtype | None = None, device: torch.device | None = None) -> torch.dtype:
    """The dtype dlnlib uses: float64 unless ``dtype`` says otherwise (on CPU and CUDA alike).

    float64 keeps closed-form comparisons at ~1e-12; pass ``torch.float32`` for speed on a GPU.
    """
    if dtype is None:
        return torch.float64
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype: got {dtype!r}, expected torch.float32 or torch.float64")
    return dtype


def make_generator(
    seed: int | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | None = None,
) -> torch.Generator:
    """A torch.Generator from an explicit ``generator`` or an integer ``seed``.

    Exactly one of the two may be given; with neither, a generator seeded from the OS
    (non-reproducible) is returned. Global RNG state is never touched.
    """
    if generator is not None and seed is not None:
        raise ValueError("seed/generator: got both, expected at most one of them")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(f"generator: got {type(generator).__name__}, expected torch.Generator")
        return generator
    dev = get_device(device) if device is not None else torch.device("cpu")
    gen = torch.Generator(device=dev)
    if seed is None:
        gen.seed()
    else:
        check_int("seed", seed, minimum=0, maximum=2**64 - 1)
        gen.manual_seed(int(seed))
    return gen


def as_tensor(name: str, value, *, device=None, dtype=None, ndim_min: int = 0) -> torch.Tensor:
    """``value`` as a floating tensor on dlnlib's device/dtype; ValueError naming ``name`` otherwise.

    device None: a tensor stays on its own device (it already says where it lives); anything else goes to
    ``get_device("auto")``.
    """
    check_int("ndim_min", ndim_min, minimum=0)
    dev = value.device if device is None and isinstance(value, torch.Tensor) else get_device(device)
    dt = resolve_dtype(dtype)
    if (isinstance(value, torch.Tensor) and value.is_complex()) or isinstance(value, complex) or \
            (hasattr(value, "dtype") and getattr(value.dtype, "kind", "") == "c"):
        raise ValueError(f"{name}: got complex numbers, expected real numbers")
    try:
        t = torch.as_tensor(value, dtype=dt, device=dev)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ValueError(f"{name}: got {type(value).__name__}, expected an array of numbers") from exc
    if t.ndim < ndim_min:
        raise ValueError(f"{name}: got shape {tuple(t.shape)}, expected at least {ndim_min} dimensions")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name}: contains NaN or infinite entries, expected finite numbers")
    return t


def _is_real(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def check_positive(name: str, value, *, allow_tensor: bool = True):
    """Raise ValueError unless ``value`` is finite and > 0 (every entry, for a tensor)."""
    if isinstance(value, torch.Tensor) and allow_tensor:
        if value.is_complex() or value.dtype == torch.bool:
            raise ValueError(f"{name}: got a {value.dtype} tensor, expected finite real numbers > 0")
        if value.numel() == 0 or not torch.isfinite(value).all() or not (value > 0).all():
            listed = ", ".join(f"{v:g}" for v in value.detach().flatten()[:6].tolist())
            raise ValueError(f"{name}: got [{listed}], expected finite numbers > 0")
        return value
    if not _is_real(value) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: got {value!r}, expected a finite number > 0")
    return value


def check_nonneg(name: str, value):
    """Raise ValueError unless ``value`` is a finite real number >= 0."""
    if not _is_real(value) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: got {value!r}, expected a finite number >= 0")
    return value


def shown(value) -> str:
    """A short description of ``value`` for an error message: its shape for arrays, else its repr (cut at 60
    characters) or its type."""
    if isinstance(value, torch.Tensor) or type(value).__name__ == "ndarray":
        return f"{type(value).__name__} of shape {tuple(value.shape)}"
    if isinstance(value, (numbers.Number, str, bytes)) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} item{'' if len(value) == 1 else 's'}"
    return type(value).__name__


def check_real(name: str, value, *, minimum: float | None = None, maximum: float | None = None,
               positive: bool = False, nonzero: bool = False) -> float:
    """``value`` as a float: a finite real number (not a bool; a 0-d real tensor or array counts) within the given
    bounds, else a ValueError naming ``name``."""
    for bound, given in (("minimum", minimum), ("maximum", maximum)):
        if given is not None and (isinstance(given, bool) or not isinstance(given, numbers.Real)):
            raise ValueError(f"{bound}: got {shown(given)}, expected a real number or None")
    if isinstance(value, torch.Tensor) and value.ndim == 0 and not value.is_complex() and value.dtype != torch.bool:
        value = value.item()
    elif type(value).__name__ == "ndarray" and value.ndim == 0 and value.dtype.kind in "fiu":
        value = value.item()
    bounds = [("> 0" if positive else ""), ("!= 0" if nonzero else ""),
              (f">= {minimum:g}" if minimum is not None else ""), (f"<= {maximum:g}" if maximum is not None else "")]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or (positive and value <= 0) or (nonzero and value == 0) \
            or (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: got {shown(value)}, expected a finite number"
                         + "".join(f" {b}" for b in bounds if b))
    return float(value)


def check_flag(name: str, value) -> bool:
    """``value`` if it is True or False (a NumPy bool too), else a ValueError naming ``name`` (1, "yes" and None
    are not flags)."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise ValueError(f"{name}: got {shown(value)}, expected True or False")
    return bool(value)


def check_finite_result(names: str, *outs: torch.Tensor, what: str = "the result"):
    """``outs`` (one tensor alone) unless ``what`` left the floating-point range on finite inputs: then a
    ValueError naming the inputs ``names`` to change (checked once on a result, never per step)."""
    if not outs or not all(isinstance(out, torch.Tensor) for out in outs):
        raise ValueError(f"outs: got {[shown(out) for out in outs]}, expected one or more tensors")
    for out in outs:
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"{names}: {what} overflows {out.dtype} (NaN or inf) at the values given, expected "
                             "smaller magnitudes")
    return outs if len(outs) > 1 else outs[0]


MAX_STEPS = 10**8
"""The most steps one training call may take (at tens of microseconds a step, about an hour)."""
MAX_DEPTH = 10_000
"""The deepest network the depth-looping tools accept (end-to-end operator, AGD)."""


def check_int(name: str, value, *, minimum: int | None = None, maximum: int | None = None, why: str = "") -> int:
    """Raise ValueError unless ``value`` is an integer in ``[minimum, maximum]`` (each bound when given); ``why``
    is appended to the message about the upper bound (e.g. how to do without it)."""
    for bound, given in (("minimum", minimum), ("maximum", maximum)):
        if given is not None and (isinstance(given, bool) or not isinstance(given, numbers.Integral)):
            raise ValueError(f"{bound}: got {given!r}, expected an integer or None")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name}: got {value!r}, expected an integer")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: got {value!r}, expected an integer >= {minimum}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: got {value:,}, expected at most {maximum:,}{why}")
    return int(value)


def check_choice(name: str, value, choices: Sequence[str]) -> str:
    """Raise ValueError unless ``value`` is one of ``choices`` (a sequence of strings)."""
    if isinstance(choices, str) or not isinstance(choices, Sequence) or not all(isinstance(c, str) for c in choices):
        raise ValueError(f"choices: got {choices!r}, expected a sequence of strings")
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name}: got {value!r}, expected one of {', '.join(map(repr, choices))}")
    return value


def check_batch(name: str, batch) -> tuple[int, ...]:
    """A batch shape as a tuple of positive ints (an int is a 1-D batch)."""
    if isinstance(batch, numbers.Integral) and not isinstance(batch, bool):
        batch = (int(batch),)
    try:
        shape = tuple(batch)
    except TypeError as exc:
        raise ValueError(f"{name}: got {batch!r}, expected a tuple of positive integers") from exc
    for b in shape:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or b < 1:
            raise ValueError(f"{name}: got {batch!r}, expected a tuple of positive integers")
    return tuple(int(b) for b in shape)


def batched_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` computed one trial at a time, whatever the number of trials stacked in the batch.

    ``torch.matmul`` folds a batched operand against a 2-D one into a single large matrix product, whose
    rounding on some CPUs depends on how many trials were stacked (the BLAS picks kernels by size). Both
    operands are broadcast to their common batch first, so every trial goes through the same small product
    and a trial's result does not depend on the trials beside it (the engine's batched == one-at-a-time
    promise, on every CPU).
    """
    if a.ndim < 3 and b.ndim < 3:
        return a @ b
    batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    return a.expand(batch + a.shape[-2:]) @ b.expand(batch + b.shape[-2:])


ODE_METHODS = ("DOP853", "RK45", "RK23", "Radau", "BDF", "LSODA")


def check_ode_options(rtol, atol, method, max_evals) -> tuple[str, int]:
    """rtol in [100 eps, 1) (scipy raises anything smaller to that floor, with a warning), atol > 0, one of
    :data:`ODE_METHODS`, max_evals >= 1; returns ``(method, max_evals)``."""
    check_positive("rtol", rtol, allow_tensor=False)
    check_positive("atol", atol, allow_tensor=False)
    if not 100 * 2.0**-52 <= rtol < 1:
        raise ValueError(f"rtol: got {rtol!r}, expected a relative tolerance in [2.2e-14, 1) (e.g. 1e-10)")
    return check_choice("method", method, ODE_METHODS), check_int("max_evals", max_evals, minimum=1)


class _OdeStopped(Exception):
    """Raised inside an ODE right-hand side to stop scipy's solver; re-raised as a ValueError."""


def solve_ode(rhs, t_span, y0, t_eval, *, rtol: float, atol: float, method: str = "DOP853",
              max_evals: int = 50_000, what: str = "times"):
    """``scipy.integrate.solve_ivp`` with the series' guards; returns the solution's ``y`` (len(y0), len(t_eval)).

    Validates the options (:func:`check_ode_options`); stops with a ValueError naming ``what``
    (the argument to change) when the solver needs more than ``max_evals`` evaluations (a flow that blows up,
    or a time span far past convergence, would otherwise run for minutes), when the right-hand side leaves
    float64's range, or when the solver cannot go on. Floating-point warnings inside are silenced: every
    failure is reported in words instead.
    """
    import numpy as np
    from scipy.integrate import solve_ivp

    method, max_evals = check_ode_options(rtol, atol, method, max_evals)
    if not callable(rhs):
        raise ValueError(f"rhs: got {type(rhs).__name__}, expected a callable rhs(t, y) -> array")
    t_span = time_grid(t_span, "t_span")
    if t_span.size != 2:
        raise ValueError(f"t_span: got {t_span.tolist()}, expected (t0, t1) with t0 < t1")
    t_eval = time_grid(t_eval, "t_eval")
    if t_eval[0] < t_span[0] or t_eval[-1] > t_span[1]:
        raise ValueError(f"t_eval: got times from {t_eval[0]:g} to {t_eval[-1]:g}, expected them inside t_span "
                         f"[{t_span[0]:g}, {t_span[1]:g}]")
    try:
        y0 = np.asarray(y0, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y0: got {type(y0).__name__}, expected a 1-D array of finite numbers") from exc
    if y0.ndim != 1 or y0.size == 0 or not np.all(np.isfinite(y0)):
        raise ValueError(f"y0: got shape {y0.shape} with {int(np.sum(~np.isfinite(y0)))} non-finite entries, "
                         "expected a non-empty 1-D array of finite numbers")
    evals = [0]

    def guarded(t, y):
        evals[0] += 1
        if evals[0] > max_evals:
            raise _OdeStopped(f"{what}: the solver needed more than {max_evals:,} evaluations before t = {t:.4g} (the "
                              "flow is stiff or blows up, or the time span runs far past convergence); integrate "
                              "over shorter times, start smaller, or raise max_evals")
        out = rhs(t, y)
        if not np.all(np.isfinite(out)):
            raise _OdeStopped(f"{what}: the flow left float64's range near t = {t:.4g} (its velocity is NaN or "
                              "infinite there); integrate over shorter times or start smaller")
        return out

    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            sol = solve_ivp(guarded, t_span, y0, method=method, t_eval=t_eval, rtol=rtol, atol=atol)
    except _OdeStopped as exc:
        raise ValueError(str(exc)) from None
    if not sol.success:
        raise ValueError(f"{what}: the ODE solver could not go on ({sol.message}); the flow is too fast or blows up "
                         "there: integrate over shorter times or start smaller")
    return sol.y, int(sol.nfev)


def time_grid(times, name: str = "times"):
    """``times`` as a 1-D float64 numpy array: non-empty, finite and strictly increasing, or a ValueError naming
    ``name`` (never numpy's own message)."""
    import numpy as np

    expected = "expected a finite, strictly increasing, non-empty 1-D array of numbers"
    if isinstance(times, (str, bytes)) or isinstance(times, torch.Tensor) and times.is_complex():
        raise ValueError(f"{name}: got {times!r}, {expected}")
    try:
        ts = np.asarray(times.detach().cpu() if isinstance(times, torch.Tensor) else times, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: got {times!r}, {expected}") from exc
    if ts.ndim > 1 or ts.size < 1 or not np.all(np.isfinite(ts)) or np.any(np.diff(ts.ravel()) <= 0):
        raise ValueError(f"{name}: got {ts.ravel()[:6].tolist()}{'...' if ts.size > 6 else ''}, {expected}")
    return ts.ravel()


MAX_ELEMENTS = 10**9
"""The most numbers one tensor that dlnlib allocates may hold (8 GB in float64): beyond, a ValueError, not an
allocator error from inside torch."""


def check_size(name: str, shape) -> None:
    """ValueError naming ``name`` when a tensor of ``shape`` would hold more than :data:`MAX_ELEMENTS` numbers."""
    try:
        dims = [d for d in shape]
    except TypeError:
        dims = None
    if dims is None or isinstance(shape, (str, bytes)) or \
            any(isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0 for d in dims):
        raise ValueError(f"{name}: got shape {shape!r}, expected a sequence of non-negative integers")
    total = math.prod(int(d) for d in dims)
    if total > MAX_ELEMENTS:
        raise ValueError(f"{name}: a tensor of shape {tuple(int(d) for d in dims)} would hold {total:.3g} numbers "
                         f"({8 * total / 2**30:.3g} GiB in float64), expected at most {MAX_ELEMENTS:.0e}")
