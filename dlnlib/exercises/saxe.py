"""Exercises of notebook 02 (Saxe et al.'s mode decomposition; seed 002, exercises 2-6).

2.1  tau dW2bar/dt in mode coordinates, checked against the rotated autograd gradient of E;
2.2  Eq. (7) for one mode vector b^i, checked against the full matrix dynamics;
2.3  the energy F of Eq. (8);
2.4  the Jacobian of the decoupled system (9)-(10), checked against autograd;
2.5  eigenvalues and type of a point of the (a, b) plane (saddle, line of minima, not a fixed point).
"""

from __future__ import annotations

import torch

from . import Exercise, call_student, compare, register

__all__ = [
    "w2bar_dot_reference",
    "b_dot_reference",
    "energy_reference",
    "jacobian_ab_reference",
    "classify_reference",
]


def _orthogonal(n, gen):
    q, r = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _rect_diag(s, rows, cols):
    out = torch.zeros(rows, cols, dtype=torch.float64)
    k = s.shape[-1]
    out[range(k), range(k)] = s
    return out


# ---------------------------------------------------------------------------------------------------- 2.1


def w2bar_dot_reference(W1bar, W2bar, S, tau):
    """dW2bar/dt = (S - W2bar W1bar) W1bar^T / tau   (whitened inputs, mode coordinates)."""
    return (S - W2bar @ W1bar) @ W1bar.transpose(-1, -2) / tau


