"""`make figures` regenerates figures/ from the notebooks' own dlnlib calls, reproducibly: executing a
notebook twice writes byte-identical PNGs, and they match the committed ones."""

from pathlib import Path

from dlnlib.execute import execute_notebook

ROOT = Path(__file__).resolve().parents[1]


def test_notebook_figures_are_byte_identical_across_runs(tmp_path, monkeypatch):
    notebook = ROOT / "notebooks" / "00_start_here.ipynb"
    outputs = []
    for run in ("a", "b"):
        monkeypatch.setenv("DLNLIB_FIGURES", str(tmp_path / run))
        execute_notebook(notebook, save=False)
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
