"""Every notebook ends with a computed claims table, and every claim its prose names is a row of it."""

import json
from pathlib import Path

import pytest

from dlnlib.claims import REF_PATTERN

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
HEAD = "Paper vs this notebook — "


def _text(output: dict) -> str:
    if "text" in output:
        return "".join(output["text"])
    return "".join(output.get("data", {}).get("text/plain", ""))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_claims_table_rendered_and_referenced(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    tables = [(i, _text(o)) for i, c in enumerate(cells) if c["cell_type"] == "code"
              for o in c.get("outputs", []) if _text(o).startswith(HEAD)]
    assert tables, f"{path.name}: no computed 'Paper vs this notebook' table (dlnlib.claims ... table())"
    last, table = tables[-1]
    later_md = [c for c in cells[last + 1:] if c["cell_type"] == "markdown"]
    assert not any("|---" in "".join(c["source"]) for c in later_md), f"{path.name}: a typed table follows"
    rows = set(REF_PATTERN.findall(table.replace("[", "claim ").replace("]", " ")))
    prose = " ".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    missing = sorted(set(REF_PATTERN.findall(prose)) - rows)
    assert not missing, f"{path.name}: prose names claims that are not rows of its table: {missing}"
