"""The project's layout conventions (DESIGN.md), enforced so that a new page is covered automatically.

One page, one module, one test file: docs/<slug>.md, snippets/<slug_with_underscores>.py,
tests/test_<slug_with_underscores>.py. Every failure names the file and line to fix.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Document

from harness.embed import Embedder, load_mkdocs_yml, snippets_options
from harness.fences import OUTPUT_LANGUAGE, PYTHON_LANGUAGES, fence_language, fenced_blocks

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
TESTS = ROOT / "tests"
MKDOCS_YML = ROOT / "mkdocs.yml"

PAGES = sorted(DOCS.rglob("*.md"))
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.py"))
MODULES = sorted(path for path in SNIPPETS.glob("*.py") if path.name != "__init__.py")
# Languages a fence may declare: Python runs, output is checked, the rest are shown only.
KNOWN_LANGUAGES = PYTHON_LANGUAGES | {OUTPUT_LANGUAGE} | {
    "text", "bash", "console", "toml", "yaml", "ini", "json", "markdown", "html", "css", "diff", "pytb",
}
PREPROCESSOR = Embedder(snippets_options(MKDOCS_YML)).preprocessor


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def module_name(slug: str) -> str:
    return slug.replace("-", "_")


def nav_entries(node) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for item in node:
            yield from nav_entries(item)
    elif isinstance(node, dict):
        for value in node.values():
            yield from nav_entries(value)


def includes() -> Iterator[tuple[Path, int, str, dict]]:
    """Every single-line `--8<-- "spec"` in the docs, with its page, line and parsed target."""
    for page in PAGES:
        for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
            match = PREPROCESSOR.RE_ALL_SNIPPETS.match(line)
            if match and match.group("inline_marker") and not match.group("escape"):
                spec = match.group("snippet")[1:-1].strip()
                yield page, number, spec, PREPROCESSOR.parse_snippet_target(spec)


def sections(module: Path) -> Iterator[tuple[int, str, str]]:
    """(line, "start" or "end", name) for each section marker of a snippets module."""
    for number, line in enumerate(module.read_text(encoding="utf-8").splitlines(), start=1):
        marker = PREPROCESSOR.match_section(line)
        if marker and not marker.group("escape"):
            yield number, marker.group("type"), marker.group("name")


def test_there_are_pages():
    assert PAGES, "docs/ holds no page"


def test_every_page_is_in_the_nav():
    nav = set(nav_entries(load_mkdocs_yml(MKDOCS_YML).get("nav")))
    missing = [relative(page) for page in [*PAGES, *NOTEBOOKS] if str(page.relative_to(DOCS)) not in nav]
    assert not missing, f"pages missing from the nav in mkdocs.yml: {missing}"


@pytest.mark.parametrize("page", [p for p in PAGES if p.parent == DOCS], ids=lambda p: p.name)
def test_page_has_its_module_and_test_file(page):
    name = module_name(page.stem)
    assert (SNIPPETS / f"{name}.py").exists(), f"{relative(page)} needs snippets/{name}.py"
    assert (TESTS / f"test_{name}.py").exists(), f"{relative(page)} needs tests/test_{name}.py"


def test_every_notebook_has_its_test_file():
    missing = [relative(n) for n in NOTEBOOKS if not (TESTS / f"test_{n.stem}.py").exists()]
    assert not missing, f"notebooks without tests/test_<name>.py: {missing}"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_is_documented_embedded_and_tested(module):
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{relative(module)}: start with a one-line docstring naming its page"
    embedded = {spec.partition(":")[0] for _, _, spec, _ in includes()}
    assert relative(module) in embedded, f"{relative(module)} is embedded by no page"
    assert (TESTS / f"test_{module.stem}.py").exists(), f"{relative(module)} needs tests/test_{module.stem}.py"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_sections_are_paired_flat_unique_and_all_used(module):
    used = {(target["path"], target["section"]) for _, _, _, target in includes()}
    problems, open_section, seen = [], None, set()
    for number, kind, name in sections(module):
        where = f"{relative(module)}:{number}"
        if kind == "start":
            if open_section:
                problems.append(f"{where}: section {name!r} starts inside {open_section!r} (never nest sections)")
            if name in seen:
                problems.append(f"{where}: section {name!r} is defined twice")
            open_section = name
            seen.add(name)
            if (relative(module), name) not in used:
                problems.append(f"{where}: section {name!r} is embedded by no page")
        elif name != open_section:
            problems.append(f"{where}: end of {name!r} while {open_section!r} is open")
        else:
            open_section = None
    if open_section:
        problems.append(f"{relative(module)}: section {open_section!r} is never ended")
    assert not problems, "\n".join(problems)


def test_every_include_resolves():
    problems = []
    for page, number, spec, target in includes():
        where = f"{relative(page)}:{number}"
        if target and target["start"]:
            problems.append(f"{where}: {spec!r} uses line numbers, which drift: name a section instead")
            continue
        try:
            PREPROCESSOR.run([f'--8<-- "{spec}"'])
        except Exception as error:  # pymdownx's SnippetMissingError, named in the message
            problems.append(f"{where}: {spec!r}: {error}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(DOCS)))
def test_every_fence_declares_a_language(page):
    document = Document(page.read_text(encoding="utf-8"), str(page))
    missing = [
        document.text.count("\n", 0, region.start) + 1
        for region in fenced_blocks(document)
        if fence_language(region.lexemes["info"]) is None
    ]
    assert not missing, f"{relative(page)}: fences without a language at lines {missing} (use text if none fits)"


def test_every_fence_language_is_known():
    # A typo such as ```pyhton would render as plain text and never run: only known languages are allowed.
    unknown = []
    for page in PAGES:
        document = Document(page.read_text(encoding="utf-8"), str(page))
        for region in fenced_blocks(document):
            language = fence_language(region.lexemes["info"])
            if language and language not in KNOWN_LANGUAGES:
                unknown.append(f"{relative(page)}:{document.text.count(chr(10), 0, region.start) + 1}: {language}")
    assert not unknown, f"unknown fence languages (add real ones to KNOWN_LANGUAGES): {unknown}"
