"""The built site: a strict build with no warning, nothing that loads from another host, versions stated;
then the same site served from 127.0.0.1 and read in headless Chromium, as a reader meets it."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from tests import browser as web

# Attributes that make a browser fetch something when the page loads (links a reader follows are not fetches).
FETCHING_ATTRIBUTES = {
    "script": ["src"],
    "img": ["src", "srcset"],
    "source": ["src", "srcset"],
    "iframe": ["src"],
    "video": ["src", "poster"],
    "audio": ["src"],
    "embed": ["src"],
    "object": ["data"],
}
FETCHING_LINK_RELS = {"stylesheet", "preload", "prefetch", "modulepreload", "icon", "manifest", "preconnect",
                      "dns-prefetch", "apple-touch-icon"}
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")


class FetchedUrls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_css: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in FETCHING_ATTRIBUTES.get(tag, []):
            for candidate in (attributes.get(name) or "").split(","):
                if candidate.strip():
                    self.urls.append(candidate.strip().split()[0])
        if tag == "link" and FETCHING_LINK_RELS & set((attributes.get("rel") or "").lower().split()):
            self.urls.append(attributes.get("href") or "")
        if attributes.get("style"):
            self.inline_css.append(attributes["style"])
        self._in_style = tag == "style"

    def handle_data(self, data):
        if self._in_style:
            self.inline_css.append(data)

    def handle_endtag(self, tag):
        self._in_style = False


def is_other_host(url: str) -> bool:
    parts = urlsplit(url)
    return bool(parts.netloc) or parts.scheme not in ("", "data", "blob")


def test_strict_build_has_no_warning(built_site):
    warnings = [line for line in built_site.log.splitlines() if "WARNING" in line or "ERROR" in line]
    assert not warnings, "\n".join(warnings)


def test_every_page_is_built(built_site):
    assert (built_site.directory / "index.html").exists()
    assert (built_site.directory / "404.html").exists()


def test_nothing_in_the_site_loads_from_another_host(built_site):
    offenders = []
    for page in built_site.pages():
        parser = FetchedUrls()
        parser.feed(page.read_text(encoding="utf-8"))
        urls = parser.urls + [u for css in parser.inline_css for u in CSS_URL.findall(css)]
        offenders += [f"{page.relative_to(built_site.directory)}: {url}" for url in urls if is_other_host(url)]
    for stylesheet in built_site.directory.rglob("*.css"):
        urls = CSS_URL.findall(stylesheet.read_text(encoding="utf-8", errors="replace"))
        offenders += [f"{stylesheet.relative_to(built_site.directory)}: {url}" for url in urls if is_other_host(url)]
    assert not offenders, "resources loaded from another host:\n" + "\n".join(offenders)


def test_footer_states_the_torch_version_the_outputs_were_checked_against(built_site):
    expected = f"checked against PyTorch {version('torch')}"
    missing = [str(p.relative_to(built_site.directory)) for p in built_site.pages() if expected not in p.read_text()]
    assert not missing, f"pages whose footer does not say {expected!r}: {missing}"


# --- The site in a real browser ----------------------------------------------------------------------------
# tests/browser.py serves the built site from 127.0.0.1 and drives headless Chromium; the fixtures live in
# tests/conftest.py. Each page is visited once (the `tour`), as a first-time reader with no cache, on a thread
# with a Chromium of its own; the tests below read what the visits recorded. Meanwhile a real mouse click on a
# copy button and searches run in the `browser` fixture's Chromium: they come first in this file, and start
# the tour.

# Terms a reader looks up, and the page that teaches each (written by the chapters' authors).
SEARCHES = [("CrossEntropyLoss", "losses/"), ("requires_grad", "gradients/"), ("SummaryWriter", "tensorboard/")]
NOTEBOOK = "notebooks/walkthrough/"
PASTE_DELAY_SECONDS = 1.5  # how long the real-click test checks that the copied code stays on the clipboard
NOTEBOOK_PLACEHOLDER_ALT = "No description has been provided for this image"  # nbconvert's stand-in
SCREENSHOTS_PER_FAILURE = 3


def site_pages(site_dir: Path) -> list[str]:
    """Every page of the built site, as a path relative to the site's URL: `losses/`, `404.html`."""
    pages = [str(p.parent.relative_to(site_dir)) + "/" for p in site_dir.rglob("index.html")]
    return sorted("" if page == "./" else page for page in pages) + ["404.html"]


