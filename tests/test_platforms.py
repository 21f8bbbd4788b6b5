"""Colab, Binder, Windows: each notebook's first cell is the setup cell (a no-op where dlnlib imports; on
Colab an install that keeps Colab's torch), the README's Windows commands contain no POSIX-only syntax,
and `python -m dlnlib.runchecks` sets the checked-run environment itself."""

import importlib.util
import os
import platform
import re
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
import torch

import dlnlib.runchecks as runchecks
from dlnlib.execute import CHECKED_ENV
from dlnlib.setupcell import TAG, cell_source, repository_url

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/[0-9][0-9]_*.ipynb"))


def _setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code")
    assert TAG in first.metadata.get("tags", []), f"{path.name}: the first code cell is not the setup cell"
    return first


def test_every_notebook_starts_with_the_same_setup_cell():
    sources = {_setup_cell(p).source for p in NOTEBOOKS}
    assert len(sources) == 1


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_setup_cell_is_a_no_op_where_dlnlib_imports(path):
    src = _setup_cell(path).source
    res = subprocess.run([sys.executable, "-c", src + "\nprint('done')"], cwd=path.parent,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and res.stdout == "done\n", res.stderr
    assert _setup_cell(path).outputs == []  # and it printed nothing in the stored run


class _Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))


def _colab(monkeypatch, *, installed: bool):
    """Pretend to be a Colab kernel, with or without dlnlib; record pip calls and the widget switch."""
    google, colab = types.ModuleType("google"), types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=_Recorder())
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: (real(name, *a) if installed or name != "dlnlib" else None))
    pip = _Recorder()
    monkeypatch.setattr(subprocess, "run", pip)
    return colab.output.enable_custom_widget_manager, pip


def test_setup_cell_on_colab_installs_from_the_repository_keeping_torch(monkeypatch):
    src = cell_source("https://github.com/example/dlnlib.git")
    widgets, pip = _colab(monkeypatch, installed=False)
    exec(compile(src, "setup", "exec"), {})
    assert len(widgets.calls) == 1 and len(pip.calls) == 1
    (cmd,), kwargs = pip.calls[0]
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"] and kwargs == {"check": True}
    assert f"torch=={torch.__version__}" in cmd  # Colab's torch satisfies the pin: never reinstalled
    assert "dlnlib @ git+https://github.com/example/dlnlib" in cmd


def test_setup_cell_without_a_repository_asks_for_it_on_colab(monkeypatch):
    # The stored cells carry whatever URL the repository names (none yet): a Colab user is told what to do.
    src = _setup_cell(NOTEBOOKS[0]).source
    url = repository_url(ROOT)
    assert src == cell_source(url)
    widgets, pip = _colab(monkeypatch, installed=False)
    if url:
        exec(compile(src, "setup", "exec"), {})
        assert len(pip.calls) == 1
    else:
        with pytest.raises(RuntimeError, match="REPOSITORY is not set"):
            exec(compile(src, "setup", "exec"), {})
        assert pip.calls == []


def test_cell_source_rejects_bad_urls():
    with pytest.raises(ValueError, match="repo: got 'git@github.com:x/y'"):
        cell_source("git@github.com:x/y")
    with pytest.raises(ValueError, match="without quotes"):
        cell_source('https://x/"; import os')
    with pytest.raises(TypeError, match="repo"):
        cell_source(None)


def test_setup_cell_on_colab_with_dlnlib_installed_only_enables_widgets(monkeypatch):
    widgets, pip = _colab(monkeypatch, installed=True)
    exec(compile(_setup_cell(NOTEBOOKS[0]).source, "setup", "exec"), {})
    assert len(widgets.calls) == 1 and pip.calls == []


def test_setup_cell_elsewhere_without_dlnlib_says_how_to_install(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "dlnlib" else real(name, *a))
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(ModuleNotFoundError, match="README"):
        exec(compile(_setup_cell(NOTEBOOKS[0]).source, "setup", "exec"), {})


def _section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert m, f"README has no section '## {title}'"
    return m.group(1)


def _code_lines(section: str) -> list[str]:
    blocks = re.findall(r"```[a-z]*\n(.*?)```", section, re.S)
    assert blocks
    return [line for b in blocks for line in b.splitlines() if line.strip() and not line.lstrip().startswith("#")]


