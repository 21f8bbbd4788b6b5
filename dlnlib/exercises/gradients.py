"""Exercises of notebook 01 (gradients of deep linear networks).

1.1  derive the hidden-to-output update ``Delta W2`` (seed 002, homework exercise 1), checked against autograd;
1.2  the gradient of layer j of an N-layer chain, for any widths and batch shapes, against autograd.
"""

from __future__ import annotations

import torch

from ..chains import _layer_gradients, layer_gradients
from . import Exercise, _checked_reference, register

__all__ = ["delta_w2_reference", "layer_gradient_reference"]


def _spd(n, gen):
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    return a @ a.T / n + 0.5 * torch.eye(n, dtype=torch.float64)


@_checked_reference(W1="h i", W2="o h", Sigma_xx="i i", Sigma_yx="o i", eta="real")
def delta_w2_reference(W1, W2, Sigma_xx, Sigma_yx, eta):
    """Delta W2 = -eta dE/dW2 = eta (Sigma_yx - W2 W1 Sigma_xx) W1^T."""
    return eta * (Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T


def _autograd_delta_w2(case):
    # E(W) = 1/2 tr(W Sxx W^T) - <W, Syx> + const, with W = W2 W1 (covariance form of E).
    W2 = case["W2"].clone().requires_grad_(True)
    W = W2 @ case["W1"]
    energy = 0.5 * ((W @ case["Sigma_xx"]) * W).sum() - (W * case["Sigma_yx"]).sum()
    (g,) = torch.autograd.grad(energy, W2)
    return -case["eta"] * g


def _cases_1_1():
    # (N1 inputs, N2 hidden, N3 outputs): non-square first, so a missing transpose cannot hide
    for seed, (n1, n2, n3) in enumerate([(4, 2, 3), (5, 6, 2), (2, 4, 6), (3, 3, 3)]):
        gen = torch.Generator().manual_seed(100 + seed)
        yield {
            "W1": torch.randn(n2, n1, generator=gen, dtype=torch.float64),
            "W2": torch.randn(n3, n2, generator=gen, dtype=torch.float64),
            "Sigma_xx": _spd(n1, gen),
            "Sigma_yx": torch.randn(n3, n1, generator=gen, dtype=torch.float64),
            "eta": [0.1, 0.05, 0.3, 0.7][seed],
        }


register(Exercise(
    id="1.1",
    title="Delta W2 for the two-layer network (derivation)",
    reference=delta_w2_reference,
    cases=_cases_1_1,
    args=("W1", "W2", "Sigma_xx", "Sigma_yx", "eta"),
    expected=_autograd_delta_w2,
    name="Delta W2",
    mistakes={
        "W1 must be transposed: (N3 x N1) times W1^T (N1 x N2) gives the shape of W2":
            lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1 @ Sxx) @ W1,
        "Sigma_xx is missing (it is the identity only for whitened inputs)":
            lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1) @ W1.T,
        "Sigma_xx multiplies the whole residual; only the W2 W1 term carries it":
            lambda W1, W2, Sxx, Syx, eta: eta * (Syx - W2 @ W1) @ Sxx @ W1.T,
        "the learning rate eta is missing":
            lambda W1, W2, Sxx, Syx, eta: (Syx - W2 @ W1 @ Sxx) @ W1.T,
        "the sign is flipped: Delta W2 = -eta dE/dW2 goes downhill, this goes uphill":
            lambda W1, W2, Sxx, Syx, eta: -eta * (Syx - W2 @ W1 @ Sxx) @ W1.T,
        "this is Delta W1 (the first layer's update, W2^T on the left), not Delta W2":
            lambda W1, W2, Sxx, Syx, eta: eta * W2.T @ (Syx - W2 @ W1 @ Sxx),
        "twice the update: the 1/2 in E cancels the 2 that differentiating the square brings down":
            lambda W1, W2, Sxx, Syx, eta: 2 * eta * (Syx - W2 @ W1 @ Sxx) @ W1.T,
    },
    hints=[
        "Write E through the end-to-end matrix W = W2 W1 and perturb only W2: W2 -> W2 + dW2 changes W by "
        "dW2 W1. Then dE = <dE/dW, dW2 W1>; move W1 to the other side of the inner product.",
        "<A, dW2 W1> = <A W1^T, dW2>, so dE/dW2 = (dE/dW) W1^T. Now expand E = 1/2 tr(W Sigma_xx W^T) - tr(W "
        "Sigma_yx^T) + const to get dE/dW.",
        "dE/dW = W Sigma_xx - Sigma_yx. Multiply by -eta and substitute W = W2 W1; check the shape: the update "
        "must be N3 x N2, like W2.",
    ],
    derivation="""
        Perturb W2 only: W = W2 W1 changes by dW = dW2 W1, so dE = <dE/dW, dW2 W1> = <(dE/dW) W1^T, dW2>,
        i.e. dE/dW2 = (dE/dW) W1^T. With E = 1/2 tr(W Sxx W^T) - tr(W Syx^T) + const, dE/dW = W Sxx - Syx.
        Hence Delta W2 = -eta dE/dW2 = eta (Syx - W2 W1 Sxx) W1^T  (N3 x N2, the shape of W2).
    """,
    answer_marks=("(Sigma_yx - W2 @ W1 @ Sigma_xx) @ W1.T", "(Sigma_yx - W2 W1 Sigma_xx) W1^T",
                  r"(\Sigma^{yx} - W_2 W_1 \Sigma^{xx})\, W_1^\top", r"(\Sigma^{yx} - W_2W_1\Sigma^{xx})W_1^\top"),
))


