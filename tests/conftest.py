"""Fixtures shared by the test files: the strictly built site, made once per test session; for the browser
tests (tests/test_site.py), that site served from 127.0.0.1 and headless Chromium."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
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


class SessionBuild:
    """One strict build per test session, shared by every xdist worker through the session's temporary folder.

    The first worker to start the session starts it in a background thread, so it runs while the workers check
    pages; a test that needs the site waits for the record the build leaves (see pytest_collection_modifyitems:
    those tests run last)."""

    def __init__(self, tmp_path_factory) -> None:
        base = tmp_path_factory.getbasetemp()
        self.shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # common to the workers
        self.record = self.shared / "built-site.json"

    def start(self) -> None:
        with FileLock(str(self.shared / "built-site.lock")):
            started = self.shared / "built-site.started"
            if started.exists():
                return
            started.touch()
        threading.Thread(target=self._build, name="site-build", daemon=True).start()

    def _build(self) -> None:
        site = build_site(self.shared / "site")
        partial = self.record.with_suffix(".partial")
        partial.write_text(json.dumps({**site.__dict__, "directory": str(site.directory)}))
        partial.replace(self.record)  # atomic: a waiting worker never reads half a record

    def result(self, timeout: float = 600) -> BuiltSite:
        self.start()  # no-op when already started
        deadline = time.monotonic() + timeout
        while not self.record.exists():
            if time.monotonic() > deadline:
                pytest.fail(f"the site build did not finish within {timeout:.0f} s", pytrace=False)
            time.sleep(0.1)
        data = json.loads(self.record.read_text())
        return BuiltSite(Path(data["directory"]), data["returncode"], data["log"], data["seconds"])


def _needs_site(item) -> bool:
    return "built_site" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items):
    """Files with a test that needs the built site move to the end of the collection (whole files, because
    --dist loadfile schedules a file as one unit). With -n0 they run last, when the background build has had
    time to finish. Under xdist this only breaks ties: its loadfile scheduler hands out the files with the
    most tests first. Keeping this order there instead (--no-loadscope-reorder) made no difference on 2
    cores, 39.3-40.9 s either way: the suite keeps both cores busy with or without it."""
    late_files = {item.path for item in items if _needs_site(item)}
    items.sort(key=lambda item: item.path in late_files)


@pytest.fixture(scope="session", autouse=True)
def site_build_in_background(request, tmp_path_factory):
    """Start the session's site build as soon as the session starts, if any collected test needs the site."""
    if any(_needs_site(item) for item in request.session.items):
        SessionBuild(tmp_path_factory).start()


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> BuiltSite:
    """The site, built once per session with `mkdocs build --strict` (see SessionBuild)."""
    site = SessionBuild(tmp_path_factory).result()
    if site.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{site.log}", pytrace=False)
    return site


# --- The site in a browser (tests/test_site.py; helpers in tests/browser.py) -------------------------------
# Module scope, not session: while Playwright's sync API runs, asyncio.run() fails in the same thread, and the
# next test file on this xdist worker may need it (nbclient does). --dist loadfile keeps test_site.py on one
# worker, so the server starts once per test session, and so do the two Chromiums: this fixture's, and the
# tour's on its own thread (tests/browser.py, TourInBackground).

@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Debian's), or a skip saying how to get it; a failure when PRIMER_REQUIRE_BROWSER=1."""
    from tests.browser import CHROMIUM_BUILDS, REQUIRE_BROWSER, find_chromium, launch

    executable = find_chromium()
    if executable is None:
        message = (f"none of {', '.join(CHROMIUM_BUILDS)} in /usr/bin or on PATH: the browser tests need "
                   f"Debian's Chromium (sudo apt-get install chromium-headless-shell; .ci/run installs it)")
        if os.environ.get(REQUIRE_BROWSER) == "1":
            pytest.fail(f"{message}, and {REQUIRE_BROWSER}=1 makes a missing browser a failure", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    with sync_playwright() as playwright:
        chromium = launch(playwright, executable)
        yield chromium
        chromium.close()
    # Read by `make bench` (run with -s): the browser part of the suite, the site build excluded.
    print(f"\nbrowser tests: {time.perf_counter() - started:.1f} s from Chromium's launch to its close")


@pytest.fixture(scope="module")
def site_url(built_site, tmp_path_factory) -> str:
    """The built site served from 127.0.0.1 on a free port, under the path of mkdocs.yml's site_url (as GitHub
    Pages serves it); the server is stopped by its PID when the module's tests are done."""
    from urllib.parse import urlsplit

    from harness.embed import load_mkdocs_yml
    from tests.browser import LOCAL_HOST, StaticServer, served_root

    folder = tmp_path_factory.mktemp("served")
    site_path = urlsplit(load_mkdocs_yml(ROOT / "mkdocs.yml").get("site_url") or "/").path or "/"
    server = StaticServer(served_root(built_site.directory, site_path, folder / "root"), folder / "server.log")
    server.start()
    try:
        yield f"http://{LOCAL_HOST}:{server.port}{site_path.rstrip('/')}/"
    finally:
        server.stop()


@dataclass
class SitePage:
    """A browser context and page on the served site, with what it recorded (off-host requests, console
    errors). A failing test that uses one gets a screenshot of it (see pytest_runtest_makereport)."""

    page: object
    recorder: object
    context: object
    site_url: str
    screenshots: object  # test name -> folder for its screenshot


@contextmanager
def open_site_page(browser, site_url, screenshots):
    from tests.browser import Recorder, new_context

    context = new_context(browser, site_url)
    try:
        page = context.new_page()
        yield SitePage(page, Recorder(page), context, site_url, screenshots)
    finally:
        context.close()


@pytest.fixture
def site_page(browser, site_url, tmp_path):
    """A fresh context and page for one test."""
    with open_site_page(browser, site_url, lambda name: tmp_path) as site_page:
        yield site_page


@pytest.fixture(scope="module")
def shared_site_page(browser, site_url, tmp_path_factory):
    """One context and page for several tests that do not depend on a fresh page (a search starts from
    whatever page the last one ended on, as a reader's does)."""
    with open_site_page(browser, site_url, lambda name: tmp_path_factory.mktemp(name[:40])) as site_page:
        yield site_page


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that drove a browser page: save a screenshot of that page in a folder of pytest's
    temporary directory and name its path in the report."""
    outcome = yield
    report = outcome.get_result()
    pages = [value for value in getattr(item, "funcargs", {}).values() if isinstance(value, SitePage)]
    if report.when == "call" and report.failed and pages:
        try:
            path = pages[0].screenshots(item.name) / "screenshot.png"
            pages[0].page.screenshot(path=str(path), full_page=True)
            report.sections.append(("browser screenshot", f"saved to {path}"))
        except Exception as error:  # the page may be gone (a crash): say so, keep the test's own failure
            report.sections.append(("browser screenshot", f"could not be taken: {error}"))