@dataclass
class Tour:
    visits: dict[str, web.Visit]
    stray_requests: list[str]  # to another host, refused by the context without a page's route seeing them
    seconds: float


@pytest.fixture(scope="module")
def tour_started(browser, site_url, built_site) -> web.TourInBackground:
    """Every page visited once (see web.tour), on a thread: started by the first test that asks for it."""
    background = web.TourInBackground(site_url, site_pages(built_site.directory))
    background.start()
    yield background
    background.join(timeout=web.TOUR_SECONDS)


@pytest.fixture(scope="module")
def tour(tour_started) -> Tour:
    """What the tour recorded, once it has finished: the tests below read it."""
    visits, stray, seconds = tour_started.result()
    print(f"\nbrowser tour: {len(visits)} pages in {seconds:.1f} s: "
          + ", ".join(f"/{v.name} {v.seconds:.2f} s" for v in visits.values()))
    return Tour(visits, stray, seconds)


def fail_with_screenshots(browser, site_url, tmp_path, failures: dict[str, list[str]], what: str) -> None:
    """Fail naming every page at fault and what is wrong there, with screenshots of the first few."""
    if not failures:
        return
    lines = [f"{what} on {len(failures)} page(s):"]
    for index, (name, problems) in enumerate(sorted(failures.items())):
        lines.append(f"- /{name}")
        lines += [f"    {problem}" for problem in problems]
        if index < SCREENSHOTS_PER_FAILURE and not name.startswith("("):
            slug = (name.strip("/").replace("/", "-") or "index").replace(".html", "")
            try:
                path = web.screenshot(browser, site_url + name, tmp_path / f"{slug}.png")
                lines.append(f"    screenshot: {path}")
            except Exception as error:
                lines.append(f"    screenshot could not be taken: {error}")
    pytest.fail("\n".join(lines), pytrace=False)


def assert_clean(site_page):
    refused = site_page.recorder.off_host + site_page.context.refused
    assert not refused, f"requests to another host: {refused}"
    assert not site_page.recorder.console_errors, "\n".join(site_page.recorder.console_errors)


def test_a_real_click_on_a_copy_button_copies_the_code(tour_started, built_site, site_page):
    """The tour clicks every button from a script; here the mouse does, on a ```pycon and a ```python block
    (of one page when a page has both)."""
    languages = ("pycon", "python")
    html = {page: (built_site.directory / page / "index.html").read_text(encoding="utf-8")
            for page in site_pages(built_site.directory) if not page.endswith(".html")}
    has = {name: {language for language in languages if f'class="language-{language} highlight"' in text}
           for name, text in html.items()}
    both = [name for name, found in has.items() if set(languages) <= found]
    page = site_page.page
    for language in languages:
        name = (both or [n for n, found in has.items() if language in found] or [None])[0]
        assert name is not None, f"no ```{language} block on any page"
        if page.url != site_page.site_url + name:
            page.goto(site_page.site_url + name)
        block = page.locator(f".md-content .language-{language} pre").first
        shown = block.locator("code").evaluate(
            "code => { const c = code.cloneNode(true); c.querySelectorAll('.md-annotation').forEach(e => e.remove());"
            " return c.textContent; }")
        block.hover()
        block.locator("button[data-clipboard-target]").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == web.expected_copy(language, shown), f"/{name}, first ```{language} block"
        assert ">>>" not in copied
        # A reader pastes a moment later: nothing on the page may replace the code meanwhile (the tour reads
        # every block's copy at once, so only this test would see a late write)
        page.wait_for_timeout(PASTE_DELAY_SECONDS * 1000)
        kept = page.evaluate("navigator.clipboard.readText()")
        assert kept == copied, f"/{name}, first ```{language} block: {PASTE_DELAY_SECONDS} s after the click the " \
                               f"clipboard holds {kept[:80]!r}, not the code copied"
    assert_clean(site_page)


