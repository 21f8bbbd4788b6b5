"""`make figures` regenerates figures/ from the notebooks' own dlnlib calls, reproducibly: executing a
notebook twice writes byte-identical PNGs, and they match the committed ones. Without that opt-in
(``--figures DIR`` or ``$DLNLIB_FIGURES``) ``savefig`` writes nothing."""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from dlnlib.execute import execute_notebook, main
from dlnlib.plotting import figures_dir, savefig

ROOT = Path(__file__).resolve().parents[1]


def test_notebook_figures_are_byte_identical_across_runs(tmp_path, monkeypatch):
    notebook = ROOT / "notebooks" / "00_start_here.ipynb"
    outputs = []
    monkeypatch.delenv("DLNLIB_FIGURES", raising=False)
    execute_notebook(notebook, save=False, figures=tmp_path / "a")  # as make figures does (--figures figures)
    assert "DLNLIB_FIGURES" not in os.environ  # the opt-in ends with the run
    monkeypatch.setenv("DLNLIB_FIGURES", str(tmp_path / "b"))  # or through the environment
    execute_notebook(notebook, save=False)
    for run in ("a", "b"):
        outputs.append({p.name: p.read_bytes() for p in sorted((tmp_path / run).glob("*.png"))})
    assert outputs[0] and outputs[0].keys() == outputs[1].keys()
    for name, data in outputs[0].items():
        assert data == outputs[1][name], f"{name} differs between two runs"
        assert data == (ROOT / "figures" / name).read_bytes(), f"{name} differs from the committed figure"


def test_every_committed_figure_is_named_after_a_notebook():
    numbers = {p.name[:2] for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    figures = list((ROOT / "figures").glob("*.png"))
    assert figures
    assert all(p.name[:2] in numbers and p.name[2] == "_" for p in figures)


def test_savefig_writes_nothing_unless_a_folder_is_set(tmp_path, monkeypatch):
    monkeypatch.delenv("DLNLIB_FIGURES", raising=False)
    monkeypatch.chdir(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert figures_dir() is None
    assert savefig(fig, "99_nothing") is None
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setenv("DLNLIB_FIGURES", str(tmp_path / "out"))
    assert savefig(fig, "99_nothing") == tmp_path / "out" / "99_nothing.png"
    with pytest.raises(ValueError, match=r"name: got 'a\\\\b'"):
        savefig(fig, "a\\b")
    plt.close(fig)


def test_execute_cli_rejects_a_missing_notebook(tmp_path):
    with pytest.raises(ValueError, match="expected an existing .ipynb file"):
        main([str(tmp_path / "missing.ipynb"), "--no-save"])


NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("0[1-9]_*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_writes_its_figures_byte_for_byte_reproducibly(notebook, tmp_path, monkeypatch):
    # Every committed figure of the notebook is regenerated. Equal to the committed bytes: done. Otherwise the
    # processor differs from the one that made them (round-off drawn on log axes moves pixels between Intel and
    # AMD kernels), and a second run must then reproduce the first byte for byte: a figure may depend on the
    # processor, never on the run (torch.linalg.lstsq once made notebook 04's differ between two runs).
    monkeypatch.delenv("DLNLIB_FIGURES", raising=False)
    first = tmp_path / "first"
    execute_notebook(ROOT / "notebooks" / notebook, save=False, figures=first)
    made = {p.name: p.read_bytes() for p in sorted(first.glob("*.png"))}
    committed = {p.name: p.read_bytes() for p in sorted((ROOT / "figures").glob(notebook[:3] + "*.png"))}
    assert made.keys() == committed.keys(), "make figures would add or drop figures: run it and commit"
    differ = [name for name in made if made[name] != committed[name]]
    if differ:
        second = tmp_path / "second"
        execute_notebook(ROOT / "notebooks" / notebook, save=False, figures=second)
        for name in differ:
            assert (second / name).read_bytes() == made[name], f"{name} differs between two runs"
