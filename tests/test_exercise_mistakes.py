"""Every exercise: a correct answer (written as a student would) is accepted, and a table of typical mistakes,
each written as a student would write it, is rejected with a message that names the mistake.

MISTAKES rows: (exercise id, what the student did, the student's function, a fragment the message must contain).
The fragments are the checker's words for that mistake; a row with fragment None only asserts rejection.
"""

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from dlnlib.exercises import all_exercises, check

F64 = torch.float64


def T(x):
    return x.transpose(-1, -2)


# ---------------------------------------------------------------------------------------------- correct answers

def a11(W1, W2, Sxx, Syx, eta):
    return eta * (Syx - W2 @ W1 @ Sxx) @ W1.T


def a12(chain, G, j):
    A = None
    for W in chain[j:]:
        A = W if A is None else W @ A
    B = None
    for W in chain[: j - 1]:
        B = W if B is None else W @ B
    out = G if A is None else T(A) @ G
    return out if B is None else out @ T(B)


def a21(A, B, S, tau):
    return (S - B @ A) @ T(A) / tau


def a22(i, a, b, s, tau):
    out = (s[i] - a[i] @ b[i]) * a[i]
    for j in range(len(s)):
        if j != i:
            out = out - (a[j] @ b[i]) * a[j]
    return out / tau


def a23(a, b, s, tau):
    C = b @ a.T
    d = torch.diagonal(C)
    return (((s - d) ** 2).sum() + (C**2).sum() - (d**2).sum()) / (2 * tau)


def a24(a, b, s, tau):
    return torch.tensor([[-b * b, s - 2 * a * b], [s - 2 * a * b, -a * a]], dtype=F64) / tau


def a25(a, b, s, tau, *, words=("saddle point", "line of minima", "not a fixed point")):
    eig = torch.linalg.eigvalsh(a24(a, b, s, tau))
    r = s - a * b
    if abs(r * a) > 1e-9 or abs(r * b) > 1e-9:
        return eig, words[2]
    return eig, words[1] if abs(r) < 1e-9 else words[0]


def a26(a0, b0, s):
    if a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    c = a0**2 - b0**2
    a = math.sqrt((c + math.sqrt(c * c + 4 * s * s)) / 2) * (1 if a0 + b0 > 0 else -1)
    return torch.tensor([a, s / a], dtype=F64)


def _G(W1, W2, X, Y):
    return (W2 @ W1 @ X.T - Y.T) @ X / X.shape[0]


def a31(W1, W2, X, Y):
    G = _G(W1, W2, X, Y)
    r = -W2.T @ G @ W1.T
    return r + r.T, r + r.T


def a32(W1, W2, X, Y, lr):
    G = _G(W1, W2, X, Y)
    G1, G2 = W2.T @ G, G @ W1.T
    return lr * lr * (G2.T @ G2 - G1 @ G1.T)


def a41(S, alpha):
    lam, Q = torch.linalg.eigh(S)
    lam = torch.where(lam > 1e-12 * lam.abs().amax(-1, keepdim=True), lam, 0.0)
    return Q @ torch.diag_embed(lam**alpha) @ T(Q)


def a42(W, G, N):
    return sum(a41(W @ T(W), (j - 1) / N) @ G @ a41(T(W) @ W, (N - j) / N) for j in range(1, N + 1))


def a43(w, g, N):
    sq = (w * w).sum((-2, -1), keepdim=True)
    proj = torch.where(sq > 0, (w * g).sum((-2, -1), keepdim=True) / sq.clamp(min=1e-300), 0.0) * w
    return sq ** (1 - 1 / N) * (g + (N - 1) * proj)


def a44(W):
    U, S, Vh = torch.linalg.svd(W, full_matrices=False)
    return U @ Vh, T(Vh) @ torch.diag_embed(S) @ Vh


def a45(chain, G):
    total = torch.zeros_like(G)
    for j in range(len(chain)):
        left = torch.eye(G.shape[-2], dtype=G.dtype)  # W_N ... W_{j+1}
        for W in reversed(chain[j + 1:]):
            left = left @ W
        right = torch.eye(G.shape[-1], dtype=G.dtype)  # W_{j-1} ... W_1
        for W in chain[:j]:
            right = W @ right
        total = total + left @ T(left) @ G @ T(right) @ right
    return total


