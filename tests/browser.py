"""The built site in headless Chromium: a local static server, the browser, and a tour of every page.

tests/conftest.py turns these into fixtures and tests/test_site.py asserts on what the tour recorded. Nothing
here leaves 127.0.0.1: every request the browser makes goes through a route that lets local requests through
and refuses (and records) any other.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

# Debian's Chromium, driven by Playwright through executable_path (Playwright's own download fails here): its
# headless shell (package chromium-headless-shell: the same Chromium without the desktop browser around it,
# as Playwright itself runs headless) took the tour in 16 s where the full browser took 19 s on 2 cores; the
# full browser (package chromium) is the fallback.
CHROMIUM_BUILDS = ("chromium-headless-shell", "chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
REQUIRE_BROWSER = "PRIMER_REQUIRE_BROWSER"  # set to 1 by .ci/run: a missing browser fails instead of skipping
LOCAL_HOST = "127.0.0.1"
WEIGHT_LIMIT = 500 * 1024  # bytes a first visit may transfer, HTML and every asset it fetches
COMPRESSED = re.compile(r"^(text/|application/(javascript|json|xml)|image/svg\+xml)")  # what GitHub Pages gzips
SERVER_READY_SECONDS = 10.0
SETTLE_SECONDS = 5.0  # at most this long for the requests a page starts after its load event
ACTION_SECONDS = 10.0  # at most this long for an element to appear, a click to land, search results
LOAD_SECONDS = 20.0  # at most this long for a page to load
TOUR_SECONDS = 300.0  # at most this long for the tour of every page
COLOUR_RULES = ["color-contrast", "link-in-text-block"]  # axe-core's rules whose outcome depends on colours


def find_chromium() -> str | None:
    for name in CHROMIUM_BUILDS:
        for path in (f"/usr/bin/{name}", shutil.which(name)):
            if path and os.access(path, os.X_OK):
                return path
    return None


def launch(playwright, executable: str | None = None):
    """Headless Chromium, Debian's, with nothing running in the background."""
    return playwright.chromium.launch(executable_path=executable or find_chromium(), args=CHROMIUM_ARGS)


# --- serving ---------------------------------------------------------------------------------------------

def served_root(site: Path, site_path: str, root: Path) -> Path:
    """A folder to serve in which the site sits at `site_path` (the path of mkdocs.yml's site_url), as on
    GitHub Pages: 404.html refers to its assets by absolute paths (/pytorch-primer/assets/...)."""
    target = root.joinpath(*[part for part in site_path.split("/") if part])
    if target == root:
        return site
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(site, target_is_directory=True)
    return root


class StaticServer:
    """`python -m http.server` bound to 127.0.0.1 on port 0: the OS picks a free port while the server binds
    it, so no other process can take it between choosing and binding. The server prints the port it got on
    its first line once it listens; a request then confirms it answers. Stopped by its PID."""

    def __init__(self, directory: Path, log: Path) -> None:
        self.directory = directory
        self.log = log
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-u", "-m", "http.server", "--bind", LOCAL_HOST, "--directory",
                 str(self.directory), "0"],
                stdout=subprocess.PIPE, stderr=log, text=True,
            )
        deadline = time.monotonic() + SERVER_READY_SECONDS
        first_line = ""
        while not first_line and time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                first_line = self.process.stdout.readline()
        match = re.search(r"port (\d+)", first_line)
        if match:
            self.port = int(match.group(1))
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(f"http://{LOCAL_HOST}:{self.port}/", timeout=1):
                        return
                except OSError:
                    time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the static server did not answer within {SERVER_READY_SECONDS:.0f} s "
                           f"(first line {first_line!r}); its log:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self.process.stdout:
            self.process.stdout.close()
        self.process = None


# --- the browser side --------------------------------------------------------------------------------------

