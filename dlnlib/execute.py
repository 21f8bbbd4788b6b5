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
from collections.abc import Iterable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from .core import check_flag, check_int

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


def _path_arg(name: str, value) -> Path:
    """``value`` as a Path when it is a non-empty str or os.PathLike; TypeError naming ``name`` otherwise."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise TypeError(f"{name}: got {value!r} ({type(value).__name__}), expected a path (a non-empty str or "
                        "pathlib.Path)")
    return Path(value)


def _paths_arg(name: str, values) -> list[Path]:
    """A list of paths (str or os.PathLike); a bare string is refused rather than read letter by letter."""
    if isinstance(values, (str, bytes, os.PathLike)) or not isinstance(values, Iterable):
        raise TypeError(f"{name}: got {type(values).__name__}, expected a list of paths (put one path in a list)")
    values = list(values)
    for value in values:
        if not isinstance(value, (str, os.PathLike)) or not os.fspath(value):
            raise TypeError(f"{name}: got an entry {value!r} ({type(value).__name__}), expected paths (str or "
                            "pathlib.Path)")
    return [Path(v) for v in values]


def _folder_arg(name: str, value) -> Path:
    """A folder to write into: an existing folder, or a new one whose parent exists (a typo never creates a tree)."""
    path = _path_arg(name, value)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name}: got {str(path)!r}, which is a file; expected a folder")
    if not path.exists() and not path.resolve().parent.is_dir():
        raise ValueError(f"{name}: got {str(path)!r}, expected an existing folder or a new one inside an existing "
                         "folder")
    return path




def _read_notebook(name: str, path: Path):
    """The notebook at ``path`` (nbformat 4); ValueError naming ``name`` when it is not an existing notebook file."""
    if not path.is_file() or path.suffix != ".ipynb":
        what = "existing .ipynb files" if name == "paths" else "an existing .ipynb file"
        raise ValueError(f"{name}: got {str(path)!r}, expected {what}")
    try:
        return nbformat.read(path, as_version=4)
    except (ValueError, nbformat.ValidationError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: {str(path)!r} is not a readable notebook ({type(exc).__name__}: {exc})") from None


def expand_paths(paths) -> list[str]:
    """Expand wildcards here, since PowerShell and cmd pass ``notebooks\\*.ipynb`` to programs as it is."""
    out = []
    for p in map(str, _paths_arg("paths", paths)):
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
    path = _path_arg("path", path)
    nb = _read_notebook("path", path)
    timeout = check_int("timeout", timeout, minimum=1)
    check_flag("allow_errors", allow_errors)
    check_flag("save", save)
    if figures is not None:
        figures = _folder_arg("figures", figures)
    checked_env()
    previous = os.environ.get("DLNLIB_FIGURES")
    if figures is not None:
        os.environ["DLNLIB_FIGURES"] = str(Path(figures).resolve())
    try:
        nb, seconds = _run(nb, path, timeout, allow_errors)
    finally:
        if previous is None:
            os.environ.pop("DLNLIB_FIGURES", None)
        else:
            os.environ["DLNLIB_FIGURES"] = previous
    if save:
        nbformat.write(nb, path)
    return nb, seconds


def _run(nb, path: Path, timeout: int, allow_errors: bool):
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