def _cases_2_1():
    specs = [  # (d_in, d_h, d_out, batch, tau): square first, so layout mistakes get a specific message
        (3, 3, 3, (), 1.0),
        (3, 3, 3, (), 0.7),
        (4, 2, 5, (), 2.5),
        (5, 6, 3, (), 1.3),
        (2, 4, 3, (3,), 0.4),
    ]
    for seed, (d_in, d_h, d_out, batch, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(300 + seed)
        s = torch.sort(torch.rand(min(d_in, d_out), generator=gen, dtype=torch.float64) * 3, descending=True).values
        yield {
            "W1bar": torch.randn(*batch, d_h, d_in, generator=gen, dtype=torch.float64),
            "W2bar": torch.randn(*batch, d_out, d_h, generator=gen, dtype=torch.float64),
            "S": _rect_diag(s, d_out, d_in),
            "tau": tau,
            "_U": _orthogonal(d_out, gen),
            "_V": _orthogonal(d_in, gen),
        }


def _rotated_autograd_w2bar_dot(W1bar, W2bar, S, tau, U, V):
    # Back to the original weights, differentiate E = 1/2 ||Sigma_yx - W2 W1||^2 (Sigma_xx = I), rotate back.
    W1 = W1bar @ V.T
    W2 = (U @ W2bar).clone().requires_grad_(True)
    sigma_yx = U @ S @ V.T
    energy = 0.5 * ((sigma_yx - W2 @ W1) ** 2).sum()
    (g,) = torch.autograd.grad(energy, W2)
    return -(U.T @ g) / tau


def _judge_2_1(student, reference, case):
    W1bar, W2bar, S, tau = case["W1bar"], case["W2bar"], case["S"], case["tau"]
    got = call_student(student, W1bar.clone(), W2bar.clone(), S.clone(), tau)
    expected = _rotated_autograd_w2bar_dot(W1bar, W2bar, S, tau, case["_U"], case["_V"])
    alternatives = {}
    if tau != 1.0:
        alternatives["forgot to divide by tau"] = expected * tau
        alternatives["multiplied by tau instead of dividing by it"] = expected * tau**2
    if W1bar.shape[-1] == W1bar.shape[-2] == W2bar.shape[-2]:
        resid = S - W2bar @ W1bar
        alternatives["this is the shape of Eq. (5) for W1bar; for W2bar the factor W1bar^T goes on the right"] = (
            W2bar.transpose(-1, -2) @ resid / tau
        )
        alternatives["W1bar must be transposed: (S - W2bar W1bar) W1bar^T"] = resid @ W1bar / tau
    return compare(got, expected, name="dW2bar/dt", alternatives=alternatives)


register(Exercise(
    id="2.1",
    title="tau dW2bar/dt in mode coordinates",
    reference=w2bar_dot_reference,
    cases=_cases_2_1,
    judge=_judge_2_1,
    hints=[
        "Start from tau dW2/dt = (Sigma_yx - W2 W1 Sigma_xx) W1^T with Sigma_xx = I, multiply on the left by U^T, "
        "and replace W2 = U W2bar, W1 = W1bar V^T, Sigma_yx = U S V^T.",
        "U^T U = I and V^T V = I, so U^T (U S V^T - U W2bar W1bar V^T) V W1bar^T = (S - W2bar W1bar) W1bar^T. "
        "Divide by tau; use .transpose(-1, -2) rather than .T so leading batch dimensions work.",
    ],
))


# ---------------------------------------------------------------------------------------------------- 2.2


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
    specs = [(3, 3, 0, 1.0), (3, 3, 2, 0.7), (4, 2, 1, 2.5), (5, 6, 4, 1.3), (2, 4, 1, 0.4)]  # (m, d_h, i, tau)
    for seed, (m, d_h, i, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(400 + seed)
        yield {
            "i": i,
            "a": torch.randn(m, d_h, generator=gen, dtype=torch.float64),
            "b": torch.randn(m, d_h, generator=gen, dtype=torch.float64),
            "s": torch.sort(torch.rand(m, generator=gen, dtype=torch.float64) * 3, descending=True).values,
            "tau": tau,
        }


def _judge_2_2(student, reference, case):
    i, a, b, s, tau = case["i"], case["a"], case["b"], case["s"], case["tau"]
    got = call_student(student, i, a.clone(), b.clone(), s.clone(), tau)
    # The full matrix dynamics tau dW2bar/dt = (S - W2bar W1bar) W1bar^T with W1bar = a^T, W2bar = b; row i.
    expected = ((torch.diag(s) - b @ a.T) @ a / tau)[i]
    overlaps = a @ b[i]
    swapped = b @ a[i]  # a^i . b^j instead of a^j . b^i
    cross_swapped = swapped.clone()
    cross_swapped[i] = 0.0
    alternatives = {
        "the sum must skip j = i (that term is already in the first bracket)":
            ((s[i] - overlaps[i]) * a[i] - overlaps @ a) / tau,
        "the overlaps in the sum are a^j . b^i (this used a^i . b^j, the pattern of Eq. (6))":
            ((s[i] - overlaps[i]) * a[i] - cross_swapped @ a) / tau,
    }
    if tau != 1.0:
        alternatives["forgot to divide by tau"] = expected * tau
    return compare(got, expected, name=f"db^{i}/dt", alternatives=alternatives)


register(Exercise(
    id="2.2",
    title="Eq. (7): the dynamics of one output mode vector b^i",
    reference=b_dot_reference,
    cases=_cases_2_2,
    judge=_judge_2_2,
    hints=[
        "Row i of tau dW2bar/dt = (S - W2bar W1bar) W1bar^T. Row i of W2bar W1bar has entries b^i . a^j, and "
        "multiplying a row vector by W1bar^T (whose rows are the a^j) sums those entries times a^j.",
        "Compute all overlaps at once: overlaps = a @ b[i] (entry j is a^j . b^i). The term j = i pairs with "
        "s_i; the others enter with a minus sign: (s_i - overlaps[i]) a^i - sum_{j != i} overlaps[j] a^j.",
        "Zero out overlaps[i] on a copy before the sum (cross @ a), and divide the whole thing by tau.",
    ],
))


# ---------------------------------------------------------------------------------------------------- 2.3


def energy_reference(a, b, s, tau):
    """F of Eq. (8): (1/2tau) sum_i (s_i - a^i.b^i)^2 + (1/2tau) sum_{i != j} (a^i.b^j)^2."""
    C = b @ a.T  # C[i, j] = b^i . a^j
    own = s - torch.diagonal(C)
    cross = C - torch.diag(torch.diagonal(C))
    return (own.pow(2).sum() + cross.pow(2).sum()) / (2 * tau)


def _cases_2_3():
    specs = [(3, 3, 1.0), (3, 3, 0.7), (4, 2, 2.5), (5, 6, 1.3), (2, 4, 0.4)]  # (m, d_h, tau)
    for seed, (m, d_h, tau) in enumerate(specs):
        gen = torch.Generator().manual_seed(500 + seed)
        yield {
            "a": torch.randn(m, d_h, generator=gen, dtype=torch.float64),
            "b": torch.randn(m, d_h, generator=gen, dtype=torch.float64),
            "s": torch.sort(torch.rand(m, generator=gen, dtype=torch.float64) * 3, descending=True).values,
            "tau": tau,
        }


def _judge_2_3(student, reference, case):
    a, b, s, tau = case["a"], case["b"], case["s"], case["tau"]
    got = call_student(student, a.clone(), b.clone(), s.clone(), tau)
    expected = energy_reference(a, b, s, tau)
    C = b @ a.T
    own = (s - torch.diagonal(C)).pow(2).sum() / (2 * tau)
    cross = expected - own
    alternatives = {
        "the second sum runs over pairs i != j only (it also counted i = j)":
            expected + torch.diagonal(C).pow(2).sum() / (2 * tau),
        "the competition term sum_{i != j} (a^i.b^j)^2 is missing": own,
        "the cooperation term sum_i (s_i - a^i.b^i)^2 is missing": cross,
    }
    if tau != 1.0:
        alternatives["the prefactor is 1/(2 tau); this dropped the tau"] = expected * tau
    return compare(got, expected, name="F", alternatives=alternatives)


register(Exercise(
    id="2.3",
    title="The energy F of Eq. (8)",
    reference=energy_reference,
    cases=_cases_2_3,
    judge=_judge_2_3,
    hints=[
        "All overlaps at once: C = b @ a.T has C[i, j] = b^i . a^j. The diagonal holds a^i . b^i, the "
        "off-diagonal entries the cross terms.",
        "F = ( sum_i (s_i - C_ii)^2 + sum_{i != j} C_ij^2 ) / (2 tau); subtract torch.diag(torch.diagonal(C)) "
        "to keep only the off-diagonal part.",
    ],
))


# ---------------------------------------------------------------------------------------------------- 2.4


def jacobian_ab_reference(a, b, s, tau):
    """Jacobian of (9)-(10) at (a, b): rows (a-dot, b-dot), columns (d/da, d/db)."""
    off = s - 2 * a * b
    return torch.tensor([[-b * b, off], [off, -a * a]], dtype=torch.float64) / tau


_POINTS = [  # (a, b, s, tau): the origin, points of the hyperbola ab = s, ordinary points
    (0.0, 0.0, 1.0, 1.0),
    (2.0, 0.5, 1.0, 1.0),
    (-0.5, -4.0, 2.0, 0.5),
    (1.0, 1.0, 1.0, 2.0),
    (0.3, 1.7, 1.0, 1.0),
    (0.0, 1.0, 1.0, 1.0),
    (1.5, 0.0, 0.8, 3.0),
    (1.2, -0.4, 0.5, 0.8),
]


def _cases_2_4():
    for a, b, s, tau in _POINTS:
        yield {"a": a, "b": b, "s": s, "tau": tau}


def _autograd_jacobian(a, b, s, tau):
    def field(x):
        r = s - x[0] * x[1]
        return torch.stack([r * x[1], r * x[0]]) / tau

    return torch.autograd.functional.jacobian(field, torch.tensor([a, b], dtype=torch.float64))


def _judge_2_4(student, reference, case):
    a, b, s, tau = case["a"], case["b"], case["s"], case["tau"]
    got = call_student(student, a, b, s, tau)
    expected = _autograd_jacobian(a, b, s, tau)
    alternatives = {
        "product rule: d/db of (s - ab) b is s - 2ab, not s - ab":
            torch.tensor([[-b * b, s - a * b], [s - a * b, -a * a]], dtype=torch.float64) / tau,
        "the diagonal entries are -b^2 and -a^2 (negative)":
            torch.tensor([[b * b, s - 2 * a * b], [s - 2 * a * b, a * a]], dtype=torch.float64) / tau,
        "the diagonal is (-b^2, -a^2) in that order: d(a-dot)/da = -b^2":
            torch.tensor([[-a * a, s - 2 * a * b], [s - 2 * a * b, -b * b]], dtype=torch.float64) / tau,
    }
    if tau != 1.0:
        alternatives["forgot to divide by tau"] = expected * tau
    return compare(got, expected, name="Jacobian", alternatives=alternatives)


register(Exercise(
    id="2.4",
    title="Jacobian of the decoupled system (9)-(10)",
    reference=jacobian_ab_reference,
    cases=_cases_2_4,
    judge=_judge_2_4,
    hints=[
        "J = [[d(a-dot)/da, d(a-dot)/db], [d(b-dot)/da, d(b-dot)/db]] with tau a-dot = (s - ab) b and "
        "tau b-dot = (s - ab) a. Return a 2 x 2 torch tensor (torch.tensor([[...], [...]])).",
        "d/da [(s - ab) b] = -b^2 and d/db [(s - ab) b] = (s - ab) - ab = s - 2ab; the b-dot row mirrors it. "
        "Do not forget the 1/tau.",
    ],
))


# ---------------------------------------------------------------------------------------------------- 2.5


def classify_reference(a, b, s, tau):
    """(eigenvalues ascending, kind) at (a, b); kind: "saddle", "line of minima" or "not a fixed point"."""
    r = s - a * b
    off = s - 2 * a * b
    J = torch.tensor([[-b * b, off], [off, -a * a]], dtype=torch.float64) / tau
    eigenvalues = torch.linalg.eigvalsh(J)  # J is symmetric: real eigenvalues, ascending
    if max(abs(r * b), abs(r * a)) / tau > 1e-9:  # the field (9)-(10) does not vanish
        return eigenvalues, "not a fixed point"
    if abs(r) <= 1e-9:  # on the hyperbola ab = s: eigenvalues -(a^2 + b^2)/tau and 0
        return eigenvalues, "line of minima"
    return eigenvalues, "saddle"  # the origin: eigenvalues -s/tau and +s/tau


def _cases_2_5():
    yield from _cases_2_4()


_KIND_REASON = {
    "saddle": "the origin is a fixed point whose Jacobian has one positive and one negative eigenvalue",
    "line of minima": "this point lies on the hyperbola ab = s, where the field vanishes; one eigenvalue is 0 "
                      "(along the hyperbola) and the other negative",
    "not a fixed point": "the field (9)-(10) does not vanish here (check both components)",
}


def _judge_2_5(student, reference, case):
    a, b, s, tau = case["a"], case["b"], case["s"], case["tau"]
    got = call_student(student, a, b, s, tau)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return f"expected a pair (eigenvalues, kind), got {type(got).__name__}"
    eig, kind = got
    exp_eig, exp_kind = reference(a, b, s, tau)
    msg = compare(eig, exp_eig, name="eigenvalues")
    if msg is not None:
        as_t = torch.as_tensor(eig, dtype=torch.float64) if not isinstance(eig, torch.Tensor) else eig.detach()
        if as_t.shape == exp_eig.shape and compare(torch.sort(as_t.to(torch.float64)).values, exp_eig) is None:
            return "eigenvalues are right but not in ascending order"
        return msg
    if kind != exp_kind:
        return f"kind is {kind!r}, expected {exp_kind!r}: {_KIND_REASON[exp_kind]}"
    return None


register(Exercise(
    id="2.5",
    title="Fixed points of (9)-(10): eigenvalues and type",
    reference=classify_reference,
    cases=_cases_2_5,
    judge=_judge_2_5,
    hints=[
        "A fixed point needs both (s - ab) b = 0 and (s - ab) a = 0: either ab = s, or a = b = 0. Test the field "
        "with a small tolerance (1e-9) rather than ==.",
        "Build the Jacobian of exercise 2.4; it is symmetric, so torch.linalg.eigvalsh gives real eigenvalues in "
        "ascending order. At the origin they are -s/tau and +s/tau (a saddle); on ab = s they are "
        "-(a^2 + b^2)/tau and 0: a line of minima, not an isolated minimum.",
        "Return (eigenvalues, kind) with kind exactly one of 'saddle', 'line of minima', 'not a fixed point'.",
    ],
))
