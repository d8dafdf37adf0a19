"""`make bench`: how fast the guide verifies itself, measured with the project's own tools.

Nothing new is built into the checkout: every measurement runs a command maintainers already run (pytest with
its JUnit XML report of each test's duration, the strict mkdocs build, `make test`) or the bare-run baseline in bench/bare.py, each
several times, and reports medians. Results go to stdout, bench/results.md and the README's Performance section.

    python bench/run.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from xml.etree import ElementTree
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
README = ROOT / "README.md"
RESULTS = ROOT / "bench" / "results.md"
README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"
# One torch thread, as the test suite runs (root conftest.py), so the bare run is measured like the doc-tests.
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "OMP_NUM_THREADS": "1"}

BUDGETS = {"make test": 60.0, "page": 5.0, "build": 20.0, "browser": 20.0, "weight_kb": 500.0, "ratio": 1.3}


def pages() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))


def timed(command: list[str], env: dict[str, str] = ENV) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
    return seconds, process


def doctest_seconds() -> tuple[dict[str, float], dict[str, int]]:
    """Per page: total of its items' setup, call and teardown times, and its number of checked examples, from
    one pytest process over all pages. Read from pytest's JUnit XML report, which keeps milliseconds (the
    --durations table rounds to 10 ms, coarser than most blocks)."""
    seconds, examples = defaultdict(float), defaultdict(int)
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        timed([PYTHON, "-m", "pytest", *pages(), "-n0", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"])
        for case in ElementTree.parse(report).iter("testcase"):
            page = case.get("classname", "").removesuffix(".md").replace(".", "/") + ".md"  # docs.x.md
            seconds[page] += float(case.get("time", 0))
            examples[page] += 1
    return dict(seconds), dict(examples)


def bare_seconds() -> dict[str, float]:
    _, process = timed([PYTHON, str(ROOT / "bench" / "bare.py"), *pages()])
    return json.loads(process.stdout)


def page_alone_seconds(page: str) -> tuple[float, float]:
    """One page checked on its own, as a maintainer previews it (`pytest docs/x.md -n0`): its doc-tests as
    pytest times them (its session, so `import torch` and any `torch._dynamo` the page pays are in), and the
    command's wall time (with the interpreter's and pytest's start-up)."""
    wall, process = timed([PYTHON, "-m", "pytest", page, "-n0", "-q", "-p", "no:cacheprovider"])
    session = re.search(r" in ([\d.]+)s\b", process.stdout)
    if session is None:
        raise SystemExit(f"no session time in pytest's output for {page}:\n{process.stdout[-2000:]}")
    return float(session.group(1)), wall


