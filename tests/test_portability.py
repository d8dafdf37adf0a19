"""Every page prints what it shows on another processor, and again when it is run a second time in the folder
its first run left: two things a reader may do that the main run does not.

PyTorch picks its CPU kernels for the vector instructions the processor has (AVX-512, AVX2, or none) and MKL does
the same. The kernels add long sums in different orders, so a float32 training run prints different digits on
different machines: the optimizers race, written on one machine, failed on another. Every page is rerun here
with the kernels forced onto their plainest path (ATen's DEFAULT, MKL's COMPATIBLE), so a page whose printed
numbers depend on the processor fails on the machine that wrote it rather than on a reader's.

That rerun keeps each page's working folder; the pages that left files there are run once more in it, as a
reader runs a page twice in the same folder: a page that appends to a log folder it never cleans prints more
points the second time.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest

from harness.pages import KEEP_FOLDERS

ROOT = Path(__file__).resolve().parents[1]

# The rerun checks the pages against a reader's processor and a reader's second run, which do not change with
# the version of torch: the matrix leaves it to `make test` (harness/matrix.py).
pytestmark = pytest.mark.main_environment

PORTABLE_KERNELS = {
    "ATEN_CPU_CAPABILITY": "default",  # no AVX2 or AVX-512 kernels in ATen
    "MKL_CBWR": "COMPATIBLE",  # MKL's conditional bitwise reproducibility: its plainest code path
}

# Checked inside the child, where torch can say (MKL offers no way to ask): an ATen capability that torch
# ignored, or more threads than asked for, would make this test pass vacuously.
RUN_PAGES = """
import os, sys, pytest, torch
if os.environ.get("ATEN_CPU_CAPABILITY"):
    capability = torch.backends.cpu.get_cpu_capability()
    assert capability == "DEFAULT", f"ATEN_CPU_CAPABILITY=default was ignored: torch runs {capability} kernels"
sys.exit(pytest.main(sys.argv[1:]))
"""


@dataclass
class Run:
    failed: set[str]  # `docs/page.md:LINE` of each block that failed
    output: str


def run_pages(pages: list[str], report: Path, env: dict[str, str]) -> Run:
    """The pages' doc-tests in a child pytest (one process, like a reader's), with `env` added."""
    process = subprocess.run(
        [sys.executable, "-c", RUN_PAGES, *pages, "-n0", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = process.stdout + process.stderr
    if not report.exists():
        raise AssertionError(f"the pages did not run:\n{output[-4000:]}")
    failed = set()
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            page = case.get("classname").removesuffix(".md").replace(".", "/") + ".md"  # docs.x.md
            failed.add(f"{page}:{case.get('name').split(',')[0].removeprefix('line:')}")
    return Run(failed, output)


def pages_of(blocks: set[str]) -> list[str]:
    return sorted({block.rsplit(":", 1)[0] for block in blocks})


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("page-folders")


@pytest.fixture(scope="module")
def plainest_kernels(tmp_path_factory) -> dict[str, str]:
    # Inductor (torch.compile) picks its vector code from ATEN_CPU_CAPABILITY but does not key its on-disk
    # cache on it: sharing the main run's cache, the rerun would load AVX-512 code it cannot compile.
    return {**PORTABLE_KERNELS, "TORCHINDUCTOR_CACHE_DIR": str(tmp_path_factory.mktemp("inductor-cache"))}


@pytest.fixture(scope="module")
def plainest(tmp_path_factory, folders, plainest_kernels) -> Run:
    """Every page, on the plainest kernels, each in a folder kept for the rerun."""
    return run_pages(
        ["docs"], tmp_path_factory.mktemp("plainest") / "report.xml", {**plainest_kernels, KEEP_FOLDERS: str(folders)}
    )


def only_here(failed: set[str], tmp_path: Path) -> list[str]:
    """Of the blocks in `failed`, those that pass in a fresh folder on this processor's own kernels: a block
    that fails there too is the doc-tests' failure, reported by them once."""
    if not failed:
        return []
    default = run_pages(pages_of(failed), tmp_path / "default.xml", {})
    return sorted(failed - default.failed)


def test_pages_print_the_same_with_the_plainest_cpu_kernels(plainest, tmp_path):
    assert "passed" in plainest.output, plainest.output[-2000:]
    differing = only_here(plainest.failed, tmp_path)
    assert not differing, (
        "these blocks print what their page shows with this processor's kernels, and something else with the "
        "plainest ones (as on another processor):\n" + "\n".join(differing) + "\n\n" + plainest.output[-6000:]
    )


def test_pages_print_the_same_when_rerun_in_the_folder_they_left(plainest, plainest_kernels, folders, tmp_path):
    pages = sorted(
        f"docs/{folder.relative_to(folders)}"
        for folder in folders.rglob("*.md")
        if folder.is_dir() and any(folder.iterdir())
    )
    if not pages:
        pytest.skip("no page left files in its folder, so a second run starts as the first did")
    rerun = run_pages(pages, tmp_path / "rerun.xml", {**plainest_kernels, KEEP_FOLDERS: str(folders)})
    differing = sorted(rerun.failed - plainest.failed)
    assert not differing, (
        "run a second time in the folder their first run left, these blocks print something else than their "
        "page shows (write where a rerun starts clean):\n" + "\n".join(differing) + "\n\n" + rerun.output[-6000:]
    )
