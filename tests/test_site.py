"""The built site: a strict build with no warning, nothing that loads from another host, versions stated."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib.metadata import version
from urllib.parse import urlsplit

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