def is_local(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or parts.hostname == LOCAL_HOST


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def refuse_other_hosts(route, refused: list[str]) -> None:
    if is_local(route.request.url):
        route.continue_()
    else:
        refused.append(route.request.url)
        route.abort("blockedbyclient")


def new_context(browser, site_url: str, color_scheme: str = "light"):
    """A browser context allowed to use the clipboard on the site. Its `refused` list holds every request to
    another host that it stopped (its pages' own routes, see Recorder, normally stop them first). Routing
    also turns the HTTP cache off: every page load is a first load."""
    context = browser.new_context(color_scheme=color_scheme, viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_SECONDS * 1000)  # a missing element fails in seconds, not Playwright's 30
    context.set_default_navigation_timeout(LOAD_SECONDS * 1000)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin(site_url))
    context.refused = []
    context.route("**/*", lambda route: refuse_other_hosts(route, context.refused))
    return context


class Recorder:
    """What one page does: requests that tried to leave the machine (refused), console errors and uncaught
    exceptions, and its requests (those in flight tell when the page has settled)."""

    def __init__(self, page) -> None:
        self.page = page
        self.off_host: list[str] = []
        self.console_errors: list[str] = []
        self.finished: list[str] = []
        self.in_flight = 0
        self.last_activity = time.monotonic()
        page.route("**/*", lambda route: refuse_other_hosts(route, self.off_host))
        page.on("request", self._started)
        page.on("requestfinished", self._finished)
        page.on("requestfailed", self._failed)
        page.on("console", lambda message: message.type == "error" and self.console_errors.append(
            f"console error: {message.text} ({message.location.get('url', '')})"))
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught exception: {error}"))
        page.on("websocket", lambda socket: is_local(socket.url) or self.off_host.append(socket.url))

    def reset(self) -> None:
        self.off_host.clear()
        self.console_errors.clear()
        self.finished.clear()

    def _started(self, request) -> None:
        self.in_flight += 1
        self.last_activity = time.monotonic()

    def _finished(self, request) -> None:
        self.in_flight -= 1
        self.last_activity = time.monotonic()
        self.finished.append(request.url)

    def _failed(self, request) -> None:
        self.in_flight -= 1
        self.last_activity = time.monotonic()
        if is_local(request.url):
            self.console_errors.append(f"request failed: {request.url} ({request.failure})")

    def settle(self) -> None:
        """Wait until no request has been in flight for 100 ms (the search index and the sitemap are fetched
        after the load event), at most SETTLE_SECONDS. Playwright's networkidle waits 500 ms every time."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            if self.in_flight <= 0 and time.monotonic() - self.last_activity >= 0.1:
                return
            self.page.wait_for_timeout(25)


_sizes: dict[str, tuple[int, int]] = {}


def transfer_size(url: str) -> tuple[int, int]:
    """(bytes as served here, bytes on the wire from a host that compresses text as GitHub Pages does: gzip
    for HTML, CSS, JavaScript, JSON, SVG). The body is fetched again from the local server, outside the
    browser: the same static file, without shipping every body through the browser's protocol."""
    if url not in _sizes:
        with urllib.request.urlopen(url, timeout=10) as response:
            body, kind = response.read(), response.headers.get("content-type", "")
        _sizes[url] = (len(body), len(gzip.compress(body, 6)) if COMPRESSED.search(kind) else len(body))
    return _sizes[url]


# What a page shows, read in one call after its load event.
READ_PAGE = """() => ({
  images: [...document.images].map(image => ({
    src: image.currentSrc.slice(0, 100),
    alt: image.getAttribute("alt"),
    loaded: image.complete && image.naturalWidth > 0,
    shown: image.checkVisibility() && image.getBoundingClientRect().width > 0,
    notebook: !!image.closest(".jupyter-wrapper"),
  })),
  // Not the markers of code annotations: Material opens their tooltip on a click, and the tooltip their
  // href names exists only while it is shown.
  links: [...document.querySelectorAll("a[href]:not(.md-annotation__index)")].map(a => a.href),
  ids: [...document.querySelectorAll("[id]")].map(e => e.id)
    .concat([...document.querySelectorAll("a[name]")].map(a => a.name)),
})"""

