"""`make bench`: how fast the guide verifies itself and how fast its pages load, written to bench/results.md.

Every figure comes from a command maintainers already run, read from what pytest records in its JUnit XML
report (each test's time, and the properties tests record with `record_property`), never from printed lines:
the pages' doc-tests, each page alone, the site tests (the strict build's time and its notebooks', each
page's first-load weight, the browser tests), `make test`; beside them the bare-run baseline (bench/bare.py)
and Lighthouse on every page against a stock Material page (bench/lighthouse.py). Medians of several runs.

    python bench/run.py [--runs N]
"""

from __future__ import annotations

import argparse
import datetime
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
from importlib.metadata import version
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import lighthouse  # noqa: E402 - the repository's root is put on the path first

PYTHON = sys.executable
RESULTS = ROOT / "bench" / "results.md"
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
# `make test` is held to about three bare runs of the pages' code (a ratio, so it holds on a slower machine).
BUDGETS = {"make test / bare": 3.0, "page": 5.0, "build": 20.0, "notebook": 10.0, "browser": 20.0, "ratio": 1.3}


def pages() -> list[str]:
    return sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md"))


def timed(command: list[str], env: dict[str, str] = ENV) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{process.stdout[-3000:]}\n{process.stderr[-3000:]}")
    return seconds, process


