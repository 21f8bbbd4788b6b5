"""Claims a notebook tests, each with a criterion in code and a verdict computed from it.

A notebook keeps one :class:`Claims` ledger. Where a section measures something a source asserts, it
records the claim with :meth:`Claims.add`: what the source reports, what the notebook measured, and a
criterion (:func:`at_most`, :func:`close_to`, :func:`less_than`, ...). The verdict word is computed,
never typed: ``reproduces`` when the criterion holds, ``differs`` (with the gap) when it fails, ``partly``
when it holds on some of several cases (naming which), ``not tested here`` (with the reason) for a claim
recorded with :meth:`Claims.not_tested`. The notebook's closing "Paper vs this notebook" table is
``claims.table()``: plain text for nbval and terminals, HTML in JupyterLab and Voila. Prose that compares
or judges names the row it rests on as ``(claim 03.4)``; :data:`REF_PATTERN` finds such references.

    claims = Claims("03", "Du, Hu & Lee 2018")
    claims.add("03.2", "Theorem 2.2: W_{j+1}^T W_{j+1} - W_j W_j^T is conserved by gradient flow",
               source="Du, Hu & Lee 2018, Thm 2.2", reported="proof", kind="derived",
               measured=drift, criterion=at_most(1e-10), where="Section 2")
"""

from __future__ import annotations

import html
import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "KINDS",
    "REF_PATTERN",
    "VERDICTS",
    "Claim",
    "Claims",
    "ClaimsTable",
    "Criterion",
    "ROUNDOFF",
    "at_least",
    "at_most",
    "below",
    "between",
    "close_to",
    "greater_than",
    "is_true",
    "less_than",
]

KINDS = ("derived", "checked", "shown")
"""derived: proved or derived in the notebook and confirmed numerically; checked: a number compared with
what a source states; shown: visible in a figure, with the figure's numbers summarised by the criterion."""

VERDICTS = ("reproduces", "differs", "partly", "not tested here")

REF_PATTERN = re.compile(r"\bclaims?\s+(\d{2}\.\d+[a-z]?)")
"""How prose names a claim row: ``claim 03.4`` (the notebook number, a dot, the row number)."""

_ID = re.compile(r"^\d{2}\.\d+[a-z]?$")

ROUNDOFF = 1e-11
"""Below this magnitude a measured number is round-off of float64 arithmetic on quantities of order one: its
digits depend on the processor's kernels, so tables show it as a bound, never as digits. Verdicts are always
computed from the exact number."""


def fmt(value) -> str:
    """A measured value as printed in tables: numbers to 4 significant digits, mappings as ``k: v``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        v = float(value)
        if v == 0:
            return "0"
        return f"{v:.4g}" if 1e-3 <= abs(v) < 1e5 else f"{v:.3g}"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {fmt(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    return str(value)


def below(value, bound: float = ROUNDOFF) -> str:
    """``value`` for print, or the bound it lies under when ``|value| < bound``: ``"< 1e-13"`` (``"> -1e-13"``
    for a negative number). Use it for round-off-level numbers (a difference that should be zero, a residual),
    whose digits differ between processors: ``print(f"max difference {below(err, 1e-13)}")``."""
    v = _number("value", value)
    b = _number("bound", bound)
    if b <= 0:
        raise ValueError(f"bound: got {b!r}, expected a number > 0")
    if math.fabs(v) < b:
        return f"< {fmt(b)}" if v >= 0 else f"> -{fmt(b)}"
    return fmt(v)


def _shown(value, bound: float | None, resolution: float = ROUNDOFF) -> str:
    """A measured value in a table: :func:`fmt`, except that numbers below ``resolution`` (default
    :data:`ROUNDOFF`) in magnitude show as a bound: ``<= b`` when the criterion's own limit ``b`` is smaller
    and holds, ``< resolution`` otherwise."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_shown(v, bound, resolution)}" for k, v in value.items())
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)) and value != 0 \
            and math.isfinite(value) and math.fabs(value) < resolution:
        if bound is not None and bound < resolution and value <= bound:
            return f"<= {fmt(bound)}"
        return below(value, resolution)
    return fmt(value)


