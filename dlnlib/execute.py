"""Re-execute notebooks in place with the environment CI checks them in (``make notebooks``).

    python -m dlnlib.execute notebooks/*.ipynb

Each notebook is run top to bottom by a fresh kernel of the current Python environment, with
``PYTHONHASHSEED=0``, progress bars off and one intra-op thread, and saved with its new outputs. Widget state is not
stored (it would add megabytes and nbval ignores widget cells anyway). Prints each run time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["execute_notebook", "main"]

CHECKED_ENV = {"PYTHONHASHSEED": "0", "DLNLIB_PROGRESS": "0", "OMP_NUM_THREADS": "1"}


def execute_notebook(path, *, timeout: int = 600, allow_errors: bool = False, save: bool = True):
    """Run the notebook at ``path`` in its own folder; return (notebook, seconds)."""
    path = Path(path)
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"path: got {str(path)!r}, expected an existing .ipynb file")
    for key, val in CHECKED_ENV.items():
        os.environ[key] = val
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        store_widget_state=False,
        record_timing=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    nb.metadata.pop("widgets", None)
    for k, cell in enumerate(nb.cells):  # timings and random widget ids would make every re-run a diff
        cell.get("metadata", {}).pop("execution", None)
        if "outputs" in cell:
            cell.outputs = _merge_streams(cell.outputs)
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json")
            if view is not None:
                view["model_id"] = f"cell-{k}-widget"
    if save:
        nbformat.write(nb, path)
    return nb, seconds


def _merge_streams(outputs):
    """Join consecutive stdout (or stderr) chunks: how a stream is split depends on flush timing."""
    merged = []
    for out in outputs:
        prev = merged[-1] if merged else None
        if (out.get("output_type") == "stream" and prev is not None and prev.get("output_type") == "stream"
                and prev.get("name") == out.get("name")):
            prev["text"] = prev["text"] + out["text"]
        else:
            merged.append(out)
    return merged


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Execute notebooks in place with outputs (CI's environment).")
    p.add_argument("paths", nargs="+")
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--no-save", action="store_true", help="run only (figures are still written); keep the files")
    args = p.parse_args(argv)
    for path in args.paths:
        _, seconds = execute_notebook(path, timeout=args.timeout, save=not args.no_save)
        print(f"{path}: executed in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
