"""Tests of dlnlib.geometry: polar decompositions against scipy, SVD <-> polar, the preconditioned metric."""

import numpy as np
import pytest
import scipy.linalg
import torch

from dlnlib import endtoend as e2e
from dlnlib import geometry


def _mat(d, seed, batch=()):
    return torch.randn(*batch, d, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("d", [1, 2, 3, 6])
def test_polar_qp_matches_scipy_right(d):
    W = _mat(d, d)
    Q, P = geometry.polar_qp(W)
    u, p = scipy.linalg.polar(W.numpy(), side="right")
    assert np.abs(Q.numpy() - u).max() < 5e-14
    assert np.abs(P.numpy() - p).max() < 1e-13
    assert torch.allclose(Q @ P, W, rtol=0, atol=2e-13)


@pytest.mark.parametrize("d", [2, 3, 5])
def test_polar_ru_matches_scipy_left(d):
    W = _mat(d, 10 + d)
    R, Up = geometry.polar_ru(W)
    u, p = scipy.linalg.polar(W.numpy(), side="left")  # W = p u
    assert np.abs(R.numpy() - p).max() < 1e-13
    assert np.abs(Up.T.numpy() - u).max() < 5e-14
    assert torch.allclose(R @ Up.T, W, rtol=0, atol=1e-13)


def test_polar_is_batched_and_factors_have_their_properties():
    W = _mat(4, 3, batch=(5,))
    Q, P = geometry.polar_qp(W)
    eye = torch.eye(4, dtype=torch.float64)
    assert torch.allclose(Q.mT @ Q, eye.expand(5, 4, 4), rtol=0, atol=5e-14)
    assert torch.allclose(P, P.mT, rtol=0, atol=1e-14)
    assert bool((torch.linalg.eigvalsh(P) > -1e-12).all())
    assert torch.allclose(P @ P, W.mT @ W, rtol=0, atol=5e-13)  # entries up to 15: 1.8e-14 measured
    for k in range(5):
        Qk, Pk = geometry.polar_qp(W[k])
        assert torch.allclose(Qk, Q[k], rtol=0, atol=1e-14)  # equal here


def test_singular_matrix_has_unique_stretch():
    W = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64)  # rank 1
    Q, P = geometry.polar_qp(W)
    assert torch.allclose(Q @ P, W, rtol=0, atol=5e-14)
    assert np.abs(P.numpy() - scipy.linalg.polar(W.numpy())[1]).max() < 5e-14  # equal here


def test_svd_from_polar_round_trip():
    W = _mat(4, 7)
    U, S, V = geometry.svd_from_polar(*geometry.polar_qp(W))
    assert torch.allclose(U @ torch.diag(S) @ V.T, W, rtol=0, atol=2e-13)
    assert torch.allclose(S, torch.linalg.svdvals(W), rtol=0, atol=1e-13)
    assert torch.allclose(U.T @ U, torch.eye(4, dtype=torch.float64), rtol=0, atol=5e-14)


def test_metric_is_the_kronecker_form_and_makes_A_W_grad_the_gradient():
    W = torch.randn(2, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    Z1, Z2, G = (torch.randn(2, 3, generator=torch.Generator().manual_seed(s), dtype=torch.float64) for s in (2, 3, 4))
    A = e2e.preconditioner_matrix(W, 3)
    kron = Z1.reshape(-1) @ torch.linalg.solve(A, Z2.reshape(-1))
    assert abs(float(geometry.preconditioned_metric(W, Z1, Z2, 3) - kron)) < 2e-14  # equal here
    swapped = geometry.preconditioned_metric(W, Z2, Z1, 3)
    assert abs(float(geometry.preconditioned_metric(W, Z1, Z2, 3) - swapped)) < 2e-14
    riem = e2e.preconditioned_gradient(W, G, 3)
    assert abs(float(geometry.preconditioned_metric(W, riem, Z1, 3) - (G * Z1).sum())) < 2e-14
    assert torch.allclose(geometry.inverse_preconditioned(W, riem, 3), G, rtol=0, atol=5e-14)


def test_balanced_factorization_with_frames_is_balanced():
    W = torch.randn(3, 5, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    frames = [geometry.polar_qp(_mat(4, 20 + k))[0][:, :3] for k in range(2)]
    chain = e2e.balanced_factorization(W, 3, frames=frames)
    assert [tuple(w.shape) for w in chain] == [(4, 5), (4, 4), (3, 4)]
    assert torch.allclose(chain[2] @ chain[1] @ chain[0], W, rtol=0, atol=5e-14)
    for j in range(2):
        assert torch.allclose(chain[j + 1].T @ chain[j + 1], chain[j] @ chain[j].T, rtol=0, atol=5e-14)
    with pytest.raises(ValueError, match="frames: got 1 matrices, expected depth - 1 = 2"):
        e2e.balanced_factorization(W, 3, frames=frames[:1])
    with pytest.raises(ValueError, match=r"frames\[0\]"):
        e2e.balanced_factorization(W, 3, frames=[2 * frames[0], frames[1]])


def test_geometry_rejects_bad_input():
    with pytest.raises(ValueError, match="W: got shape .* expected square"):
        geometry.polar_qp(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="W: got"):
        geometry.polar_ru([[1.0]])
    with pytest.raises(ValueError, match="A_W is singular"):
        zero = torch.zeros(2, 2, dtype=torch.float64)
        geometry.inverse_preconditioned(zero, torch.ones(2, 2, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="Z: got shape"):
        geometry.inverse_preconditioned(_mat(2, 1), torch.ones(3, 3, dtype=torch.float64), 2)
    with pytest.raises(ValueError, match="Q, P"):
        geometry.svd_from_polar(_mat(2, 1), _mat(3, 1))