def a51(X):
    lam = torch.linalg.eigvalsh(X.T @ X / X.shape[0])
    lam = lam[lam > 1e-9 * lam.max()]
    return 2 / (lam.max() + lam.min())


def a52(sc, h, y, *, factor=0.5, power=2, order=None, sim=False, norm=True, others=True):
    sc = sc.clone()
    old = sc.clone()
    n = y.shape[0]
    for k in (order if order is not None else range(sc.shape[-1])):
        cur = old if sim else sc
        yhat = cur.prod(-1, keepdim=True) * h
        rest = torch.cat([cur[..., :k], cur[..., k + 1:]], -1).prod(-1) if others else 1.0
        g = ((yhat - y) * h).sum(-1) * rest / (n if norm else 1)
        sc[..., k] -= factor * cur[..., k] ** power * g
    return sc


def a53(E, yh):
    return E - yh * (yh * E).sum(-1, keepdim=True) / (2 * E.shape[-1])


CORRECT = {"1.1": a11, "1.2": a12, "2.1": a21, "2.2": a22, "2.3": a23, "2.4": a24, "2.5": a25, "2.6": a26,
           "3.1": a31, "3.2": a32, "4.1": a41, "4.2": a42, "4.3": a43, "4.4": a44, "4.5": a45, "5.1": a51, "5.2": a52,
           "5.3": a53}


# ------------------------------------------------------------------------------------------------ the mistakes

def _jac(a, b, s, tau, d11, off, d22, dtype=F64):
    return torch.tensor([[d11, off], [off, d22]], dtype=dtype) / tau


def _b_dot(i, a, b, s, tau, skip=True, swap=False, sign=-1):
    out = (s[i] - a[i] @ b[i]) * a[i]
    for j in range(len(s)):
        if j != i or not skip:
            out = out + sign * ((a[i] @ b[j]) if swap else (a[j] @ b[i])) * a[j]
    return out / tau


def _kind(a, b, s, tau, exact=False, node=False, origin=True, axes=False):
    eig = torch.linalg.eigvalsh(a24(a, b, s, tau))
    on = (a * b == s) if exact else abs(s - a * b) < 1e-9
    if on:
        return eig, "stable node" if node else "line of minima"
    if a == b == 0 and origin:
        return eig, "saddle"
    if axes and (a == 0 or b == 0):
        return eig, "saddle"
    return eig, "not a fixed point"


def _end(a0, b0, s, c=None, branch=True, line=True, root=True, target=None):
    s = s if target is None else target
    if line and a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    c = a0**2 - b0**2 if c is None else c
    sq = (c + math.sqrt(c * c + 4 * s * s)) / 2
    a = math.sqrt(sq) if root else sq
    if branch and a0 + b0 < 0:
        a = -a
    return torch.tensor([a, s / a], dtype=F64)


def _rates(W1, W2, X, Y, scale=1.0, which="both", sign=1.0, Gt=False, outer=False):
    G = X.T @ (X @ W1.T @ W2.T - Y) / X.shape[0] if Gt else _G(W1, W2, X, Y)
    V1, V2 = -W2.T @ G * scale, -G @ W1.T * scale
    f1, s1 = V1 @ W1.T, W1 @ V1.T
    f2, s2 = (V2 @ W2.T, W2 @ V2.T) if outer else (V2.T @ W2, W2.T @ V2)
    if which == "first":
        return sign * f1, sign * f2
    if which == "second":
        return sign * s1, sign * s2
    return sign * (f1 + s1), sign * (f2 + s2)


def _power(S, alpha, clamp="tol", order="QLQt", p=None):
    lam, Q = torch.linalg.eigh(S)
    if clamp == "tol":
        lam = torch.where(lam > 1e-12 * lam.abs().amax(-1, keepdim=True), lam, 0.0)
    elif clamp == "zero":
        lam = lam.clamp(min=0)
    D = torch.diag_embed(lam ** (alpha if p is None else p))
    return T(Q) @ D @ Q if order == "QtLQ" else Q @ D @ T(Q)


