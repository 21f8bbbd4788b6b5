"""Exercises of notebook 02 (Saxe et al.'s mode decomposition; seed 002, homework exercises 2-6).

2.1  derive tau dW2bar/dt in mode coordinates; checked against the rotated autograd gradient of E;
2.2  derive Eq. (7) for one mode vector b^i; checked against the full matrix dynamics;
2.3  derive the energy F of Eq. (8) that generates Eqs. (6)-(7);
2.4  the Jacobian of the decoupled system (9)-(10), checked against autograd;
2.5  eigenvalues and type of a point of the (a, b) plane, the type named in the student's own words;
2.6  predict where gradient flow from a starting point ends (before the notebook draws the portrait).
"""

from __future__ import annotations

import math

import torch

from .. import saxe as _saxe
from . import Exercise, _checked_reference, register

__all__ = [
    "w2bar_dot_reference",
    "b_dot_reference",
    "energy_reference",
    "jacobian_ab_reference",
    "classify_reference",
    "end_point_reference",
    "KIND_WORDS",
]

F64 = torch.float64


def _orthogonal(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=F64))
    return q * torch.sign(torch.diagonal(r))


def _rect_diag(s, rows, cols):
    out = torch.zeros(rows, cols, dtype=F64)
    k = s.shape[-1]
    out[range(k), range(k)] = s
    return out


# ---------------------------------------------------------------------------------------------------- 2.1


@_checked_reference(W1bar="* h i", W2bar="* o h", S="* o i", tau="positive")
def w2bar_dot_reference(W1bar, W2bar, S, tau):
    """dW2bar/dt = (S - W2bar W1bar) W1bar^T / tau   (whitened inputs, mode coordinates)."""
    return (S - W2bar @ W1bar) @ W1bar.transpose(-1, -2) / tau


