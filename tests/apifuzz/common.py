"""What every fuzzed call must do, the bad values per argument kind, and the enumeration of dlnlib's public API.

An :class:`Entry` is one valid call of a public callable (keyword arguments) and a kind for each argument to fuzz.
A call with one argument replaced by a bad value of its kind must end in one of two ways:

- ``refused``: a ValueError or TypeError raised inside dlnlib (its innermost frame is in the package, not in
  torch/numpy/scipy/matplotlib/traitlets) whose message names the argument (or one it must agree with);
- ``finite``: the bad value happened to be acceptable (0.0 as a coordinate, float32 data) and the result is
  finite (a run that diverges must say so through ``diverged``);

within :data:`SECONDS` seconds. Anything else is a broken promise: ``raw`` (another exception type), ``foreign``
(ValueError/TypeError raised from inside a dependency), ``unnamed`` (dlnlib's message does not name the
argument), ``nonfinite`` (NaN/inf returned without an error), ``slow`` (longer than :data:`SECONDS`).
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import pkgutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import dlnlib

F64 = torch.float64
SECONDS = 5.0
"""The most one fuzzed call may take."""
HANG = 30
"""Seconds after which a call counts as hung and is interrupted (POSIX only)."""
PACKAGE_DIR = str(Path(dlnlib.__file__).resolve().parent)


@dataclass
class Entry:
    """One valid call of ``fn`` (``valid`` keyword arguments) and the kind of bad values for each fuzzed argument.

    ``kinds`` maps an argument name to a key of :data:`BAD` (or of a registry's own ``KINDS``). ``check``, when
    given, is called on a result that did not raise and returns False for a silently wrong one.
    """

    fn: object
    valid: dict
    kinds: dict
    check: object = None
    extra_bad: dict = field(default_factory=dict)  # argument -> more bad values specific to it


def public_callables() -> dict[str, object]:
    """Every public function and class of dlnlib, keyed by ``module.qualname`` where it is defined.

    Public means: listed in a module's ``__all__`` (or, for a module without one, any name not starting with an
    underscore) and defined inside dlnlib. Enumerated from the package itself, so a new function is found here
    without anyone adding it.
    """
    names = ["dlnlib"] + [m.name for m in pkgutil.walk_packages(dlnlib.__path__, "dlnlib.")]
    found: dict[str, object] = {}
    for module_name in names:
        module = importlib.import_module(module_name)
        listed = getattr(module, "__all__", None)
        for name in listed if listed is not None else [n for n in vars(module) if not n.startswith("_")]:
            obj = getattr(module, name)
            if callable(obj) and getattr(obj, "__module__", "").startswith("dlnlib"):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


def _t(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def tensor(*shape, seed=0):
    """A float64 CPU tensor of standard normal entries, reproducible from ``seed``."""
    return _t(*shape, seed=seed)


CHAIN = dlnlib.init_chain([2, 3, 2], "gaussian", seed=0, device="cpu")
NAN = torch.full((2, 2), float("nan"), dtype=F64)
BAD = {
    "tensor": [NAN, torch.full((2, 3), float("inf"), dtype=F64), torch.ones(2, dtype=F64),
               torch.tensor(1.0, dtype=F64), torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2, dtype=torch.bool),
               torch.ones(2, 2, dtype=torch.complex128), torch.ones(0, 2, dtype=F64), torch.ones(2, 2),
               torch.ones(7, 7, dtype=F64), [[1.0, 2.0], [3.0, 4.0]], np.full((2, 2), np.nan), "abc", None, 3],
    "chain": [[CHAIN[0], NAN], [w.long() for w in CHAIN], [CHAIN[0].float(), CHAIN[1]], [], "abc", None,
              [torch.ones(3, dtype=F64)], [CHAIN[0], CHAIN[0]], [w.to(torch.complex128) for w in CHAIN], CHAIN[0]],
    "positive": [0.0, -1.0, float("nan"), float("inf"), -float("inf"), 1e300, "x", None, True, [1.0], 1j],
    "number": [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e300, "x", None, [1.0], 1j],
    "count": [-1, 0, 2.5, 10**12, "3", None, True, float("nan")],
    "name": ["nonsense", 3, None, ""],
    "times": [[0.0, float("nan")], [1.0, 0.0], [0.0, 0.0], "abc", None, [], [[0.0, 1.0]], [0.0, float("inf")]],
    "dims": [[], [2], [2, 0, 2], [2, -1], [2.5, 3], "abc", None, [10**12, 2]],
    "flag": ["yes", 2, None, 1.5, [True]],
    "numbers": [[], [float("nan")], [1.0, float("inf")], [-1.0], "abc", None, [[1.0]], 3, [1e300]],
    "text": [3, None, [], b"abc"],
    "path": [3, None, [], "/nonexistent/dir/and/file.xyz"],
    "seed": [-1, 2.5, "3", True, float("nan"), 2**70],
    "callable": [3, "abc", None],
    "object": [3, "abc", None, [], torch.ones(2, dtype=F64)],
}
"""Bad values per argument kind. A registry may add kinds of its own in a ``KINDS`` dict."""

SCALAR_KINDS = ("positive", "number", "count", "seed")


def finite(out) -> bool:
    """True when nothing a student reads from ``out`` is NaN or infinite (or a divergence says so itself)."""
    if isinstance(out, torch.Tensor):
        return not (out.is_floating_point() or out.is_complex()) or bool(torch.isfinite(out).all())
    if isinstance(out, np.ndarray):
        return out.dtype.kind not in "fc" or bool(np.isfinite(out).all())
    if isinstance(out, float):
        return math.isfinite(out)
    if isinstance(out, (list, tuple)):
        return all(finite(o) for o in out)
    if isinstance(out, dict):
        return all(finite(o) for o in out.values())
    if hasattr(out, "diverged") and bool(torch.as_tensor(out.diverged).any()):
        return True  # a run that blew up says so (diverged, diverged_at): reported, not silent
    for name in ("final_loss", "chain"):  # result objects: what a student reads first
        if hasattr(out, name):
            return finite(getattr(out, name))
    return True


def _raised_in_dlnlib(exc: BaseException) -> bool:
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb.tb_frame.f_code.co_filename
        tb = tb.tb_next
    return last is not None and str(Path(last).resolve()).startswith(PACKAGE_DIR)


def _names(fn, arg: str, message: str) -> bool:
    try:
        params = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        params = []
    # the argument itself, or one it must agree with (a depth-1 chain changes the shape grad_w must have)
    return arg in message or any(f"{p}:" in message or f"{p} " in message for p in params)


class _Hung(Exception):
    pass


def _alarm(signum, frame):
    raise _Hung


def classify(entry: Entry, arg: str, bad) -> tuple[str, str]:
    """Run ``entry`` with ``arg`` replaced by ``bad``; return ``(outcome, detail)``, outcome one of refused, finite,
    raw, foreign, unnamed, nonfinite, wrong, slow, hung."""
    import matplotlib.pyplot as plt

    use_alarm = hasattr(signal, "SIGALRM") and os.name == "posix"
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(HANG)
    t0 = time.perf_counter()
    try:
        out = entry.fn(**{**entry.valid, arg: bad})
    except _Hung:
        return "hung", f"interrupted after {HANG} s"
    except (ValueError, TypeError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        if not _raised_in_dlnlib(exc):
            outcome = "foreign"
        elif not _names(entry.fn, arg, str(exc)):
            outcome = "unnamed"
        else:
            outcome = "refused"
        return _timed(outcome, message, t0)
    except Exception as exc:  # noqa: BLE001 - anything else is the raw error the promise rules out
        return "raw", f"{type(exc).__name__}: {exc}"
    else:
        if not finite(out):
            return "nonfinite", "returned NaN or inf"
        if entry.check is not None and not entry.check(out):
            return "wrong", "the result fails the entry's check"
        return _timed("finite", "", t0)
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        plt.close("all")


def _timed(outcome, detail, t0):
    seconds = time.perf_counter() - t0
    return ("slow", f"{seconds:.1f} s; {outcome}: {detail}") if seconds > SECONDS else (outcome, detail)


GOOD = ("refused", "finite")
