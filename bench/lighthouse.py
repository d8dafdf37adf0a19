"""Lighthouse (npm's, pinned in bench/package-lock.json) on every page of the built site and on a stock
Material page with 20 code blocks, built in the same run: the mobile profile, Debian's Chromium.

    python bench/lighthouse.py SITE_DIR     prints a Markdown table (bench/run.py calls `table`)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.browser import StaticServer  # noqa: E402 - the repository's root is put on the path first
from tests.test_site import page_names  # noqa: E402

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
        stock = StaticServer(stock_site(folder / "stock"), folder / "stock-served", path="/")
        ours = StaticServer(site, folder / "served")
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
    print(table(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1))
