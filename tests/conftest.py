"""Fixtures shared by the test files: the site, strictly built once per test session, and for the browser
tests (tests/test_site.py) that site served from 127.0.0.1 and read in headless Chromium.

If the build fails, one test says so with its log (test_strict_build_has_no_warning); every other test that
needs the site is skipped, pointing at that one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

ROOT = Path(__file__).resolve().parents[1]
BUILD_SECONDS = 600  # at most this long for the build, or for a worker waiting on another's build
BUILD_TEST = "test_strict_build_has_no_warning"
BUILD_FAILED = f"the site build failed: see {BUILD_TEST}"


@dataclass(frozen=True)
class BuiltSite:
    directory: Path
    returncode: int
    log: str
    seconds: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def pages(self) -> list[Path]:
        return sorted(self.directory.rglob("*.html"))


def build_site(destination: Path) -> BuiltSite:
    """`mkdocs build --strict` into `destination`, as `make build` runs it."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(destination)]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    try:
        process = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_SECONDS)
        returncode, log = process.returncode, process.stdout + process.stderr
    except subprocess.TimeoutExpired as expired:
        returncode = -1
        output = expired.output.decode(errors="replace") if isinstance(expired.output, bytes) else expired.output
        log = f"the build did not finish within {BUILD_SECONDS} s; its output so far:\n{output or ''}"
    return BuiltSite(destination, returncode, log, time.perf_counter() - started)


@pytest.fixture(scope="session")
def site_build(tmp_path_factory) -> BuiltSite:
    """The session's one strict build, whatever its outcome. Under pytest-xdist the workers share it through
    the session's common temporary folder: the first to take the lock builds and leaves a record; the others
    wait on the lock, then read the record."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    record = shared / "built-site.json"
    try:
        with FileLock(str(shared / "built-site.lock"), timeout=BUILD_SECONDS + 60):  # the builder times out first
            if not record.exists():
                site = build_site(shared / "site")
                record.write_text(json.dumps({**asdict(site), "directory": str(site.directory)}))
    except Timeout:
        pytest.fail(f"another worker's site build held its lock over {BUILD_SECONDS + 60} s", pytrace=False)
    data = json.loads(record.read_text())
    return BuiltSite(**{**data, "directory": Path(data["directory"])})


@pytest.fixture(scope="session")
def built_site(site_build) -> BuiltSite:
    """The strictly built site; a skip naming the one test that reports the failure when the build failed."""
    if not site_build.ok:
        pytest.skip(BUILD_FAILED)
    return site_build


# --- The site in a browser (tests/test_site.py; helpers in tests/browser.py) -------------------------------
# Module scope, not session: while Playwright's sync API runs, asyncio.run() fails in the same thread, and the
# next test file on this xdist worker may need it (nbclient does). --dist loadfile keeps test_site.py on one
# worker, so the server and Chromium start once per session.


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), or a skip saying how to get it; a failure when PRIMER_REQUIRE_BROWSER=1."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_BUILDS, REQUIRE_BROWSER, find_chromium, launch

    executable = find_chromium()
    if executable is None:
        message = (
            f"none of {', '.join(CHROMIUM_BUILDS)} in /usr/bin or on PATH: the browser tests need Debian's "
            f"Chromium (sudo apt-get install chromium-headless-shell; .ci/run installs it)"
        )
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{message}, and {REQUIRE_BROWSER}=1 makes it a failure", pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        chromium = launch(playwright, executable)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site_url(built_site, tmp_path_factory) -> str:
    """The built site served from 127.0.0.1 on a free port, under the path of mkdocs.yml's site_url (as GitHub
    Pages serves it); the server is stopped by its PID when the module's tests are done."""
    from tests.browser import StaticServer

    server = StaticServer(built_site.directory, tmp_path_factory.mktemp("served"))
    server.start()
    try:
        yield server.site_url
    finally:
        server.stop()


@pytest.fixture
def site_page(browser, site_url, request, tmp_path):
    """A fresh browser context (no cache, no cookies) and page on the served site, for one test, in the
    scheme the browser prefers: light, or the test's `scheme` parameter. It records what the page did."""
    from tests.browser import SitePage

    callspec = getattr(request.node, "callspec", None)
    scheme = callspec.params.get("scheme", "light") if callspec else "light"
    with SitePage.open(browser, site_url, scheme) as page:
        request.node.primer_screenshot = (page, tmp_path / "screenshot.png")  # taken if the test fails
        yield page


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that drove a browser page: a screenshot of that page, its path named in the report."""
    report = yield
    page, path = getattr(item, "primer_screenshot", (None, None))
    if page is not None and report.when == "call" and report.failed:
        try:
            page.page.screenshot(path=str(path), full_page=True)
            report.sections.append(("browser screenshot", f"saved to {path}"))
        except Exception as error:  # noqa: BLE001 - the page may be gone (a crash): keep the test's own failure
            report.sections.append(("browser screenshot", f"could not be taken: {error}"))
    return report