@pytest.mark.parametrize(("term", "expected"), SEARCHES, ids=[term for term, _ in SEARCHES])
def test_search_typed_by_a_reader_finds_the_page_that_teaches_it(tour_started, shared_site_page, term, expected):
    """Typed key by key into Material's search box, from whatever page the reader is on."""
    site_page = shared_site_page
    site_page.recorder.reset()  # what the tests before this one saw is theirs
    page = site_page.page
    if not page.url.startswith(site_page.site_url):
        page.goto(site_page.site_url)
    box = page.get_by_role("textbox", name="Search")
    box.click()
    box.fill("")
    box.press_sequentially(term, delay=10)  # key by key: Material searches as the reader types
    target = site_page.site_url + expected
    try:
        page.wait_for_function(
            """target => [...document.querySelectorAll("a.md-search-result__link")]
                 .some(a => a.href.split(/[?#]/)[0] === target)""", arg=target, timeout=web.ACTION_SECONDS * 1000)
    except Exception:
        shown = page.locator("a.md-search-result__link").evaluate_all("links => links.map(a => a.href)")
        pytest.fail(f"searching {term!r}: no result leads to /{expected}; results: {shown}", pytrace=False)
    # Matched on the page, not the whole href: each answer of the search worker re-renders the list, and a
    # result's `?h=` changes with the query, so a link found for an early keystroke is replaced by its twin.
    page.locator(f'a.md-search-result__link[href^="{target}?"], a.md-search-result__link[href="{target}"], '
                 f'a.md-search-result__link[href^="{target}#"]').first.click()
    page.wait_for_url(lambda url: url.split("?")[0].split("#")[0] == target)
    text = page.locator("article").inner_text()
    assert term.lower() in text.lower(), f"/{expected} does not mention {term!r}"
    assert_clean(site_page)


def test_every_page_was_visited(tour, browser, site_url, tmp_path):
    assert NOTEBOOK in tour.visits and "" in tour.visits, f"pages visited: {sorted(tour.visits)}"
    failures = {name: v.problems for name, v in tour.visits.items() if v.problems}
    fail_with_screenshots(browser, site_url, tmp_path, failures, "steps of the tour that failed")


def test_pages_load_without_console_errors(tour, browser, site_url, tmp_path):
    failures = {name: v.console_errors for name, v in tour.visits.items() if v.console_errors}
    fail_with_screenshots(browser, site_url, tmp_path, failures, "console errors")


def test_no_request_leaves_the_machine(tour, browser, site_url, tmp_path):
    failures = {name: [f"refused: {url}" for url in v.off_host] for name, v in tour.visits.items() if v.off_host}
    if tour.stray_requests:
        failures["(no page named)"] = [f"refused: {url}" for url in tour.stray_requests]
    fail_with_screenshots(browser, site_url, tmp_path, failures, "requests to another host")


def test_first_load_weighs_under_500_kb(tour, browser, site_url, tmp_path):
    """What a first visit (no cache) transfers: the HTML and every asset it fetches, the search index
    included, counted as a host that compresses text sends it (GitHub Pages gzips HTML, CSS, JavaScript,
    JSON and SVG; images go as they are). The local server does not compress, so the test gzips each text
    response itself. Uncompressed, Material's scripts, styles and the search index alone pass 450 KB."""
    print("\nfirst-load weight, on the wire (as served): " + ", ".join(
        f"/{n} {v.weight / 1024:.0f} KB ({v.raw_weight / 1024:.0f} KB)" for n, v in tour.visits.items()))
    failures = {}
    for name, v in tour.visits.items():
        if v.weight > web.WEIGHT_LIMIT:
            heaviest = sorted(v.weights.items(), key=lambda item: -item[1][1])[:5]
            failures[name] = [f"{v.weight / 1024:.0f} KB > {web.WEIGHT_LIMIT / 1024:.0f} KB; heaviest:"] + [
                f"  {wire / 1024:.0f} KB ({raw / 1024:.0f} KB uncompressed) {url}" for url, (raw, wire) in heaviest]
    fail_with_screenshots(browser, site_url, tmp_path, failures, "pages too heavy")


def test_every_code_block_has_a_copy_button_that_copies_exactly_its_code(tour, browser, site_url, tmp_path):
    """The clipboard, read back, holds the code as shown: for ```pycon only what follows the prompts (no
    `>>>`, no answers); Python code compiles. ```output blocks have no copy button: an output is not code to
    run, and a button there would invite pasting it into Python."""
    failures = {}
    for name, v in tour.visits.items():
        problems = []
        for number, block in enumerate(v.blocks, start=1):
            label = f"block {number} ({block['language'] or 'no language'}): {block['shown'][:50]!r}"
            if block["language"] == "output":
                if block["button"]:
                    problems.append(f"{label}: an output block has a copy button")
                continue
            if not block["button"]:
                problems.append(f"{label}: no visible copy button")
                continue
            expected = web.expected_copy(block["language"], block["shown"])
            if block["copied"] != expected:
                problems.append(f"{label}: copied {block['copied']!r}, expected {expected!r}")
            elif block["language"] in ("python", "py", "pycon"):
                try:
                    compile(block["copied"], f"<copied from /{name}, {label}>", "exec")
                except SyntaxError as error:
                    problems.append(f"{label}: the copied code does not compile: {error}")
        if problems:
            failures[name] = problems
    fail_with_screenshots(browser, site_url, tmp_path, failures, "copy buttons")
    languages = {block["language"] for v in tour.visits.values() for block in v.blocks}
    assert {"pycon", "python", "output"} <= languages, f"the languages of the site's code blocks: {languages}"


