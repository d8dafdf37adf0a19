"""Every page prints the same on another processor, not only on the machine where its outputs were written.

PyTorch picks its CPU kernels for the vector instructions the processor has (AVX-512, AVX2, or none) and MKL does
the same. The kernels add long sums in different orders, so a float32 training run prints different digits on
different machines: the optimizers race, written on one machine, failed on another. This test reruns every
page with the kernels forced onto their plainest path (ATen's DEFAULT, MKL's COMPATIBLE), so a page whose printed
numbers depend on the processor fails on the machine that wrote it rather than on a reader's. The cure is in
docs/optimizers.md ("Why float64").
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

ROOT = Path(__file__).resolve().parents[1]

PORTABLE_KERNELS = {
    "ATEN_CPU_CAPABILITY": "default",  # no AVX2 or AVX-512 kernels in ATen
    "MKL_CBWR": "COMPATIBLE",  # MKL's conditional bitwise reproducibility: its plainest code path
    "OMP_NUM_THREADS": "1",  # as in the main run: more threads than cores slows every worker down
}

# Checked inside the child, where torch can say (MKL offers no way to ask): an ATen capability that torch
# ignored, or more threads than asked for, would make this test pass vacuously.
RUN_PAGES = """
import sys, pytest, torch
capability = torch.backends.cpu.get_cpu_capability()
assert capability == "DEFAULT", f"ATEN_CPU_CAPABILITY=default was ignored: torch runs {capability} kernels"
assert torch.get_num_threads() == 1, torch.get_num_threads()
sys.exit(pytest.main(sys.argv[1:]))
"""


def failing_blocks(pages: list[str], report: Path, kernels: dict[str, str]) -> tuple[set[str], str]:
    """The blocks of `pages` that fail when run with `kernels`, as `docs/page.md:LINE`, and pytest's output."""
    code = RUN_PAGES if kernels else "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    process = subprocess.run(
        [sys.executable, "-c", code, *pages, "-n0", "-q", "-p", "no:cacheprovider", f"--junitxml={report}"],
        cwd=ROOT, env={**os.environ, **kernels}, capture_output=True, text=True, timeout=300,
    )
    output = process.stdout + process.stderr
    if not report.exists():
        raise AssertionError(f"the pages did not run:\n{output[-4000:]}")
    failed = set()
    for case in ElementTree.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            page = case.get("classname").removesuffix(".md").replace(".", "/") + ".md"  # docs.x.md
            failed.add(f"{page}:{case.get('name').split(',')[0].removeprefix('line:')}")
    return failed, output


def test_pages_print_the_same_with_the_plainest_cpu_kernels(tmp_path):
    plainest, output = failing_blocks(["docs"], tmp_path / "plainest.xml", PORTABLE_KERNELS)
    assert "passed" in output, output[-2000:]
    if not plainest:
        return
    # A block that also fails on this processor's own kernels is the doc-tests' failure, reported there once.
    pages = sorted({block.rsplit(":", 1)[0] for block in plainest})
    default, _ = failing_blocks(pages, tmp_path / "default.xml", {"OMP_NUM_THREADS": "1"})
    only_plainest = sorted(plainest - default)
    assert not only_plainest, (
        "these blocks print what their page shows with this processor's kernels, and something else with the "
        "plainest ones (as on another processor):\n" + "\n".join(only_plainest) + "\n\n" + output[-6000:]
    )