def pytest_report(arguments: list[str], env: dict[str, str] = ENV) -> tuple[float, ElementTree.Element]:
    """pytest run with a JUnit XML report: the command's wall time and the report's root."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.xml"
        command = [PYTHON, "-m", "pytest", *arguments, "-q", "-p", "no:cacheprovider", f"--junitxml={report}"]
        wall, _ = timed(command, env)
        return wall, ElementTree.parse(report).getroot()


def properties(case: ElementTree.Element) -> dict[str, str]:
    return {p.get("name"): p.get("value") for p in case.iter("property")}


def doctest_seconds() -> tuple[dict[str, float], dict[str, int]]:
    """Per page: its items' times and its number of checked examples, from one pytest process over all pages
    (JUnit keeps milliseconds; pytest's --durations table rounds to 10 ms, coarser than most blocks)."""
    seconds, examples = defaultdict(float), defaultdict(int)
    _, report = pytest_report([*pages(), "-n0"])
    for case in report.iter("testcase"):
        page = case.get("classname", "").removesuffix(".md").replace(".", "/") + ".md"  # docs.x.md
        seconds[page] += float(case.get("time", 0))
        examples[page] += 1
    return dict(seconds), dict(examples)


def bare_seconds() -> dict[str, float]:
    _, process = timed([PYTHON, str(ROOT / "bench" / "bare.py"), *pages()])
    return json.loads(process.stdout)


def page_alone_seconds(page: str) -> tuple[float, float]:
    """One page checked alone, as a maintainer previews it (`pytest docs/x.md -n0`): pytest's session time
    (`import torch` and any `torch._dynamo` the page pays are in), and the command's wall time."""
    wall, report = pytest_report([page, "-n0"])
    return float(next(report.iter("testsuite")).get("time")), wall


def site_tests() -> dict:
    """tests/test_site.py alone, in one process: the build's time and its notebooks' (recorded by
    test_strict_build_has_no_warning), each page's first-load weight, and the browser tests' time, in all
    and for axe-core's runs alone."""
    _, report = pytest_report(["tests/test_site.py", "-n0"], env={**ENV, "PRIMER_REQUIRE_BROWSER": "1"})
    found = {"notebooks": {}, "weights": {}, "browser": 0.0, "axe": 0.0}
    for case in report.iter("testcase"):
        name, recorded, seconds = case.get("name"), properties(case), float(case.get("time", 0))
        if name == "test_strict_build_has_no_warning":
            found["build"] = float(recorded["build_seconds"])
            found["notebooks"] = {key.split(" ", 1)[1]: float(value) for key, value in recorded.items()
                                  if key.startswith("notebook_seconds ")}  # fmt: skip
        if "weight_kb" in recorded:
            page = re.search(r"\[(.*)\]", name)[1]
            found["weights"][page] = (int(recorded["weight_kb"]), int(recorded["raw_weight_kb"]))
        if "[" in name:  # the parametrized tests are the browser's (the static ones take no parameter)
            found["browser"] += seconds
        if name.startswith("test_no_serious_or_critical_accessibility_violation"):
            found["axe"] += seconds
    return found


def make_test_seconds() -> float:
    seconds, _ = timed(["make", "test"])
    return seconds


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
    return (
        f"{os.cpu_count()} CPU cores ({model or platform.machine()}){memory}; "
        f"Python {platform.python_version()}, torch {version('torch')}"
    )


def verdict(value: float, budget: float) -> str:
    return "within budget" if value <= budget else "**over budget**"


def report(runs: int, with_make_test: bool) -> str:
    median = statistics.median
    doc, bare, examples = defaultdict(list), defaultdict(list), {}
    alone, alone_wall = defaultdict(list), defaultdict(list)
    builds, notebooks, suites, browsers, axes, weights = [], defaultdict(list), [], [], [], {}
    for run in range(runs):
        print(f"run {run + 1}/{runs}", file=sys.stderr)
        site = site_tests()  # first: it needs Chromium (a missing browser fails it before the long runs)
        builds.append(site["build"])
        browsers.append(site["browser"])
        axes.append(site["axe"])
        weights = site["weights"]
        for notebook, value in site["notebooks"].items():
            notebooks[notebook].append(value)
        seconds, examples = doctest_seconds()
        for page, value in seconds.items():
            doc[page].append(value)
        for page, value in bare_seconds().items():
            bare[page].append(value)
        for page in pages():
            session, wall = page_alone_seconds(page)
            alone[page].append(session)
            alone_wall[page].append(wall)
        if with_make_test:
            suites.append(make_test_seconds())

    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}. Medians of {runs} runs.",
        "",
        "## The doc-tests",
        "",
        "| Page | Checked examples | Doc-tests (s) | Bare run (s) | Doc-tests / bare | Harness cost per example (ms) "
        "| Page alone (s) | Page alone, wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for page in pages():
        d, b, n = median(doc[page]), median(bare[page]), examples.get(page, 0)
        lines.append(
            f"| {page} | {n} | {d:.3f} | {b:.3f} | {d / b:.2f} | {1000 * (d - b) / max(n, 1):.1f} "
            f"| {median(alone[page]):.2f} | {median(alone_wall[page]):.2f} |"
        )
    total_doc, total_bare = sum(median(v) for v in doc.values()), sum(median(v) for v in bare.values())
    total_ratio, count = total_doc / total_bare, sum(examples.values())
    slowest = max(pages(), key=lambda p: median(alone[p]))
    lines += [
        f"| **all pages** | {count} | {total_doc:.2f} | {total_bare:.2f} | {total_ratio:.2f} "
        f"| {1000 * (total_doc - total_bare) / max(count, 1):.1f} | | |",
        "",
        "Doc-tests: every example of the page (code block, `>>>` example, output fence, skip directive) as pytest "
        "times it, in one process over all pages; the first page pays `import torch`, the first to build an "
        "optimizer pays `torch._dynamo`. Bare: the same blocks in one plain process, nothing compared. Page alone: "
        "`pytest docs/<page>.md -n0`, pytest's session time, then the whole command on the wall clock.",
        "",
        "## Budgets",
        "",
        "| Measure | Median | Budget | |",
        "|---|---:|---:|---|",
    ]
    if suites:
        suite_ratio = median(suites) / total_bare
        lines.append(
            f"| `make test`, warm `.venv`, on the wall clock ({median(suites):.1f} s) against the bare run of "
            f"all pages ({total_bare:.1f} s) | {suite_ratio:.2f} | {BUDGETS['make test / bare']} "
            f"| {verdict(suite_ratio, BUDGETS['make test / bare'])} |"
        )
    lines += [
        f"| slowest page alone: `{slowest}` (pytest's session; {median(alone_wall[slowest]):.2f} s on the wall "
        f"clock) | {median(alone[slowest]):.2f} s | {BUDGETS['page']:.0f} s "
        f"| {verdict(median(alone[slowest]), BUDGETS['page'])} |",
        f"| `mkdocs build --strict` | {median(builds):.1f} s | {BUDGETS['build']:.0f} s "
        f"| {verdict(median(builds), BUDGETS['build'])} |",
    ]
    for notebook, values in notebooks.items():
        lines.append(
            f"| of which `{notebook}` executed and rendered (kernel start included) | {median(values):.1f} s "
            f"| {BUDGETS['notebook']:.0f} s | {verdict(median(values), BUDGETS['notebook'])} |"
        )
    lines += [
        f"| browser tests (`tests/test_site.py`'s, the time pytest gives each, summed) | {median(browsers):.1f} s "
        f"| {BUDGETS['browser']:.0f} s | {verdict(median(browsers), BUDGETS['browser'])} |",
        f"| of which axe-core, every rule, every page, both schemes | {median(axes):.1f} s | | |",
        f"| harness overhead, all pages (doc-tests / bare) | {total_ratio:.2f} | {BUDGETS['ratio']} "
        f"| {verdict(total_ratio, BUDGETS['ratio'])} |",
        "",
        "## First-load weight",
        "",
        "What a first visit transfers, HTML and every asset, text compressed as GitHub Pages serves it (gzip); "
        "`tests/test_site.py` holds each page under 500 KB.",
        "",
        "| Page | Compressed (KB) | Uncompressed (KB) |",
        "|---|---:|---:|",
        *[f"| /{page} | {wire} | {raw} |" for page, (wire, raw) in sorted(weights.items())],
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--lighthouse-runs", type=int, default=1)
    parser.add_argument("--skip-make-test", action="store_true", help="leave out the timing of `make test`")
    parser.add_argument("--only-lighthouse", action="store_true", help="only the Lighthouse table")
    arguments = parser.parse_args()
    sections = []
    if not arguments.only_lighthouse:
        sections.append(report(arguments.runs, not arguments.skip_make_test))
    with tempfile.TemporaryDirectory(prefix="primer-bench-site-") as site:
        timed([PYTHON, "-m", "mkdocs", "build", "--strict", "--site-dir", site])
        load = os.getloadavg()[0]
        sections.append(
            "## Lighthouse\n\nMobile profile (Lighthouse's default), Debian's Chromium; each page against a stock "
            f"Material page built in the same run. On {machine()}; load average {load:.1f} at the start (other "
            "processes on the machine lengthen the blocking time Lighthouse measures).\n\n"
            + lighthouse.table(Path(site), arguments.lighthouse_runs)
        )
    text = "# Benchmark results\n\nWritten by `make bench` (bench/run.py).\n\n" + "\n".join(sections)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
