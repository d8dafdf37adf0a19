"""Screenshot of TensorBoard's Scalars dashboard over the runs docs/tensorboard.md logs.

Run with `make screenshots` (or `.venv/bin/python scripts/screenshot_tensorboard.py`). It trains the page's two
runs in a temporary folder, starts the venv's `tensorboard` on 127.0.0.1 on a free port, opens the Scalars
dashboard in headless Chromium through Playwright, saves docs/assets/tensorboard-scalars.png and stops the
server by its PID. Nothing else is written in the checkout and nothing is fetched from the network.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # snippets/, when run as a plain script

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from snippets.tensorboard import train  # noqa: E402
from tests.browser import launch  # noqa: E402  (Debian's Chromium, as the tests drive it)

OUTPUT = ROOT / "docs" / "assets" / "tensorboard-scalars.png"
TENSORBOARD = Path(sys.executable).parent / "tensorboard"
RUNS = {"lr-0.01": 0.01, "lr-0.001": 0.001}  # the page's runs, named as the page names them
# The Scalars tab, showing only the curves train() logs (the hparam/* metrics would push them off screen).
DASHBOARD = "/#scalars&tagFilter=%5E(loss%7Caccuracy)%2F"
CHARTS = 3  # accuracy/validation, loss/train, loss/validation
VIEWPORT = {"width": 1100, "height": 720}
TIMEOUT_S = 30
MAX_BYTES = 150_000  # the page must stay light on first load


def log_runs(log_root: Path) -> None:
    """The page's training runs: same seed, same learning rates, same folder names."""
    # A plain script, not under the test suite's OMP_NUM_THREADS=1: train on one thread, as the page's doc-tests
    # do (tiny tensors gain nothing from more; the numbers are the same either way, train() runs in float64).
    torch.set_num_threads(1)
    for name, lr in RUNS.items():
        torch.manual_seed(0)
        train(log_root / name, lr=lr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def tensorboard(workdir: Path, logdir: str) -> Iterator[str]:
    """The real server on loopback over workdir/logdir, started from workdir as the page says (the dashboard
    shows the logdir as given); yields its URL once it lists every run; always stopped by its PID."""
    port, log = free_port(), workdir / "tensorboard.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(TENSORBOARD), "--logdir", logdir, "--host", "127.0.0.1", "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, cwd=workdir, env={**os.environ, "TMPDIR": str(workdir)},
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tensorboard exited with {process.returncode}:\n{log.read_text()}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                with urllib.request.urlopen(url + "/data/runs", timeout=5) as response:
                    if set(RUNS) <= set(json.load(response)):
                        break
            if time.monotonic() > deadline:
                raise RuntimeError(f"tensorboard did not list the runs within {TIMEOUT_S} s:\n{log.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def capture(url: str, output: Path) -> None:
    """Open the Scalars dashboard, wait until every chart has drawn a line per run, save a PNG."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(url + DASHBOARD)
            lines = page.locator("tf-scalar-card:visible path.line")  # Playwright's CSS reaches into shadow DOM
            deadline = time.monotonic() + TIMEOUT_S
            # A smoothed and a raw line per run and per chart, each with a drawn path.
            while sum(1 for d in lines.evaluate_all("paths => paths.map(p => p.getAttribute('d'))") if d) < (
                2 * CHARTS * len(RUNS)
            ):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the charts were not drawn within {TIMEOUT_S} s")
                time.sleep(0.2)
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1000)  # the charts' last transition
            page.screenshot(path=str(output))
        finally:
            browser.close()


def shrink(png: Path) -> None:
    """Optimise the PNG; quantise to a 256-colour palette only if it is still too heavy for the page."""
    image = Image.open(png)
    image.save(png, optimize=True)
    if png.stat().st_size > MAX_BYTES:
        image.convert("RGB").quantize(colors=256).save(png, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"where to save the PNG (default {OUTPUT})")
    output = parser.parse_args().output
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshot-tensorboard-") as folder:
        workdir = Path(folder)
        log_runs(workdir / "runs")
        with tensorboard(workdir, "runs") as url:
            capture(url, output)
    shrink(output)
    print(f"wrote {output} ({output.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main()
