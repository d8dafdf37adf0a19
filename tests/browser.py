"""The built site in headless Chromium: a local static server, the browser, and a page that records what it
does. tests/conftest.py turns these into fixtures; tests/test_site.py holds the tests.

Nothing here leaves 127.0.0.1: every request a page makes goes through a route that lets local requests
through and refuses (and records) any other. Every wait awaits an event (a load, a response, a promise in the
page) and is bounded, failing with a message that says what did not happen.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from harness.embed import load_mkdocs_yml

ROOT = Path(__file__).resolve().parents[1]
# Debian's Chromium, driven by Playwright through executable_path (Playwright's own download is not used):
# its headless shell first (the same Chromium without the desktop browser around it), the full browser next.
CHROMIUM_BUILDS = ("chromium-headless-shell", "chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REQUIRE_BROWSER = "PRIMER_REQUIRE_BROWSER"  # set to 1 by .ci/run: a missing browser fails instead of skipping
LOCAL_HOST = "127.0.0.1"
WAIT_SECONDS = 30.0  # the bound on every wait: a load, an element, a click's effect, search results
AXE_SECONDS = 180.0  # the bound on one axe-core run, every rule over a whole page (a slow, busy machine)
COMPRESSED = re.compile(r"^(text/|application/(javascript|json|xml)|image/svg\+xml)")  # what GitHub Pages gzips


def find_chromium() -> str | None:
    for name in CHROMIUM_BUILDS:
        for path in (f"/usr/bin/{name}", shutil.which(name)):
            if path and os.access(path, os.X_OK):
                return path
    return None


def launch(playwright, executable: str | None = None):
    """Headless Chromium, Debian's, with nothing running in the background."""
    return playwright.chromium.launch(executable_path=executable or find_chromium(), args=CHROMIUM_ARGS)


def leaves_the_machine(url: str) -> bool:
    """Whether fetching `url` (absolute, or relative to a page of the site) would ask another host."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about") or not (parts.scheme or parts.netloc):
        return False
    return parts.hostname != LOCAL_HOST


def site_path() -> str:
    """The path of mkdocs.yml's site_url, where the site is served (as on GitHub Pages): /pytorch-primer/."""
    path = urlsplit(load_mkdocs_yml(ROOT / "mkdocs.yml").get("site_url") or "/").path or "/"
    return path.rstrip("/") + "/"


# --- serving ---------------------------------------------------------------------------------------------


class StaticServer:
    """`python -m http.server` bound to 127.0.0.1 on port 0, serving `site` under `path`, by default
    site_path() (404.html refers to its assets by absolute paths). The OS picks a free port as the server
    binds it; the server prints it on its first line once it listens. Stopped by its PID."""

    def __init__(self, site: Path, folder: Path, path: str | None = None) -> None:
        self.path = path or site_path()
        folder.mkdir(parents=True, exist_ok=True)
        self.root = folder / "root"
        target = self.root.joinpath(*[part for part in self.path.split("/") if part])
        if target == self.root:
            self.root = site
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(site, target_is_directory=True)
        self.log = folder / "server.log"
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    @property
    def site_url(self) -> str:
        return f"http://{LOCAL_HOST}:{self.port}{self.path}"

    def command(self) -> list[str]:
        return [sys.executable, "-u", "-m", "http.server", "--bind", LOCAL_HOST, "--directory", str(self.root), "0"]

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, text=True)
        first_line = self.process.stdout.readline()  # the server's first line, or "" if it exited
        match = re.search(r"port (\d+)", first_line)
        if not match:
            self.stop()
            log = self.log.read_text(errors="replace")
            raise RuntimeError(f"the static server did not start (first line {first_line!r}); its log:\n{log}")
        self.port = int(match.group(1))

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=WAIT_SECONDS)
        self.process.stdout.close()
        self.process = None


# --- a page in the browser -------------------------------------------------------------------------------


@dataclass
class SitePage:
    """A fresh browser context (no cache: every load is a first load) and one page in it, allowed to use the
    clipboard, with what it recorded: requests to another host (refused), console errors and uncaught
    exceptions, and each finished request's URL (in order)."""

    page: object
    site_url: str
    off_host: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)

    @classmethod
    @contextmanager
    def open(cls, browser, site_url: str, scheme: str = "light"):
        context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(WAIT_SECONDS * 1000)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url.split(site_path())[0])
        try:
            self = cls(context.new_page(), site_url)
            context.route("**/*", self._route)  # routing also turns the HTTP cache off
            self.page.on("requestfinished", lambda request: self.finished.append(request.url))
            self.page.on("requestfailed", self._failed)
            self.page.on("console", self._console)
            self.page.on("pageerror", lambda error: self.console_errors.append(f"uncaught exception: {error}"))
            self.page.on("websocket", lambda socket: self._refuse(socket.url))
            yield self
        finally:
            context.close()

    def _refuse(self, url: str) -> bool:
        if leaves_the_machine(url):
            self.off_host.append(url)
            return True
        return False

    def _route(self, route) -> None:
        if self._refuse(route.request.url):
            route.abort("blockedbyclient")
        else:
            route.continue_()

    def _failed(self, request) -> None:
        if not leaves_the_machine(request.url):
            self.console_errors.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type == "error":
            self.console_errors.append(f"console error: {message.text} ({message.location.get('url', '')})")

    def goto(self, name: str) -> None:
        """Load the site's page `name` (`losses/`, `404.html`) and wait for its load event."""
        self.page.goto(self.site_url + name, wait_until="load")

    def goto_and_fetch_search_index(self, name: str) -> None:
        """Load a page and wait, as well, for the search index Material's worker fetches after the load."""
        with self.page.expect_response(lambda response: response.url.endswith("/search_index.json")):
            self.goto(name)

    def evaluate(self, script: str, what: str, seconds: float = WAIT_SECONDS):
        """Await an async function in the page, failing after `seconds` saying `what` did not finish."""
        bounded = f"""async () => {{
          let timer;
          const limit = new Promise((_, reject) => {{
            timer = setTimeout(() => reject(new Error({json.dumps(f"{what}: no answer within {seconds:.0f} s")})),
                               {seconds * 1000:.0f});
          }});
          try {{ return await Promise.race([({script})(), limit]); }} finally {{ clearTimeout(timer); }}
        }}"""
        return self.page.evaluate(bounded)

    def assert_clean(self) -> None:
        assert not self.off_host, "requests to another host (refused):\n" + "\n".join(self.off_host)
        assert not self.console_errors, "\n".join(self.console_errors)