# Every code block and its copy button: Material's (```fences) and mkdocs-jupyter's (notebook cells). Each
# button is clicked in turn and the clipboard read back. `shown` is the code as displayed, annotation
# markers left out: the test derives from it what the clipboard must hold.
COPY_EVERY_BLOCK = """async () => {
  const sentinel = "(clipboard not written)";
  const reveal = element => {
    for (let e = element; e; e = e.parentElement) {
      if (e.tagName === "DETAILS") e.open = true;
      if (e.classList.contains("tabbed-block")) {  // pymdownx.tabbed: the n-th block goes with the n-th label
        const set = e.closest(".tabbed-set");
        const index = [...e.parentElement.children].indexOf(e);
        set.querySelectorAll(":scope > .tabbed-labels > label")[index].click();
      }
    }
  };
  const blocks = [];
  for (const pre of document.querySelectorAll(".md-content pre")) {
    const code = pre.querySelector(":scope > code");
    const cell = pre.closest(".jp-CodeCell .jp-InputArea");
    if (!code && !cell) continue;  // an output area of a notebook cell
    const highlight = pre.closest("[class*='language-']");
    const language = cell ? "python"
      : highlight ? [...highlight.classList].find(c => c.startsWith("language-")).slice(9) : "";
    const button = cell ? cell.querySelector("clipboard-copy")
      : pre.querySelector("button[data-clipboard-target]");
    reveal(pre);  // as a reader does: open the collapsed block, pick the tab it is in
    const clone = (code || pre).cloneNode(true);
    clone.querySelectorAll(".md-annotation, .zeroclipboard-container").forEach(e => e.remove());
    const block = {language, shown: clone.textContent, button: !!button && button.checkVisibility(), copied: null};
    if (block.button) {
      await navigator.clipboard.writeText(sentinel);
      button.click();
      for (let i = 0; i < 40; i++) {  // Material copies at once; the notebook's button writes asynchronously
        block.copied = await navigator.clipboard.readText();
        if (block.copied !== sentinel) break;
        await new Promise(resolve => setTimeout(resolve, 25));
      }
    }
    blocks.push(block);
  }
  return blocks;
}"""