def _pg(W, G, N, js=None, le=lambda j, N: (j - 1) / N, re=lambda j, N: (N - j) / N, swap=False):
    L, R = W @ T(W), T(W) @ W
    if swap:
        L, R = R, L
    total = torch.zeros_like(G)
    for j in (js if js is not None else range(1, N + 1)):
        total = total + a41(L, le(j, N)) @ G @ a41(R, re(j, N))
    return total


def _single(w, g, N, factor=None, weight=None, onto_g=False, guard=True):
    sq = (w * w).sum((-2, -1), keepdim=True)
    wg = (w * g).sum((-2, -1), keepdim=True)
    if onto_g:
        proj = wg / (g * g).sum((-2, -1), keepdim=True) * g
    else:
        proj = (torch.where(sq > 0, wg / sq.clamp(min=1e-300), 0.0) if guard else wg / sq) * w
    f = sq ** (1 - 1 / N) if factor is None else factor(sq, N)
    return f * (g + ((N - 1) if weight is None else weight) * proj)


def _polar(W, full=False, q="UVt", p="VSVt", diag=torch.diag_embed):
    U, S, Vh = torch.linalg.svd(W, full_matrices=full)
    Q = {"U": lambda: U, "UV": lambda: U @ T(Vh), "VUt": lambda: T(Vh) @ T(U), "UVt": lambda: U @ Vh}[q]()
    P = {"USUt": lambda: U @ diag(S) @ T(U), "VtSV": lambda: Vh @ diag(S) @ T(Vh), "S": lambda: diag(S),
         "WtW": lambda: T(W) @ W, "VSVt": lambda: T(Vh) @ diag(S) @ Vh}[p]()
    return Q, P


def _vel(chain, G, terms=None, grams="LLt", order="right", carried=True):
    total = torch.zeros_like(G)
    for j in (range(len(chain)) if terms is None else terms):
        left = torch.eye(G.shape[-2], dtype=G.dtype)
        for W in reversed(chain[j + 1:]):
            left = left @ W
        right = torch.eye(G.shape[-1], dtype=G.dtype)
        for W in chain[:j]:
            right = right @ W if order == "reversed" else W @ right
        if not carried:
            total = total + T(left) @ G @ T(right)
        elif grams == "none":
            total = total + left @ left @ G @ right @ right
        elif grams == "LtL":
            total = total + T(left) @ left @ G @ right @ T(right)
        else:
            total = total + left @ T(left) @ G @ T(right) @ right
    return total


def _end_to_end(chain):
    W = chain[0]
    for w in chain[1:]:
        W = w @ W
    return W


def _eta(X, scale=None, zeros=False, form="opt"):
    lam = torch.linalg.eigvalsh(X @ X.T / (X.shape[0] if scale is None else scale))
    if not zeros:
        lam = lam[lam > 1e-9 * lam.max()]
    return {"opt": 2 / (lam.max() + lam.min()), "max": 1 / lam.max(), "no2": 1 / (lam.max() + lam.min()),
            "diff": 2 / (lam.max() - lam.min())}[form]


