"""Re-execute notebooks in place with the environment CI checks them in (``make notebooks``).

    python -m dlnlib.execute notebooks/*.ipynb

Each notebook is run top to bottom by a fresh kernel of the current Python environment, with
``PYTHONHASHSEED=0``, progress bars off, one intra-op thread and the same floating-point kernels on every
CPU (:data:`CHECKED_ENV`; set here, so the same command works in PowerShell), and saved with its new
outputs. Widget state is not stored (it would add megabytes and nbval ignores widget cells anyway). Prints
each run time. Figures are written only with ``--figures DIR`` (``make figures``); ``--no-save`` leaves the
notebooks untouched.
"""

from __future__ import annotations

import argparse
import glob
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

__all__ = ["CHECKED_ENV", "checked_env", "expand_paths", "execute_notebook", "main"]

CHECKED_ENV = {"PYTHONHASHSEED": "0", "DLNLIB_PROGRESS": "0", "OMP_NUM_THREADS": "1",
               # The same floating-point kernels on every x86-64 CPU with AVX2: torch's own kernels, MKL (torch's
               # BLAS/LAPACK) and OpenBLAS (numpy's, scipy's) otherwise pick code paths by the processor, and
               # round-off-level digits printed by the notebooks would differ between machines.
               "ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "OPENBLAS_CORETYPE": "Haswell",
               # stored outputs are the CPU's: a GPU machine computes them there too (the CUDA test still runs)
               "DLNLIB_DEVICE": "cpu"}
"""The regression-checked settings. Set before torch and numpy load: the kernel pins are read when the
libraries start (the Makefile sets them in the shell; kernels started by nbval or nbclient inherit them)."""


def expand_paths(paths) -> list[str]:
    """Expand wildcards here, since PowerShell and cmd pass ``notebooks\\*.ipynb`` to programs as it is."""
    out = []
    for p in map(str, paths):
        if any(ch in p for ch in "*?["):
            found = sorted(glob.glob(p))
            if not found:
                raise ValueError(f"paths: {p!r} matches no file")
            out += found
        else:
            out.append(p)
    return out


def checked_env() -> None:
    """Put the regression-checked settings into this process's environment (kernels inherit them)."""
    os.environ.update(CHECKED_ENV)


def execute_notebook(path, *, timeout: int = 600, allow_errors: bool = False, save: bool = True,
                     figures=None):
    """Run the notebook at ``path`` in its own folder; return (notebook, seconds).

    figures: folder where the notebook's ``dlnlib.savefig`` calls write (sets ``$DLNLIB_FIGURES`` for
    the kernel); None keeps whatever the environment says (by default: no figure is written).
    """
    path = Path(path)
    if not path.is_file() or path.suffix != ".ipynb":
        raise ValueError(f"path: got {str(path)!r}, expected an existing .ipynb file")
    checked_env()
    previous = os.environ.get("DLNLIB_FIGURES")
    if figures is not None:
        os.environ["DLNLIB_FIGURES"] = str(Path(figures).resolve())
    try:
        nb, seconds = _run(path, timeout, allow_errors)
    finally:
        if previous is None:
            os.environ.pop("DLNLIB_FIGURES", None)
        else:
            os.environ["DLNLIB_FIGURES"] = previous
    if save:
        nbformat.write(nb, path)
    return nb, seconds


def _run(path: Path, timeout: int, allow_errors: bool):
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
    p.add_argument("--no-save", action="store_true", help="run only; leave the notebook files as they are")
    p.add_argument("--figures", metavar="DIR", default=None,
                   help="write the notebooks' figures (dlnlib.savefig) into DIR, e.g. figures (make figures)")
    args = p.parse_args(argv)
    for path in expand_paths(args.paths):
        _, seconds = execute_notebook(path, timeout=args.timeout, save=not args.no_save, figures=args.figures)
        print(f"{path}: executed in {seconds:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