def test_every_image_has_alt_text(tour, browser, site_url, tmp_path):
    failures = {}
    for name, v in tour.visits.items():
        problems = [f"{image['src']!r}: alt {image['alt']!r}" for image in v.images
                    if not (image["alt"] or "").strip() or image["alt"] == NOTEBOOK_PLACEHOLDER_ALT]
        if problems:
            failures[name] = problems
    fail_with_screenshots(browser, site_url, tmp_path, failures, "images without alt text")


def test_the_notebook_page_shows_its_figures(tour, browser, site_url, tmp_path):
    assert NOTEBOOK in tour.visits, f"no notebook page /{NOTEBOOK} in the site (pages: {sorted(tour.visits)})"
    figures = [image for image in tour.visits[NOTEBOOK].images if image["notebook"]]
    problems = [f"{image['src']!r}: loaded={image['loaded']}, shown={image['shown']}" for image in figures
                if not (image["loaded"] and image["shown"])]
    if not figures:
        problems.append("no figure in the notebook's outputs")
    fail_with_screenshots(browser, site_url, tmp_path, {NOTEBOOK: problems} if problems else {}, "notebook figures")


def test_internal_links_and_anchors_resolve(tour, browser, site_url, tmp_path, built_site):
    """Every link to this site reaches a file of the build, and its #fragment an element of the target page
    (ids as the browser has them, after Material's scripts ran). External links are not followed (offline)."""
    ids = {site_url + name: v.ids for name, v in tour.visits.items()}
    failures = {}
    for name, v in tour.visits.items():
        problems = []
        for link in sorted(set(v.links)):
            if not link.startswith(site_url):
                continue  # another host, or the server root outside the site: not a page of this site
            target, _, fragment = link.partition("#")
            target = target.split("?")[0]
            relative = unquote(target[len(site_url):])
            path = built_site.directory / relative
            if not (path.is_file() or (path / "index.html").is_file()):
                problems.append(f"{link}: no such file in the site")
            elif fragment and target in ids and unquote(fragment) not in ids[target]:
                problems.append(f"{link}: no element with id {unquote(fragment)!r} on that page")
        if problems:
            failures[name] = problems
    fail_with_screenshots(browser, site_url, tmp_path, failures, "broken links")


def test_no_serious_or_critical_accessibility_violation(tour, browser, site_url, tmp_path):
    """axe-core in the page, every rule in light mode and the colour rules in dark mode."""
    failures = {}
    for name, v in tour.visits.items():
        problems = []
        for violation in web.serious(v.violations):
            targets = ", ".join(" ".join(node["target"]) for node in violation["nodes"][:5])
            problems.append(f"{violation['id']} ({violation['impact']}): {violation['help']}: {targets}")
        if problems:
            failures[name] = problems
    fail_with_screenshots(browser, site_url, tmp_path, failures, "accessibility violations")


def test_light_dark_toggle_switches_and_the_next_page_keeps_the_choice(tour, browser, site_url, tmp_path):
    """The tour clicks the toggle once on every page (see web.visit): the scheme and the page background
    change, and the next page opens in the scheme chosen on the one before. The first page opens light, as
    the browser prefers."""
    def brightness(rgb):
        return sum(rgb) / 3

    failures, previous = defaultdict(list), None
    for name, v in tour.visits.items():
        if len(v.schemes) != 2:
            failures[name].append(f"the toggle was not used ({v.problems})")
            continue
        (opened, before), (switched, after) = v.schemes
        expected_first = previous or "default"
        if opened != expected_first:
            failures[name].append(f"opened in {opened!r}, expected {expected_first!r}")
        if switched == opened:
            failures[name].append(f"the toggle left the scheme at {opened!r}")
        for scheme, background in v.schemes:
            if (scheme == "slate") != (brightness(background) < 60):
                failures[name].append(f"scheme {scheme!r} with a page background of {background}")
        previous = switched
    fail_with_screenshots(browser, site_url, tmp_path, dict(failures), "the colour toggle misbehaved")
