"""Chains: initialisation schemes, products, layer gradients against autograd, input validation."""

import math

import pytest
import torch

import dlnlib
from dlnlib.chains import SCHEMES


def explicit_product(chain):
    w = chain[0]
    for layer in chain[1:]:
        w = torch.matmul(layer, w)
    return w


@pytest.mark.parametrize("scheme", SCHEMES)
def test_shapes_batch_and_dtype(scheme):
    chain = dlnlib.init_chain([3, 5, 4, 2], scheme, batch=(7, 2), seed=0, device="cpu")
    assert [tuple(w.shape) for w in chain] == [(7, 2, 5, 3), (7, 2, 4, 5), (7, 2, 2, 4)]
    assert all(w.dtype == torch.float64 for w in chain)


def test_end_to_end_matches_explicit_loops():
    chain = dlnlib.init_chain([4, 6, 3, 5, 2], "gaussian", batch=(3,), seed=1, device="cpu")
    W = dlnlib.end_to_end(chain)
    for k in range(3):
        ref = chain[3][k] @ chain[2][k] @ chain[1][k] @ chain[0][k]
        assert torch.allclose(W[k], ref, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dims", [[3, 3, 3, 3], [4, 6, 5, 2], [2, 7, 7, 5], [5, 1, 4]])
def test_balanced_identity_holds_to_round_off(dims):
    chain = dlnlib.init_chain(dims, "balanced", batch=(4,), seed=2, device="cpu")
    for j in range(len(chain) - 1):
        lhs = chain[j + 1].transpose(-1, -2) @ chain[j + 1]
        rhs = chain[j] @ chain[j].transpose(-1, -2)
        assert (lhs - rhs).abs().max() < 5e-14  # 1.1e-15 measured


def test_default_is_nn_linear_bound_and_seeded():
    a = dlnlib.init_chain([8, 16], "default", batch=(200,), seed=3, device="cpu")[0]
    b = dlnlib.init_chain([8, 16], "default", batch=(200,), seed=3, device="cpu")[0]
    assert torch.equal(a, b)  # bit-identical with the same seed
    bound = 1 / math.sqrt(8)
    assert a.abs().max() <= bound and a.abs().max() > 0.95 * bound
    assert abs(a.var().item() - bound**2 / 3) < 0.05 * bound**2 / 3


def test_orthogonal_rows_or_columns_orthonormal():
    w = dlnlib.init_chain([5, 3], "orthogonal", seed=4, device="cpu")[0]  # (3, 5): orthonormal rows
    assert torch.allclose(w @ w.T, torch.eye(3, dtype=w.dtype), rtol=0, atol=1e-14)
    w = dlnlib.init_chain([3, 5], "orthogonal", seed=4, device="cpu")[0]  # (5, 3): orthonormal columns
    assert torch.allclose(w.T @ w, torch.eye(3, dtype=w.dtype), rtol=0, atol=1e-14)


def test_identity_and_zero():
    chain = dlnlib.init_chain([3, 4, 3], "identity", device="cpu")
    assert torch.equal(chain[0], torch.eye(4, 3, dtype=torch.float64))
    assert torch.equal(dlnlib.end_to_end(chain), torch.eye(3, dtype=torch.float64))
    assert all((w == 0).all() for w in dlnlib.init_chain([3, 4, 3], "zero", device="cpu"))


def test_layer_gradients_match_autograd():
    gen = torch.Generator().manual_seed(5)
    chain = dlnlib.init_chain([4, 6, 3, 5], "gaussian", batch=(2,), generator=gen, device="cpu")
    target = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    leaves = [w.clone().requires_grad_(True) for w in chain]
    loss = 0.5 * ((explicit_product(leaves) - target) ** 2).sum()
    auto = torch.autograd.grad(loss, leaves)
    ours = dlnlib.layer_gradients(chain, dlnlib.end_to_end(chain) - target)
    for a, b in zip(auto, ours):
        assert torch.allclose(a, b, rtol=0, atol=2e-14)  # equal here


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(dims=[3], scheme="default"), r"dims: got \[3\], expected at least two widths"),
        (dict(dims=[3, 0, 2], scheme="default"), r"dims: got \[3, 0, 2\], expected positive integers"),
        (dict(dims=[3, 2], scheme="xavier"), r"scheme: got 'xavier', expected one of"),
        (dict(dims=[3, 2], scheme="gaussian", scale=-1.0), r"scale: got -1.0, expected a finite number >= 0"),
        (dict(dims=[3, 2], scheme="gaussian", batch=(0,)), r"batch: got \(0,\), expected a tuple of positive"),
        (dict(dims=[3, 2], scheme="gaussian", seed=1, generator=torch.Generator()), r"seed/generator: got both"),
    ],
)
def test_init_chain_rejects_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dlnlib.init_chain(**kwargs)