# axe-core's colour rules (colour-contrast above all) are its costliest by far: they weigh every element that
# holds text, and a code block has one per token. An element's colours follow from the page's stylesheets
# and its kind: tag, classes and inline style, its parent's, the nearest inline style above it, the block it
# sits in (the header, a sidebar, the footer, a top-level element of the article, a notebook cell), whether
# it holds letters, only symbols, or is a form field. The same stylesheets colour the same kinds alike on every
# page. So the tour marks elements the colour rules need not weigh again, and those rules leave marked elements
# out (COLOUR_RULE_SELECTORS): each kind is weighed once, in each colour scheme. Every other rule checks every
# element of every page. The mark is an attribute no stylesheet reads. An element is marked when
# - its own text (the text nodes directly inside it) is of a kind already checked, on an earlier page or
#   earlier on this one, or it has none: color-contrast weighs an element's own text only, and a form field's
#   value whether or not it holds text (axe-core's color-contrast-matches). A form field is a kind of its own:
#   marked as "no text", the search box was never weighed;
# - and, for a link, all the text inside it is of checked kinds too: link-in-text-block weighs a link's colour
#   against the text around it, whichever element inside holds the link's text.
MARK_CHECKED_ELEMENTS = """checked => {
  checked = new Set(checked);
  const added = [];
  let hash = 0;  // of the page's stylesheets: a page with a style of its own has kinds of its own
  for (const c of [...document.styleSheets].map(sheet => sheet.href || sheet.ownerNode.textContent).join("\\n"))
    hash = (hash * 31 + c.charCodeAt(0)) | 0;
  const style = e => (e?.getAttribute("style") ?? "").split(";")  // custom properties only place things
    .filter(declaration => declaration.trim() && !declaration.trim().startsWith("--")).join(";");
  const kind = e => e.tagName + [...e.classList].sort().map(c => "." + c).join("")
    + (style(e) ? `[style="${style(e)}"]` : "");
  const isField = e => ["INPUT", "SELECT", "TEXTAREA"].includes(e.tagName);
  const isLink = e => e.matches("a[href], [role=link]");
  const blocks = [...document.querySelectorAll(
      ".md-header, .md-tabs, .md-sidebar, .md-footer, article.md-content__inner > *")]
    .flatMap(block => block.querySelector(".jp-Cell") ? [...block.querySelectorAll(".jp-Cell")] : [block]);
  const blockOf = new Map();  // element -> the block it sits in, for the elements inside one
  for (const block of blocks) for (const e of [block, ...block.querySelectorAll("*")]) blockOf.set(e, block);
  const known = new Map();  // element -> all the text inside it (its own included) is of checked kinds
  for (const e of [...document.body.querySelectorAll("*")].reverse()) {  // children before their parents
    const text = [...e.childNodes].filter(n => n.nodeType === 3).map(n => n.data).join("");
    let own = true;  // its own text is of a checked kind, or it has none
    if (text.trim() || isField(e)) {
      const block = blockOf.get(e);
      let styled = e;  // the nearest inline style above, inside the block
      while (styled && styled !== block && !style(styled)) styled = styled.parentElement;
      const k = `${hash} ${block ? kind(block) : "(outside the blocks)"} | ${style(styled)} | ${
        kind(e.parentElement)} > ${kind(e)} ${
        isField(e) ? "field" : /[\\p{L}\\p{N}]/u.test(text) ? "text" : "symbols"}`;
      if (!checked.has(k)) { checked.add(k); added.push(k); own = false; }  // this one is checked now
    }
    known.set(e, own && [...e.children].every(child => known.get(child)));
    if (own && (!isLink(e) || known.get(e))) e.setAttribute("data-primer-colours-checked", "");
  }
  return added;
}"""
# The colour rules' own selectors in the pinned axe-core, narrowed to unmarked elements. (A context that
# excludes the marked elements would need a run of its own: one more pass over the whole page.)
COLOUR_RULE_SELECTORS = {"color-contrast": "*", "link-in-text-block": "a[href], [role=link]"}
NARROW_COLOUR_RULES = """selectors => {
  for (const [id, selector] of Object.entries(selectors)) {
    const rule = axe._audit.rules.find(rule => rule.id === id);  // axe-core's own, to check the pin
    if (rule.selector !== selector) throw new Error(`axe-core's ${id} selects ${rule.selector}, not ${selector}`);
    const narrowed = selector.split(",").map(part => `${part.trim()}:not([data-primer-colours-checked])`);
    axe.configure({rules: [{id, selector: narrowed.join(", ")}]});
  }
}"""


@dataclass
class Visit:
    """One page, loaded once as a first-time reader would, and what was seen."""

    url: str
    name: str
    console_errors: list[str] = field(default_factory=list)
    off_host: list[str] = field(default_factory=list)
    weights: dict[str, tuple[int, int]] = field(default_factory=dict)  # url: (raw bytes, bytes on the wire)
    images: list[dict] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    blocks: list[dict] = field(default_factory=list)
    # (scheme, page background colour): as the page opened, then after the toggle switched it
    schemes: list[tuple[str, list[int]]] = field(default_factory=list)
    violations: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # a step that could not run at all
    seconds: float = 0.0

    @property
    def raw_weight(self) -> int:
        return sum(raw for raw, _ in self.weights.values())

    @property
    def weight(self) -> int:
        return sum(wire for _, wire in self.weights.values())


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v.get("impact") in ("serious", "critical")]