POSIX_ONLY = {
    "VAR=value before a command": re.compile(r"(^|\s)[A-Za-z_][A-Za-z0-9_]*=\S*\s+\S"),
    "export": re.compile(r"(^|[;&]\s*)export\s"),
    "sourcing an activate script": re.compile(r"(^|\s)(\.|source)\s+\S*activate"),
    "a bin/ path": re.compile(r"(^|[\s/])bin/"),
    "&& (not in Windows PowerShell 5)": re.compile(r"&&"),
    "a line continued with a backslash": re.compile(r"\\\s*$"),
    "make": re.compile(r"(^|\s)make(\s|$)"),
    "command substitution $(...)": re.compile(r"\$\("),
}


def test_readme_windows_commands_have_no_posix_only_syntax():
    lines = _code_lines(_section("On Windows (PowerShell, no make)"))
    bad = [(line, why) for line in lines for why, rx in POSIX_ONLY.items() if rx.search(line.split(" #")[0])]
    assert not bad, bad
    # PowerShell passes `*` to programs unexpanded: only dlnlib's own commands, which expand it, may take one.
    assert all("-m dlnlib." in line for line in lines if "*" in line.split(" #")[0])
    assert any("dlnlib.runchecks" in line for line in lines) and any("jupyter lab" in line for line in lines)


def test_posix_only_patterns_are_recognised():
    samples = ["PYTHONHASHSEED=0 python -m pytest", "export X=1", ". .venv/bin/activate",
               "python -m venv .venv && x", "pytest tests \\", "make test", "echo $(id -u)"]
    assert all(any(rx.search(s) for rx in POSIX_ONLY.values()) for s in samples)
    assert not any(rx.search(r'.venv\Scripts\python -m pip install -c constraints.txt -e ".[lab,test]"')
                   for rx in POSIX_ONLY.values())


def test_readme_has_the_colab_binder_and_without_make_sections():
    assert "first cell" in _section("On Colab")
    assert "binder/" in _section("On Binder")
    assert any("dlnlib.runchecks" in line for line in _code_lines(_section("Without make (Linux, macOS)")))
    assert "make student" in _section("How students get the student version")


def test_runchecks_sets_the_checked_environment_itself(monkeypatch):
    seen = []
    monkeypatch.setattr(runchecks.subprocess, "run",
                        lambda cmd, env: seen.append((cmd, env)) or types.SimpleNamespace(returncode=0))
    for key in CHECKED_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(ROOT)
    assert runchecks.main(["notebooks/03_balancedness.ipynb"]) == 0
    (lint, lint_env), (tests, env) = seen
    assert lint[1:] == ["-m", "ruff", "check", "dlnlib", "tests", "benchmarks"]
    assert tests[1:] == ["-m", "pytest", "-q", "notebooks/03_balancedness.ipynb", *runchecks.NBVAL]
    assert all(env[k] == v for k, v in CHECKED_ENV.items())
    seen.clear()
    assert runchecks.main(["--unit", "--no-lint"]) == 0
    assert [cmd[1:] for cmd, _ in seen] == [["-m", "pytest", "-q", "tests"]]


def test_dlnlib_commands_expand_wildcards_themselves(monkeypatch):
    from dlnlib.execute import expand_paths

    monkeypatch.chdir(ROOT)
    pattern = str(Path("notebooks") / "0[01]_*.ipynb")
    assert expand_paths([pattern, "README.md"]) == [str(Path("notebooks") / "00_start_here.ipynb"),
                                                    str(Path("notebooks") / "01_gradients.ipynb"), "README.md"]
    with pytest.raises(ValueError, match=r"paths: 'nothing\*\.ipynb' matches no file"):
        expand_paths(["nothing*.ipynb"])


def test_makefile_and_python_route_use_the_same_checked_environment():
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if ln.startswith("CHECKED_ENV :="))
    assert dict(kv.split("=", 1) for kv in line.split(":=", 1)[1].split()) == CHECKED_ENV


@pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="AVX2 pinning is for x86-64 CPUs")
def test_checked_environment_pins_torch_kernels_to_avx2():
    code = "import torch; print(torch.backends.cpu.get_cpu_capability())"
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, **CHECKED_ENV}, capture_output=True,
                         text=True, check=True).stdout.strip()
    assert out == "AVX2"


def test_repository_url_is_read_from_pyproject_with_and_without_tomllib(tmp_path, monkeypatch):
    # Python 3.10 (the oldest supported) has no tomllib; the URL must come out the same there
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[project.urls]\nHomepage = "https://a.example"\n'
                                             'Repository = "https://github.com/OWNER/REPO"\n\n[tool.x]\ny = 1\n')
    assert repository_url(tmp_path) == "https://github.com/OWNER/REPO"
    monkeypatch.setitem(sys.modules, "tomllib", None)  # import tomllib now fails as on Python 3.10
    assert repository_url(tmp_path) == "https://github.com/OWNER/REPO"
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert repository_url(tmp_path) == ""
