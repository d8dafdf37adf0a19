"""The built site: a strict build with no warning, every page there, nothing that loads from another host,
alt text, links, versions stated; then the same site served from 127.0.0.1 and read in headless Chromium, as
a reader meets it. Each browser test opens its own fresh page: none depends on another or on their order.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from harness.embed import load_mkdocs_yml
from hooks.notebooks import TIME_LOGGED
from tests import browser as web

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
WEIGHT_LIMIT_KB = 500  # what a first visit may transfer, HTML and every asset, compressed as served
# Terms a reader looks up, and the page that teaches each (written by the chapters' authors).
SEARCHES = [("CrossEntropyLoss", "losses/"), ("requires_grad", "gradients/"), ("SummaryWriter", "tensorboard/")]
PLUGINS = load_mkdocs_yml(ROOT / "mkdocs.yml")["plugins"]
SEARCH_SEPARATOR = next(p["search"] for p in PLUGINS if isinstance(p, dict) and "search" in p)["separator"]
NOTEBOOK = "notebooks/walkthrough/"
ALT_WORDS = 8  # the fewest words that say what a figure shows, not just name it


def page_names() -> list[str]:
    """Every page the build makes, as a path relative to the site's URL (`losses/`, `notebooks/digits/`,
    `404.html`), from the sources: a Markdown page or a notebook is a folder of its own."""
    sources = [*DOCS.rglob("*.md"), *(DOCS / "notebooks").glob("*.py")]
    names = [str(path.relative_to(DOCS).with_suffix("")) + "/" for path in sources]
    return sorted("" if name == "index/" else name for name in names) + ["404.html"]


PAGES = page_names()


def html_file(site: Path, name: str) -> Path:
    return site / (name if name.endswith(".html") else name + "index.html")


# --- The build ---------------------------------------------------------------------------------------------


def test_strict_build_has_no_warning(site_build, record_property):
    """The one test that reports a failed build, with its log; the others that need the site skip, naming
    this test (tests/conftest.py, BUILD_FAILED)."""
    record_property("build_seconds", round(site_build.seconds, 2))
    for source, wall, _ in TIME_LOGGED.findall(site_build.log):
        record_property(f"notebook_seconds {source}", float(wall))
    warnings = [line for line in site_build.log.splitlines() if "WARNING" in line or "ERROR" in line]
    if not site_build.ok or warnings:
        pytest.fail(f"mkdocs build --strict failed:\n{site_build.log}", pytrace=False)


def test_every_page_is_built(built_site):
    built = {str(p.relative_to(built_site.directory)) for p in built_site.directory.rglob("*.html")}
    missing = [name for name in PAGES if str(html_file(Path(), name)) not in built]
    assert not missing, f"pages not built: {missing}"


class Parsed(HTMLParser):
    """What a built page holds: the URLs the browser fetches as it loads (links a reader follows are not
    fetches), the links, the ids, the images' alt text and the CSS written into the page."""

    FETCHING = {"script": ["src"], "img": ["src", "srcset"], "source": ["src", "srcset"], "iframe": ["src"],
                "video": ["src", "poster"], "audio": ["src"], "embed": ["src"], "object": ["data"]}  # fmt: skip
    FETCHING_RELS = {"stylesheet", "preload", "prefetch", "modulepreload", "icon", "manifest", "preconnect",
                     "dns-prefetch", "apple-touch-icon"}  # fmt: skip

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.images: list[tuple[str, str | None]] = []  # (src, alt)
        self.css: list[str] = []
        self._in_style = False
        self.feed(path.read_text(encoding="utf-8"))

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name in self.FETCHING.get(tag, []):
            self.fetched += [c.strip().split()[0] for c in (attributes.get(name) or "").split(",") if c.strip()]
        rels = set((attributes.get("rel") or "").lower().split())
        if tag == "link" and self.FETCHING_RELS & rels:
            self.fetched.append(attributes.get("href") or "")
        if tag == "a" and attributes.get("href"):
            self.links.append(attributes["href"])
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        if tag == "a" and attributes.get("name"):
            self.ids.add(attributes["name"])
        if tag == "img":
            self.images.append((attributes.get("src") or "", attributes.get("alt")))
        if attributes.get("style"):
            self.css.append(attributes["style"])
        self._in_style = tag == "style"

    def handle_data(self, data):
        if self._in_style:
            self.css.append(data)

    def handle_endtag(self, tag):
        self._in_style = False


CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""")


@pytest.fixture(scope="module")
def parsed(built_site) -> dict[str, Parsed]:
    return {name: Parsed(html_file(built_site.directory, name)) for name in PAGES}


def test_nothing_in_the_site_loads_from_another_host(built_site, parsed):
    offenders = []
    for name, page in parsed.items():
        urls = page.fetched + [url for css in page.css for url in CSS_URL.findall(css)]
        offenders += [f"/{name}: {url}" for url in urls if web.leaves_the_machine(url)]
    for stylesheet in built_site.directory.rglob("*.css"):
        urls = CSS_URL.findall(stylesheet.read_text(encoding="utf-8", errors="replace"))
        where = stylesheet.relative_to(built_site.directory)
        offenders += [f"{where}: {url}" for url in urls if web.leaves_the_machine(url)]
    assert not offenders, "resources loaded from another host:\n" + "\n".join(offenders)


def test_every_image_has_alt_text_that_says_what_it_shows(parsed):
    """Every image of every page: figures, screenshots and notebook outputs (hooks/notebooks.py fails the
    build on nbconvert's stand-in text, with the cell to fix)."""
    short = [f"/{name}: {src[:60]}: alt {alt!r}" for name, page in parsed.items() for src, alt in page.images
             if len((alt or "").split()) < ALT_WORDS]  # fmt: skip
    assert not short, f"images whose alt text has fewer than {ALT_WORDS} words:\n" + "\n".join(short)


def test_internal_links_and_anchors_resolve(built_site, parsed):
    """Every link to this site reaches a page of the build, and its #fragment an element there. External
    links are not followed (offline)."""
    base = "http://site.invalid" + web.site_path()
    broken = []
    for name, page in parsed.items():
        for link in sorted(set(page.links)):
            url = urljoin(base + name, link)
            if not url.startswith(base):
                continue  # another host, or outside the site
            path, fragment = unquote(urlsplit(url).path)[len(web.site_path()) :], unquote(urlsplit(url).fragment)
            target = built_site.directory / path
            target_name = path if target.is_file() else path.rstrip("/") + "/" if path else ""
            if not (target.is_file() or (target / "index.html").is_file()):
                broken.append(f"/{name}: {link}: no such file in the site")
            elif fragment and target_name in parsed and fragment not in parsed[target_name].ids:
                broken.append(f"/{name}: {link}: no element with id {fragment!r} on /{target_name}")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_footer_states_the_torch_version_the_outputs_were_checked_against(built_site):
    expected = f"checked against PyTorch {version('torch')}"
    missing = [name for name in PAGES if expected not in html_file(built_site.directory, name).read_text()]
    assert not missing, f"pages whose footer does not say {expected!r}: {missing}"


# --- The site in a real browser (fixtures in tests/conftest.py, helpers in tests/browser.py) -----------------


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_light_and_local(site_page, name, record_property):
    """A first visit: no console error, no request to another host, every image loaded, and what it
    transfers (compressed as GitHub Pages sends text) under WEIGHT_LIMIT_KB."""
    site_page.goto_and_fetch_search_index(name)
    site_page.assert_clean()
    broken = site_page.page.evaluate(
        "() => [...document.images].filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc)"
    )
    assert not broken, f"images that did not load: {broken}"
    sizes = {url: web.transfer_size(url) for url in dict.fromkeys(site_page.finished)}
    wire = sum(compressed for _, compressed in sizes.values()) / 1024
    record_property("weight_kb", round(wire))
    record_property("raw_weight_kb", round(sum(raw for raw, _ in sizes.values()) / 1024))
    heaviest = sorted(sizes.items(), key=lambda item: -item[1][1])[:5]
    assert wire <= WEIGHT_LIMIT_KB, f"/{name} transfers {wire:.0f} KB; heaviest:\n" + "\n".join(
        f"  {compressed / 1024:.0f} KB ({raw / 1024:.0f} KB uncompressed) {url}" for url, (raw, compressed) in heaviest
    )


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_or_critical_accessibility_violation(site_page, name, scheme):
    """axe-core, every rule, on the page as it opens in the reader's preferred scheme."""
    site_page.goto(name)
    expected = {"light": "default", "dark": "slate"}[scheme]
    assert site_page.page.evaluate("document.body.dataset.mdColorScheme") == expected
    site_page.evaluate(web.TRANSITIONS_DONE, "the CSS transitions")
    site_page.page.evaluate(web.axe_script())
    run = "() => axe.run(document, {resultTypes: ['violations']})"
    violations = site_page.evaluate(run, f"axe-core on /{name}", web.AXE_SECONDS)["violations"]
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']}: " + ", ".join(" ".join(n["target"]) for n in v["nodes"][:5])
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, f"/{name} in the {scheme} scheme:\n" + "\n".join(serious)


@pytest.mark.parametrize("name", [name for name in PAGES if name != "404.html"])
def test_every_code_block_has_a_copy_button_that_copies_exactly_its_code(site_page, name):
    """Each button clicked with the mouse in turn, its copy awaited and read back from the clipboard: the code
    as shown, for ```pycon only what follows the prompts; Python code compiles. ```output blocks have no copy
    button: an output is not code to run, and a button there would invite pasting it into Python."""
    site_page.goto(name)
    page, problems = site_page.page, []
    for number, block in enumerate(page.evaluate(web.CODE_BLOCKS)):
        label = f"block {number + 1} ({block['language'] or 'no language'}): {block['shown'][:50]!r}"
        expected = web.expected_copy(block["language"], block["shown"])
        visible = block["button"] and page.evaluate(web.REVEAL, number)
        if block["language"] == "output":
            if visible:
                problems.append(f"{label}: an output block has a copy button")
            continue
        if not visible:
            problems.append(f"{label}: no visible copy button")
            continue
        copied = web.copy_with_the_mouse(site_page, page.locator(f'[data-primer-block="{number}"]'))
        if copied != expected:
            problems.append(f"{label}: copied {copied!r}, expected {expected!r}")
        elif block["language"] in ("python", "py", "pycon"):
            try:
                compile(copied, f"<copied from /{name}, {label}>", "exec")
            except SyntaxError as error:
                problems.append(f"{label}: the copied code does not compile: {error}")
    assert not problems, f"/{name}:\n" + "\n".join(problems)
    site_page.assert_clean()


@pytest.mark.parametrize(("term", "expected"), SEARCHES, ids=[term for term, _ in SEARCHES])
def test_search_typed_by_a_reader_finds_the_page_that_teaches_it(site_page, term, expected):
    """Typed key by key into Material's search box; the results for the whole term lead to the page."""
    site_page.goto_and_fetch_search_index("")
    page = site_page.page
    box = page.get_by_role("textbox", name="Search")
    box.click()
    box.press_sequentially(term)  # key by key: Material searches as the reader types
    target = site_page.site_url + expected
    # Each answer of the search worker re-renders the list; a result's ?h= holds the words of the query it
    # answers (the term split by the search's separator), so a link with all of them is from the answer to
    # the whole term, the last, and stays.
    words = "+".join(word.lower() for word in re.split(SEARCH_SEPARATOR, term) if word)
    final = page.locator(f'a.md-search-result__link[href^="{target}?h={words}"]').first
    try:
        final.wait_for(state="visible")
    except PlaywrightTimeout:
        shown = page.locator("a.md-search-result__link").evaluate_all("links => links.map(a => a.href)")
        pytest.fail(f"searching {term!r}: no result leads to /{expected}; results: {shown}", pytrace=False)
    final.click()
    page.wait_for_url(lambda url: url.split("?")[0].split("#")[0] == target)
    assert term.lower() in page.locator("article").inner_text().lower(), f"/{expected} does not mention {term!r}"
    site_page.assert_clean()


def test_light_dark_toggle_switches_and_the_next_page_keeps_the_choice(site_page):
    """The page opens light, as the browser prefers; the toggle switches it to dark, with a dark background;
    the next page opens dark; the toggle there switches back."""
    page = site_page.page

    def scheme_and_brightness():
        return page.evaluate(
            "() => [document.body.dataset.mdColorScheme, getComputedStyle(document.body).backgroundColor"
            ".match(/[\\d.]+/g).slice(0, 3).map(Number).reduce((a, b) => a + b) / 3]"
        )

    def toggle(to: str, title: str):
        page.locator(f'label[title="{title}"]:visible').click()
        page.wait_for_function("scheme => document.body.dataset.mdColorScheme === scheme", arg=to)
        site_page.evaluate(web.TRANSITIONS_DONE, "the CSS transitions")

    site_page.goto("")
    assert scheme_and_brightness()[0] == "default"
    toggle("slate", "Switch to dark mode")
    scheme, brightness = scheme_and_brightness()
    assert brightness < 60, f"the dark scheme has a page background of brightness {brightness}"
    site_page.goto("tensors/")
    assert scheme_and_brightness()[0] == "slate", "the next page did not keep the dark scheme"
    toggle("default", "Switch to light mode")
    scheme, brightness = scheme_and_brightness()
    assert brightness > 200, f"the light scheme has a page background of brightness {brightness}"
    site_page.assert_clean()


def test_the_notebook_page_shows_its_figures(site_page):
    site_page.goto(NOTEBOOK)
    figures = site_page.page.evaluate(
        """() => [...document.querySelectorAll(".jupyter-wrapper img")].map(image => ({
          src: image.currentSrc.slice(0, 80), loaded: image.complete && image.naturalWidth > 0,
          shown: image.checkVisibility() && image.getBoundingClientRect().width > 0}))"""
    )
    assert figures, f"no figure in the outputs of /{NOTEBOOK}"
    hidden = [figure for figure in figures if not (figure["loaded"] and figure["shown"])]
    assert not hidden, f"figures not shown on /{NOTEBOOK}: {hidden}"
