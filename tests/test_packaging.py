"""`pip install .` gives a working series without the repository: the wheel carries every subpackage, installs
into a fresh virtual environment, imports every module there and executes notebook 01 with that Python.

No network: the fresh environment sees the packages already installed for the tests (torch, numpy, ...)
through a folder of links to this environment's site-packages that leaves out dlnlib's own entries (the
editable install's metadata and import hook), and pip installs with --no-index, so every runtime dependency
must be resolved from what is there. The repository is never on the fresh environment's path: no
PYTHONPATH, and every command runs from a temporary folder.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import nbformat
import torch

ROOT = Path(__file__).resolve().parents[1]
SOURCE_FILES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "dlnlib").rglob("*.py"))


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DLNLIB_FIGURES", "PIP_REQUIRE_VIRTUALENV"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", **extra)
    return env


def _run(cmd, cwd, timeout=300):
    res = subprocess.run([str(c) for c in cmd], cwd=cwd, env=_env(), capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"{cmd[:4]} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
    return res.stdout


def _build_wheel(tmp: Path) -> Path:
    """Build from a copy of the sources, so the build writes nothing into the repository."""
    src = tmp / "src"
    shutil.copytree(ROOT / "dlnlib", src / "dlnlib", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", tmp / "dist", src], cwd=tmp)
    (wheel,) = (tmp / "dist").glob("dlnlib-*.whl")
    return wheel


def _site_packages_without_dlnlib(tmp: Path) -> Path:
    """Links to every entry of this environment's site-packages except dlnlib's own and the .pth hooks."""
    view = tmp / "deps"
    view.mkdir()
    for folder in {Path(sysconfig.get_paths()[k]) for k in ("purelib", "platlib")}:
        for entry in folder.iterdir():
            name = entry.name.lower()
            if name.startswith(("dlnlib", "__editable__", "_dlnlib")) or name.endswith(".pth"):
                continue
            if not (view / entry.name).exists():
                (view / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    return view


def test_wheel_installs_and_runs_notebook_01_without_the_repository(tmp_path):
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    missing = [f for f in SOURCE_FILES if f not in names]
    assert not missing, f"modules missing from the wheel: {missing}"
    packages = {f.rsplit("/", 1)[0] for f in SOURCE_FILES}
    assert {"dlnlib", "dlnlib/plotting", "dlnlib/widgets", "dlnlib/exercises"} <= packages

    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path).strip())
    (purelib / "shared-deps.pth").write_text(str(_site_packages_without_dlnlib(tmp_path)) + "\n")

    # Nothing to import before the install: the repository is not on the path.
    probe = subprocess.run([py, "-c", "import dlnlib"], cwd=tmp_path, env=_env(), capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'dlnlib'" in probe.stderr

    # As the Colab setup cell does: the torch already there is pinned, so it can never be replaced (and with
    # --no-index, any dependency the existing packages did not satisfy would fail the install).
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--no-cache-dir", "-q",
          f"torch=={torch.__version__}", wheel], cwd=tmp_path)

    imported = json.loads(_run([py, "-c", (
        "import importlib, json, pkgutil, dlnlib\n"
        "mods = sorted(m.name for m in pkgutil.walk_packages(dlnlib.__path__, 'dlnlib.'))\n"
        "for m in mods: importlib.import_module(m)\n"
        "print(json.dumps({'file': dlnlib.__file__, 'modules': mods}))\n")], tmp_path))
    assert Path(imported["file"]).is_relative_to(env_dir)
    expected = {f[:-3].replace("/", ".").removesuffix(".__init__") for f in SOURCE_FILES} - {"dlnlib"}
    assert set(imported["modules"]) == expected

    notebook = nbformat.read(ROOT / "notebooks" / "01_gradients.ipynb", as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import sys, dlnlib\nprint(sys.prefix)\nprint(dlnlib.__file__)"))
    work = tmp_path / "work"
    work.mkdir()
    nbformat.write(notebook, work / "01_gradients.ipynb")
    _run([py, "-m", "dlnlib.execute", "--timeout", "300", "01_gradients.ipynb"], cwd=work)
    ran = nbformat.read(work / "01_gradients.ipynb", as_version=4)
    errors = [o for c in ran.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    prefix, location = ran.cells[-1].outputs[0]["text"].split()
    assert Path(prefix) == env_dir and Path(location).is_relative_to(env_dir)  # the kernel is the new venv's
    assert sorted(p.name for p in work.iterdir()) == ["01_gradients.ipynb"]  # and it wrote no figure
