"""Collect every page under docs/ as a test: each code block runs, each shown output is checked.

It sits at the repository root because a conftest only reaches its own folder. The mechanism is in harness/.
"""

from pathlib import Path

from harness.pages import collect_pages

pytest_plugins = ["pytester"]  # tests/test_harness.py runs the harness on pages it writes

pytest_collect_file = collect_pages(Path(__file__).parent)
