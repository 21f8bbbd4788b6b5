"""Self-checking exercises: ``check(id, answer)``, ``hint(id, level)``, ``solution(id)``.

Each notebook's exercises live in a submodule (``dlnlib.exercises.gradients`` for notebook 01, ...)
and register themselves under ids such as ``"1.2"`` (notebook 1, exercise 2). ``check`` runs the
student's function on several random cases (shapes, non-square widths, batch sizes, seeds) against
the reference and answers in one line: correct, or what is wrong in words a student can act on.
If the student's code raises, its own traceback is shown.
"""

from __future__ import annotations

import importlib
import inspect
import re
import textwrap
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

__all__ = ["Exercise", "CheckResult", "register", "get", "check", "hint", "solution", "compare", "TOPICS"]

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


class StudentError(Exception):
    """The student's code raised; carries the formatted traceback of their frames."""

    def __init__(self, exc: BaseException):
        self.exc = exc
        frames = traceback.extract_tb(exc.__traceback__)
        # Drop dlnlib's own frames (the checker): the student wants to see their code.
        keep = [f for f in frames if "dlnlib" not in f.filename.replace("\\", "/").split("/")[-2:-1]]
        lines = traceback.format_list(keep or frames)
        self.text = "".join(lines) + "".join(traceback.format_exception_only(type(exc), exc))
        super().__init__(str(exc))


def call_student(fn: Callable, *args, **kwargs):
    """Call the student's function; wrap anything it raises in ``StudentError``."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # the student's code may raise anything; report it, never swallow it
        raise StudentError(exc) from exc


def _as_tensor(x):
    if isinstance(x, torch.Tensor):
        return x.detach()
    try:
        return torch.as_tensor(x, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None


def _close(a, b, rtol, atol) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.to(b.dtype), b, rtol=rtol, atol=atol))


def compare(got, expected, *, name: str = "result", alternatives: dict | None = None,
            rtol: float = 1e-6, atol: float = 1e-9) -> str | None:
    """None when ``got`` matches ``expected``; otherwise a short diagnosis.

    Recognises a wrong type, NaN, a transposed shape, another shape, a flipped sign, a factor 2 or 1/2,
    and any named ``alternatives`` (message -> the value a typical mistake would produce, e.g.
    ``{"ignores Sigma_xx": ...}``).
    """
    exp = _as_tensor(expected)
    g = _as_tensor(got)
    if g is None:
        return f"{name} is a {type(got).__name__}, expected a tensor of shape {tuple(exp.shape)}"
    if g.shape != exp.shape:
        msg = f"{name} has shape {tuple(g.shape)}, expected {tuple(exp.shape)}"
        if g.ndim >= 2 and g.shape[:-2] + g.shape[-2:][::-1] == exp.shape:
            msg += ": a transpose?"
        elif g.numel() == exp.numel():
            msg += ": right entries count, wrong layout?"
        return msg
    g = g.to(exp.dtype)
    if not torch.isfinite(g).all():
        return f"{name} contains NaN or inf"
    if _close(g, exp, rtol, atol):
        return None
    for msg, alt in (alternatives or {}).items():
        a = _as_tensor(alt)
        if a is not None and _close(g, a, rtol, atol):
            return f"{name} is wrong: {msg}"
    if _close(-g, exp, rtol, atol):
        return f"{name} has the sign flipped"
    for factor, word in ((2.0, "twice"), (0.5, "half")):
        if _close(g, factor * exp, rtol, atol):
            return f"{name} is off by a factor 2 ({word} the expected value)"
    if g.ndim >= 2 and g.shape[-1] == g.shape[-2] and _close(g.transpose(-1, -2), exp, rtol, atol):
        return f"{name} is the transpose of the expected matrix"
    err = float((g - exp).abs().max())
    return f"{name} differs from the reference (max abs error {err:.3g})"


@dataclass
class Exercise:
    """One exercise: ``cases()`` yields keyword arguments; ``run(answer, case)`` evaluates the student's
    answer and ``reference`` on a case and returns a diagnosis (None when they agree)."""

    id: str
    title: str
    reference: Callable
    cases: Callable[[], Iterable[dict]]
    judge: Callable[[Callable, Callable, dict], str | None]
    hints: list[str] = field(default_factory=list)
    kind: str = "function"

    def check(self, answer) -> CheckResult:
        """Run ``answer`` against the reference on every case; one-line verdict."""
        if answer is ...:  # a value exercise's stub in the student build: `answer = ...`
            return CheckResult(False, f"Exercise {self.id}: not attempted yet (replace the `...` with your answer).")
        if self.kind == "function" and not callable(answer):
            return CheckResult(False, f"Exercise {self.id}: expected a function, got {type(answer).__name__}")
        n = 0
        for case in self.cases():
            n += 1
            try:
                diag = self.judge(answer, self.reference, case)
            except StudentError as err:
                if isinstance(err.exc, NotImplementedError):
                    return CheckResult(False, self._not_attempted(err.exc))
                return CheckResult(
                    False, f"Exercise {self.id}: your code raised {type(err.exc).__name__}: {err.exc}",
                    details=err.text.rstrip(),
                )
            if diag is not None:
                return CheckResult(False, f"Exercise {self.id}: {diag} (case {n}: {describe(case)})")
        return CheckResult(True, f"Exercise {self.id}: correct on all {n} cases.")

    def _not_attempted(self, exc: NotImplementedError) -> str:
        """The verdict for a stub that still raises: this exercise's own, or another one the answer calls."""
        stub = _STUB_ID.match(str(exc))
        if stub is not None and stub.group(1) != self.id:
            return (f"Exercise {self.id}: not attempted yet: your function calls your exercise {stub.group(1)}, "
                    "whose stub still raises NotImplementedError. Solve that one first.")
        return (f"Exercise {self.id}: not attempted yet (the stub still raises NotImplementedError). "
                "Replace the `...` with your code.")

    def hint(self, level: int = 1) -> str:
        if not isinstance(level, int) or isinstance(level, bool) or level < 1:
            raise ValueError(f"level: got {level!r}, expected an integer >= 1")
        if not self.hints:
            return f"Exercise {self.id}: no hints."
        k = min(level, len(self.hints))
        more = " (that is the last hint)" if k == len(self.hints) else f" (hint({self.id!r}, {k + 1}) for more)"
        return f"Hint {k} of {len(self.hints)} for exercise {self.id}: {self.hints[k - 1]}{more}"

    def solution(self) -> str:
        return textwrap.dedent(inspect.getsource(self.reference))


def describe(case: dict) -> str:
    """Short description of a test case: shapes of tensors, values of scalars."""
    parts = []
    for k, v in case.items():
        if k.startswith("_"):
            continue
        if isinstance(v, torch.Tensor):
            parts.append(f"{k} {tuple(v.shape)}")
        elif isinstance(v, (list, tuple)) and v and all(isinstance(x, torch.Tensor) for x in v):
            parts.append(f"{k} = {len(v)} matrices")
        elif isinstance(v, (int, float, str)):
            parts.append(f"{k}={v}")
    return ", ".join(parts)


def register(ex: Exercise) -> Exercise:
    """Add an exercise to the registry (called by the topic submodules)."""
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
    """Hint number ``level`` (1 = gentlest) for an exercise, shown as the cell's output."""
    return Message(get(exercise_id).hint(level))


def solution(exercise_id: str) -> Message:
    """The reference solution's source code, shown as the cell's output."""
    return Message(get(exercise_id).solution())