MISTAKES = [
    # 1.1
    ("1.1", "W1 not transposed", lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1 @ Sxx) @ W1,
     "W1 must be transposed"),
    ("1.1", "Sigma_xx left out", lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1) @ W1.T, "Sigma_xx is missing"),
    ("1.1", "Sigma_xx on the residual", lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1) @ Sxx @ W1.T,
     "Sigma_xx multiplies the whole residual"),
    ("1.1", "no eta", lambda W1, W2, Sxx, Syx, eta: (Syx - W2 @ W1 @ Sxx) @ W1.T, "learning rate eta is missing"),
    ("1.1", "uphill", lambda W1, W2, Sxx, Syx, eta: eta * (W2 @ W1 @ Sxx - Syx) @ W1.T, "sign is flipped"),
    ("1.1", "Delta W1 instead", lambda W1, W2, Sxx, Syx, eta: eta * W2.T @ (Syx - W2 @ W1 @ Sxx), "this is Delta W1"),
    ("1.1", "factor 2", lambda W1, W2, Sxx, Syx, eta: 2 * eta * (Syx - W2 @ W1 @ Sxx) @ W1.T, "1/2 in E cancels"),
    ("1.1", "numpy result", lambda W1, W2, Sxx, Syx, eta: a11(W1, W2, Sxx, Syx, eta).numpy(), "numpy ndarray"),
    ("1.1", "float32 result", lambda W1, W2, Sxx, Syx, eta: a11(W1, W2, Sxx, Syx, eta).float(), "dtype torch.float32"),
    # 1.2
    ("1.2", "left product not transposed", lambda c, G, j: _m12(c, G, j, tl=False), "left product must be transposed"),
    ("1.2", "right product not transposed", lambda c, G, j: _m12(c, G, j, tr=False), "right product must be"),
    ("1.2", "right product reversed", lambda c, G, j: _m12(c, G, j, rev=True), "product order"),
    ("1.2", "0-based j (layer j+1)", lambda c, G, j: _m12(c, G, j + 1), "this is layer j+1"),
    ("1.2", "layer j-1", lambda c, G, j: _m12(c, G, j - 1), "this is layer j-1"),
    ("1.2", "returns grad_W", lambda c, G, j: G, "products are missing"),
    ("1.2", "no transposes at all", lambda c, G, j: _m12(c, G, j, tl=False, tr=False), "without any transpose"),
    ("1.2", "list of matrices", lambda c, G, j: [a12(c, G, j)], "is a list"),
    # 2.1
    ("2.1", "no tau", lambda A, B, S, tau: (S - B @ A) @ T(A), "1/tau is missing"),
    ("2.1", "times tau", lambda A, B, S, tau: (S - B @ A) @ T(A) * tau, "multiplied by tau"),
    ("2.1", "W1bar not transposed", lambda A, B, S, tau: (S - B @ A) @ A / tau, "W1bar must be transposed"),
    ("2.1", "flow of W1bar", lambda A, B, S, tau: T(B) @ (S - B @ A) / tau, "flow of W1bar"),
    ("2.1", "residual sign", lambda A, B, S, tau: (B @ A - S) @ T(A) / tau, "sign is flipped"),
    ("2.1", "product order", lambda A, B, S, tau: (S - A @ B) @ T(A) / tau, "product order"),
    ("2.1", "numpy", lambda A, B, S, tau: np.asarray(a21(A, B, S, tau)), "numpy ndarray"),
    # 2.2
    ("2.2", "sum includes j = i", lambda i, a, b, s, tau: _b_dot(i, a, b, s, tau, skip=False), "must skip j = i"),
    ("2.2", "overlaps a^i.b^j", lambda i, a, b, s, tau: _b_dot(i, a, b, s, tau, swap=True), "a^j . b^i"),
    ("2.2", "cross term sign", lambda i, a, b, s, tau: _b_dot(i, a, b, s, tau, sign=1), "enter with a minus sign"),
    ("2.2", "no tau", lambda i, a, b, s, tau: _b_dot(i, a, b, s, tau) * tau, "1/tau is missing"),
    ("2.2", "Eq. (6) instead", lambda i, a, b, s, tau: _b_dot(i, b, a, s, tau), "this is Eq. (6)"),
    ("2.2", "i counted from 1", lambda i, a, b, s, tau: _b_dot(i + 1 if i + 1 < len(s) else i - 1, a, b, s, tau),
     "i counts from 0"),
    # 2.3
    ("2.3", "i = j in the second sum", lambda a, b, s, tau: (((s - torch.diagonal(b @ a.T)) ** 2).sum()
                                                             + ((b @ a.T) ** 2).sum()) / (2 * tau),
     "pairs i != j only"),
    ("2.3", "no competition", lambda a, b, s, tau: ((s - torch.diagonal(b @ a.T)) ** 2).sum() / (2 * tau),
     "competition term"),
    ("2.3", "no cooperation", lambda a, b, s, tau: a23(a, b, s, tau) - ((s - torch.diagonal(b @ a.T)) ** 2).sum()
     / (2 * tau), "cooperation term"),
    ("2.3", "no tau", lambda a, b, s, tau: a23(a, b, s, tau) * tau, "dropped the tau"),
    ("2.3", "1/tau", lambda a, b, s, tau: a23(a, b, s, tau) * 2, "not 1/tau"),
    ("2.3", "not squared", lambda a, b, s, tau: ((s - torch.diagonal(b @ a.T)).sum()
                                                 + (b @ a.T).sum() - torch.diagonal(b @ a.T).sum()) / (2 * tau),
     "the terms are squared"),
    ("2.3", "Python float", lambda a, b, s, tau: float(a23(a, b, s, tau)), "Python float"),
    # 2.4
    ("2.4", "product rule", lambda a, b, s, tau: _jac(a, b, s, tau, -b * b, s - a * b, -a * a), "product rule"),
    ("2.4", "diagonal sign", lambda a, b, s, tau: _jac(a, b, s, tau, b * b, s - 2 * a * b, a * a), "(negative)"),
    ("2.4", "diagonal order", lambda a, b, s, tau: _jac(a, b, s, tau, -a * a, s - 2 * a * b, -b * b), "in that order"),
    ("2.4", "no tau", lambda a, b, s, tau: _jac(a, b, s, 1.0, -b * b, s - 2 * a * b, -a * a), "1/tau is missing"),
    ("2.4", "dropped s", lambda a, b, s, tau: _jac(a, b, s, tau, -b * b, -2 * a * b, -a * a), "dropped s"),
    ("2.4", "off-diagonal sign", lambda a, b, s, tau: _jac(a, b, s, tau, -b * b, 2 * a * b - s, -a * a),
     "off-diagonal sign"),
    ("2.4", "float32 (torch.tensor without dtype)", lambda a, b, s, tau: torch.tensor(
        [[-b * b, s - 2 * a * b], [s - 2 * a * b, -a * a]]) / tau, "dtype torch.float32"),
    ("2.4", "nested list", lambda a, b, s, tau: [[-b * b, s - 2 * a * b], [s - 2 * a * b, -a * a]], "is a list"),
    # 2.5
    ("2.5", "== instead of a tolerance", lambda a, b, s, tau: _kind(a, b, s, tau, exact=True), "with a tolerance"),
    ("2.5", "isolated minimum", lambda a, b, s, tau: _kind(a, b, s, tau, node=True), "not isolated nodes"),
    ("2.5", "origin not fixed", lambda a, b, s, tau: _kind(a, b, s, tau, origin=False), "origin is a fixed point"),
    ("2.5", "axes fixed", lambda a, b, s, tau: _kind(a, b, s, tau, axes=True), "a = 0 alone"),
    ("2.5", "descending eigenvalues", lambda a, b, s, tau: (_kind(a, b, s, tau)[0].flip(0), _kind(a, b, s, tau)[1]),
     "ascending order"),
    ("2.5", "no tau in the eigenvalues", lambda a, b, s, tau: (_kind(a, b, s, 1.0)[0] * 1.0 if tau == 1 else
                                                               torch.linalg.eigvalsh(a24(a, b, s, 1.0)),
                                                               _kind(a, b, s, tau)[1]), "1/tau of the Jacobian"),
    ("2.5", "complex eigenvalues from eigvals", lambda a, b, s, tau: (torch.linalg.eigvals(a24(a, b, s, tau)),
                                                                      _kind(a, b, s, tau)[1]), "is complex"),
    ("2.5", "unknown word", lambda a, b, s, tau: (_kind(a, b, s, tau)[0], "fixed"), "not a type name I know"),
    # 2.6
    ("2.6", "always the positive branch", lambda a0, b0, s: _end(a0, b0, s, branch=False), "sign of a + b"),
    ("2.6", "stable line ignored", lambda a0, b0, s: _end(a0, b0, s, line=False), "ends at the origin"),
    ("2.6", "balanced end point", lambda a0, b0, s: _end(a0, b0, s, c=0.0), "a^2 - b^2 is conserved"),
    ("2.6", "a - b conserved", lambda a0, b0, s: _m26_linear(a0, b0, s), "a - b is not conserved"),
    ("2.6", "no square root", lambda a0, b0, s: _end(a0, b0, s, root=False), "take the square root"),
    ("2.6", "ab = 1", lambda a0, b0, s: _end(a0, b0, s, target=1.0), "lie on ab = s"),
    ("2.6", "returns the start", lambda a0, b0, s: torch.tensor([a0, b0], dtype=F64), "gradient flow moves"),
    # 3.1
    ("3.1", "no 1/n", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, scale=X.shape[0]), "1/n of the loss is missing"),
    ("3.1", "first half of the product rule", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, which="first"),
     "only the first term"),
    ("3.1", "second half", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, which="second"), "only the second term"),
    ("3.1", "gradient ascent", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, sign=-1.0), "sign is flipped"),
    ("3.1", "G transposed", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, Gt=True), "has the shape of W"),
    ("3.1", "W2 W2^T", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, outer=True), "not W2 W2^T"),
    ("3.1", "loss without 1/2", lambda W1, W2, X, Y: _rates(W1, W2, X, Y, scale=2.0), "twice the rate"),
    ("3.1", "one matrix, not a pair", lambda W1, W2, X, Y: _rates(W1, W2, X, Y)[0], "tuple of 2 values"),
    # 3.2
    ("3.2", "zero", lambda W1, W2, X, Y, lr: torch.zeros(W1.shape[0], W1.shape[0], dtype=F64), "zero: the O(lr)"),
    ("3.2", "lr instead of lr^2", lambda W1, W2, X, Y, lr: a32(W1, W2, X, Y, lr) / lr, "one power of lr too few"),
    ("3.2", "no lr^2", lambda W1, W2, X, Y, lr: a32(W1, W2, X, Y, 1.0), "lr^2 is missing"),
    ("3.2", "sign", lambda W1, W2, X, Y, lr: -a32(W1, W2, X, Y, lr), "sign is flipped"),
    ("3.2", "no 1/n", lambda W1, W2, X, Y, lr: a32(W1, W2, X, Y, lr) * X.shape[0] ** 2, "enters squared"),
    ("3.2", "outer Grams", lambda W1, W2, X, Y, lr: _m32_outer(W1, W2, X, Y, lr), "act on the hidden layer"),
    # 4.1
    ("4.1", "entrywise power", lambda S, alpha: S**alpha, "power of every entry"),
    ("4.1", "no clamp", lambda S, alpha: _power(S, alpha, clamp="none"), "NaN on a singular S"),
    ("4.1", "clamp(min=0)", lambda S, alpha: _power(S, alpha, clamp="zero"), "not exact on a singular S"),
    ("4.1", "Q^T diag Q", lambda S, alpha: _power(S, alpha, order="QtLQ"), "columns of Q"),
    ("4.1", "1/alpha", lambda S, alpha: _power(S, alpha, p=1 / alpha), "not 1/alpha"),
    ("4.1", "always sqrt", lambda S, alpha: _power(S, alpha, p=0.5), "alpha was ignored"),
    ("4.1", "complex from eig", lambda S, alpha: torch.linalg.eig(S)[1] @ torch.diag_embed(
        torch.linalg.eig(S)[0] ** alpha) @ torch.linalg.inv(torch.linalg.eig(S)[1]), "is complex"),
    # 4.2
    ("4.2", "divided by N", lambda W, G, N: _pg(W, G, N) / N, "divided by N"),
    ("4.2", "exponents shifted", lambda W, G, N: _pg(W, G, N, le=lambda j, N: j / N), "exponents shifted"),
    ("4.2", "Gram matrices swapped", lambda W, G, N: _pg(W, G, N, swap=True), "swapped"),
    ("4.2", "range(1, N)", lambda W, G, N: _pg(W, G, N, js=range(1, N)), "off by one"),
    ("4.2", "same exponent both sides", lambda W, G, N: _pg(W, G, N, re=lambda j, N: (j - 1) / N),
     "right exponent is (N-j)/N"),
    ("4.2", "integer powers", lambda W, G, N: _pg(W, G, N, le=lambda j, N: j - 1, re=lambda j, N: N - j),
     "powers are fractional"),
    # 4.3
    ("4.3", "no norm factor", lambda w, g, N: _single(w, g, N, factor=lambda sq, N: 1.0),
     "norm factor ||w||^{2-2/N} is missing"),
    ("4.3", "weight N", lambda w, g, N: _single(w, g, N, weight=N), "weight N"),
    ("4.3", "||w||^(1-1/N)", lambda w, g, N: _single(w, g, N, factor=lambda sq, N: sq.sqrt() ** (1 - 1 / N)),
     "raised to 1 - 1/N"),
    ("4.3", "projection onto g", lambda w, g, N: _single(w, g, N, onto_g=True), "projected onto g"),
    ("4.3", "||w||^2", lambda w, g, N: _single(w, g, N, factor=lambda sq, N: sq), "not ||w||^2"),
    ("4.3", "no guard at w = 0", lambda w, g, N: _single(w, g, N, guard=False), "NaN at w = 0"),
    # 4.4
    ("4.4", "Q = U", lambda W: _polar(W, q="U"), "not U alone"),
    ("4.4", "P from W W^T", lambda W: _polar(W, p="USUt"), "sqrt(W W^T)"),
    ("4.4", "Vh taken for V in P", lambda W: _polar(W, p="VtSV"), "returns Vh = V^T, not V"),
    ("4.4", "Q = U V", lambda W: _polar(W, q="UV"), "Vh already is V^T"),
    ("4.4", "Q = V U^T", lambda W: _polar(W, q="VUt"), "this Q is V U^T"),
    ("4.4", "P = diag(S)", lambda W: _polar(W, p="S"), "diag(S) alone"),
    ("4.4", "P = W^T W", lambda W: _polar(W, p="WtW"), "no square root"),
    ("4.4", "(P, Q)", lambda W: _polar(W)[::-1], "wrong order"),
    ("4.4", "full SVD", lambda W: _polar(W, full=True), "full_matrices=False"),
    ("4.4", "torch.diag", lambda W: _polar(W, diag=torch.diag), "torch.diag_embed"),
    ("4.4", "scipy.linalg.polar (numpy)", lambda W: tuple(scipy.linalg.polar(W.numpy())), "numpy ndarray"),
    # 4.5
    ("4.5", "A_W(G) for every chain", lambda c, G: a42(_end_to_end(c), G, len(c)), "only for a balanced chain"),
    ("4.5", "sum of the layer gradients", lambda c, G: _vel(c, G, carried=False), "summed the layer gradients"),
    ("4.5", "the velocity itself (minus sign)", lambda c, G: -_vel(c, G), "MINUS this sum"),
    ("4.5", "divided by N", lambda c, G: _vel(c, G) / len(c), "divided by N"),
    ("4.5", "range(N - 1)", lambda c, G: _vel(c, G, terms=range(len(c) - 1)), "the term j = N"),
    ("4.5", "range(1, N)", lambda c, G: _vel(c, G, terms=range(1, len(c))), "the term j = 1"),
    ("4.5", "no transposes", lambda c, G: _vel(c, G, grams="none"), "transposes are missing"),
    ("4.5", "transposes on the wrong side", lambda c, G: _vel(c, G, grams="LtL"), "on the wrong side"),
    ("4.5", "W_1 W_2 ... order", lambda c, G: _vel(c, G, order="reversed"), "product order"),
    ("4.5", "float32 identities", lambda c, G: _vel([w.float() for w in c], G.float()), "dtype torch.float32"),
    # 5.1
    ("5.1", "no 1/n", lambda X: _eta(X, scale=1.0), "1/n is missing"),
    ("5.1", "zero eigenvalue kept", lambda X: _eta(X, zeros=True), "NONZERO"),
    ("5.1", "1/lambda_max", lambda X: _eta(X, form="max"), "1 / lambda_max"),
    ("5.1", "no 2", lambda X: _eta(X, form="no2"), "the 2 is missing"),
    ("5.1", "difference", lambda X: _eta(X, form="diff"), "a sum, not a difference"),
    ("5.1", "divided by d", lambda X: _eta(X, scale=X.shape[1]), "not by d"),
    ("5.1", "Python float", lambda X: float(_eta(X)), "Python float"),
    ("5.1", "numpy", lambda X: np.float64(_eta(X)), "numpy"),
    # 5.2
    ("5.2", "step Theta^2", lambda sc, h, y: a52(sc, h, y, factor=1.0), "not (Theta^(l))^2"),
    ("5.2", "simultaneous", lambda sc, h, y: a52(sc, h, y, sim=True), "simultaneous update"),
    ("5.2", "reverse order", lambda sc, h, y: a52(sc, h, y, order=range(sc.shape[-1] - 1, -1, -1)), "order 2, 3"),
    ("5.2", "no 1/n", lambda sc, h, y: a52(sc, h, y, norm=False), "1/n of the loss is missing"),
    ("5.2", "step Theta/2", lambda sc, h, y: a52(sc, h, y, power=1), "not Theta^(l) / 2"),
    ("5.2", "no product of the others", lambda sc, h, y: a52(sc, h, y, others=False), "OTHER deep scalars"),
    # 5.3
    ("5.3", "1/n", lambda E, yh: E - yh * (yh * E).sum(-1, keepdim=True) / E.shape[-1], "factor is 1/(2n)"),
    ("5.3", "no 1/n", lambda E, yh: E - yh * (yh * E).sum(-1, keepdim=True) / 2, "1/n of the loss is missing"),
    ("5.3", "sign", lambda E, yh: E + yh * (yh * E).sum(-1, keepdim=True) / (2 * E.shape[-1]), "the sign"),
    ("5.3", "scalar factor", lambda E, yh: E * (1 - (yh * yh).sum(-1, keepdim=True) / (2 * E.shape[-1])),
     "rank-one matrix yhat yhat^T"),
    ("5.3", "E E^T yhat", lambda E, yh: E - E * (E * yh).sum(-1, keepdim=True) / (2 * E.shape[-1]),
     "not E E^T applied to yhat"),
    ("5.3", "unchanged", lambda E, yh: E.clone(), "the error changes"),
]