def axe_script() -> str:
    """axe-core's script, as pinned by axe-playwright-python (constraints.txt)."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


RUN_AXE = """options => axe.run(document, options).then(results => results.violations)"""


def axe_runs(dark: bool, colours: bool) -> list[dict]:
    """Options of the axe-core runs for one colour scheme: in light mode one run of every rule (the colour
    rules on the elements they still need to see), in dark mode the colour rules only, and none when every
    element of the page was seen before (`colours` false)."""
    if not dark:
        return [{"resultTypes": ["violations"]}]
    if colours:
        return [{"resultTypes": ["violations"], "runOnly": {"type": "rule", "values": COLOUR_RULES}}]
    return []


# Colours change with CSS transitions (links, the header): axe-core must see where they end, not midway.
# (Animations are left alone: the annotation markers pulse forever.)
SETTLE_ANIMATIONS = """() => Promise.race([
  Promise.all(document.getAnimations().filter(a => a instanceof CSSTransition)
    .map(a => a.finished.catch(() => null))),
  new Promise(resolve => setTimeout(resolve, 2000)),
])"""


SCHEME_AND_BACKGROUND = """() => [document.body.dataset.mdColorScheme,
  getComputedStyle(document.body).backgroundColor.match(/[\\d.]+/g).slice(0, 3).map(Number)]"""


def switch_scheme(page, to: str) -> None:
    """Click Material's light/dark toggle, as a reader does, and wait until the page has switched."""
    title = {"slate": "Switch to dark mode", "default": "Switch to light mode"}[to]
    page.locator(f'label[title="{title}"]:visible').click()
    page.wait_for_function("scheme => document.body.dataset.mdColorScheme === scheme", arg=to)
    page.evaluate(SETTLE_ANIMATIONS)


def visit(page, recorder: Recorder, url: str, name: str, checked_kinds: set[str],
          timings: dict[str, float] | None = None) -> Visit:
    """Load `url` (no cache: a first load) and record what happens: weight, what the page shows, axe-core in
    both colour schemes (every rule in light mode, the colour rules again in dark mode), every copy button. The
    scheme is switched with the page's toggle; the choice carries to the next page, so each visit switches
    once, from whichever scheme the page opened in. `checked_kinds`: kinds of elements whose colours the
    tour has checked already (see MARK_CHECKED_ELEMENTS)."""
    result = Visit(url=url, name=name)
    started = time.perf_counter()
    recorder.reset()
    new_kinds: list[str] = []  # kinds of elements this page shows first: none, and the colour rules skip it

    def step(label, action, after: str | None = "load"):
        """Run one step unless the step it builds on failed; a failure is recorded, the visit goes on."""
        if after and any(problem.startswith(f"{after}:") for problem in result.problems):
            return None
        begun = time.perf_counter()
        try:
            return action()
        except Exception as error:  # recorded, so the other checks still report on this page
            result.problems.append(f"{label}: {type(error).__name__}: {error}")
        finally:
            if timings is not None:
                timings[label] = timings.get(label, 0.0) + time.perf_counter() - begun

    def scheme():
        return page.evaluate("document.body.dataset.mdColorScheme")

    def note_scheme():
        result.schemes.append(tuple(page.evaluate(SCHEME_AND_BACKGROUND)))

    def axe():
        dark = scheme() == "slate"
        for options in axe_runs(dark, colours=bool(new_kinds)):
            found = page.evaluate(RUN_AXE, options)
            result.violations += [{**v, "help": f"(dark mode) {v['help']}"} if dark else v for v in found]

    def read():
        seen = page.evaluate(READ_PAGE)
        result.images, result.links = seen["images"], seen["links"]
        result.ids = set(seen["ids"])
        new_kinds.extend(page.evaluate(MARK_CHECKED_ELEMENTS, sorted(checked_kinds)))
        checked_kinds.update(new_kinds)
        page.evaluate(SETTLE_ANIMATIONS)

    step("load", lambda: page.goto(url, wait_until="load"), after=None)
    step("read", read)
    step("axe", axe)
    step("switch", lambda: (note_scheme(), switch_scheme(page, "default" if scheme() == "slate" else "slate"),
                            note_scheme()))
    step("axe", axe, after="switch")
    result.blocks = step("copy", lambda: page.evaluate(COPY_EVERY_BLOCK)) or []  # last: it scrolls the page
    # The weight counts every request of the visit; by now the page has long finished what it fetches after
    # its load event (the search index, the sitemap), so waiting for quiet costs next to nothing here.
    step("settle", recorder.settle)
    step("weigh", lambda: result.weights.update({url: transfer_size(url) for url in recorder.finished}))
    result.console_errors = list(recorder.console_errors)
    result.off_host = list(recorder.off_host)
    result.seconds = time.perf_counter() - started
    return result


