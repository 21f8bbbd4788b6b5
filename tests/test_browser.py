"""Real-browser tests: each notebook with sliders is served by Voila on 127.0.0.1, opened in headless
Chromium, run, and a slider is moved; the rendered figure must change. Screenshots go to
``artifacts/browser/`` (git-ignored). Skips, with the reason, when Chromium or Playwright is missing
(``.ci/run`` installs both, so CI always runs them).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = ROOT / "artifacts" / "browser"
SLIDER_NOTEBOOKS = sorted(
    p for p in ROOT.glob("notebooks/[0-9][0-9]_*.ipynb")
    if "_demo(" in p.read_text() and "NBVAL_IGNORE_OUTPUT" in p.read_text()
)

if CHROMIUM is None:
    pytest.skip("Chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"no answer from {url} within {timeout:.0f} s")


@pytest.fixture
def voila_server(request, tmp_path):
    """Start Voila for one notebook on a free loopback port; always stop it by PID (its process group)."""
    servers = []

    def start(notebook: Path) -> str:
        port = free_port()
        log = open(tmp_path / "voila.log", "w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
             "--Voila.ip=127.0.0.1", "--VoilaConfiguration.show_tracebacks=True"],
            cwd=notebook.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "DLNLIB_PROGRESS": "0", "PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"},
        )
        servers.append((proc, log))
        url = f"http://127.0.0.1:{port}/"
        wait_http(url, proc)
        return url

    yield start
    for proc, log in servers:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield b
        b.close()


def image_src(page) -> str:
    return page.eval_on_selector("img.widget-image, .widget-image img, img", "img => img.src")


def test_every_slider_notebook_is_found():
    names = {p.name for p in SLIDER_NOTEBOOKS}
    assert {"00_start_here.ipynb", "01_gradients.ipynb"} <= names


@pytest.mark.parametrize("notebook", SLIDER_NOTEBOOKS, ids=lambda p: p.stem)
def test_slider_moves_the_figure_in_a_real_browser(notebook, voila_server, browser):
    url = voila_server(notebook)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(url, timeout=240_000, wait_until="domcontentloaded")
        slider = page.locator(".widget-slider").first
        slider.wait_for(state="visible", timeout=240_000)
        widget_img = page.locator(".widget-image").first
        widget_img.wait_for(state="visible", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.widget-image').src.startsWith('blob:')",
                               timeout=60_000)
        before = widget_img.get_attribute("src")
        readout = slider.locator(".widget-readout")
        old_text = readout.inner_text().strip()
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        # Move away from whichever end the slider sits at (a slider at its maximum ignores ArrowRight).
        at_max = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        for _ in range(3):
            handle.press("ArrowLeft" if at_max else "ArrowRight")
        page.wait_for_function(
            "old => document.querySelector('.widget-image').src !== old", arg=before, timeout=60_000)
        after = widget_img.get_attribute("src")
        assert after != before
        assert readout.inner_text().strip() != old_text
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        widget_img.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / f"{notebook.stem}.png"), full_page=False)
    finally:
        page.close()