def _m12(chain, G, j, tl=True, tr=True, rev=False):
    out = G
    for W in reversed(chain[j:]):
        out = (T(W) if tl else W) @ out
    B = None
    for W in chain[: j - 1]:
        B = W if B is None else (B @ W if rev else W @ B)
    return out if B is None else out @ (T(B) if tr else B)


def _m26_linear(a0, b0, s):
    if a0 + b0 == 0:
        return torch.zeros(2, dtype=F64)
    d = a0 - b0
    a = (d + math.sqrt(d * d + 4 * s) * (1 if a0 + b0 > 0 else -1)) / 2
    return torch.tensor([a, a - d], dtype=F64)


def _m32_outer(W1, W2, X, Y, lr):
    G = _G(W1, W2, X, Y)
    G1, G2 = W2.T @ G, G @ W1.T
    return lr * lr * (G2 @ G2.T - G1.T @ G1)


# -------------------------------------------------------------------------------------------------------- tests

def test_correct_answers_are_accepted():
    assert set(CORRECT) == set(all_exercises()), "every exercise needs a correct answer here"
    for ex_id, answer in CORRECT.items():
        res = check(ex_id, answer)
        assert res.ok, res.message
        assert res.message.startswith(f"Exercise {ex_id}: correct on all")


def test_the_type_name_of_2_5_may_be_written_in_other_words():
    words = ("Saddle", "non-isolated minimum", "Not a fixed point.")
    assert check("2.5", lambda a, b, s, tau: a25(a, b, s, tau, words=words)).ok


