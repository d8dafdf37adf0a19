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
import re
import subprocess
import sys
from pathlib import Path

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
sys.exit(pytest.main(["docs", "-n0", "-q", "-p", "no:cacheprovider"]))
"""


def test_pages_print_the_same_with_the_plainest_cpu_kernels():
    process = subprocess.run(
        [sys.executable, "-c", RUN_PAGES],
        cwd=ROOT,
        env={**os.environ, **PORTABLE_KERNELS},
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = process.stdout + process.stderr
    failed = re.findall(r"^FAILED (\S+)", output, flags=re.MULTILINE)
    assert process.returncode == 0, (
        "with the kernels of another processor, these blocks print something else than their page shows:\n"
        + "\n".join(failed or ["(no block failed: see the output)"])
        + "\n\n"
        + output[-6000:]
    )
    assert re.search(r"\b\d+ passed\b", output), output[-2000:]
