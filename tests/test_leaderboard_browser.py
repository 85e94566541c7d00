"""The leaderboard in a real headless browser.

`rib leaderboard serve` runs on 127.0.0.1 as a subprocess over a results store; the system's
Chromium (the Debian package at /usr/bin/chromium, never a browser download) loads the page,
driven by Playwright with every host but 127.0.0.1 unresolvable, so the page must render
offline. The test reads the table Gradio rendered in the DOM after its JavaScript ran, checks
each model's mRI against the closed form, opens a row's detail view by a click and by its
``?row=`` link, and keeps a full-page screenshot (``$RIB_TEST_ARTIFACTS`` or
``tests/artifacts/``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from imagenet_rib.results import ResultStore
from support.report_data import (
    SCALE,
    SUITE,
    expected_ri,
    synthetic_records,
    synthetic_results,
    write_suite_yaml,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BROWSERS = ("chromium", "chromium-browser")
#: Chromium switches for a closed network: no background traffic, only 127.0.0.1 resolves.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
TIMEOUT_MS = 90_000
#: The grid Gradio renders: rows of cells, header first.
GRID_JS = """() => Array.from(document.querySelectorAll('#rib-leaderboard [role=row]')).map(
    r => Array.from(r.querySelectorAll('[role=columnheader],[role=gridcell]')).map(
        c => c.innerText.trim()))"""
IMAGES_JS = """() => ['#rib-heatmap', '#rib-bars'].every(id => {
    const img = document.querySelector(id + ' img');
    return img !== null && img.complete && img.naturalWidth > 100; })"""


def _chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(
        "no Chromium on this machine: install the system package (apt-get install chromium); "
        ".ci/run installs it before the tests"
    )


def _artifacts() -> Path:
    folder = Path(os.environ.get("RIB_TEST_ARTIFACTS") or ROOT / "tests" / "artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    pytest.importorskip("gradio", reason="gradio is an optional extra: imagenet-rib[leaderboard]")
    _, correct = synthetic_results()
    recs = synthetic_records()
    folder = tmp_path_factory.mktemp("board")
    store = folder / "results.sqlite"
    ResultStore(store).add(recs, {r.key: correct(r.key) for r in recs})
    port = _free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log = open(folder / "serve.log", "w")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "imagenet_rib", "leaderboard", "serve", "--store", str(store)]
    suite = write_suite_yaml(folder / "toy-suite.yaml")  # the records' suite is not built in
    proc = subprocess.Popen(
        [*cmd, "--suite", str(suite), "--port", str(port), "--n-boot", "200"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(
                    f"the server exited ({proc.returncode}):\n{(folder / 'serve.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not answer in 180 s:\n{(folder / 'serve.log').read_text()}"
                )
            time.sleep(0.5)
        yield url, store
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = _chromium()
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (pip) drives the system Chromium; see lock.txt"
    )
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def _grid(page) -> dict[tuple[str, str], dict[str, str]]:
    page.wait_for_selector("#rib-leaderboard [role=gridcell]", timeout=TIMEOUT_MS)
    header, *rows = page.evaluate(GRID_JS)
    return {
        (r[header.index("model")], r[header.index("method")]): dict(zip(header, r)) for r in rows
    }


def test_page_shows_every_model_and_its_mri(server, browser):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if "://127.0.0.1" not in r.url else None)
    page.goto(url, timeout=TIMEOUT_MS)
    grid = _grid(page)
    assert set(grid) == {(m, method) for m in SCALE for method in ("ft", "lwf", "wise-ft")}
    for (model, method), cells in grid.items():
        if (model, method) == ("src-a", "ft"):  # d2 -> d3 is missing: no number shown
            assert cells["mRI"] == "incomplete (2 of 3 sets)"
            continue
        seeds = 2 if (model, method) == ("src-b", "lwf") else 1
        mri = np.mean([expected_ri(model, method, i) for i in SUITE]) + 0.5 * (seeds - 1)
        assert cells["mRI"] == f"{mri:+.2f}", (model, method, cells)
        assert cells["seeds"] == str(seeds) and cells["mRI 95% CI"].startswith("[")
        assert cells["mRI 95% CI"].endswith("(seeds)" if seeds == 2 else "(images)")
    assert grid[("src-b", "ft")]["mRI"] == "-8.00"

    # a click on a row opens its detail view: the heatmap, the bars and the dA table
    page.locator("#rib-leaderboard [role=gridcell]").filter(has_text="-3.50").first.click()
    page.locator("#rib-detail h3").filter(has_text="src-b @ rev0 / lwf").wait_for(
        timeout=TIMEOUT_MS
    )
    page.wait_for_function(IMAGES_JS, timeout=TIMEOUT_MS)
    assert "Student t over 2 seeds" in page.locator("#rib-detail").inner_text()
    assert outside == [], f"the page requested hosts other than 127.0.0.1: {outside}"


def test_row_link_opens_its_detail_view_and_a_screenshot_is_kept(server, browser):
    from PIL import Image

    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(url, timeout=TIMEOUT_MS)
    rid = _grid(page)[("src-a", "ft")]["#"]
    page.goto(f"{url}?row={rid}", timeout=TIMEOUT_MS)
    detail = page.locator("#rib-detail")
    detail.locator("h3").filter(has_text=f"#{rid} src-a @ rev0 / ft").wait_for(timeout=TIMEOUT_MS)
    page.wait_for_function(IMAGES_JS, timeout=TIMEOUT_MS)
    text = detail.inner_text()
    assert "missing cells (1), reported as n/a, never as 0: d2->d3" in text
    assert "no interval: the matrix is incomplete" in text
    shot = _artifacts() / "leaderboard.png"
    page.screenshot(path=str(shot), full_page=True)
    print(f"\nleaderboard screenshot: {shot}")
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.shape[1] == 1400 and pixels.shape[0] >= 1400 and pixels.std() > 10


def test_reload_shows_results_written_while_serving(server, browser):
    """Last in this module: it adds a pretraining source to the served store."""
    url, store = server
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(url, timeout=TIMEOUT_MS)
    assert "src-c" not in {model for model, _ in _grid(page)}
    recs = [
        replace(r, model="src-c", run_id=f"src-c-{r.run_id}")
        for r in synthetic_records()
        if r.model == "src-b" and r.method in ("pretrained", "ft")
    ]
    ResultStore(store).add(recs)  # a run finishing while the app serves the store read-only
    page.locator("#rib-reload").click()
    page.locator("#rib-leaderboard [role=gridcell]").filter(has_text="src-c").first.wait_for(
        timeout=TIMEOUT_MS
    )
    assert _grid(page)[("src-c", "ft")]["mRI"] == "-8.00"
