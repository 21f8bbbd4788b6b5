"""Self-checking exercises: ``check(id, answer)``, ``hint(id, level)``, ``solution(id)``.

Each notebook's exercises live in a submodule (``dlnlib.exercises.gradients`` for notebook 01, ...)
and register themselves under ids such as ``"1.2"`` (notebook 1, exercise 2). ``check`` runs the
student's function on every case of the exercise (square shapes first, then non-square widths, batches,
values that separate the typical mistakes) and compares with an independent computation (autograd,
a closed form, a measured step). The verdict is one line:

- a wrong type or dtype (numpy array, Python float, list, float32, complex) is named as such;
- a typical mistake is named only when it reproduces the student's output on *every* case;
- otherwise the first differing case is described with its error.

An answer that calls dlnlib's own implementation of the exercise is refused (the call is seen by a
profiler hook on those functions' code objects). If the student's code raises, the traceback shows
only the student's frames.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import math
import numbers
import os
import re
import sys
import sysconfig
import textwrap
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core import MAX_DEPTH, check_int, check_nonneg

__all__ = ["Exercise", "CheckResult", "register", "get", "check", "hint", "solution", "compare", "TOPICS",
           "all_exercises", "call_student", "describe"]

# Submodules that register exercises, imported on first use (no import-time side effects here).
TOPICS = ("gradients", "saxe", "balance", "endtoend", "agd", "tour")

_REGISTRY: dict[str, Exercise] = {}
# The message of a student-build stub: raise NotImplementedError("Exercise 2.3: replace ... with your code").
_STUB_ID = re.compile(r"Exercise (\d+\.\d+):")


@dataclass
class CheckResult:
    """Outcome of ``check``: ``ok`` and a one-line ``message`` (shown as the cell's output)."""

    ok: bool
    message: str
    details: str = ""

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        return self.message + (("\n" + self.details) if self.details else "")

    def _repr_pretty_(self, p, cycle):
        p.text(repr(self))


# ---------------------------------------------------------------------------------------- the student's code

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = tuple(
    os.path.abspath(p) for p in {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    if p
)


def _is_student_frame(filename: str) -> bool:
    """True for frames of the student's own code: not dlnlib, not the standard library, not installed packages."""
    path = os.path.abspath(filename) if not filename.startswith("<") else filename
    if path.startswith(_PACKAGE_DIR + os.sep):
        return False
    if any(path.startswith(d + os.sep) for d in _LIBRARY_DIRS):
        return False
    return "site-packages" not in path.replace("\\", "/").split("/")


class StudentError(Exception):
    """The student's code raised; carries the traceback of the student's own frames only."""

    def __init__(self, exc: BaseException):
        self.exc = exc
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_student_frame(f.filename)]
        self.text = "".join(traceback.format_list(frames)) + "".join(traceback.format_exception_only(type(exc), exc))
        super().__init__(str(exc))


class ReferenceCalled(Exception):
    """The student's answer called one of dlnlib's implementations of the exercise."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(name)


def _code_of(fn) -> object:
    return inspect.unwrap(fn).__code__


def call_student(fn: Callable, *args, _forbidden: frozenset = frozenset(), **kwargs):
    """Call the student's function; wrap what it raises in ``StudentError``.

    While it runs, a profiler hook watches for calls into the code objects whose ids are in ``_forbidden``
    (dlnlib's own answer to the exercise; ids, because equal code objects compare equal, and a student's
    copy of the same lines is their own code); such a call raises ``ReferenceCalled`` once it has returned.
    """
    if not callable(fn):
        raise TypeError(f"fn: got {type(fn).__name__}, expected a function to call")
    hits: list[str] = []
    previous = sys.getprofile()

    def watch(frame, event, arg):
        if event == "call" and id(frame.f_code) in _forbidden:
            hits.append(f"{frame.f_globals.get('__name__', '?')}.{frame.f_code.co_name}")

    if _forbidden:
        sys.setprofile(watch)
    try:
        out = fn(*args, **kwargs)
    except ReferenceCalled:
        raise
    except Exception as exc:  # the student's code may raise anything: report it, never swallow it
        if hits:
            raise ReferenceCalled(hits[0]) from None
        raise StudentError(exc) from exc
    finally:
        if _forbidden:
            sys.setprofile(previous)
    if hits:
        raise ReferenceCalled(hits[0])
    return out


# ------------------------------------------------------------------------------------------- comparing values


class _Raised:
    """Outcome of code that raised: the student's answer on a case, or a typical mistake that cannot run there."""

    def __init__(self, exc: BaseException | None = None, text: str = ""):
        self.exc, self.text = exc, text

    def __repr__(self) -> str:
        return "raised" if self.exc is None else f"raised {type(self.exc).__name__}"


RAISES = _Raised()


def attempt(fn: Callable, *args, **kwargs):
    """``fn(*args)``, or ``RAISES`` when it raises (a typical mistake that cannot run on a case, e.g. a
    product whose shapes do not fit: the student's version raises there too)."""
    try:
        return fn(*args, **kwargs)
    except Exception:  # any failure of a mistaken formula counts as "raises on this case"
        return RAISES


def _type_problem(got, expected, name: str) -> str | None:
    """A message when ``got`` has the wrong kind of value for ``expected`` (type, dtype, structure); else None."""
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            what = type(got).__name__ + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
            return f"{name} should be a tuple of {len(expected)} values, got a {what}"
        names = _part_names(name, len(expected))
        for g, e, part in zip(got, expected, names):
            msg = _type_problem(g, e, part)
            if msg:
                return msg
        return None
    if isinstance(expected, str):
        if not isinstance(got, str):
            return f"{name} should be a str, got a {type(got).__name__}"
        return None
    shape = tuple(expected.shape)
    want = f"a torch tensor of shape {shape}" + (" (0-dimensional)" if not shape else "")
    if isinstance(got, torch.Tensor):
        if got.is_complex():
            return (f"{name} is complex ({got.dtype}); the expected value is real: eigenvalues of a symmetric "
                    "matrix come from torch.linalg.eigh / eigvalsh, not eig / eigvals")
        if got.dtype != expected.dtype:
            return (f"{name} has dtype {got.dtype}, expected {expected.dtype}: build new tensors with "
                    f"dtype={expected.dtype} or from the inputs (torch.tensor of Python floats gives float32)")
        return None
    if isinstance(got, np.ndarray) or type(got).__module__.split(".")[0] == "numpy":
        return f"{name} is a numpy {type(got).__name__}; expected {want}: stay with torch operations"
    if isinstance(got, bool) or isinstance(got, (int, float, complex)):
        return (f"{name} is a Python {type(got).__name__}; expected {want}: keep the torch result instead of "
                "calling float() or .item()")
    if isinstance(got, (list, tuple)):
        return f"{name} is a {type(got).__name__}; expected {want} (torch.stack or torch.tensor builds one)"
    return f"{name} is a {type(got).__name__}; expected {want}"


def _part_names(name: str, k: int) -> list[str]:
    return [f"{name}[{i}]" for i in range(k)]


def _same(got, value, rtol: float, atol: float) -> bool:
    """``got`` equals ``value`` within the tolerance (tensors: same shape and allclose; tuples: every part)."""
    if value is None:
        return False
    if isinstance(value, _Raised) or isinstance(got, _Raised):
        return isinstance(value, _Raised) and isinstance(got, _Raised)
    if isinstance(value, tuple):
        return (isinstance(got, (tuple, list)) and len(got) == len(value)
                and all(_same(g, v, rtol, atol) for g, v in zip(got, value)))
    if isinstance(value, str):
        return got == value
    if not isinstance(got, torch.Tensor) or got.shape != value.shape:
        return False
    g = got.detach().to(value.dtype)
    # NaN matches NaN only where a typical mistake also produces it (the expected values are finite)
    return bool(torch.allclose(g, value, rtol=rtol, atol=atol, equal_nan=True))


def _difference(got, expected, name: str, rtol: float, atol: float) -> str:
    """Words for how ``got`` differs from ``expected`` on one case."""
    if isinstance(expected, tuple):
        for g, e, part in zip(got, expected, _part_names(name, len(expected))):
            if not _same(g, e, rtol, atol):
                return _difference(g, e, part, rtol, atol)
        return f"{name} differs"
    if isinstance(expected, str):
        return f"{name} is {got!r}"
    if got.shape != expected.shape:
        msg = f"{name} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.ndim >= 2 and got.shape[:-2] + got.shape[-2:][::-1] == expected.shape:
            msg += ": a transpose?"
        return msg
    g = got.detach().to(expected.dtype)
    if not torch.isfinite(g).all():
        return f"{name} contains NaN or inf"
    err = float((g - expected).abs().max())
    return f"{name} differs from the expected value (max abs error {err:.3g}, tolerance rtol={rtol:g}, atol={atol:g})"


def _generic_alternatives(expected) -> dict:
    """Slips that need no knowledge of the exercise: sign, factor 2, transpose."""
    if not isinstance(expected, torch.Tensor):
        return {}
    alts = {
        "the sign is flipped": -expected,
        "off by a factor 2 (twice the expected value)": 2 * expected,
        "off by a factor 2 (half the expected value)": expected / 2,
    }
    if expected.ndim >= 2:
        alts["this is the transpose of the expected matrix"] = expected.transpose(-1, -2)
    return alts


def compare(got, expected, *, name: str = "result", alternatives: dict | None = None,
            rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """None when ``got`` matches ``expected`` on one case; otherwise a short diagnosis.

    Checks the type and dtype, then the value; a named ``alternatives`` entry (message -> the value that
    mistake gives) or a generic slip is named when it matches. Exercises use the all-cases rule of
    ``Exercise.check`` instead; this helper is for single comparisons.
    """
    if not isinstance(name, str):
        raise TypeError(f"name: got {type(name).__name__}, expected a str naming the compared value")
    check_nonneg("rtol", rtol)
    check_nonneg("atol", atol)
    exp = _expected_value("expected", expected, top=True, finite=True)
    if alternatives is None:
        alternatives = {}
    if not isinstance(alternatives, Mapping):
        raise TypeError(f"alternatives: got {type(alternatives).__name__}, expected a dict message -> value")
    alts = {}
    for msg, alt in alternatives.items():
        if not isinstance(msg, str):
            raise TypeError(f"alternatives: got a key {msg!r} ({type(msg).__name__}), expected messages (str)")
        alts[msg] = None if alt is None else _expected_value(f"alternatives[{msg!r}]", alt, top=False, finite=False)
    problem = _type_problem(got, exp, name)
    if problem:
        return problem
    if _same(got, exp, rtol, atol):
        return None
    for msg, alt in {**alts, **_generic_alternatives(exp)}.items():
        if _same(got, alt, rtol, atol):
            return f"{name} is wrong: {msg}"
    return _difference(got, exp, name, rtol, atol)


def _expected_value(name: str, value, *, top: bool, finite: bool):
    """A value to compare against, as ``compare`` uses it: a str stays a str, a tuple is checked part by part, a
    tensor below the top level stays as it is (its dtype is the one the answer must have), anything else becomes a
    float64 tensor. ValueError/TypeError naming ``name`` for what cannot be compared (None, complex, NaN when
    ``finite``: a NaN expected value would accept a NaN answer)."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple):
        if not value:
            raise ValueError(f"{name}: got an empty tuple, expected at least one value")
        return tuple(_expected_value(f"{name}[{i}]", v, top=False, finite=finite) for i, v in enumerate(value))
    if (isinstance(value, torch.Tensor) and value.is_complex()) or isinstance(value, complex) or \
            getattr(getattr(value, "dtype", None), "kind", "") == "c":
        raise ValueError(f"{name}: got complex numbers, expected real numbers")
    if isinstance(value, torch.Tensor) and not top:
        t = value
    else:
        try:
            t = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"{name}: got {type(value).__name__}, expected a tensor, a number, a str or a tuple of "
                            "them") from None
    if finite and (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or inf, expected finite values (a NaN expected value would accept "
                         "a NaN answer)")
    return t


# -------------------------------------------------------------------------------------------- the exercise


def _copy(value):
    """A fresh copy of a case input, so that an answer that modifies its arguments changes nothing else."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


@dataclass
class Exercise:
    """One exercise.

    ``cases()`` yields dicts of inputs (keys starting with ``_`` are hidden from the student); the answer is
    called with the inputs named in ``args``, in that order (fresh copies). ``expected(case)`` computes
    the right value independently of ``reference`` (autograd, a closed form, a measured step).
    ``mistakes`` maps a message naming a typical mistake to a function with the answer's signature that
    makes it; ``case_mistakes(case)`` adds {message: value} entries that need the hidden inputs.
    ``forbidden`` lists dlnlib functions that compute this exercise's answer (refused when the answer
    calls them). ``answer_marks`` are distinctive fragments of the answer (code and formulas) that no
    student notebook may contain; ``derivation`` is the worked derivation that ``solution`` prints.
    """

    id: str
    title: str
    reference: Callable
    cases: Callable[[], Iterable[dict]]
    args: tuple = ()
    expected: Callable[[dict], object] | None = None
    mistakes: dict = field(default_factory=dict)
    case_mistakes: Callable[[dict], dict] | None = None
    hints: list[str] = field(default_factory=list)
    name: str = "result"
    rtol: float = 1e-6
    atol: float = 1e-9
    forbidden: tuple = ()
    normalize: Callable | None = None
    derivation: str = ""
    answer_marks: tuple = ()
    judge: Callable[[Callable, Callable, dict], str | None] | None = None  # per-case form, see _check_per_case
    kind: str = "function"

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not re.fullmatch(r"\d+\.\d+", self.id):
            raise ValueError(f"id: got {self.id!r}, expected '<notebook>.<number>' such as '1.2'")
        for name in ("title", "name", "kind"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name}: got {value!r}, expected a non-empty str")
        if not isinstance(self.derivation, str):
            raise TypeError(f"derivation: got {type(self.derivation).__name__}, expected a str")
        for name in ("reference", "cases"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name}: got {type(getattr(self, name)).__name__}, expected a function")
        for name in ("expected", "judge", "case_mistakes", "normalize"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name}: got {type(value).__name__}, expected a function or None")
        if self.expected is None and self.judge is None:
            raise ValueError("expected/judge: got neither, expected a function computing the right value (or a "
                             "per-case judge)")
        for name in ("args", "hints", "answer_marks"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (tuple, list)) or \
                    not all(isinstance(v, str) for v in value):
                raise TypeError(f"{name}: got {value!r}, expected a tuple of str")
        if not isinstance(self.mistakes, Mapping) or \
                not all(isinstance(k, str) and callable(v) for k, v in self.mistakes.items()):
            raise TypeError(f"mistakes: got {self.mistakes!r}, expected a dict message (str) -> function")
        if not isinstance(self.forbidden, (tuple, list)) or \
                not all(callable(f) and hasattr(inspect.unwrap(f), "__code__") for f in self.forbidden):
            raise TypeError(f"forbidden: got {self.forbidden!r}, expected a tuple of Python functions")
        check_nonneg("rtol", self.rtol)
        check_nonneg("atol", self.atol)

    def _forbidden_codes(self) -> frozenset:
        return frozenset(id(_code_of(f)) for f in (self.reference, *self.forbidden))

    def _inputs(self, case: dict) -> list:
        return [_copy(case[a]) for a in self.args]

    def _mistake_values(self, case: dict, expected) -> dict:
        values = {msg: self._prepare(attempt(fn, *self._inputs(case)))[0] for msg, fn in self.mistakes.items()}
        if self.case_mistakes is not None:
            values.update(self.case_mistakes(case))
        return {**values, **_generic_alternatives(expected)}

    def _prepare(self, got):
        if self.normalize is not None and not isinstance(got, (torch.Tensor, _Raised)):
            return self.normalize(got)
        return got, None

    def check(self, answer) -> CheckResult:
        """Run ``answer`` on every case; one-line verdict (see the module docstring for the rules)."""
        if answer is ...:  # a value exercise's stub in the student build: `answer = ...`
            return CheckResult(False, f"Exercise {self.id}: not attempted yet (replace the `...` with your answer).")
        if not callable(answer):
            return CheckResult(False, f"Exercise {self.id}: expected a function, got {type(answer).__name__}")
        forbidden = self._forbidden_codes()
        if self.judge is not None:
            return self._check_per_case(answer, forbidden)
        rows = []
        for n, case in enumerate(self.cases(), 1):
            expected = self.expected(case)
            try:
                got = call_student(answer, *self._inputs(case), _forbidden=forbidden)
            except ReferenceCalled as hit:
                return CheckResult(False, self._refusal(hit.name))
            except StudentError as err:
                if isinstance(err.exc, NotImplementedError):
                    return CheckResult(False, self._not_attempted(err.exc))
                rows.append((case, _Raised(err.exc, err.text), expected))
                continue
            got, problem = self._prepare(got)
            problem = problem or _type_problem(got, expected, self.name)
            if problem:
                return CheckResult(False, f"Exercise {self.id}: {problem} (case {n}: {describe(case)})")
            rows.append((case, got, expected))
        bad = [k for k, (_, got, exp) in enumerate(rows) if not _same(got, exp, self.rtol, self.atol)]
        if not bad:
            return CheckResult(True, f"Exercise {self.id}: correct on all {len(rows)} cases.")
        return self._diagnose(rows, bad[0])

    def _check_per_case(self, answer, forbidden) -> CheckResult:
        """The per-case form: ``judge(student, reference, case)`` returns a diagnosis (None when right) for one
        case and calls the student through ``call_student``; the first diagnosis is the verdict. Kept for
        exercises written that way; the all-cases rule and the mistake table need ``expected``/``mistakes``."""

        def watched(*args, **kwargs):
            return call_student(answer, *args, _forbidden=forbidden, **kwargs)

        def student(*args, **kwargs):  # re-raise the student's own exception, so the judge's call_student sees it
            try:
                return watched(*args, **kwargs)
            except StudentError as err:
                raise err.exc from None

        n = 0
        for n, case in enumerate(self.cases(), 1):
            try:
                diag = self.judge(student, self.reference, case)
            except ReferenceCalled as hit:
                return CheckResult(False, self._refusal(hit.name))
            except StudentError as err:
                if isinstance(err.exc, NotImplementedError):
                    return CheckResult(False, self._not_attempted(err.exc))
                return CheckResult(False, f"Exercise {self.id}: your code raised {type(err.exc).__name__}: "
                                          f"{err.exc} (case {n}: {describe(case)})", details=err.text.rstrip())
            if diag is not None:
                return CheckResult(False, f"Exercise {self.id}: {diag} (case {n}: {describe(case)})")
        return CheckResult(True, f"Exercise {self.id}: correct on all {n} cases.")

    def _diagnose(self, rows, first_bad: int) -> CheckResult:
        """Name a mistake only if it reproduces the answer on every case; else describe the first bad case."""
        per_case = [self._mistake_values(case, exp) for case, _, exp in rows]
        raised = next((got for _, got, _ in rows if isinstance(got, _Raised)), None)
        for message in per_case[0]:
            if all(_same(got, alts.get(message), self.rtol, self.atol) for (_, got, _), alts in zip(rows, per_case)):
                text = f"Exercise {self.id}: {self.name} is wrong: {message}"
                if raised is not None:
                    text += f" (on some cases your code raised {type(raised.exc).__name__}: {raised.exc})"
                return CheckResult(False, text, details=raised.text.rstrip() if raised is not None else "")
        case, got, exp = rows[first_bad]
        where = f"(case {first_bad + 1} of {len(rows)}: {describe(case)})"
        if isinstance(got, _Raised):
            shapes = "; do the shapes of every product fit?" if "shape" in str(got.exc) else ""
            return CheckResult(False, f"Exercise {self.id}: your code raised {type(got.exc).__name__}: {got.exc} "
                                      f"{where}{shapes}", details=got.text.rstrip())
        return CheckResult(False, f"Exercise {self.id}: {_difference(got, exp, self.name, self.rtol, self.atol)} "
                                  f"{where}")

    def _refusal(self, called: str) -> str:
        return (f"Exercise {self.id}: not accepted: your answer calls {called}, which is dlnlib's own answer to "
                "this exercise. Write it with torch operations (and your earlier answers); hint("
                f"{self.id!r}) helps.")

    def _not_attempted(self, exc: NotImplementedError) -> str:
        """The verdict for a stub that still raises: this exercise's own, or another one the answer calls."""
        stub = _STUB_ID.match(str(exc))
        if stub is not None and stub.group(1) != self.id:
            return (f"Exercise {self.id}: not attempted yet: your function calls your exercise {stub.group(1)}, "
                    "whose stub still raises NotImplementedError. Solve that one first.")
        return (f"Exercise {self.id}: not attempted yet (the stub still raises NotImplementedError). "
                "Replace the `...` with your code.")

    def hint(self, level: int = 1) -> str:
        level = check_int("level", level, minimum=1)
        if not self.hints:
            return f"Exercise {self.id}: no hints."
        k = min(level, len(self.hints))
        more = " (that is the last hint)" if k == len(self.hints) else f" (hint({self.id!r}, {k + 1}) for more)"
        return f"Hint {k} of {len(self.hints)} for exercise {self.id}: {self.hints[k - 1]}{more}"

    def solution(self) -> str:
        head = (f"Exercise {self.id}: THIS REVEALS THE COMPLETE ANSWER. If you are still working on it, "
                f"try hint({self.id!r}, 1) first.\n\n")
        written = f"Derivation:\n{textwrap.dedent(self.derivation).strip()}\n\nCode:\n" if self.derivation else ""
        return head + written + _source(self.reference)


def _source(fn) -> str:
    """The source of a reference answer from its ``def`` line on (the argument-checking decorator is not part of
    the answer)."""
    source = textwrap.dedent(inspect.getsource(fn))
    try:
        node = ast.parse(source).body[0]
    except (SyntaxError, IndexError):
        return source
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
        return "\n".join(source.splitlines()[node.lineno - 1:]) + "\n"
    return source


def describe(case: dict) -> str:
    """Short description of a test case: shapes of tensors, values of scalars."""
    if not isinstance(case, Mapping):
        raise TypeError(f"case: got {type(case).__name__}, expected a dict of named inputs")
    parts = []
    for k, v in case.items():
        if isinstance(k, str) and k.startswith("_"):
            continue
        if isinstance(v, torch.Tensor):
            if v.ndim:
                parts.append(f"{k} {tuple(v.shape)}")
            else:
                parts.append(f"{k}={complex(v)}" if v.is_complex() else f"{k}={float(v):.4g}")
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, torch.Tensor) for x in v):
            parts.append(f"{k} = {len(v)} matrices " + " ".join(str(tuple(x.shape)) for x in v))
        elif isinstance(v, bool):
            parts.append(f"{k}={v}")
        elif isinstance(v, (int, float)):
            parts.append(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}")
        elif isinstance(v, str):
            parts.append(f"{k}={v!r}")
    return ", ".join(parts)


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the registry (called by the topic submodules)."""
    if not isinstance(ex, Exercise):
        raise TypeError(f"ex: got {type(ex).__name__}, expected a dlnlib.exercises.Exercise")
    if ex.id in _REGISTRY and _REGISTRY[ex.id] is not ex:
        raise ValueError(f"id: exercise {ex.id!r} is already registered")
    _REGISTRY[ex.id] = ex
    return ex


def _load_all() -> None:
    for topic in TOPICS:
        try:
            importlib.import_module(f"{__name__}.{topic}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{topic}":
                raise


def get(exercise_id: str) -> Exercise:
    """The exercise registered under ``exercise_id`` (e.g. ``"1.2"``)."""
    if not isinstance(exercise_id, str):
        written = f" (write it in quotes: '{exercise_id}')" if isinstance(exercise_id, float) else ""
        raise TypeError(f"exercise_id: got {exercise_id!r} ({type(exercise_id).__name__}), expected a str such as "
                        f"'1.2'{written}")
    if exercise_id not in _REGISTRY:
        _load_all()
    if exercise_id not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ValueError(f"exercise_id: got {exercise_id!r}, expected one of {known}")
    return _REGISTRY[exercise_id]


def all_exercises() -> dict[str, Exercise]:
    """Every registered exercise, by id."""
    _load_all()
    return dict(_REGISTRY)


def check(exercise_id: str, answer) -> CheckResult:
    """Check a student's answer to exercise ``exercise_id``; the returned object prints one line."""
    return get(exercise_id).check(answer)