def _number(name: str, value) -> float:
    """``value`` as a finite float, or ValueError saying why the criterion cannot be evaluated."""
    if hasattr(value, "item") and getattr(value, "ndim", 0) == 0:
        value = value.item()  # a 0-d torch tensor or numpy scalar
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: got {value!r} ({type(value).__name__}), expected a real number")
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name}: got {v!r}, expected a finite number (a NaN or inf measurement has no verdict)")
    return v


def _text(name: str, value) -> str:
    """``value`` when it is a non-empty string; ValueError naming ``name`` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name}: got {value!r}, expected a non-empty string")
    return value


def _has_nan(value, depth: int = 0) -> bool:
    """True when a NaN hides anywhere in a measured value (a number, a tensor or array, a mapping or sequence)."""
    if depth > 20 or isinstance(value, (str, bytes, bool)):
        return False
    if isinstance(value, numbers.Real):
        return math.isnan(value)
    if hasattr(value, "dtype") and hasattr(value, "shape") and hasattr(value, "tolist"):  # torch / numpy
        try:
            return any(_has_nan(v, depth + 1) for v in _flat(value.tolist()))
        except (TypeError, ValueError, RuntimeError):
            return False
    if isinstance(value, Mapping):
        return any(_has_nan(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_nan(v, depth + 1) for v in value)
    return False


def _flat(items):
    if isinstance(items, list):
        for item in items:
            yield from _flat(item)
    else:
        yield items


@dataclass(frozen=True)
class Criterion:
    """A test on a measured value: ``holds(value) -> bool`` and ``gap(value) -> str`` (why it fails).

    ``text`` states the criterion in words, e.g. ``"<= 1e-10"``; it is printed in the table. Build one with
    the helpers below, or directly with any callable for a test they do not cover.
    """

    text: str
    test: Callable[[object], bool]
    gap_text: Callable[[object], str] | None = None
    bound: float | None = None
    """The upper limit of an :func:`at_most` criterion (used to show round-off-level measurements)."""

    def __post_init__(self) -> None:
        _text("text", self.text)
        if not callable(self.test):
            raise TypeError(f"test: got {type(self.test).__name__}, expected a function value -> bool")
        if self.gap_text is not None and not callable(self.gap_text):
            raise TypeError(f"gap_text: got {type(self.gap_text).__name__}, expected a function value -> str or None")
        if self.bound is not None:
            _number("bound", self.bound)

    def holds(self, value) -> bool:
        """Whether the criterion holds for ``value``; a NaN anywhere in it is a ValueError, never a verdict."""
        if _has_nan(value):
            raise ValueError(f"value: got {fmt(value)}, expected finite numbers (a NaN measurement has no verdict)")
        result = self.test(value)
        if not isinstance(result, bool):
            raise ValueError(f"criterion {self.text!r}: its test returned {result!r}, expected True or False")
        return result

    def gap(self, value) -> str:
        return self.gap_text(value) if self.gap_text is not None else f"measured {fmt(value)}"


def at_most(bound, *, what: str = "value") -> Criterion:
    """Holds when the measured number is <= ``bound``."""
    b = _number("bound", bound)
    _text("what", what)
    return Criterion(f"{what} <= {fmt(b)}", lambda v: _number(what, v) <= b,
                     lambda v: f"{fmt(_number(what, v))} > {fmt(b)}", bound=b)


def at_least(bound, *, what: str = "value") -> Criterion:
    """Holds when the measured number is >= ``bound``."""
    b = _number("bound", bound)
    _text("what", what)
    return Criterion(f"{what} >= {fmt(b)}", lambda v: _number(what, v) >= b,
                     lambda v: f"{fmt(_number(what, v))} < {fmt(b)}")


def between(lo, hi, *, what: str = "value") -> Criterion:
    """Holds when ``lo <= measured <= hi``."""
    a, b = _number("lo", lo), _number("hi", hi)
    _text("what", what)
    if a > b:
        raise ValueError(f"lo/hi: got [{a}, {b}], expected lo <= hi")
    return Criterion(f"{fmt(a)} <= {what} <= {fmt(b)}", lambda v: a <= _number(what, v) <= b,
                     lambda v: f"{fmt(_number(what, v))} outside [{fmt(a)}, {fmt(b)}]")


def close_to(target, *, rel=None, abs=None, what: str = "value") -> Criterion:  # noqa: A002 (mirrors math.isclose)
    """Holds when the measured number is within ``rel`` (relative) or ``abs`` (absolute) of ``target``."""
    t = _number("target", target)
    _text("what", what)
    if rel is None and abs is None:
        raise ValueError("rel/abs: got neither, expected a relative or an absolute tolerance")
    r = 0.0 if rel is None else _number("rel", rel)
    a = 0.0 if abs is None else _number("abs", abs)
    if r < 0 or a < 0:
        raise ValueError(f"rel/abs: got {r}, {a}, expected tolerances >= 0")
    tol = " or ".join(s for s in (f"{fmt(r * 100)}%" if rel is not None else "",
                                  f"{fmt(a)}" if abs is not None else "") if s)

    def test(v) -> bool:
        x = _number(what, v)
        return x - t <= max(a, r * math.fabs(t)) and t - x <= max(a, r * math.fabs(t))

    def gap(v) -> str:
        x = _number(what, v)
        d = x - t
        return f"{fmt(x)} vs {fmt(t)}: off by {fmt(d)}" + (f" ({fmt(100 * d / t)}%)" if t != 0 else "")

    return Criterion(f"{what} within {tol} of {fmt(t)}", test, gap)


def _entry(measured, key: str) -> float:
    if not isinstance(measured, Mapping):
        raise ValueError(f"measured: got {type(measured).__name__}, expected a mapping with keys incl. {key!r}")
    if key not in measured:
        raise ValueError(f"measured: has no entry {key!r} (has {', '.join(map(repr, measured))})")
    return _number(f"measured[{key!r}]", measured[key])


def less_than(a: str, b: str, *, factor: float = 1.0) -> Criterion:
    """Holds when ``measured[a] < factor * measured[b]`` for a mapping of named measurements
    (e.g. iterations to a tolerance per depth: ``less_than("depth 2", "depth 1")`` = depth 2 is faster)."""
    _text("a", a)
    _text("b", b)
    f = _number("factor", factor)
    scale = "" if f == 1 else f"{fmt(f)} x "
    return Criterion(f"{a} < {scale}{b}", lambda m: _entry(m, a) < f * _entry(m, b),
                     lambda m: f"{a} {fmt(_entry(m, a))} >= {scale}{b} {fmt(_entry(m, b))}")


def greater_than(a: str, b: str, *, factor: float = 1.0) -> Criterion:
    """Holds when ``measured[a] > factor * measured[b]`` for a mapping of named measurements."""
    _text("a", a)
    _text("b", b)
    f = _number("factor", factor)
    scale = "" if f == 1 else f"{fmt(f)} x "
    return Criterion(f"{a} > {scale}{b}", lambda m: _entry(m, a) > f * _entry(m, b),
                     lambda m: f"{a} {fmt(_entry(m, a))} <= {scale}{b} {fmt(_entry(m, b))}")


def is_true(text: str) -> Criterion:
    """Holds when the measured value is True; ``text`` says what was tested (a boolean computed from
    numbers the notebook prints, e.g. "every one of 1,000 instances contracts")."""
    _text("text", text)

    def test(v) -> bool:
        if hasattr(v, "item") and getattr(v, "ndim", 0) == 0:
            v = v.item()
        if not isinstance(v, bool):
            raise ValueError(f"measured: got {v!r} ({type(v).__name__}), expected True or False for {text!r}")
        return v

    return Criterion(text, test, lambda v: "false")


@dataclass
class Claim:
    """One row of the table; ``verdict`` and ``detail`` are computed when the claim is recorded."""

    id: str
    claim: str
    source: str
    reported: str
    kind: str
    measured: object = None
    criterion: Criterion | None = None
    cases: dict | None = None
    where: str | None = None
    reason: str | None = None
    resolution: float = ROUNDOFF
    verdict: str = field(init=False, default="")
    detail: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.verdict, self.detail = self._evaluate()

    def _evaluate(self) -> tuple[str, str]:
        if self.reason is not None:
            return "not tested here", self.reason
        if self.criterion is None:
            raise ValueError(f"claim {self.id}: criterion is missing; record an untested claim with not_tested()")
        if self.cases is None:
            try:
                ok = self.criterion.holds(self.measured)
            except ValueError as exc:
                raise ValueError(f"claim {self.id}: cannot evaluate {self.criterion.text!r} on measured: {exc}") \
                    from exc
            return ("reproduces", "") if ok else ("differs", self.criterion.gap(self.measured))
        held, failed = [], []
        for name, value in self.cases.items():
            try:
                ok = self.criterion.holds(value)
            except ValueError as exc:
                raise ValueError(f"claim {self.id}, case {name!r}: cannot evaluate "
                                 f"{self.criterion.text!r} on cases[{name!r}]: {exc}") from exc
            (held if ok else failed).append((name, value))
        if not failed:
            return "reproduces", f"holds on all {len(held)} cases"
        gaps = "; ".join(f"{n}: {self.criterion.gap(v)}" for n, v in failed)
        if not held:
            return "differs", f"fails on all {len(failed)} cases ({gaps})"
        return "partly", (f"holds on {len(held)} of {len(self.cases)} ({', '.join(n for n, _ in held)}); "
                          f"fails on {gaps}")

    @property
    def measured_text(self) -> str:
        if self.reason is not None:
            return "—"
        bound = self.criterion.bound if self.criterion is not None else None
        if self.cases is not None:
            return "; ".join(f"{n}: {_shown(v, bound, self.resolution)}" for n, v in self.cases.items())
        return _shown(self.measured, bound, self.resolution)

    def line(self) -> str:
        """One line: id, verdict and the numbers it rests on."""
        crit = self.criterion.text if self.criterion is not None else ""
        tail = f" [{self.detail}]" if self.detail else ""
        if self.reason is not None:
            return f"claim {self.id}: NOT TESTED HERE ({self.reason})"
        return f"claim {self.id}: {self.verdict.upper()} — measured {self.measured_text}; criterion {crit}{tail}"

    def __repr__(self) -> str:
        return self.line()

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.line())


class Claims:
    """The ledger of claims one notebook tests; ``table()`` renders its "Paper vs this notebook" table.

    notebook: the two-digit notebook number ("03"); every claim id starts with it ("03.4").
    title: what the table compares against, e.g. "Du, Hu & Lee 2018 (slides)".
    """

    def __init__(self, notebook: str, title: str):
        if not isinstance(notebook, str) or not re.fullmatch(r"\d{2}", notebook):
            raise ValueError(f"notebook: got {notebook!r}, expected a two-digit string such as '03'")
        if not isinstance(title, str) or not title.strip():
            raise ValueError(f"title: got {title!r}, expected a non-empty string")
        self.notebook, self.title = notebook, title
        self._rows: dict[str, Claim] = {}

    def _new_id(self, id: str) -> str:  # noqa: A002
        if not isinstance(id, str) or not _ID.match(id) or not id.startswith(self.notebook + "."):
            raise ValueError(f"id: got {id!r}, expected '{self.notebook}.<number>' such as '{self.notebook}.1'")
        if id in self._rows:
            raise ValueError(f"id: {id!r} is already recorded ({self._rows[id].claim!r})")
        return id

    def add(self, id: str, claim: str, *, source: str, reported: str, measured=None,  # noqa: A002
            criterion: Criterion, cases: Mapping | None = None, kind: str = "checked",
            where: str | None = None, resolution: float = ROUNDOFF) -> Claim:
        """Record a tested claim and return it (its repr is a one-line verdict to print where it is measured).

        measured: the number (or mapping of named numbers, or boolean) the criterion judges; or
        cases: a mapping case name -> measured value, judged one by one (verdict ``partly`` when some fail).
        resolution: measured numbers smaller than this in magnitude are shown as ``< resolution``, not as
        digits: :data:`ROUNDOFF` by default; larger for a numerical method's own error (an ODE solver's
        tolerance), whose digits also change from one processor to another. The verdict uses the exact number.
        """
        resolution = _number("resolution", resolution)
        if not resolution > 0:
            raise ValueError(f"resolution: got {resolution!r}, expected a number > 0")
        id = self._new_id(id)  # noqa: A001
        if kind not in KINDS:
            raise ValueError(f"kind: got {kind!r}, expected one of {', '.join(KINDS)}")
        if not isinstance(criterion, Criterion):
            raise TypeError(f"criterion: got {type(criterion).__name__}, expected a dlnlib.claims.Criterion")
        if (measured is None) == (cases is None):
            raise ValueError("measured/cases: give exactly one of them")
        if cases is not None:
            if not isinstance(cases, Mapping) or not cases:
                raise ValueError(f"cases: got {cases!r}, expected a non-empty mapping name -> measured value")
            cases = dict(cases)
        if where is not None:
            _text("where", where)
        row = Claim(id, _text("claim", claim), _text("source", source), _text("reported", reported),
                    kind, measured=measured, criterion=criterion, cases=cases, where=where, resolution=resolution)
        self._rows[id] = row
        return row

    def not_tested(self, id: str, claim: str, *, source: str, reported: str, reason: str,  # noqa: A002
                   where: str | None = None) -> Claim:
        """Record a claim this notebook does not test, with the reason (e.g. "CIFAR-10 is not available offline")."""
        id = self._new_id(id)  # noqa: A001
        if where is not None:
            _text("where", where)
        row = Claim(id, _text("claim", claim), _text("source", source), _text("reported", reported),
                    "checked", where=where, reason=_text("reason", reason))
        self._rows[id] = row
        return row

    def __getitem__(self, id: str) -> Claim:  # noqa: A002
        if id not in self._rows:
            raise KeyError(f"no claim {id!r}; recorded: {', '.join(self._rows) or 'none'}")
        return self._rows[id]

    def __iter__(self):
        return iter(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    def counts(self) -> dict[str, int]:
        """How many rows carry each verdict."""
        out = dict.fromkeys(VERDICTS, 0)
        for row in self:
            out[row.verdict] += 1
        return out

    def table(self) -> ClaimsTable:
        """The "Paper vs this notebook" table of every recorded claim, in recording order."""
        if not self._rows:
            raise ValueError("claims: nothing recorded yet; add() claims before rendering the table")
        return ClaimsTable(self.title, list(self._rows.values()), self.counts())


_COLUMNS = ("id", "claim", "source", "reported", "measured", "criterion", "verdict", "kind")


@dataclass
class ClaimsTable:
    """Rendered table: ``str()`` / text/plain for nbval and terminals, text/html for JupyterLab and Voila."""

    title: str
    rows: list[Claim]
    counts: dict[str, int]

    def _headline(self) -> str:
        parts = ", ".join(f"{n} {v}" for v, n in self.counts.items() if n)
        return f"Paper vs this notebook — {self.title}: {len(self.rows)} claims ({parts})"

    def __str__(self) -> str:
        wrap = textwrap.TextWrapper(width=110, subsequent_indent=" " * 10)
        lines = [self._headline(), ""]
        for r in self.rows:
            where = f" ({r.where})" if r.where else ""
            verdict = r.verdict.upper() + (f": {r.detail}" if r.detail else "")
            lines += wrap.wrap(f"[{r.id}]  {r.claim}{where}")
            lines += wrap.wrap(f"{'':8}  source: {r.source} | reported: {r.reported} | {r.kind}")
            if r.reason is None:
                lines += wrap.wrap(f"{'':8}  measured: {r.measured_text} | criterion: {r.criterion.text}")
            lines += wrap.wrap(f"{'':8}  -> {verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        colour = {"reproduces": "#1a7f37", "differs": "#b42318", "partly": "#b54708", "not tested here": "#555"}
        head = "".join(f"<th style='text-align:left'>{c}</th>" for c in _COLUMNS)
        body = []
        for r in self.rows:
            crit = r.criterion.text if r.criterion is not None else "—"
            claim = html.escape(r.claim) + (f" <i>({html.escape(r.where)})</i>" if r.where else "")
            verdict = f"<b style='color:{colour[r.verdict]}'>{r.verdict}</b>"
            if r.detail:
                verdict += f"<br><small>{html.escape(r.detail)}</small>"
            cells = [html.escape(r.id), claim,
                     html.escape(r.source), html.escape(r.reported), html.escape(r.measured_text), html.escape(crit),
                     verdict, html.escape(r.kind)]
            body.append("<tr>" + "".join(f"<td style='text-align:left;vertical-align:top'>{c}</td>"
                                         for c in cells) + "</tr>")
        return (f"<p><b>{html.escape(self._headline())}</b></p><table><thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table>")
