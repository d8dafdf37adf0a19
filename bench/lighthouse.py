"""Lighthouse (npm's, pinned in bench/package-lock.json) on every page of the built site and on a stock
Material page with 20 code blocks, built in the same run: the mobile profile, Debian's Chromium.

    python bench/lighthouse.py SITE_DIR     prints a Markdown table (bench/run.py calls `table`)

Both sites are served from 127.0.0.1 the way GitHub Pages serves them, text compressed with gzip
(`python bench/lighthouse.py serve FOLDER PATH`): Lighthouse's mobile profile simulates a slow network, on
which uncompressed text would weigh several times what a reader receives.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import COMPRESSED, StaticServer  # noqa: E402 - the repository's root is put on the path first
from tests.test_site import page_names  # noqa: E402 - likewise

BENCH = ROOT / "bench"
LIGHTHOUSE = BENCH / "node_modules" / ".bin" / "lighthouse"
CHROME = os.environ.get("CHROME_PATH", "/usr/bin/chromium")
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
STOCK_BLOCKS = 20
STOCK_CONFIG = """site_name: Stock Material
site_url: http://127.0.0.1/
theme:
  name: material
  font: false
  features: [content.code.copy]
markdown_extensions:
  - pymdownx.highlight
  - pymdownx.superfences
"""


class CompressingHandler(http.server.SimpleHTTPRequestHandler):
    """A static file, gzipped when it is text and the browser accepts gzip, as GitHub Pages sends it."""

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?")[0].endswith("/"):
            path = path / "index.html"
        kind = self.guess_type(str(path))
        accepted = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (path.is_file() and COMPRESSED.search(kind) and accepted):
            return super().send_head()  # an image, a folder's redirect, a missing file
        body = gzip.compress(path.read_bytes(), 6)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return _Body(body)

    def log_message(self, *arguments):
        pass


class _Body:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def read(self, *_):
        body, self.body = self.body, b""
        return body

    def close(self):
        pass


def serve(folder: str) -> None:
    """Serve `folder` on 127.0.0.1 and a free port, printing the port on the first line (as http.server)."""
    handler = functools.partial(CompressingHandler, directory=folder)
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        print(f"Serving HTTP on 127.0.0.1 port {server.server_address[1]}", flush=True)
        server.serve_forever()


class CompressingServer(StaticServer):
    """tests/browser.py's StaticServer, running `serve` above instead of plain http.server."""

    def command(self) -> list[str]:
        return [sys.executable, "-u", str(Path(__file__).resolve()), "serve", str(self.root)]


def stock_site(folder: Path) -> Path:
    """A stock Material site: one page of prose and 20 Python code blocks, built with the same mkdocs."""
    (folder / "docs").mkdir(parents=True)
    (folder / "mkdocs.yml").write_text(STOCK_CONFIG)
    block = "Some prose before the block.\n\n```python\nimport torch\n\nx = torch.zeros(2, 3)\nprint(x.shape)\n```\n"
    (folder / "docs" / "index.md").write_text("# A stock page\n\n" + "\n".join([block] * STOCK_BLOCKS))
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet"], cwd=folder, env=env, check=True)
    return folder / "site"


def audit(url: str, output: Path) -> dict[str, float]:
    """One Lighthouse run (mobile, its default): the four category scores, largest paint (s), blocking time
    (ms) and the DOM's element count."""
    command = [str(LIGHTHOUSE), url, "--quiet", "--output=json", f"--output-path={output}",
               f"--only-categories={','.join(CATEGORIES)}",
               "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]  # fmt: skip
    subprocess.run(command, check=True, env={**os.environ, "CHROME_PATH": CHROME}, timeout=300)
    report = json.loads(output.read_text())
    audits = report["audits"]
    return {
        **{category: report["categories"][category]["score"] for category in CATEGORIES},
        "lcp": audits["largest-contentful-paint"]["numericValue"] / 1000,
        "tbt": audits["total-blocking-time"]["numericValue"],
        "dom": audits["dom-size-insight"]["numericValue"],  # the page's element count
    }


def medians(url: str, runs: int, folder: Path) -> dict[str, float]:
    results = [audit(url, folder / f"report-{index}.json") for index in range(runs)]
    return {key: statistics.median(result[key] for result in results) for key in results[0]}


def table(site: Path, runs: int = 1) -> str:
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE.relative_to(ROOT)} is missing: `make bench` installs it (npm ci in bench/)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="primer-lighthouse-") as temporary:
        folder = Path(temporary)
        stock = CompressingServer(stock_site(folder / "stock"), folder / "stock-served", path="/")
        ours = CompressingServer(site, folder / "served")
        stock.start()
        ours.start()
        try:
            rows.append((f"stock Material page ({STOCK_BLOCKS} code blocks)", medians(stock.site_url, runs, folder)))
            for name in page_names():
                rows.append((f"/{name}", medians(ours.site_url + name, runs, folder)))
        finally:
            stock.stop()
            ours.stop()
    stock_performance = rows[0][1]["performance"]
    lines = [
        "| Page | Performance | Largest paint (s) | Blocking time (ms) | DOM elements | Accessibility "
        "| Best practices | SEO | Performance vs stock |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in rows:
        verdict = "" if name.startswith("stock") else ("at least stock" if r["performance"] >= stock_performance
                                                       else "**below stock**")  # fmt: skip
        lines.append(
            f"| {name} | {r['performance']:.2f} | {r['lcp']:.2f} | {r['tbt']:.0f} | {r['dom']:.0f} "
            f"| {r['accessibility']:.2f} | {r['best-practices']:.2f} | {r['seo']:.2f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2])
    else:
        print(table(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1))