def test_end_to_end_rejects_chains_that_do_not_chain():
    chain = [torch.zeros(4, 3), torch.zeros(2, 5)]
    with pytest.raises(ValueError, match=r"W_2 has shape \(2, 5\) but W_1 has shape \(4, 3\).*dims must chain"):
        dlnlib.end_to_end(chain)
    with pytest.raises(ValueError, match="empty list, expected depth N >= 1"):
        dlnlib.end_to_end([])
    with pytest.raises(ValueError, match=r"grad_w: got \(3, 3\), expected \(\*batch, 4, 3\)"):
        dlnlib.layer_gradients([torch.zeros(4, 3, dtype=torch.float64)], torch.zeros(3, 3))


def test_get_device_resolves_auto_and_rejects_garbage():
    dev = dlnlib.get_device()
    assert dev.type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert dlnlib.get_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device: got 'gpu0'"):
        dlnlib.get_device("gpu0")


def test_dlnlib_device_environment_variable_pins_auto():
    import subprocess
    import sys

    code = "import dlnlib; print(dlnlib.get_device())"
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "DLNLIB_DEVICE": "cpu"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "cpu"
    bad = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "DLNLIB_DEVICE": "gpu"},
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "DLNLIB_DEVICE: got 'gpu'" in bad.stderr


def test_chains_of_the_wrong_kind_are_refused_by_name_at_every_public_entry():
    good = dlnlib.init_chain([2, 3, 2], "gaussian", seed=0, device="cpu")
    nan = [good[0], good[1].clone()]
    nan[1][0, 0] = float("nan")
    inf = [good[0].clone(), good[1]]
    inf[0][1, 1] = float("inf")
    ints = [torch.zeros(3, 2, dtype=torch.long), torch.zeros(2, 3, dtype=torch.long)]
    mixed = [good[0].float(), good[1]]
    cplx = [w.to(torch.complex128) for w in good]
    meta = [good[0], good[1].to("meta")]
    loss = dlnlib.SquaredError(torch.ones(5, 2, dtype=torch.float64), torch.ones(5, 2, dtype=torch.float64))
    calls = {
        "end_to_end": lambda ch: dlnlib.end_to_end(ch),
        "layer_gradients": lambda ch: dlnlib.layer_gradients(ch, torch.ones(2, 2, dtype=torch.float64)),
        "gradient_descent": lambda ch: dlnlib.gradient_descent(ch, loss, lr=0.1, steps=3),
        "gradient_flow": lambda ch: dlnlib.gradient_flow(ch, loss, [0.0, 0.1]),
        "imbalance": lambda ch: dlnlib.balance.imbalance(ch),
    }
    cases = [(nan, r"chain: W_2 contains NaN or infinite entries, expected finite numbers"),
             (inf, r"chain: W_1 contains NaN or infinite entries"),
             (ints, r"chain: W_1 has dtype torch.int64, expected torch.float64 or torch.float32"),
             (cplx, r"chain: W_1 has dtype torch.complex128, expected torch.float64 or torch.float32"),
             (mixed, r"chain: W_2 is torch.float64 but W_1 is torch.float32; expected one dtype for every layer"),
             (meta, r"chain: W_2 is on meta but W_1 on cpu; expected one device for every layer")]
    for call in calls.values():
        for chain, message in cases:
            with pytest.raises(ValueError, match=message):
                call(chain)
        call(good)  # and the good chain passes


def test_the_engine_still_reports_divergence_instead_of_refusing_the_diverged_iterate():
    # finiteness is checked at the entry, not inside the steps: a trial that blows up is reported, not an error
    chain = dlnlib.init_chain([2, 2, 2], "gaussian", scale=1.0, batch=(2,), seed=0, device="cpu")
    loss = dlnlib.SquaredError(torch.randn(20, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64),
                               torch.randn(20, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64))
    res = dlnlib.gradient_descent(chain, loss, lr=torch.tensor([0.01, 50.0], dtype=torch.float64), steps=200)
    assert not bool(res.diverged[0]) and bool(res.diverged[1])
