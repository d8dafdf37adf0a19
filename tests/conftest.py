"""Fixtures shared by the test files: the strictly built site, made once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class BuiltSite:
    directory: Path
    returncode: int
    log: str
    seconds: float

    def pages(self) -> list[Path]:
        return sorted(self.directory.rglob("*.html"))


def build_site(destination: Path) -> BuiltSite:
    """`mkdocs build --strict` into `destination`, the way `make build` runs it."""
    started = time.perf_counter()
    process = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(destination)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
    )
    return BuiltSite(destination, process.returncode, process.stdout + process.stderr, time.perf_counter() - started)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """The site built once per session. Under xdist every worker asks for it: the first builds into the
    session's shared temporary folder while holding a lock, the others wait and read what it recorded."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent  # one folder per session, common to its workers
    else:
        shared = tmp_path_factory.getbasetemp()
    record = shared / "built-site.json"
    with FileLock(str(shared / "built-site.lock")):
        if not record.exists():
            site = build_site(shared / "site")
            record.write_text(json.dumps({**site.__dict__, "directory": str(site.directory)}))
    data = json.loads(record.read_text())
    site = BuiltSite(Path(data["directory"]), data["returncode"], data["log"], data["seconds"])
    if site.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{site.log}", pytrace=False)
    return site
