"""Collect every page under docs/ as a test: each code block runs, each shown output is checked.

It sits at the repository root because a conftest only reaches its own folder. The mechanism is in harness/.
"""

import os
from pathlib import Path

# One intra-op thread per test process, set before anything imports torch (and inherited by the processes
# tests start, such as the site build's notebook kernel). `make test` runs one xdist worker per core; with
# PyTorch's default of a thread per core in every process the workers fight for the cores, and a page that
# trains slowed from 4 s to 30-48 s. What the pages print is the same either way.
os.environ.setdefault("OMP_NUM_THREADS", "1")

from harness.pages import collect_pages  # noqa: E402

pytest_plugins = ["pytester"]  # tests/test_harness.py runs the harness on pages it writes

pytest_collect_file = collect_pages(Path(__file__).parent)

