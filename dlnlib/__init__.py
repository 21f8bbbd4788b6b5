"""dlnlib: deep linear networks, exactly — the library behind the notebook series.

Conventions (see DESIGN.md): a chain is ``[W_1, ..., W_N]`` with ``W_j`` of shape
``(*batch, d_j, d_{j-1})``; data are rows, ``X`` (n, d_in) and ``Y`` (n, d_out); float64 by default;
randomness only through ``generator=`` / ``seed=``.
"""

from . import agd, balance, claims, data, endtoend, saxe  # noqa: F401  (topic modules as namespaces: dlnlib.saxe, ...)
from .chains import SCHEMES, apply_chain, end_to_end, init_chain, layer_gradients, validate_chain
from .core import get_device, make_generator, resolve_dtype
from .losses import ChainLoss, DiagonalCompletion, Loss, LpLoss, SquaredError
from .plotting import plot_losses, savefig
from .train import FlowResult, TrainResult, gradient_descent, gradient_flow

__all__ = [
    "SCHEMES",
    "ChainLoss",
    "DiagonalCompletion",
    "FlowResult",
    "Loss",
    "LpLoss",
    "SquaredError",
    "TrainResult",
    "apply_chain",
    "end_to_end",
    "get_device",
    "gradient_descent",
    "gradient_flow",
    "init_chain",
    "layer_gradients",
    "make_generator",
    "plot_losses",
    "resolve_dtype",
    "savefig",
    "validate_chain",
]

__version__ = "0.1.0"