# Logged by hooks/notebooks.py for each notebook page the build executes.
def notebook_time_line() -> re.Pattern:
    """The pattern of the line hooks/notebooks.py logs for each notebook it runs (source, wall, CPU)."""
    spec = importlib.util.spec_from_file_location("primer_notebooks_hook", ROOT / "hooks" / "notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TIME_LOGGED


def build_seconds() -> tuple[float, dict[str, float]]:
    """The strict build's wall time, and each notebook's execution inside it as the build logged it."""
    with tempfile.TemporaryDirectory() as site:
        seconds, process = timed([PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", site])
    log = process.stdout + process.stderr
    notebooks = {name: float(wall) for name, wall, _ in notebook_time_line().findall(log)}
    if not notebooks:
        raise SystemExit(f"the build logged no notebook execution time:\n{process.stderr[-2000:]}")
    return seconds, notebooks


def make_test_seconds() -> float:
    seconds, _ = timed(["make", "test"])
    return seconds


WEIGHT_LINE = re.compile(r"first-load weight, on the wire \(as served\): (.+)")
BROWSER_LINE = re.compile(r"browser tests: ([\d.]+) s from Chromium's launch to its close")
WEIGHT_ENTRY = re.compile(r"(/\S*) (\d+) KB \((\d+) KB\)")


def site_tests() -> tuple[float, tuple[str, int, int]]:
    """tests/test_site.py alone, in one process: the seconds its browser tests took (Chromium's launch to its
    close, as the `browser` fixture reports it; the site build before them is timed on its own), and the page
    whose first load weighs most as the test measures it: (page, KB sent compressed as GitHub Pages sends
    text, KB uncompressed)."""
    _, process = timed([PYTHON, "-m", "pytest", "tests/test_site.py", "-n0", "-q", "-s", "-p", "no:cacheprovider"],
                       env={**ENV, "PRIMER_REQUIRE_BROWSER": "1"})
    weight, browser = WEIGHT_LINE.search(process.stdout), BROWSER_LINE.search(process.stdout)
    if weight is None or browser is None:
        raise SystemExit(f"no weight or browser line in the output of tests/test_site.py:\n{process.stdout[-2000:]}")
    entries = [(page, int(wire), int(raw)) for page, wire, raw in WEIGHT_ENTRY.findall(weight.group(1))]
    return float(browser.group(1)), max(entries, key=lambda entry: entry[1])


def machine() -> str:
    model = ""
    if Path("/proc/cpuinfo").exists():
        cpuinfo = Path("/proc/cpuinfo").read_text()
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo)
        model = found.group(1).strip() if found else ""
        # A virtual machine's model name can be as vague as "AMD EPYC", shared by CPUs of very different speed
        generation = re.search(r"cpu family\s*:\s*(\d+)\s+model\s*:\s*(\d+)", cpuinfo)
        if model and generation:
            model += f", family {generation[1]} model {generation[2]}"
    memory = ""
    if Path("/proc/meminfo").exists():
        found = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
        memory = f", {int(found.group(1)) / 2**20:.0f} GiB memory" if found else ""
    return (f"{os.cpu_count()} CPU cores ({model or platform.machine()}){memory}, no GPU; "
            f"Python {platform.python_version()}, torch {version('torch')}")


def median(values: list[float]) -> float:
    return statistics.median(values)


def verdict(value: float, budget: float) -> str:
    return "within budget" if value <= budget else "**over budget**"


def report(runs: int) -> str:
    doc, bare, examples = defaultdict(list), defaultdict(list), {}
    alone, alone_wall = defaultdict(list), defaultdict(list)
    builds, notebooks, suites, browsers = [], defaultdict(list), [], []
    for run in range(runs):
        print(f"run {run + 1}/{runs}", file=sys.stderr)
        # First: it needs Chromium (a missing browser fails it, and bench stops before the long runs).
        browser_seconds, (heavy_page, heavy_kb, heavy_raw_kb) = site_tests()
        browsers.append(browser_seconds)
        seconds, examples = doctest_seconds()
        for page, value in seconds.items():
            doc[page].append(value)
        for page, value in bare_seconds().items():
            bare[page].append(value)
        for page in pages():
            session, wall = page_alone_seconds(page)
            alone[page].append(session)
            alone_wall[page].append(wall)
        build, executed = build_seconds()
        builds.append(build)
        for notebook, value in executed.items():
            notebooks[notebook].append(value)
        suites.append(make_test_seconds())

    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}. Medians of {runs} runs.",
        "",
        "| Page | Checked examples | Doc-tests (s) | Bare run (s) | Doc-tests / bare | Harness cost per example (ms) "
        "| Page alone (s) | Page alone, wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page in pages():
        d, b, n = median(doc[page]), median(bare[page]), examples.get(page, 0)
        lines.append(f"| {page} | {n} | {d:.3f} | {b:.3f} | {d / b:.2f} | {1000 * (d - b) / max(n, 1):.1f} "
                     f"| {median(alone[page]):.2f} | {median(alone_wall[page]):.2f} |")
    total_doc = sum(median(v) for v in doc.values())
    total_bare = sum(median(v) for v in bare.values())
    total_ratio = total_doc / total_bare
    slowest = max(pages(), key=lambda p: median(alone[p]))
    lines += [
        f"| **all pages** | {sum(examples.values())} | {total_doc:.2f} | {total_bare:.2f} | {total_ratio:.2f} "
        f"| {1000 * (total_doc - total_bare) / max(sum(examples.values()), 1):.1f} | | |",
        "",
        "Doc-tests: every example of the page (code block, `>>>` example, output fence, skip directive) as pytest "
        "times it, in one process over all pages; the first page pays `import torch`, the first to build an "
        "optimizer pays `torch._dynamo`. Bare: the same blocks in one plain process, nothing compared. On pages "
        "whose code runs in milliseconds the ratio mostly shows pytest's fixed cost per example. Page alone: "
        "`pytest docs/<page>.md -n0`, as pytest times its session (the page pays `import torch`, and "
        "`torch._dynamo` if it steps an optimizer), then the whole command on the wall clock.",
        "",
        "| Measure | Median | Budget | |",
        "|---|---:|---:|---|",
        f"| `make test`, warm `.venv` (wall) | {median(suites):.1f} s | {BUDGETS['make test']:.0f} s (aim 30 s) "
        f"| {verdict(median(suites), BUDGETS['make test'])} |",
        f"| slowest page's doc-tests alone: `{slowest}` (pytest's session time, `import torch` included; "
        f"{median(alone_wall[slowest]):.2f} s on the wall clock with Python's and pytest's start-up) "
        f"| {median(alone[slowest]):.2f} s "
        f"| {BUDGETS['page']:.0f} s | {verdict(median(alone[slowest]), BUDGETS['page'])} |",
        f"| `mkdocs build --strict` (wall) | {median(builds):.1f} s | {BUDGETS['build']:.0f} s "
        f"| {verdict(median(builds), BUDGETS['build'])} |",
    ]
    for notebook, values in notebooks.items():
        lines.append(f"| of which `{notebook}` executed and rendered (kernel start included) | {median(values):.1f} s | 10 s "
                     f"| {verdict(median(values), 10)} |")
    lines += [
        f"| browser tests alone (`tests/test_site.py`, Chromium's launch to its close) | {median(browsers):.1f} s "
        f"| {BUDGETS['browser']:.0f} s | {verdict(median(browsers), BUDGETS['browser'])} |",
        f"| harness overhead, all pages (doc-tests / bare) | {total_ratio:.2f} | {BUDGETS['ratio']} "
        f"| {verdict(total_ratio, BUDGETS['ratio'])} |",
        f"| heaviest first load: `{heavy_page}`, compressed as served ({heavy_raw_kb} KB uncompressed) "
        f"| {heavy_kb} KB | {BUDGETS['weight_kb']:.0f} KB | {verdict(heavy_kb, BUDGETS['weight_kb'])} |",
    ]
    return "\n".join(lines) + "\n"


def write(table: str) -> None:
    RESULTS.write_text("# Benchmark results\n\nWritten by `make bench` (bench/run.py).\n\n" + table)
    readme = README.read_text()
    if README_START in readme and README_END in readme:
        head, rest = readme.split(README_START, 1)
        _, tail = rest.split(README_END, 1)
        README.write_text(f"{head}{README_START}\n{table}{README_END}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    table = report(parser.parse_args().runs)
    write(table)
    print(table)


if __name__ == "__main__":
    main()
