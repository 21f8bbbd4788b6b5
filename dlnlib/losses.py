"""Losses of the end-to-end matrix, each with its value and closed-form gradient (batched).

Every loss maps an end-to-end ``W`` of shape ``(*batch, d_out, d_in)`` to a value of shape
``(*batch,)`` and a gradient ``dL/dW`` of W's shape. ``chain_value_and_grads`` turns that into
layer gradients through the chain rule, which is what the training engine calls: the partial products
of the chain are built once per call and shared by the value and every layer gradient, each loss
evaluates its value and gradient together (``value_and_grad``), and the diagonal loss passes only the
diagonal of its gradient on (no dense ``diag_embed``).
Data convention: ``X`` of shape ``(n, d_in)`` (rows are samples), ``Y`` of shape ``(n, d_out)``.
"""

from __future__ import annotations

import torch

from .chains import _layer_gradients, _prefix_products, validate_chain
from .core import as_tensor, batched_matmul, check_choice

__all__ = ["Loss", "SquaredError", "LpLoss", "DiagonalCompletion", "ChainLoss"]


class Loss:
    """Base class: subclasses define ``value(W)`` and ``grad(W)`` for the end-to-end matrix."""

    in_dim: int | None = None
    out_dim: int | None = None
    # True when ``take`` can restrict the loss to a subset of trials (lets the engine drop stopped trials).
    supports_take: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A subclass that writes its own chain_value_and_grads (the extension point before the checked/unchecked
        # split) is trusted to do its own checks: the engine calls that implementation.
        if "chain_value_and_grads" in vars(cls) and "_chain_value_and_grads" not in vars(cls):
            cls._chain_value_and_grads = vars(cls)["chain_value_and_grads"]

    def take(self, index: torch.Tensor, batch: tuple) -> Loss:
        """This loss for the flattened trials ``index`` of a batch of shape ``batch`` (per-trial data
        indexed, shared data kept). Subclasses with ``supports_take = True`` implement it."""
        raise NotImplementedError(f"{type(self).__name__} cannot select trials")

    def value(self, W: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def grad(self, W: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, W: torch.Tensor) -> torch.Tensor:
        """The loss of the end-to-end matrix ``W`` (checked: a finite float tensor of this loss's shape, dtype and
        device)."""
        W = self._check_w(validate_chain([W], "W", finite=True)[0])
        self.check_fits([W], "W")
        return self.value(W)

    def check_fits(self, chain, name: str = "chain") -> None:
        """A ValueError naming ``name`` unless the (validated) chain's end-to-end map has the shape this loss
        expects and the chain has its data's dtype and device."""
        out_dim, in_dim = self.out_dim, self.in_dim
        d_out, d_in = chain[-1].shape[-2], chain[0].shape[-1]
        if (out_dim is not None and d_out != out_dim) or (in_dim is not None and d_in != in_dim):
            raise ValueError(f"{name}: its end-to-end map is {d_out} x {d_in} (d_N x d_0) but the loss expects "
                             f"{out_dim} x {in_dim}; choose dims = [{in_dim}, ..., {out_dim}]")
        data = [v for v in vars(self).values() if isinstance(v, torch.Tensor) and v.is_floating_point()]
        where = {str(v.device) for v in data} - {str(chain[0].device)}
        if where:
            raise ValueError(f"loss: its data are on {', '.join(sorted(where))} but the {name} is on {chain[0].device};"
                             f" build the loss with device={str(chain[0].device)!r} (or move the {name} with .to(...))")
        kinds = {str(v.dtype) for v in data} - {str(chain[0].dtype)}
        if kinds:
            raise ValueError(f"loss: its data are {', '.join(sorted(kinds))} but the {name} is {chain[0].dtype}; build"
                             f" the loss with dtype={chain[0].dtype} (or convert the {name} with .to(dtype))")

    def _check_w(self, W) -> torch.Tensor:
        if not isinstance(W, torch.Tensor) or W.ndim < 2:
            shape = tuple(W.shape) if isinstance(W, torch.Tensor) else type(W).__name__
            raise ValueError(f"W: got {shape}, expected a tensor of shape (*batch, {self.out_dim}, {self.in_dim})")
        if (self.out_dim is not None and W.shape[-2] != self.out_dim) or (
            self.in_dim is not None and W.shape[-1] != self.in_dim
        ):
            raise ValueError(
                f"W: got shape {tuple(W.shape)}, expected (*batch, {self.out_dim}, {self.in_dim}) for this loss"
            )
        return W

    def value_and_grad(self, W: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(value(W), grad(W))``; subclasses override it to share the work of the two."""
        return self.value(W), self.grad(W)

    def chain_value_and_grads(self, chain) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Loss of the chain's end-to-end matrix and the gradient for every layer (one pass of partial products).

        chain: ``[W_1, ..., W_N]`` of finite float tensors whose end-to-end map has this loss's shape (checked;
        the training engine calls the unchecked ``_chain_value_and_grads`` once per step instead)."""
        chain = validate_chain(chain, finite=True)
        self.check_fits(chain)
        return self._chain_value_and_grads(chain)

    def _chain_value_and_grads(self, chain) -> tuple[torch.Tensor, list[torch.Tensor]]:
        prefixes = _prefix_products(chain)
        value, G = self.value_and_grad(self._check_w(prefixes[-1]))
        return value, _layer_gradients(chain, G, prefixes)


def _take_trials(t: torch.Tensor, core_ndim: int, index: torch.Tensor, batch: tuple) -> torch.Tensor:
    """Rows ``index`` of the trial-flattened ``t`` whose last ``core_ndim`` dims are per-trial data."""
    if t.ndim == core_ndim:
        return t  # shared by every trial
    core = t.shape[t.ndim - core_ndim:]
    return t.expand(*batch, *core).reshape(-1, *core)[index]


def _data(X, Y, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    X = as_tensor("X", X, device=device, dtype=dtype)
    Y = as_tensor("Y", Y, device=device, dtype=dtype)
    if X.ndim == 1:
        X = X[:, None]
    if Y.ndim == 1:
        Y = Y[:, None]
    if X.ndim != 2:
        raise ValueError(f"X: got shape {tuple(X.shape)}, expected (n, d_in) with samples as rows")
    if Y.ndim != 2:
        raise ValueError(f"Y: got shape {tuple(Y.shape)}, expected (n, d_out) with samples as rows")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"Y: got {Y.shape[0]} rows but X has {X.shape[0]}; expected one row per sample in both"
        )
    if X.shape[0] == 0:
        raise ValueError("X: got 0 samples, expected n >= 1")
    return X, Y


class SquaredError(Loss):
    """``E(W) = 1/(2n) sum_i ||y_i - W x_i||^2`` (Saxe et al. Eq. (1); notebooks 01-02).

    Stored through the covariances ``Sigma_xx = X^T X / n``, ``Sigma_yx = Y^T X / n`` and the
    constant ``tr(Sigma_yy)/2``, so each evaluation costs O(d^3), not O(n d^2):
    ``E = tr(Sigma_yy)/2 - <W, Sigma_yx> + tr(W Sigma_xx W^T)/2`` and ``dE/dW = W Sigma_xx - Sigma_yx``.
    X: (n, d_in); Y: (n, d_out). Use ``from_covariances`` when only the covariances are known.
    """

    def __init__(self, X, Y, *, device=None, dtype=None):
        X, Y = _data(X, Y, device, dtype)
        n = X.shape[0]
        self._set(X.T @ X / n, Y.T @ X / n, 0.5 * (Y * Y).sum() / n)

    def _set(self, sxx, syx, const):
        self.sigma_xx, self.sigma_yx, self.const = sxx, syx, const
        self.in_dim, self.out_dim = sxx.shape[-1], syx.shape[-2]

    @classmethod
    def from_covariances(cls, sigma_xx, sigma_yx, sigma_yy_trace=0.0, *, device=None, dtype=None):
        """The same loss from ``Sigma_xx`` (d_in, d_in), ``Sigma_yx`` (d_out, d_in) and ``tr(Sigma_yy)``."""
        sxx = as_tensor("sigma_xx", sigma_xx, device=device, dtype=dtype, ndim_min=2)
        syx = as_tensor("sigma_yx", sigma_yx, device=device, dtype=dtype, ndim_min=2)
        if sxx.shape[-1] != sxx.shape[-2]:
            raise ValueError(f"sigma_xx: got shape {tuple(sxx.shape)}, expected a square (d_in, d_in) matrix")
        if syx.shape[-1] != sxx.shape[-1]:
            raise ValueError(
                f"sigma_yx: got shape {tuple(syx.shape)}, expected (d_out, {sxx.shape[-1]}) to match sigma_xx"
            )
        obj = cls.__new__(cls)
        obj._set(sxx, syx, torch.as_tensor(0.5 * float(sigma_yy_trace), dtype=sxx.dtype, device=sxx.device))
        return obj

    supports_take = True

    def take(self, index, batch):
        obj = type(self).__new__(type(self))
        obj._set(_take_trials(self.sigma_xx, 2, index, batch), _take_trials(self.sigma_yx, 2, index, batch),
                 _take_trials(torch.as_tensor(self.const), 0, index, batch) if torch.as_tensor(self.const).ndim
                 else self.const)
        return obj

    def value(self, W):
        return self.value_and_grad(W)[0]

    def grad(self, W):
        return batched_matmul(W, self.sigma_xx) - self.sigma_yx

    def value_and_grad(self, W):
        ws = batched_matmul(W, self.sigma_xx)  # shared by the value and the gradient
        return self.const - (W * self.sigma_yx).sum((-2, -1)) + 0.5 * (ws * W).sum((-2, -1)), ws - self.sigma_yx


class LpLoss(Loss):
    """``L_p(W) = 1/(p n) sum_i ||W x_i - y_i||_p^p`` for p >= 2 (Arora et al. 2018's l_p regression; notebook 04).

    For p = 2 this equals ``SquaredError``. Gradient: ``1/n sum_i sign(r_i)|r_i|^{p-1} x_i^T`` with
    residual ``r_i = W x_i - y_i``. X: (n, d_in); Y: (n, d_out).
    """

    def __init__(self, X, Y, p: float = 2.0, *, device=None, dtype=None):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not p >= 2 or p != p or p == float("inf"):
            raise ValueError(f"p: got {p!r}, expected a finite number p >= 2")
        self.X, self.Y = _data(X, Y, device, dtype)
        self.p = float(p)
        self.in_dim, self.out_dim = self.X.shape[1], self.Y.shape[1]

    supports_take = True

    def take(self, index, batch):
        return self  # the data are shared by all trials

    def _residual(self, W):
        return batched_matmul(self.X, W.transpose(-1, -2)) - self.Y

    def value(self, W):
        r = self._residual(W)
        return r.abs().pow(self.p).sum((-2, -1)) / (self.p * self.X.shape[0])

    def grad(self, W):
        r = self._residual(W)
        g = torch.sign(r) * r.abs().pow(self.p - 1)
        return batched_matmul(g.transpose(-1, -2), self.X) / self.X.shape[0]

    def value_and_grad(self, W):
        r = self._residual(W)  # one residual for both
        value = r.abs().pow(self.p).sum((-2, -1)) / (self.p * self.X.shape[0])
        g = torch.sign(r) * r.abs().pow(self.p - 1)
        return value, batched_matmul(g.transpose(-1, -2), self.X) / self.X.shape[0]


class DiagonalCompletion(Loss):
    """Fit the diagonal of a target ``Phi`` (seed 000's matrix-completion task; notebook 04).

    reduction ``"mean"``: ``1/d sum_i (W_ii - Phi_ii)^2`` (PyTorch's ``mse_loss`` on the diagonals,
    the loss seed 000 differentiates and reports); ``"energy"``: ``1/2 sum_i (W_ii - Phi_ii)^2``
    (seed 000's E and F). target: ``(*batch, d, d)``, one target per trial allowed.
    """

    def __init__(self, target, reduction: str = "mean", *, device=None, dtype=None):
        t = as_tensor("target", target, device=device, dtype=dtype, ndim_min=2)
        if t.shape[-1] != t.shape[-2]:
            raise ValueError(f"target: got shape {tuple(t.shape)}, expected square (*batch, d, d)")
        self.reduction = check_choice("reduction", reduction, ("mean", "energy"))
        self.target_diag = torch.diagonal(t, dim1=-2, dim2=-1)
        self.in_dim = self.out_dim = t.shape[-1]
        self._factor = 1.0 / t.shape[-1] if reduction == "mean" else 0.5

    supports_take = True

    def take(self, index, batch):
        obj = type(self).__new__(type(self))
        obj.__dict__.update(self.__dict__)
        obj.target_diag = _take_trials(self.target_diag, 1, index, batch)
        return obj

    def value(self, W):
        diff = torch.diagonal(W, dim1=-2, dim2=-1) - self.target_diag
        return self._factor * (diff * diff).sum(-1)

    def grad(self, W):
        diff = torch.diagonal(W, dim1=-2, dim2=-1) - self.target_diag
        g = torch.diag_embed(2.0 * self._factor * diff)
        return g.expand(*torch.broadcast_shapes(g.shape, W.shape)) if g.shape != W.shape else g

    def value_and_diagonal_grad(self, W) -> tuple[torch.Tensor, torch.Tensor]:
        """The value and the diagonal of ``grad(W)`` (every other entry of the gradient is zero)."""
        diff = torch.diagonal(W, dim1=-2, dim2=-1) - self.target_diag
        return self._factor * (diff * diff).sum(-1), 2.0 * self._factor * diff

    def _chain_value_and_grads(self, chain):
        prefixes = _prefix_products(chain)
        value, g = self.value_and_diagonal_grad(self._check_w(prefixes[-1]))
        return value, _layer_gradients(chain, g, prefixes, diagonal=True)


class ChainLoss(Loss):
    """Any scalar function of the whole chain, differentiated by autograd (for losses that do not
    depend on the end-to-end matrix alone, e.g. regularisers or ReLU networks).

    fn: ``fn(chain) -> Tensor`` of shape ``(*batch,)``.
    """

    def __init__(self, fn):
        if not callable(fn):
            raise ValueError(f"fn: got {type(fn).__name__}, expected a callable fn(chain) -> Tensor")
        self.fn = fn

    def __call__(self, chain):
        return self.fn(validate_chain(chain, finite=True))

    def chain_value_and_grads(self, chain):
        return self._chain_value_and_grads(validate_chain(chain, finite=True))

    def _chain_value_and_grads(self, chain):
        with torch.enable_grad():
            leaves = [w.detach().requires_grad_(True) for w in chain]
            val = self.fn(leaves)
            grads = torch.autograd.grad(val.sum(), leaves, allow_unused=True)
        grads = [torch.zeros_like(w) if g is None else g for w, g in zip(leaves, grads)]
        return val.detach(), grads
