"""Exercises of notebook 01 (gradients of deep linear networks).

1.1  the hidden-to-output update ``Delta W2`` (seed 002, exercise 1), checked against autograd;
1.2  the gradient of layer j of an N-layer chain, for any widths and batch shapes, against autograd.
"""

from __future__ import annotations

import torch

from . import Exercise, call_student, compare, register

__all__ = ["delta_w2_reference", "layer_gradient_reference"]


def _spd(n, gen):
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    return a @ a.T / n + 0.5 * torch.eye(n, dtype=torch.float64)


def delta_w2_reference(W1, W2, Sigma_xx, Sigma_yx, eta):
    """Delta W2 = -eta dE/dW2 = eta (Sigma_yx - W2 W1 Sigma_xx) W1^T."""
    return eta * (Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T


def _autograd_delta_w2(W1, W2, Sigma_xx, Sigma_yx, eta):
    # E(W) = 1/2 tr(W Sxx W^T) - <W, Syx> + const, with W = W2 W1 (covariance form of E).
    W2 = W2.clone().requires_grad_(True)
    W = W2 @ W1
    energy = 0.5 * ((W @ Sigma_xx) * W).sum() - (W * Sigma_yx).sum()
    (g,) = torch.autograd.grad(energy, W2)
    return -eta * g


def _cases_1_1():
    for seed, (n1, n2, n3) in enumerate([(3, 3, 3), (4, 2, 3), (5, 6, 2), (2, 4, 6)]):
        gen = torch.Generator().manual_seed(100 + seed)
        yield {
            "W1": torch.randn(n2, n1, generator=gen, dtype=torch.float64),
            "W2": torch.randn(n3, n2, generator=gen, dtype=torch.float64),
            "Sigma_xx": _spd(n1, gen),
            "Sigma_yx": torch.randn(n3, n1, generator=gen, dtype=torch.float64),
            "eta": [0.1, 0.05, 0.3, 1.0][seed],
        }


def _judge_1_1(student, reference, case):
    args = [case[k] for k in ("W1", "W2", "Sigma_xx", "Sigma_yx")]
    got = call_student(student, *[a.clone() for a in args], case["eta"])
    expected = _autograd_delta_w2(**case)
    eye = torch.eye(case["Sigma_xx"].shape[0], dtype=torch.float64)
    alternatives = {"ignores Sigma_xx (it is not the identity here)": reference(**{**case, "Sigma_xx": eye})}
    if case["eta"] != 1.0:
        alternatives["forgot the learning rate eta"] = reference(**{**case, "eta": 1.0})
    return compare(got, expected, name="Delta W2", alternatives=alternatives)


register(Exercise(
    id="1.1",
    title="Delta W2 for the two-layer network",
    reference=delta_w2_reference,
    cases=_cases_1_1,
    judge=_judge_1_1,
    hints=[
        "Write E through W = W2 W1 and differentiate with respect to W2, holding W1 fixed: "
        "dE/dW2 = (dE/dW) W1^T.",
        "dE/dW = W Sigma_xx - Sigma_yx, so Delta W2 = -eta dE/dW2 = eta (Sigma_yx - W2 W1 Sigma_xx) W1^T. "
        "Check the shapes: (N3 x N1)(N1 x N2) = N3 x N2, like W2.",
    ],
))


def layer_gradient_reference(chain, grad_W, j):
    """dL/dW_j = (W_N ... W_{j+1})^T grad_W (W_{j-1} ... W_1)^T, for j = 1..N (batched)."""
    left = grad_W
    for W in reversed(chain[j:]):  # W_N^T first, then ..., W_{j+1}^T
        left = W.transpose(-1, -2) @ left
    right = None
    for W in chain[: j - 1]:  # W_1, ..., W_{j-1}
        right = W if right is None else W @ right
    return left if right is None else left @ right.transpose(-1, -2)


def _cases_1_2():
    specs = [  # (dims, batch, j): square first, so layout mistakes give a specific message
        ([3, 3, 3, 3], (), 2),
        ([3, 3, 3, 3], (2,), 1),
        ([3, 3, 3, 3], (), 3),
        ([4, 6, 5, 2], (), 2),
        ([2, 5, 3, 4, 6], (3,), 3),
        ([5, 4], (), 1),
        ([3, 7, 2], (2, 2), 2),
    ]
    for seed, (dims, batch, j) in enumerate(specs):
        gen = torch.Generator().manual_seed(200 + seed)
        chain = [torch.randn(*batch, dims[i + 1], dims[i], generator=gen, dtype=torch.float64)
                 for i in range(len(dims) - 1)]
        target = torch.randn(*batch, dims[-1], dims[0], generator=gen, dtype=torch.float64)
        yield {"chain": chain, "target": target, "j": j}


def _autograd_layer_gradient(chain, target, j):
    leaves = [W.clone().requires_grad_(True) for W in chain]
    W = leaves[0]
    for layer in leaves[1:]:
        W = layer @ W
    (g,) = torch.autograd.grad(0.5 * ((W - target) ** 2).sum(), leaves[j - 1])
    return g


def _judge_1_2(student, reference, case):
    chain, target, j = case["chain"], case["target"], case["j"]
    W = chain[0]
    for layer in chain[1:]:
        W = layer @ W
    grad_W = W - target
    got = call_student(student, [w.clone() for w in chain], grad_W.clone(), j)
    expected = _autograd_layer_gradient(chain, target, j)
    alternatives = {}
    n = len(chain)
    if n > 1 and all(w.shape[-1] == w.shape[-2] for w in chain):
        no_t = grad_W
        for Wk in reversed(chain[j:]):
            no_t = Wk @ no_t
        right = None
        for Wk in chain[: j - 1]:
            right = Wk if right is None else Wk @ right
        no_t_full = no_t if right is None else no_t @ right
        alternatives["the products must be transposed: (W_N...W_{j+1})^T and (W_{j-1}...W_1)^T"] = no_t_full
        off_by_one = "off by one: j counts from 1 (W_1 acts first), so layer j is chain[j-1]"
        if j < n:
            alternatives[off_by_one] = reference(chain, grad_W, j + 1)
        if j > 1:
            alternatives[off_by_one + " "] = reference(chain, grad_W, j - 1)
    return compare(got, expected, name=f"dL/dW_{j}", alternatives=alternatives)


register(Exercise(
    id="1.2",
    title="Gradient of layer j in an N-layer chain",
    reference=layer_gradient_reference,
    cases=_cases_1_2,
    judge=_judge_1_2,
    hints=[
        "Only W_j varies: W = A W_j B with A = W_N ... W_{j+1} and B = W_{j-1} ... W_1 (empty products are "
        "identities). Perturb W_j and read off dL = <grad_W, A dW_j B>.",
        "<G, A dW_j B> = <A^T G B^T, dW_j>, so dL/dW_j = A^T G B^T. Build A^T G by applying W_k^T for "
        "k = N down to j+1, then multiply by B^T on the right; use .transpose(-1, -2) so leading batch "
        "dimensions work.",
        "chain[j:] holds W_{j+1}..W_N and chain[:j-1] holds W_1..W_{j-1}; handle j = 1 and j = N (no B or no A).",
    ],
))