class Message(str):
    """A string that a notebook displays as plain text (no quotes)."""

    def __repr__(self) -> str:
        return str(self)


def hint(exercise_id: str, level: int = 1) -> Message:
    """Hint number ``level`` (1 = gentlest: a first step, never the result) for an exercise."""
    return Message(get(exercise_id).hint(level))


def solution(exercise_id: str) -> Message:
    """The complete answer (derivation and code): it reveals the solution, and says so first."""
    return Message(get(exercise_id).solution())


# ------------------------------------------------------------------------- the reference answers' arguments

_TOKEN = re.compile(r"\*|[A-Za-z_]\w*|\d+")


def _checked_reference(_extra: Callable | None = None, **spec: str):
    """Decorator for a reference answer: checks every argument before the call, and the result after it.

    ``spec`` maps each parameter to what it must be:

    - a shape such as ``"* m n"``: a finite, non-empty real floating tensor (one dtype and device for every
      tensor argument) whose trailing dimensions are named; a name binds the size where it first appears and
      must agree wherever else it appears, a number is a fixed size, a leading ``*`` allows batch dimensions
      (which must broadcast across the arguments);
    - ``"chain"``: a chain (``validate_chain``, finite), binding ``N`` (its depth), ``d_0`` and ``d_N``;
    - ``"real"`` / ``"positive"``: a finite real number (or 0-d real tensor), > 0 for ``"positive"``;
    - ``"depth"``: an integer in 1..MAX_DEPTH; ``"int 1..N"``: an integer in 1..(the size bound to N);
      ``"index m"``: an integer in 0..(the size bound to m) - 1.

    ``_extra(**arguments)`` may add a check of its own (raising ValueError naming the argument). A result that is
    NaN or infinite, or arithmetic that fails on the values (overflow, division by zero), is a ValueError naming
    the arguments. The answer itself (what ``solution`` prints, the code the refusal of dlnlib's own answers
    watches) is the undecorated function.
    """

    def decorate(fn):
        names = tuple(inspect.signature(fn).parameters)
        if set(spec) != set(names):
            raise ValueError(f"spec: got {sorted(spec)}, expected one entry per parameter of {fn.__name__} {names}")
        listed = ", ".join(names)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            try:
                bound = inspect.signature(fn).bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(f"{listed}: {exc}") from None
            values = _check_reference_args(spec, dict(bound.arguments))
            if _extra is not None:
                _extra(**values)
            try:
                out = fn(*(values[n] for n in names))
            except (ZeroDivisionError, OverflowError, torch.linalg.LinAlgError) as exc:
                raise ValueError(f"{listed}: {fn.__name__} cannot be evaluated at these values "
                                 f"({type(exc).__name__}: {exc}); expected values of moderate size") from exc
            if not _all_finite(out):
                raise ValueError(f"{listed}: the result of {fn.__name__} is NaN or infinite at these values "
                                 "(overflow); expected values of moderate size")
            return out

        return checked

    return decorate


