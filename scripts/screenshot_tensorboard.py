"""Screenshots of TensorBoard's Scalars, Histograms and Graphs dashboards over the runs docs/tensorboard.md logs.

Run with `make screenshots` (or `.venv/bin/python scripts/screenshot_tensorboard.py`). It trains the page's two
runs in a temporary folder, starts the venv's `tensorboard` on 127.0.0.1 on a free port, opens each dashboard in
headless Chromium through Playwright, saves docs/assets/tensorboard-<dashboard>.png and stops the server by its
PID. Nothing else is written in the checkout and nothing is fetched from the network.

The viewport is about as wide as the page's text column, and pixels are doubled: shown in the page at their
width, the dashboards' own text keeps about its size on screen, and stays sharp.
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
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # snippets/, when run as a plain script

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from snippets.tensorboard import train  # noqa: E402
from tests.browser import launch  # noqa: E402  (Debian's Chromium, as the tests drive it)

ASSETS = ROOT / "docs" / "assets"
TENSORBOARD = Path(sys.executable).parent / "tensorboard"
RUNS = {"lr-0.01": 0.01, "lr-0.001": 0.001}  # the page's runs, named as the page names them
WIDTH = 760  # CSS pixels: about the width of the page's text column at desktop size
SCALE = 2  # device pixels per CSS pixel
TIMEOUT_S = 30
MAX_BYTES = 160_000  # per picture: the page must stay light on first load


def log_runs(log_root: Path) -> None:
    """The page's training runs: same seed, same learning rates, same folder names."""
    torch.set_num_threads(1)  # tiny tensors gain nothing from more threads
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


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} within {TIMEOUT_S} s")
        time.sleep(0.2)


def drawn_paths(page: Page, selector: str) -> int:
    """How many SVG paths matching `selector` have something drawn (Playwright's CSS reaches into shadow DOM)."""
    return sum(1 for d in page.locator(selector).evaluate_all("ps => ps.map(p => p.getAttribute('d'))") if d)


def scalars(page: Page, url: str) -> None:
    """The Scalars tab with the validation curves of both runs."""
    page.goto(url + "/#scalars&tagFilter=%5E(accuracy%7Closs)%2Fvalidation")
    charts = 2  # accuracy/validation, loss/validation
    # A smoothed and a raw line per run and per chart.
    wait_until(lambda: drawn_paths(page, "tf-scalar-card:visible path.line") >= 2 * charts * len(RUNS),
               "the scalar charts were not drawn")


def histograms(page: Page, url: str) -> None:
    """The Histograms tab: the gradients of the first and the last layer's weights, for the lr-0.01 run."""
    page.goto(url + "/#histograms&tagFilter=gradients%2Flayers%5C.%5B04%5D%5C.weight&regexInput=lr-0%5C.01%24")
    last = page.get_by_text("gradients/layers.4.weight", exact=True)
    wait_until(lambda: last.count() > 0, "the last layer's histogram did not show")
    wait_until(lambda: drawn_paths(page, "vz-histogram-timeseries:visible path") > 0, "the histograms were not drawn")


def graphs(page: Page, url: str) -> None:
    """The Graphs tab, the MLP opened down to its layers."""
    page.goto(url + "/#graphs")
    for name in ("MLP", "Sequential"):
        node = page.locator(f"g.node:has-text('{name}')").last
        wait_until(lambda: node.count() > 0, f"the graph did not show the {name} node")
        node.dblclick()  # open the box (and select the node, which shows its info card)
        page.wait_for_timeout(500)
    info_card = page.get_by_text("Remove from main graph")  # the selected node's card
    wait_until(lambda: info_card.is_visible(), "the opened node was not selected")

    def deselected() -> bool:
        page.locator("tf-graph-scene svg#svg").click(position={"x": 10, "y": 10})  # the empty background
        page.wait_for_timeout(300)
        return not info_card.is_visible()

    wait_until(deselected, "the node's info card did not close")
    page.get_by_text("Legend", exact=True).first.click()  # fold the legend away
    page.get_by_text("Fit to screen", exact=True).first.click()


DASHBOARDS = {"scalars": (scalars, 770), "histograms": (histograms, 690), "graphs": (graphs, 900)}


def capture(url: str, output_dir: Path) -> list[Path]:
    """Open each dashboard, wait until it has drawn, save a PNG of it."""
    saved = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for name, (open_dashboard, height) in DASHBOARDS.items():
                page = browser.new_page(viewport={"width": WIDTH, "height": height}, device_scale_factor=SCALE)
                open_dashboard(page, url)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(1000)  # the charts' last transition
                path = output_dir / f"tensorboard-{name}.png"
                page.screenshot(path=str(path))
                page.close()
                saved.append(path)
        finally:
            browser.close()
    return saved


def shrink(png: Path) -> None:
    """Quantise to a 256-colour palette (a dashboard has few colours) and optimise."""
    Image.open(png).convert("RGB").quantize(colors=256).save(png, optimize=True)
    if png.stat().st_size > MAX_BYTES:
        raise RuntimeError(f"{png} is {png.stat().st_size} bytes, over {MAX_BYTES}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=ASSETS, help=f"where to save (default {ASSETS})")
    output_dir = parser.parse_args().output_dir
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="screenshot-tensorboard-") as folder:
        workdir = Path(folder)
        log_runs(workdir / "runs")
        with tensorboard(workdir, "runs") as url:
            saved = capture(url, output_dir)
    for png in saved:
        shrink(png)
        print(f"wrote {png} ({png.stat().st_size // 1000} kB)")


if __name__ == "__main__":
    main()
