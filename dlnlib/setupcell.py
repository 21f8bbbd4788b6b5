"""Write the setup cell (the first code cell) of every notebook; idempotent.

    python -m dlnlib.setupcell [--repo https://github.com/OWNER/REPO] [notebooks/*.ipynb]

The cell makes the series importable where it is not. On Colab it turns on the widget manager (sliders,
ipympl figures) and, when dlnlib is missing, installs it from ``REPOSITORY`` while pinning the torch Colab
already has (so torch is never reinstalled); anywhere else it does nothing when dlnlib imports and
otherwise stops with the README's install instructions. ``REPOSITORY`` is the URL given with ``--repo``,
else ``[project.urls] Repository`` in pyproject.toml, else git's ``origin`` remote, else empty: then the cell
asks a Colab user to fill it in rather than guess. Re-execute the notebooks afterwards
(``python -m dlnlib.execute notebooks/*.ipynb``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import nbformat

from .execute import _path_arg, _read_notebook, expand_paths

__all__ = ["TAG", "MARKER", "cell_source", "repository_url", "write_setup_cell", "main"]

TAG = "dlnlib-setup"
MARKER = "# Setup: makes dlnlib importable"

_TEMPLATE = '''# Setup: makes dlnlib importable (on Colab: installs it, keeping Colab's torch); does nothing elsewhere.
import importlib.util
import sys

REPOSITORY = "{repo}"  # where Colab installs dlnlib from (python -m dlnlib.setupcell --repo URL writes it)

if "google.colab" in sys.modules:
    from google.colab import output

    output.enable_custom_widget_manager()  # sliders and the clickable figures are ipywidgets / ipympl
    if importlib.util.find_spec("dlnlib") is None:
        if not REPOSITORY.startswith("https://"):
            raise RuntimeError("REPOSITORY is not set in this copy: write the https URL of the repository this "
                               "notebook came from into REPOSITORY above, then run this cell again")
        import subprocess

        import torch

        subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"torch=={{torch.__version__}}",
                        f"dlnlib @ git+{{REPOSITORY}}"], check=True)
elif importlib.util.find_spec("dlnlib") is None:
    raise ModuleNotFoundError("dlnlib is not installed for this kernel: see the README (pip install ...)")'''


def cell_source(repo: str = "") -> str:
    """The setup cell's source for repository URL ``repo`` ("" when unknown)."""
    if not isinstance(repo, str):
        raise TypeError(f"repo: got {type(repo).__name__}, expected a string")
    if repo and not repo.startswith("https://"):
        raise ValueError(f"repo: got {repo!r}, expected an https URL of the repository (or '')")
    if any(c in repo for c in "\"\\\n "):
        raise ValueError(f"repo: got {repo!r}, expected a URL without quotes, spaces or backslashes")
    return _TEMPLATE.format(repo=repo.removesuffix(".git").rstrip("/"))


def repository_url(root: Path = Path(".")) -> str:
    """The repository URL from pyproject.toml's [project.urls] Repository or git's origin remote, else ""."""
    root = _path_arg("root", root)
    if not root.is_dir():
        raise ValueError(f"root: got {str(root)!r}, expected an existing folder (the repository's root)")
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        text = pyproject.read_text(encoding="utf-8")
        try:
            import tomllib
        except ImportError:  # Python 3.10 has no tomllib: read the one key by pattern
            found = re.search(r'^\[project\.urls\][^\[]*?^Repository\s*=\s*"([^"]+)"', text, re.M | re.S)
            url = found.group(1) if found else None
        else:
            url = tomllib.loads(text).get("project", {}).get("urls", {}).get("Repository")
        if url:
            return url
    res = subprocess.run(["git", "remote", "get-url", "origin"], cwd=root, capture_output=True, text=True)
    url = res.stdout.strip() if res.returncode == 0 else ""
    return url if url.startswith("https://") else ""


def write_setup_cell(path: Path, source: str) -> str:
    """Insert or update the setup cell of one notebook; returns "inserted", "updated" or "unchanged"."""
    if not isinstance(source, str):
        raise TypeError(f"source: got {type(source).__name__}, expected the cell's source (str, from cell_source())")
    path = _path_arg("path", path)
    nb = _read_notebook("path", path)
    for cell in nb.cells:
        if cell.cell_type == "code" and (TAG in cell.metadata.get("tags", []) or cell.source.startswith(MARKER)):
            if cell.source == source:
                return "unchanged"
            cell.source = source
            cell.metadata["tags"] = sorted(set(cell.metadata.get("tags", [])) | {TAG})
            nbformat.write(nb, path)
            return "updated"
    first_code = next((k for k, c in enumerate(nb.cells) if c.cell_type == "code"), len(nb.cells))
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [TAG]})
    cell.id = TAG
    nb.cells.insert(first_code, cell)
    nbformat.write(nb, path)
    return "inserted"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="notebooks (default: notebooks/[0-9][0-9]_*.ipynb)")
    ap.add_argument("--repo", default=None, help="https URL of the repository Colab installs dlnlib from")
    args = ap.parse_args(argv)
    source = cell_source(repository_url() if args.repo is None else args.repo)
    paths = expand_paths(args.paths or ["notebooks/[0-9][0-9]_*.ipynb"])
    for p in paths:
        print(f"{p}: {write_setup_cell(Path(p), source)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