def tour(browser, site_url: str, names: list[str],
         timings: dict[str, float] | None = None) -> tuple[dict[str, Visit], list[str]]:
    """Visit every page once, one after another in one tab (two tabs side by side were slower here).
    Returns the visits and any request to another host that the page's own route did not catch."""
    context = new_context(browser, site_url)
    # axe-core in every page before it loads (no injection per page), its colour rules narrowed
    context.add_init_script(f"{axe_script()}\n({NARROW_COLOUR_RULES})({json.dumps(COLOUR_RULE_SELECTORS)});")
    try:
        page = context.new_page()
        recorder = Recorder(page)
        checked_kinds: set[str] = set()
        visits = {name: visit(page, recorder, site_url + name, name, checked_kinds, timings)
                  for name in names}
    finally:
        context.close()
    return visits, list(context.refused)


class TourInBackground(threading.Thread):
    """`tour` on a thread of its own, with a Chromium of its own (Playwright's sync API wants one instance
    per thread), so that the tests which drive the other browser (searches, a real click) run meanwhile:
    during the tour alone the machine's two cores sat idle a quarter of the time. `result()` waits for it."""

    def __init__(self, site_url: str, names: list[str]) -> None:
        super().__init__(name="browser-tour", daemon=True)
        self.site_url, self.names = site_url, names
        self.visits: dict[str, Visit] = {}
        self.stray: list[str] = []
        self.seconds = 0.0
        self.error: BaseException | None = None

    def run(self) -> None:
        from playwright.sync_api import sync_playwright

        started = time.perf_counter()
        try:
            with sync_playwright() as playwright:
                browser = launch(playwright)
                try:
                    self.visits, self.stray = tour(browser, self.site_url, self.names)
                finally:
                    browser.close()
        except BaseException as error:  # handed to the test that waits for the result
            self.error = error
        self.seconds = time.perf_counter() - started

    def result(self, timeout: float = TOUR_SECONDS) -> tuple[dict[str, Visit], list[str], float]:
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"the browser tour did not finish within {timeout:.0f} s")
        if self.error is not None:
            raise self.error
        return self.visits, self.stray, self.seconds


def expected_copy(language: str, shown: str) -> str:
    """What the copy button of a block must put on the clipboard: the code as shown, except that a ```pycon
    block gives only what a reader types, by doctest's rule for what is source: a `>>>` line and the `...`
    lines right after it, without their prompts (a `...` line in an answer, as tracebacks have, is output).
    Material trims the end."""
    if language == "pycon":
        source, in_source = [], False
        for line in shown.splitlines():
            in_source = line.startswith(">>>") or (in_source and line.startswith("..."))
            if in_source:
                source.append(line[4:])
        shown = "\n".join(source)
    return shown.rstrip()


def screenshot(browser, url: str, path: Path) -> Path:
    """A full-page screenshot of `url` in a fresh context (requests still kept on 127.0.0.1)."""
    context = new_context(browser, url)
    try:
        page = context.new_page()
        recorder = Recorder(page)
        page.goto(url, wait_until="load")
        recorder.settle()
        path.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(path), full_page=True)
    finally:
        context.close()
    return path