@_checked_reference(chain="chain", grad_W="* d_N d_0", j="int 1..N")
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
    specs = [  # (dims, batch, j): non-square first; j at both ends and inside; batches
        ([4, 6, 5, 2], (), 2),
        ([2, 5, 3, 4, 6], (3,), 3),
        ([3, 7, 2], (2, 2), 2),
        ([5, 4], (), 1),
        ([4, 3, 5, 2], (), 1),
        ([2, 3, 5, 4], (2,), 3),
        ([3, 3, 3, 3], (), 2),
    ]
    for seed, (dims, batch, j) in enumerate(specs):
        gen = torch.Generator().manual_seed(200 + seed)
        chain = [torch.randn(*batch, dims[i + 1], dims[i], generator=gen, dtype=torch.float64)
                 for i in range(len(dims) - 1)]
        target = torch.randn(*batch, dims[-1], dims[0], generator=gen, dtype=torch.float64)
        W = chain[0]
        for layer in chain[1:]:
            W = layer @ W
        yield {"chain": chain, "grad_W": W - target, "j": j, "_target": target}


def _autograd_layer_gradient(case):
    leaves = [W.clone().requires_grad_(True) for W in case["chain"]]
    W = leaves[0]
    for layer in leaves[1:]:
        W = layer @ W
    (g,) = torch.autograd.grad(0.5 * ((W - case["_target"]) ** 2).sum(), leaves[case["j"] - 1])
    return g


def _general(chain, G, j, *, t_left=True, t_right=True, reverse_right=False, shift=0):
    """The layer-gradient formula with one of the typical slips switched on (for the mistake table)."""
    j = j + shift
    left = G
    for W in reversed(chain[j:]):
        left = (W.transpose(-1, -2) if t_left else W) @ left
    right = None
    for W in chain[: j - 1]:
        right = W if right is None else (right @ W if reverse_right else W @ right)
    if right is None:
        return left
    return left @ (right.transpose(-1, -2) if t_right else right)


register(Exercise(
    id="1.2",
    title="Gradient of layer j in an N-layer chain",
    reference=layer_gradient_reference,
    cases=_cases_1_2,
    args=("chain", "grad_W", "j"),
    expected=_autograd_layer_gradient,
    name="dL/dW_j",
    mistakes={
        "the left product must be transposed: (W_N ... W_{j+1})^T":
            lambda c, G, j: _general(c, G, j, t_left=False),
        "the right product must be transposed: (W_{j-1} ... W_1)^T":
            lambda c, G, j: _general(c, G, j, t_right=False),
        "product order: W_{j-1} ... W_1 has W_1 on the right (this built W_1 W_2 ... W_{j-1})":
            lambda c, G, j: _general(c, G, j, reverse_right=True),
        "off by one: j counts from 1 (W_1 acts first), so layer j is chain[j-1] (this is layer j+1)":
            lambda c, G, j: _general(c, G, j, shift=1),
        "off by one: j counts from 1 (W_1 acts first), so layer j is chain[j-1] (this is layer j-1)":
            lambda c, G, j: _general(c, G, j, shift=-1),
        "the gradient of the end-to-end matrix is not the gradient of a layer (the products are missing)":
            lambda c, G, j: G,
        "this is the product (W_N ... W_{j+1}) dL/dW (W_{j-1} ... W_1) without any transpose":
            lambda c, G, j: _general(c, G, j, t_left=False, t_right=False),
    },
    forbidden=(layer_gradients, _layer_gradients),
    hints=[
        "Only W_j varies: write W = A W_j B with A = W_N ... W_{j+1} and B = W_{j-1} ... W_1 (empty products are "
        "identities), perturb W_j and read off dL = <grad_W, A dW_j B>.",
        "<G, A dW_j B> = <A^T G B^T, dW_j>. Build A^T G by applying W_k^T for k = N down to j+1, then multiply "
        "by B^T on the right; use .transpose(-1, -2) so leading batch dimensions work.",
        "chain[j:] holds W_{j+1}..W_N and chain[:j-1] holds W_1..W_{j-1}; handle j = 1 and j = N (no B or no A).",
    ],
    answer_marks=("left = W.transpose(-1, -2) @ left", "left @ right.transpose(-1, -2)"),
))