def transfer_size(url: str) -> tuple[int, int]:
    """(bytes as served here, bytes from a host that compresses text as GitHub Pages does: gzip for HTML, CSS,
    JavaScript, JSON, SVG). The body is fetched again from the local server, outside the browser."""
    with urllib.request.urlopen(url, timeout=WAIT_SECONDS) as response:
        body, kind = response.read(), response.headers.get("content-type", "")
    return len(body), len(gzip.compress(body, 6)) if COMPRESSED.search(kind) else len(body)


def axe_script() -> str:
    """axe-core's script, as pinned by axe-playwright-python (constraints.txt)."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


# Colours change with CSS transitions (links, the header): axe-core must see where they end, not midway.
# (Animations are left alone: the annotation markers pulse forever.)
TRANSITIONS_DONE = """() => Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition)
  .map(a => a.finished.catch(() => null)))"""

# Resolves with what the next copy put on the clipboard: Material's buttons copy through a `copy` event
# (clipboard.js), the notebook's through navigator.clipboard.writeText; either way the clipboard is read
# back once the write is done.
NEXT_COPY = """() => new Promise(resolve => {
  const write = navigator.clipboard.writeText.bind(navigator.clipboard);
  const timer = setTimeout(() => finish("(no copy within WAIT_MS ms)"), WAIT_MS);
  const finish = result => {
    clearTimeout(timer);
    navigator.clipboard.writeText = write;
    document.removeEventListener("copy", copied);
    resolve(result);
  };
  const copied = () => setTimeout(() => navigator.clipboard.readText().then(finish), 0);
  navigator.clipboard.writeText = text => write(text).then(() => navigator.clipboard.readText()).then(finish);
  document.addEventListener("copy", copied);
})""".replace("WAIT_MS", str(round(WAIT_SECONDS * 1000)))

# Every code block and its copy button: Material's (```fences) and mkdocs-jupyter's (notebook cells), each
# button marked with its block's number for the mouse to click. `shown` is the code as displayed, annotation
# markers left out: the test derives from it what the clipboard must hold.
CODE_BLOCKS = """() => [...document.querySelectorAll(".md-content pre")].flatMap(pre => {
  const code = pre.querySelector(":scope > code");
  const cell = pre.closest(".jp-CodeCell .jp-InputArea");
  if (!code && !cell) return [];  // an output area of a notebook cell
  const highlight = pre.closest("[class*='language-']");
  const language = cell ? "python"
    : highlight ? [...highlight.classList].find(c => c.startsWith("language-")).slice(9) : "";
  const button = cell ? cell.querySelector("clipboard-copy") : pre.querySelector("button[data-clipboard-target]");
  const clone = (code || pre).cloneNode(true);
  clone.querySelectorAll(".md-annotation, .zeroclipboard-container").forEach(e => e.remove());
  return [{language, shown: clone.textContent, button: button}];
}).map((block, index) => {
  if (block.button) block.button.dataset.primerBlock = index;
  return {...block, button: !!block.button};
})"""

# Shows the block as a reader would find it: the collapsed block opened, the tab it is in picked.
REVEAL = """index => {
  const button = document.querySelector(`[data-primer-block="${index}"]`);
  for (let e = button; e; e = e.parentElement) {
    if (e.tagName === "DETAILS") e.open = true;
    if (e.classList.contains("tabbed-block")) {  // pymdownx.tabbed: the n-th block goes with the n-th label
      const position = [...e.parentElement.children].indexOf(e);
      e.closest(".tabbed-set").querySelectorAll(":scope > .tabbed-labels > label")[position].click();
    }
  }
  return button.checkVisibility();
}"""


def copy_with_the_mouse(site_page, button) -> str:
    """Click `button` with the mouse, as a reader does (a script's click carries no user activation, and
    Chromium refuses a copy without one), and return what the copy put on the clipboard."""
    site_page.page.evaluate(f"() => {{ window.primerCopy = ({NEXT_COPY})(); }}")  # armed before the click
    button.click()
    return site_page.page.evaluate("window.primerCopy")


def expected_copy(language: str, shown: str) -> str:
    """What the copy button of a block must put on the clipboard: the code as shown, except that a ```pycon
    block gives only what a reader types, by doctest's rule for what is source: a `>>>` line and the `...`
    lines right after it, without their prompts (a `...` line in an answer, as tracebacks have, is output).
    A ```console block gives its commands without their `$ ` prompts. Material trims the end."""
    if language == "console":
        shown = "\n".join(line.removeprefix("$ ") for line in shown.splitlines())
    if language == "pycon":
        source, in_source = [], False
        for line in shown.splitlines():
            in_source = line.startswith(">>>") or (in_source and line.startswith("..."))
            if in_source:
                source.append(line[4:])
        shown = "\n".join(source)
    return shown.rstrip()