@pytest.mark.parametrize("row", MISTAKES, ids=[f"{r[0]}-{r[1]}" for r in MISTAKES])
def test_mistake_is_rejected_and_named(row):
    ex_id, _, answer, fragment = row
    res = check(ex_id, answer)
    assert not res.ok
    assert res.message.startswith(f"Exercise {ex_id}: ")
    assert fragment in res.message, res.message


def test_mistake_table_covers_every_exercise_with_five_named_mistakes():
    for ex_id in all_exercises():
        rows = [r for r in MISTAKES if r[0] == ex_id]
        assert len(rows) >= 5, ex_id
    named = [r for r in MISTAKES if r[3] is not None]
    assert len(named) >= 0.9 * len(MISTAKES)


def test_mistakes_are_named_only_when_they_match_every_case():
    # right on every case but one: the message describes that case instead of guessing a mistake
    def right_but_last_case(W1, W2, Sxx, Syx, eta):
        out = a11(W1, W2, Sxx, Syx, eta)
        return out * 2 if W1.shape == (3, 3) else out  # case 4 only

    res = check("1.1", right_but_last_case)
    assert not res.ok and "is wrong:" not in res.message
    assert "case 4 of 4" in res.message and "max abs error" in res.message

    # a missing 1/n that looks like a factor 1/2 when n = 2: never reported as "step size" advice
    res = check("5.2", lambda sc, h, y: a52(sc, h, y, norm=False))
    assert "1/n of the loss is missing" in res.message and "not (Theta^(l))^2" not in res.message