def _cases_2_1():
    specs = [  # (d_in, d_h, d_out, batch, tau): non-square first, so layout mistakes cannot hide
        (4, 2, 5, (), 2.5),
        (5, 6, 3, (), 1.3),
        (2, 4, 3, (3,), 0.4),
        (3, 3, 3, (), 0.7),
    ]
    for seed, (d_in, d_h, d_out, batch, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(300 + seed)
        s = torch.sort(torch.rand(min(d_in, d_out), generator=gen, dtype=F64) * 3, descending=True).values
        yield {
            "W1bar": torch.randn(*batch, d_h, d_in, generator=gen, dtype=F64),
            "W2bar": torch.randn(*batch, d_out, d_h, generator=gen, dtype=F64),
            "S": _rect_diag(s, d_out, d_in),
            "tau": tau,
            "_U": _orthogonal(d_out, gen),
            "_V": _orthogonal(d_in, gen),
        }


def _rotated_autograd_w2bar_dot(case):
    # Back to the original weights, differentiate E = 1/2 ||Sigma_yx - W2 W1||^2 (Sigma_xx = I), rotate back.
    U, V = case["_U"], case["_V"]
    W1 = case["W1bar"] @ V.T
    W2 = (U @ case["W2bar"]).clone().requires_grad_(True)
    energy = 0.5 * ((U @ case["S"] @ V.T - W2 @ W1) ** 2).sum()
    (g,) = torch.autograd.grad(energy, W2)
    return -(U.T @ g) / case["tau"]


def _t(x):
    return x.transpose(-1, -2)


register(Exercise(
    id="2.1",
    title="tau dW2bar/dt in mode coordinates (derivation)",
    reference=w2bar_dot_reference,
    cases=_cases_2_1,
    args=("W1bar", "W2bar", "S", "tau"),
    expected=_rotated_autograd_w2bar_dot,
    name="dW2bar/dt",
    mistakes={
        "the 1/tau is missing": lambda A, B, S, tau: (S - B @ A) @ _t(A),
        "multiplied by tau instead of dividing by it": lambda A, B, S, tau: (S - B @ A) @ _t(A) * tau,
        "W1bar must be transposed (it multiplies the residual from the right, as W1bar^T)":
            lambda A, B, S, tau: (S - B @ A) @ A / tau,
        "this is the flow of W1bar (W2bar^T on the left); for W2bar the factor W1bar^T goes on the right":
            lambda A, B, S, tau: _t(B) @ (S - B @ A) / tau,
        "the sign is flipped: the residual is S - W2bar W1bar (target minus output)":
            lambda A, B, S, tau: (B @ A - S) @ _t(A) / tau,
        "the product order is W2bar W1bar (output layer on the left)":
            lambda A, B, S, tau: (S - A @ B) @ _t(A) / tau,
    },
    hints=[
        "Start from the continuous-time version of Delta W2 (exercise 1.1) with Sigma_xx = I, tau dW2/dt = "
        "(Sigma_yx - W2 W1) W1^T, and substitute W2 = U W2bar, W1 = W1bar V^T, Sigma_yx = U S V^T.",
        "Multiply on the left by U^T. Use U^T U = I and V^T V = I to cancel every U and V, one factor at a time.",
        "What is left is a product of S, W2bar and W1bar only; divide by tau. Use .transpose(-1, -2) rather than "
        ".T so that leading batch dimensions work.",
    ],
    derivation="""
        tau dW2/dt = (Syx - W2 W1) W1^T with Sxx = I. Substitute W2 = U W2bar, W1 = W1bar V^T, Syx = U S V^T:
        tau U dW2bar/dt = (U S V^T - U W2bar W1bar V^T) V W1bar^T = U (S - W2bar W1bar) W1bar^T (V^T V = I).
        Multiply by U^T: tau dW2bar/dt = (S - W2bar W1bar) W1bar^T.
    """,
    answer_marks=("(S - W2bar @ W1bar) @ W1bar.transpose(-1, -2)", "(S - W2bar W1bar) W1bar^T",
                  r"(S - \overline W{}^2\overline W{}^1)\,\overline W{}^{1\top}"),
))


# ---------------------------------------------------------------------------------------------------- 2.2


@_checked_reference(i="index m", a="m h", b="m h", s="m", tau="positive")
def b_dot_reference(i, a, b, s, tau):
    """db^i/dt from Eq. (7): tau db^i/dt = (s_i - a^i.b^i) a^i - sum_{j != i} (a^j.b^i) a^j.

    a, b: (m, d_h) with row j holding a^j, b^j; s: (m,); i counts from 0.
    """
    overlaps = a @ b[i]  # entry j: a^j . b^i
    own = s[i] - overlaps[i]
    cross = overlaps.clone()
    cross[i] = 0.0
    return (own * a[i] - cross @ a) / tau


def _cases_2_2():
    # (m modes, d_h hidden, i, tau): m != d_h first; i at both ends and inside
    specs = [(4, 2, 1, 2.5), (5, 6, 4, 1.3), (3, 3, 0, 0.7), (2, 4, 1, 0.4), (3, 5, 2, 1.7)]
    for seed, (m, d_h, i, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(400 + seed)
        yield {
            "i": i,
            "a": torch.randn(m, d_h, generator=gen, dtype=F64),
            "b": torch.randn(m, d_h, generator=gen, dtype=F64),
            "s": torch.sort(torch.rand(m, generator=gen, dtype=F64) * 3, descending=True).values,
            "tau": tau,
        }


def _b_dot_full(case):
    # Row i of the full matrix dynamics tau dW2bar/dt = (S - W2bar W1bar) W1bar^T with W1bar = a^T, W2bar = b.
    a, b, s = case["a"], case["b"], case["s"]
    return ((torch.diag(s) - b @ a.T) @ a / case["tau"])[case["i"]]


def _b_dot_variant(i, a, b, s, tau, *, skip=True, swap=False, cross_sign=-1.0, own_vec="a"):
    overlaps = (b @ a[i]) if swap else (a @ b[i])
    own = s[i] - (a[i] @ b[i])
    cross = overlaps.clone()
    if skip:
        cross[i] = 0.0
    vecs = a if own_vec == "a" else b
    return (own * vecs[i] + cross_sign * cross @ vecs) / tau


register(Exercise(
    id="2.2",
    title="Eq. (7): the dynamics of one output mode vector b^i (derivation)",
    reference=b_dot_reference,
    cases=_cases_2_2,
    args=("i", "a", "b", "s", "tau"),
    expected=_b_dot_full,
    name="db^i/dt",
    mistakes={
        "the sum must skip j = i (that term is already in the first bracket)":
            lambda i, a, b, s, tau: _b_dot_variant(i, a, b, s, tau, skip=False),
        "the overlaps in the sum are a^j . b^i (this used a^i . b^j, the pattern of Eq. (6))":
            lambda i, a, b, s, tau: _b_dot_variant(i, a, b, s, tau, swap=True),
        "the cross terms enter with a minus sign (competition pushes b^i away from the other a^j)":
            lambda i, a, b, s, tau: _b_dot_variant(i, a, b, s, tau, cross_sign=1.0),
        "the 1/tau is missing": lambda i, a, b, s, tau: _b_dot_variant(i, a, b, s, tau) * tau,
        "this is Eq. (6) for a^i (it moves along the b's); b^i moves along the a's":
            lambda i, a, b, s, tau: _b_dot_variant(i, b, a, s, tau),
        "i counts from 0 (row i of a and b), this used mode i + 1 or i - 1":
            lambda i, a, b, s, tau: _b_dot_variant(i + 1 if i + 1 < len(s) else i - 1, a, b, s, tau),
    },
    forbidden=(_saxe.mode_dynamics,),
    hints=[
        "Take row i of tau dW2bar/dt = (S - W2bar W1bar) W1bar^T (exercise 2.1). With W1bar = [a^1 ... a^m] (columns) "
        "and W2bar rows b^iT, what is entry (i, j) of W2bar W1bar?",
        "Entry (i, j) is b^i . a^j. Row i of (S - W2bar W1bar) is s_i e_i - sum_j (b^i . a^j) e_j; multiplying a row "
        "vector by W1bar^T turns each e_j into a^j. Separate the term j = i from the others.",
        "In code: overlaps = a @ b[i] (entry j: a^j . b^i); set the i-th entry to zero on a copy for the sum, and "
        "divide everything by tau.",
    ],
    derivation="""
        Row i of tau dW2bar/dt = (S - W2bar W1bar) W1bar^T. Entry (i, j) of W2bar W1bar is b^i . a^j, so row i of
        S - W2bar W1bar is (s_i - a^i.b^i) e_i^T - sum_{j != i} (a^j.b^i) e_j^T, and e_j^T W1bar^T = a^jT. Hence
        tau db^i/dt = (s_i - a^i.b^i) a^i - sum_{j != i} (a^j.b^i) a^j   (Eq. (7)).
    """,
    answer_marks=("own * a[i] - cross @ a", r"\tau\dot b^i = (s_i - a^i\cdot b^i)\,a^i"),
))


# ---------------------------------------------------------------------------------------------------- 2.3


@_checked_reference(a="m h", b="m h", s="m", tau="positive")
def energy_reference(a, b, s, tau):
    """F of Eq. (8): (1/2tau) sum_i (s_i - a^i.b^i)^2 + (1/2tau) sum_{i != j} (a^i.b^j)^2."""
    C = b @ a.T  # C[i, j] = b^i . a^j
    own = s - torch.diagonal(C)
    cross = C - torch.diag(torch.diagonal(C))
    return (own.pow(2).sum() + cross.pow(2).sum()) / (2 * tau)


def _cases_2_3():
    specs = [(4, 2, 2.5), (5, 6, 1.3), (3, 3, 0.7), (2, 4, 0.4)]  # (m, d_h, tau)
    for seed, (m, d_h, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(500 + seed)
        yield {
            "a": torch.randn(m, d_h, generator=gen, dtype=F64),
            "b": torch.randn(m, d_h, generator=gen, dtype=F64),
            "s": torch.sort(torch.rand(m, generator=gen, dtype=F64) * 3, descending=True).values,
            "tau": tau,
        }


def _energy_from_residual(case):
    # F is ||S - W2bar W1bar||_F^2 / (2 tau): an independent formula for the same number
    a, b, s = case["a"], case["b"], case["s"]
    return ((torch.diag(s) - b @ a.T) ** 2).sum() / (2 * case["tau"])


def _parts(a, b, s):
    C = b @ a.T
    return s - torch.diagonal(C), C - torch.diag(torch.diagonal(C)), torch.diagonal(C)


register(Exercise(
    id="2.3",
    title="The energy F of Eq. (8) (derivation)",
    reference=energy_reference,
    cases=_cases_2_3,
    args=("a", "b", "s", "tau"),
    expected=_energy_from_residual,
    name="F",
    mistakes={
        "the second sum runs over pairs i != j only (it also counted i = j)":
            lambda a, b, s, tau: ((s - torch.diagonal(b @ a.T)).pow(2).sum() + (b @ a.T).pow(2).sum()) / (2 * tau),
        "the competition term sum_{i != j} (a^i.b^j)^2 is missing":
            lambda a, b, s, tau: _parts(a, b, s)[0].pow(2).sum() / (2 * tau),
        "the cooperation term sum_i (s_i - a^i.b^i)^2 is missing":
            lambda a, b, s, tau: _parts(a, b, s)[1].pow(2).sum() / (2 * tau),
        "the prefactor is 1/(2 tau); this dropped the tau":
            lambda a, b, s, tau: (_parts(a, b, s)[0].pow(2).sum() + _parts(a, b, s)[1].pow(2).sum()) / 2,
        "the prefactor is 1/(2 tau), not 1/tau (the 1/2 makes -dF/db^i equal Eq. (7) exactly)":
            lambda a, b, s, tau: (_parts(a, b, s)[0].pow(2).sum() + _parts(a, b, s)[1].pow(2).sum()) / tau,
        "the terms are squared (F is a sum of squares, so it is never negative)":
            lambda a, b, s, tau: (_parts(a, b, s)[0].sum() + _parts(a, b, s)[1].sum()) / (2 * tau),
    },
    forbidden=(_saxe.mode_energy,),
    hints=[
        "Look for a scalar F whose negative gradient with respect to b^i is the right-hand side of Eq. (7). Try the "
        "squared-error energy written in mode coordinates, ||S - W2bar W1bar||_F^2, and split it into entries.",
        "Entry (i, j) of S - W2bar W1bar is s_i - a^i.b^i on the diagonal and -(a^j.b^i) off it. Differentiate "
        "1/2 (s_i - a^i.b^i)^2 with respect to b^i and compare with the first term of Eq. (7).",
        "All overlaps at once: C = b @ a.T has C[i, j] = b^i . a^j; keep the diagonal for one sum and zero it "
        "(C - torch.diag(torch.diagonal(C))) for the other. Mind the prefactor in front of both sums.",
    ],
    derivation="""
        F = ||S - W2bar W1bar||_F^2 / (2 tau). Splitting diagonal and off-diagonal entries,
        F = 1/(2tau) sum_i (s_i - a^i.b^i)^2 + 1/(2tau) sum_{i != j} (a^i.b^j)^2.
        -dF/db^i = (1/tau)[(s_i - a^i.b^i) a^i - sum_{j != i} (a^j.b^i) a^j]: Eq. (7); likewise -dF/da^i is Eq. (6).
        The first sum (cooperation) makes each mode's overlap reach s_i; the second (competition) makes the
        overlaps of different modes vanish, so modes use orthogonal hidden directions.
    """,
    answer_marks=("(own.pow(2).sum() + cross.pow(2).sum()) / (2 * tau)",
                  r"\frac{1}{2\tau}\sum_{i\ne j}(a^i\cdot b^j)^2"),
))


# ---------------------------------------------------------------------------------------------------- 2.4


@_checked_reference(a="real", b="real", s="real", tau="positive")
def jacobian_ab_reference(a, b, s, tau):
    """Jacobian of (9)-(10) at (a, b): rows (a-dot, b-dot), columns (d/da, d/db)."""
    off = s - 2 * a * b
    return torch.tensor([[-b * b, off], [off, -a * a]], dtype=F64) / tau


_POINTS = [  # (a, b, s, tau): ordinary points first (a != b), the origin, points of the hyperbola ab = s
    (1.2, -0.4, 0.5, 0.8),
    (0.3, 1.7, 1.0, 1.5),
    (0.0, 0.0, 1.0, 2.0),
    (2.0, 0.5, 1.0, 0.5),
    (-0.5, -4.0, 2.0, 0.5),
    (0.3, 3.0, 0.9, 1.3),  # ab = s only up to rounding: 0.3 * 3.0 != 0.9 in floating point
    (0.0, 1.0, 1.0, 1.7),
    (1.5, 0.0, 0.8, 3.0),
]


def _cases_2_4():
    for a, b, s, tau in _POINTS:
        yield {"a": a, "b": b, "s": s, "tau": tau}


def _autograd_jacobian(case):
    s, tau = case["s"], case["tau"]

    def vector_field(x):
        r = s - x[0] * x[1]
        return torch.stack([r * x[1], r * x[0]]) / tau

    return torch.autograd.functional.jacobian(vector_field, torch.tensor([case["a"], case["b"]], dtype=F64))


def _jac(a, b, s, tau, d11=None, off=None, d22=None, dtype=F64):
    d11 = -b * b if d11 is None else d11
    d22 = -a * a if d22 is None else d22
    off = s - 2 * a * b if off is None else off
    return torch.tensor([[d11, off], [off, d22]], dtype=dtype) / tau


register(Exercise(
    id="2.4",
    title="Jacobian of the decoupled system (9)-(10) (derivation)",
    reference=jacobian_ab_reference,
    cases=_cases_2_4,
    args=("a", "b", "s", "tau"),
    expected=_autograd_jacobian,
    name="Jacobian",
    mistakes={
        "product rule: d/db of (s - ab) b is s - 2ab, not s - ab":
            lambda a, b, s, tau: _jac(a, b, s, tau, off=s - a * b),
        "the diagonal entries are -b^2 and -a^2 (negative)":
            lambda a, b, s, tau: _jac(a, b, s, tau, d11=b * b, d22=a * a),
        "the diagonal is (-b^2, -a^2) in that order: d(a-dot)/da = -b^2":
            lambda a, b, s, tau: _jac(a, b, s, tau, d11=-a * a, d22=-b * b),
        "the 1/tau is missing": lambda a, b, s, tau: _jac(a, b, s, tau) * tau,
        "the off-diagonal entries are s - 2ab (this dropped s)":
            lambda a, b, s, tau: _jac(a, b, s, tau, off=-2 * a * b),
        "the off-diagonal sign: d/db [(s - ab) b] = s - 2ab, not 2ab - s":
            lambda a, b, s, tau: _jac(a, b, s, tau, off=2 * a * b - s),
    },
    forbidden=(_saxe.ab_jacobian,),
    hints=[
        "J = [[d(a-dot)/da, d(a-dot)/db], [d(b-dot)/da, d(b-dot)/db]] with tau a-dot = (s - ab) b and "
        "tau b-dot = (s - ab) a. Differentiate each component with the product rule.",
        "Return a 2 x 2 float64 tensor: torch.tensor([[..., ...], [..., ...]], dtype=torch.float64); without the "
        "dtype, torch.tensor of Python floats is float32.",
    ],
    answer_marks=("off = s - 2 * a * b", r"\begin{pmatrix} -b^2 & s - 2ab \\ s - 2ab & -a^2\end{pmatrix}"),
))


# ---------------------------------------------------------------------------------------------------- 2.5

# The student names the type in words; these are the words understood, and the type each stands for.
KIND_WORDS = {
    "saddle": ("saddle", "saddle point"),
    "line of minima": ("line of minima", "non-isolated minimum", "nonisolated minimum", "non-isolated minima",
                       "line of fixed points", "line of stable fixed points", "degenerate minimum",
                       "line attractor", "manifold of minima", "continuum of minima"),
    "not a fixed point": ("not a fixed point", "not fixed", "no fixed point", "regular point", "ordinary point",
                          "none"),
    "stable node": ("stable node", "node", "sink", "minimum", "isolated minimum", "stable", "attractor",
                    "stable fixed point"),
    "unstable node": ("unstable node", "source", "repeller", "maximum", "unstable"),
    "centre": ("centre", "center"),
    "spiral": ("spiral", "focus", "stable spiral", "unstable spiral", "stable focus", "unstable focus"),
}
_WORD_TO_KIND = {w: k for k, ws in KIND_WORDS.items() for w in ws}


def _normalize_classification(got):
    """(eigenvalues, kind in the student's words) -> (eigenvalues, canonical kind), or a message."""
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return got, None  # the type check reports the structure
    eig, kind = got
    if not isinstance(kind, str):
        return got, f"kind should be a str naming the type, got a {type(kind).__name__}"
    key = " ".join(kind.lower().replace("-", " - ").replace("_", " ").split()).replace(" - ", "-")
    key = key.removesuffix(".").removeprefix("a ").removeprefix("an ")
    if key not in _WORD_TO_KIND:
        return got, (f"kind {kind!r} is not a type name I know; use the usual words of linear stability (saddle, "
                     "stable or unstable node, centre, spiral, ...) or 'not a fixed point'")
    return (eig, _WORD_TO_KIND[key]), None


@_checked_reference(a="real", b="real", s="real", tau="positive")
def classify_reference(a, b, s, tau):
    """(eigenvalues ascending, kind) at (a, b); kind: "saddle", "line of minima" or "not a fixed point"."""
    r = s - a * b
    off = s - 2 * a * b
    J = torch.tensor([[-b * b, off], [off, -a * a]], dtype=F64) / tau
    eigenvalues = torch.linalg.eigvalsh(J)  # J is symmetric: real eigenvalues, ascending
    if max(abs(r * b), abs(r * a)) / tau > 1e-9:  # the field (9)-(10) does not vanish
        return eigenvalues, "not a fixed point"
    if abs(r) <= 1e-9:  # on the hyperbola ab = s: eigenvalues -(a^2 + b^2)/tau and 0
        return eigenvalues, "line of minima"
    return eigenvalues, "saddle"  # the origin: eigenvalues -s/tau and +s/tau


def _expected_classification(case):
    a, b, s, tau = case["a"], case["b"], case["s"], case["tau"]
    eig = torch.sort(torch.linalg.eigvals(_autograd_jacobian(case)).real).values
    fixed = abs((s - a * b) * b) / tau <= 1e-9 and abs((s - a * b) * a) / tau <= 1e-9
    if not fixed:
        return eig, "not a fixed point"
    return eig, ("line of minima" if abs(s - a * b) <= 1e-9 else "saddle")


def _kind(a, b, s, tau, *, exact=False, origin_fixed=True, axes_fixed=False, minimum="line of minima"):
    """The classification with one of the typical slips switched on (for the mistake table)."""
    on_curve = (a * b == s) if exact else abs(s - a * b) <= 1e-9
    if on_curve:
        return minimum
    if a == 0 and b == 0:
        return "saddle" if origin_fixed else "not a fixed point"
    if axes_fixed and (a == 0 or b == 0):
        return "saddle"
    return "not a fixed point"


def _eig(a, b, s, tau):
    return torch.linalg.eigvalsh(_jac(a, b, s, tau))


register(Exercise(
    id="2.5",
    title="Fixed points of (9)-(10): eigenvalues and type, in your words (derivation)",
    reference=classify_reference,
    cases=_cases_2_4,
    args=("a", "b", "s", "tau"),
    expected=_expected_classification,
    normalize=_normalize_classification,
    name="(eigenvalues, kind)",
    mistakes={
        "a point of the hyperbola must be recognised with a tolerance (abs(s - a*b) <= 1e-9), not with ==: "
        "0.3 * 3.0 != 0.9 in floating point":
            lambda a, b, s, tau: (_eig(a, b, s, tau), _kind(a, b, s, tau, exact=True)),
        "on the hyperbola one eigenvalue is 0, so the minima are not isolated nodes: they form a line":
            lambda a, b, s, tau: (_eig(a, b, s, tau), _kind(a, b, s, tau, minimum="stable node")),
        "the origin is a fixed point too (both components of the field vanish at a = b = 0)":
            lambda a, b, s, tau: (_eig(a, b, s, tau), _kind(a, b, s, tau, origin_fixed=False)),
        "a = 0 alone (or b = 0 alone) is not a fixed point: the other component (s - ab) b or (s - ab) a "
        "still moves": lambda a, b, s, tau: (_eig(a, b, s, tau), _kind(a, b, s, tau, axes_fixed=True)),
        "the eigenvalues must be in ascending order":
            lambda a, b, s, tau: (_eig(a, b, s, tau).flip(0), _kind(a, b, s, tau)),
        "the eigenvalues carry the 1/tau of the Jacobian":
            lambda a, b, s, tau: (_eig(a, b, s, tau) * tau, _kind(a, b, s, tau)),
    },
    forbidden=(_saxe.ab_fixed_point_type,),
    hints=[
        "A fixed point needs BOTH components to vanish: (s - ab) b = 0 and (s - ab) a = 0. Find every solution; "
        "then test with a small tolerance rather than ==.",
        "Evaluate your Jacobian (exercise 2.4) at each kind of fixed point and compute its trace and determinant. "
        "It is symmetric, so torch.linalg.eigvalsh gives real eigenvalues in ascending order.",
        "Signs of the two eigenvalues: one positive and one negative; or one negative and one exactly 0. What does "
        "a zero eigenvalue mean for a set of fixed points that is a curve?",
    ],
    derivation="""
        Fixed points: (s - ab) b = 0 and (s - ab) a = 0, so either ab = s (the whole hyperbola) or a = b = 0.
        At the origin J = (1/tau)[[0, s], [s, 0]], eigenvalues -s/tau < 0 < s/tau: a saddle (unstable along a = b,
        stable along a = -b). On ab = s, det J = (a^2 b^2 - s^2)/tau^2 = 0 and tr J = -(a^2 + b^2)/tau: the
        eigenvalues are 0 (along the hyperbola) and -(a^2 + b^2)/tau: a line of (non-isolated) minima.
        Elsewhere the field does not vanish: not a fixed point.
    """,
    answer_marks=('return eigenvalues, "line of minima"', r"\det J = (a^2b^2 - s^2)/\tau^2 = 0",
                  "eigenvalues $\\pm s/\\tau$"),
))


# ---------------------------------------------------------------------------------------------------- 2.6


@_checked_reference(a0="real", b0="real", s="positive")
def end_point_reference(a0, b0, s):
    """Where gradient flow of (9)-(10) from (a0, b0) ends, as a (2,) tensor.

    a^2 - b^2 is conserved and a + b keeps its sign; a start with a0 + b0 = 0 stays on a = -b and ends at
    the origin; every other start ends on the branch of ab = s with the sign of a0 + b0.
    """
    if a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    c = a0 * a0 - b0 * b0
    a = math.copysign(math.sqrt((c + math.sqrt(c * c + 4 * s * s)) / 2), a0 + b0)
    return torch.tensor([a, s / a], dtype=F64)


_STARTS = [  # (a0, b0, s): away from a = b first, one start on the stable line a = -b, both branches
    (2.0, 0.1, 1.0),
    (-0.3, -1.0, 1.0),
    (0.8, -0.8, 1.0),
    (0.1, 2.5, 2.0),
    (-1.5, 0.4, 0.5),
    (0.5, 0.5, 1.0),
    (0.05, -0.02, 3.0),
]


def _cases_2_6():
    for a0, b0, s in _STARTS:
        yield {"a0": a0, "b0": b0, "s": s}


def _flow_end_point(case):
    # closed form, cross-checked against the ODE solver in the tests
    return end_point_reference(case["a0"], case["b0"], case["s"])


def _end(a0, b0, s, *, conserved=None, branch=True, manifold=True, root=True, target=None):
    """The predicted end point with one of the typical slips switched on (for the mistake table)."""
    s_t = s if target is None else target
    if manifold and a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    c = a0 * a0 - b0 * b0 if conserved is None else conserved
    sq = (c + math.sqrt(c * c + 4 * s_t * s_t)) / 2
    a = math.sqrt(sq) if root else sq
    if branch:
        a = math.copysign(a, a0 + b0) if a0 + b0 != 0 else a
    return torch.tensor([a, s_t / a], dtype=F64)


def _end_linear(a0, b0, s):
    # the end point if a - b were the conserved quantity: a^2 - d a - s = 0 on the branch of a0 + b0
    if a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    d = a0 - b0
    a = (d + math.copysign(math.sqrt(d * d + 4 * s), a0 + b0)) / 2
    return torch.tensor([a, a - d], dtype=F64)


register(Exercise(
    id="2.6",
    title="Predict the end point of gradient flow in the (a, b) plane (derivation)",
    reference=end_point_reference,
    cases=_cases_2_6,
    args=("a0", "b0", "s"),
    expected=_flow_end_point,
    name="end point (a, b)",
    rtol=1e-7,
    atol=1e-9,
    mistakes={
        "the sign of a + b never changes (d(a+b)/dt = (s - ab)(a + b)/tau), so a start with a + b < 0 ends on "
        "the branch a, b < 0": lambda a0, b0, s: _end(a0, b0, s, branch=False),
        "a start with a0 = -b0 stays on the line a = -b (the saddle's stable direction) and ends at the origin":
            lambda a0, b0, s: _end(a0, b0, s, manifold=False),
        "the end point depends on the start: a^2 - b^2 is conserved, so it is not always (sqrt s, sqrt s)":
            lambda a0, b0, s: _end(a0, b0, s, conserved=0.0),
        "a - b is not conserved (d/dt (a - b) = -(s - ab)(a - b)/tau); a^2 - b^2 is":
            lambda a0, b0, s: _end_linear(a0, b0, s),
        "that is a^2 at the end point; take the square root for a":
            lambda a0, b0, s: _end(a0, b0, s, root=False),
        "the end points lie on ab = s (this put them on ab = 1)": lambda a0, b0, s: _end(a0, b0, s, target=1.0),
        "gradient flow moves: the start itself is not the end point (unless it is already fixed)":
            lambda a0, b0, s: torch.tensor([a0, b0], dtype=F64),
    },
    forbidden=(_saxe.ab_trajectory, _saxe.ab_gradient_descent),
    hints=[
        "Find a quantity that the flow (9)-(10) conserves: compute d/dt of a^2, of b^2, and combine them.",
        "a^2 - b^2 is conserved and the flow ends at a fixed point, so solve ab = s together with a^2 - b^2 = "
        "a0^2 - b0^2. Which of the two branches? Look at d/dt (a + b). And which starts never reach the hyperbola?",
        "With c = a0^2 - b0^2: a^2 = (c + sqrt(c^2 + 4 s^2)) / 2, b = s / a, the sign of a that of a0 + b0; "
        "a0 + b0 = 0 ends at the origin. Return torch.tensor([a, b], dtype=torch.float64).",
    ],
    derivation="""
        d/dt (a^2 - b^2) = 2a(s - ab)b/tau - 2b(s - ab)a/tau = 0, so a^2 - b^2 = c := a0^2 - b0^2 along the flow.
        d/dt (a + b) = (s - ab)(a + b)/tau, so a + b keeps its sign, and a0 + b0 = 0 stays on a = -b, where
        s - ab = s + a^2 > 0 and a - b decays: those starts end at the origin (the saddle's stable line).
        The others end on ab = s: a^2 - s^2/a^2 = c gives a^2 = (c + sqrt(c^2 + 4s^2))/2, b = s/a, sign(a) =
        sign(a0 + b0).
    """,
    answer_marks=("c * c + 4 * s * s", "(c + sqrt(c^2 + 4s^2))/2"),
))