def _all_finite(out) -> bool:
    if isinstance(out, torch.Tensor):
        return not out.is_floating_point() or bool(torch.isfinite(out).all())
    if isinstance(out, float):
        return math.isfinite(out)
    if isinstance(out, (tuple, list)):
        return all(_all_finite(o) for o in out)
    return True


def _shape_text(tokens) -> str:
    return "(" + ", ".join("*batch" if t == "*" else t for t in tokens) + ")"


def _check_reference_args(spec: dict, values: dict) -> dict:
    """The arguments of a reference answer, checked against ``spec`` (see ``_checked_reference``); a chain comes
    back as a list, everything else as given."""
    sizes: dict[str, tuple[int, str]] = {}  # size name -> (size, the argument that fixed it)
    first: list = []  # (name, tensor) of the first tensor seen: dtype and device of every other one
    batches: dict[str, tuple] = {}
    out = dict(values)

    def agree(name, t):
        if not first:
            first.append((name, t))
            return
        ref_name, ref = first[0]
        if t.dtype != ref.dtype:
            raise ValueError(f"{name}: got dtype {t.dtype} but {ref_name} is {ref.dtype}; expected one dtype for "
                             "every tensor")
        if t.device != ref.device:
            raise ValueError(f"{name}: is on {t.device} but {ref_name} on {ref.device}; expected one device")

    def bind(name, token, size):
        if token.isdigit():
            return int(token) == size
        if token in sizes:
            return sizes[token][0] == size
        sizes[token] = (size, name)
        return True

    for name, kind in spec.items():
        v = values[name]
        if kind.startswith(("int ", "index ", "depth")):
            continue
        if kind in ("real", "positive"):
            x = v
            if isinstance(v, torch.Tensor) and v.ndim == 0 and v.is_floating_point():
                x = float(v)
            if isinstance(x, bool) or not isinstance(x, numbers.Real) or not math.isfinite(x) or \
                    (kind == "positive" and x <= 0):
                shown = v if not isinstance(v, torch.Tensor) else f"a tensor of shape {tuple(v.shape)}"
                raise ValueError(f"{name}: got {shown!r}, expected a finite real number"
                                 + (" > 0" if kind == "positive" else ""))
            continue
        if kind == "chain":
            from ..chains import validate_chain

            chain = validate_chain(v, name, finite=True)
            for w in chain:
                agree(name, w)
            sizes["N"] = (len(chain), name)
            sizes["d_0"] = (chain[0].shape[-1], name)
            sizes["d_N"] = (chain[-1].shape[-2], name)
            batches[name] = torch.broadcast_shapes(*(w.shape[:-2] for w in chain))
            out[name] = chain
            continue
        tokens = _TOKEN.findall(kind)
        starred = tokens[0] == "*"
        dims = tokens[1:] if starred else tokens
        want = _shape_text(tokens)
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{name}: got {type(v).__name__}, expected a torch tensor of shape {want}")
        if v.is_complex() or not v.is_floating_point():
            raise ValueError(f"{name}: got dtype {v.dtype}, expected a real floating tensor (torch.float64)")
        if v.ndim < len(dims) or (not starred and v.ndim != len(dims)):
            raise ValueError(f"{name}: got shape {tuple(v.shape)}, expected {want}")
        if v.numel() == 0:
            raise ValueError(f"{name}: got shape {tuple(v.shape)}, expected a non-empty tensor")
        agree(name, v)
        if not bool(torch.isfinite(v).all()):
            raise ValueError(f"{name}: contains NaN or infinite entries, expected finite numbers")
        trailing = tuple(v.shape[v.ndim - len(dims):])
        for token, size in zip(dims, trailing):
            if not bind(name, token, size):
                fixed = int(token) if token.isdigit() else sizes[token][0]
                source = "" if token.isdigit() else f" as in {sizes[token][1]}"
                raise ValueError(f"{name}: got shape {tuple(v.shape)}, expected {want} with {token} = {fixed}{source}")
        if starred:
            batches[name] = tuple(v.shape[:v.ndim - len(dims)])
    if len(batches) > 1:
        try:
            torch.broadcast_shapes(*batches.values())
        except RuntimeError:
            shown = ", ".join(f"{n} {tuple(b)}" for n, b in batches.items())
            raise ValueError(f"{', '.join(batches)}: batch shapes {shown} do not broadcast") from None
    for name, kind in spec.items():
        if kind == "depth":
            check_int(name, values[name], minimum=1, maximum=MAX_DEPTH)
        elif kind.startswith("int "):
            low, high = kind[4:].split("..")
            check_int(name, values[name], minimum=int(low), maximum=sizes[high][0],
                      why=f" ({high} = {sizes[high][0]}, from {sizes[high][1]})")
        elif kind.startswith("index "):
            size = kind[6:]
            check_int(name, values[name], minimum=0, maximum=sizes[size][0] - 1,
                      why=f" (an index: {size} = {sizes[size][0]}, from {sizes[size][1]})")
    return out
