"""The project's layout conventions (DESIGN.md), enforced so that a new page is covered automatically.

One page, one module, one test file: docs/<slug>.md, snippets/<slug_with_underscores>.py,
tests/test_<slug_with_underscores>.py. Every failure names the file and line to fix.
"""

from __future__ import annotations

import ast
import doctest
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sybil import Document

from harness.embed import Embedder, snippets_options
from harness.fences import (
    OUTPUT_LANGUAGE,
    PYTHON_LANGUAGES,
    fence_language,
    fenced_blocks,
)
from hooks.figures import FIGURES, PREFIX

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SNIPPETS = ROOT / "snippets"
TESTS = ROOT / "tests"
MKDOCS_YML = ROOT / "mkdocs.yml"

PAGES = sorted(DOCS.rglob("*.md"))
NOTEBOOKS = sorted((DOCS / "notebooks").glob("*.py"))
MODULES = sorted(path for path in SNIPPETS.glob("*.py") if path.name != "__init__.py")
# Languages a fence may declare: Python runs, output is checked, the rest are shown only.
KNOWN_LANGUAGES = (
    PYTHON_LANGUAGES
    | {OUTPUT_LANGUAGE}
    | {
        "text",
        "bash",
        "console",
        "toml",
        "yaml",
        "ini",
        "json",
        "markdown",
        "html",
        "css",
        "diff",
        "pytb",
    }
)
PREPROCESSOR = Embedder(snippets_options(MKDOCS_YML)).preprocessor


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def module_name(slug: str) -> str:
    return slug.replace("-", "_")


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


# Nav membership is the build's (mkdocs.yml's validation: a page left out of the nav fails the strict build).


@pytest.mark.parametrize("page", [p for p in PAGES if p.parent == DOCS], ids=lambda p: p.name)
def test_page_has_its_module(page):
    name = module_name(page.stem)
    assert (SNIPPETS / f"{name}.py").exists(), f"{relative(page)} needs snippets/{name}.py"


@pytest.mark.parametrize("source", [*MODULES, *NOTEBOOKS], ids=lambda p: relative(p))
def test_every_module_and_notebook_has_its_test_file(source):
    assert (TESTS / f"test_{source.stem}.py").exists(), f"{relative(source)} needs tests/test_{source.stem}.py"


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.name)
def test_module_is_documented_and_embedded(module):
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"{relative(module)}: start with a one-line docstring naming its page"
    embedded = {spec.partition(":")[0] for _, _, spec, _ in includes()}
    assert relative(module) in embedded, f"{relative(module)} is embedded by no page"


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


def test_includes_name_sections_not_line_numbers():
    """Whether an include resolves is checked where it is expanded: by the build (check_paths) and by the
    harness, at the block's line."""
    problems = [f"{relative(page)}:{number}: {spec!r} uses line numbers, which drift: name a section instead"
                for page, number, spec, target in includes() if target and target["start"]]  # fmt: skip
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


# What a reader sees: code that fits the page's width, and prose that teaches instead of describing the suite.

MAX_COLUMNS = 88  # the widest code line a block shows at 1280 px without scrolling (primer.css sizes its font)
NOTEBOOK_CELL = re.compile(r"^# %%(?P<kind>.*)$")


def shown_code(language: str, source: str, preprocessor=PREPROCESSOR) -> Iterator[tuple[int, str]]:
    """(line offset in the fence, text) of each line of code a reader sees in a fence, includes expanded.

    Outputs are not code: an ```output fence, and under a `>>>` prompt what Python answered (tracebacks
    included), are PyTorch's own words, never re-wrapped by hand; primer.css wraps them on screen instead."""
    if language == OUTPUT_LANGUAGE:
        return
    if language in PYTHON_LANGUAGES and source.lstrip().startswith(">>>"):
        for example in doctest.DocTestParser().get_examples(source):
            for offset, line in enumerate(example.source.rstrip("\n").split("\n")):
                yield example.lineno + offset, " " * example.indent + ("... " if offset else ">>> ") + line
        return
    for offset, line in enumerate(source.splitlines()):
        for shown in preprocessor.run([line]) if "--8<--" in line else [line]:
            yield offset, shown


def notebook_cells(path: Path) -> Iterator[tuple[str, int, list[str]]]:
    """(kind, line of its first line, lines) of each cell of a jupytext percent notebook; markdown cells lose
    their `# ` comment prefix."""
    kind, first, lines = None, 1, []
    for number, line in enumerate([*path.read_text(encoding="utf-8").splitlines(), "# %%"], start=1):
        header = NOTEBOOK_CELL.match(line)
        if header:
            if kind:
                yield kind, first, lines
            kind = "markdown" if "markdown" in header.group("kind") or "[md]" in header.group("kind") else "code"
            first, lines = number + 1, []
        elif kind == "markdown":
            lines.append(line[2:] if line.startswith("# ") else line.lstrip("#"))
        elif kind:
            lines.append(line)


def wide_code_lines(path: Path, preprocessor=PREPROCESSOR) -> list[tuple[int, int, str]]:
    """(line in the file, columns, text) of each code line a reader sees that is wider than MAX_COLUMNS."""
    shown: list[tuple[int, str]] = []
    if path.suffix == ".py":
        for kind, first, lines in notebook_cells(path):
            if kind == "code":
                shown += [(first + offset, line) for offset, line in enumerate(lines)]
    else:
        document = Document(path.read_text(encoding="utf-8"), str(path))
        for region in fenced_blocks(document):
            first = document.text.count("\n", 0, region.start) + 2  # the line after the opening fence
            language = fence_language(region.lexemes["info"]) or "text"
            shown += [
                (first + offset, line) for offset, line in shown_code(language, region.lexemes["source"], preprocessor)
            ]
    return [(number, len(line.rstrip()), line.strip()) for number, line in shown if len(line.rstrip()) > MAX_COLUMNS]


@pytest.mark.parametrize("page", [*PAGES, *NOTEBOOKS], ids=lambda p: str(p.relative_to(DOCS)))
def test_code_lines_fit_in_88_columns(page):
    wide = wide_code_lines(page)
    assert not wide, f"{relative(page)}: code lines over {MAX_COLUMNS} columns, which scroll sideways:\n" + "\n".join(
        f"  line {number}: {columns} columns: {text}" for number, columns, text in wide
    )


def test_wide_code_is_found_in_fences_includes_prompts_and_cells_but_not_in_outputs(tmp_path):
    long = "total = " + " + ".join(["1"] * 30)
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "wide.py").write_text(
        f"# --8<-- [start:wide]\nshort = 1\n{long}\n# --8<-- [end:wide]\n", encoding="utf-8"
    )
    page = tmp_path / "wide.md"
    # fmt: off
    page.write_text("\n".join([
        "# A page", "", "```python", "short = 2", long, "```", "",  # line 5: in the fence
        "```python", '--8<-- "snippets/wide.py:wide"', "```", "",  # line 9: through the include
        "!!! note", "", "    ```pycon", f"    >>> {long}", f"    {'9' * 100}", "    ```", "",  # line 15: a prompt
        "```output", "8" * 100, "```", "",  # an output: wrapped on screen, not flagged
        "```pycon", ">>> def f():", f"...     return {long}", "```", "",  # line 25: a continuation line
    ]), encoding="utf-8")
    # fmt: on
    preprocessor = Embedder({"base_path": [str(tmp_path)], "check_paths": True}).preprocessor
    assert [number for number, _, _ in wide_code_lines(page, preprocessor)] == [5, 9, 15, 25]
    notebook = tmp_path / "wide.py"
    notebook.write_text(f"# %% [markdown]\n# {'prose ' * 30}\n\n# %%\nshort = 3\n{long}\n", encoding="utf-8")
    assert [number for number, _, _ in wide_code_lines(notebook)] == [6]  # code cells only, not prose


# Prose about the test suite: the suite's needs stay out of the lessons (issue 17, point 6). The phrases are
# the ones that name this project's tests; "a statistical test", "the test set" and "checked by hand" are
# legitimate and pass (see the tests below).
SUITE_MENTIONS = re.compile(
    "|".join(
        [
            r"\btests?\s+suite\b",
            r"\b(?:the|this|our|its)\s+suite\b",
            r"\b(?:the|our|its|these)\s+(?:own\s+)?tests\b",
            r"\b(?:guide|page|site|project)(?:'s)?\s+(?:own\s+)?tests\b",
            r"\btests?\s+(?:of|for|on)\s+(?:this|the|each|every)\s+(?:page|chapter|guide|site|blocks?)\b",
            (
                r"\b(?:checked|tested|verified|covered|enforced|caught|measured|proven)\s+by\s+"
                r"(?:the\s+|our\s+|its\s+|a\s+)?(?:tests?|suite|CI|harness|Sybil)\b"
            ),
            r"\b(?:blocks?|examples?|outputs?|pages?)\s+(?:is|are)\s+(?:a\s+|each\s+a\s+)?tests?\b",
            r"\b(?:a|the|our|one|every)\s+tests?\s+(?:re)?(?:runs?|checks?|measures?|fails?|compares?|proves?)\b",
            r"\bSybil\b",
            r"\b(?:the|test)\s+harness\b",
            r"\b(?:the|our|its|guide's)\s+CI\b",
        ]
    ),
    re.IGNORECASE,
)
NOT_PROSE = [
    re.compile(r"<!--.*?-->", re.DOTALL),  # comments: directives to the harness, not read by a reader
    re.compile(r"(`+).+?\1", re.DOTALL),  # inline code
    re.compile(r"\]\([^)]*\)"),  # link targets (the link text stays)
    re.compile(r"https?://\S+"),
]


def prose(path: Path) -> str:
    """The text of a page a reader reads as prose: code, comments and addresses blanked, lines kept."""
    if path.suffix == ".py":
        lines = [""] * len(path.read_text(encoding="utf-8").splitlines())
        for kind, first, cell in notebook_cells(path):
            if kind == "markdown":
                lines[first - 1 : first - 1 + len(cell)] = cell
        text = "\n".join(lines)
    else:
        text = path.read_text(encoding="utf-8")
    document = Document(text, str(path))
    blanked = list(text)
    spans = [(region.start, region.end) for region in fenced_blocks(document)]
    for pattern in NOT_PROSE:
        spans += [match.span() for match in pattern.finditer(text)]
    for start, end in spans:
        blanked[start:end] = [character if character == "\n" else " " for character in text[start:end]]
    return "".join(blanked)


def suite_mentions(path: Path) -> list[tuple[int, str]]:
    """(line, phrase) for each place the prose of a page speaks of the test suite."""
    text = prose(path)
    return [
        (text.count("\n", 0, match.start()) + 1, " ".join(match.group().split()))
        for match in SUITE_MENTIONS.finditer(text)
    ]


@pytest.mark.parametrize("page", [*PAGES, *NOTEBOOKS], ids=lambda p: str(p.relative_to(DOCS)))
def test_prose_does_not_speak_of_the_test_suite(page):
    mentions = suite_mentions(page)
    assert not mentions, (
        f"{relative(page)}: the prose speaks of the test suite; teach what the reader should do instead:\n"
        + "\n".join(f"  line {number}: {phrase!r}" for number, phrase in mentions)
    )


# Sentences the pages held before issue 17, then sentences that must pass.
SPEAKS_OF_THE_SUITE = [
    "The tests of this page measure both.",
    "The tests of this page fail when PyTorch adds or removes a loss, until the table follows.",
    "Each block on these pages runs in the test suite, in page order.",
    "Printed digits must be stable for the suite.",
    "A test reruns every page with the plainest kernels.",
    "Longer code comes from the snippets package; its tests check what the pages do not show.",
    "A guide in which every code block is a test.",
    "When PyTorch changes what a block prints, the guide's CI goes red.",
    "Every output here is checked by the\nharness.",
    "Warnings are errors in this guide's own tests.",
]
TEACHES = [
    "A statistical test tells whether the two accuracies differ by more than chance.",
    "Keep the test set apart: the test accuracy is measured once, at the end.",
    "Each layer, checked by hand: 1·3 + 2·4 + 0.5 = 11.5.",
    "Run the model on a test batch before you train it.",
    "Write the `test_suite` variable; `the tests` in code do not count.",
]


@pytest.mark.parametrize("sentence", SPEAKS_OF_THE_SUITE)
def test_a_sentence_about_the_suite_is_named_with_its_line(tmp_path, sentence):
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\nSome teaching.\n\n{sentence}\n\n```python\nthe_tests = 1\n```\n", encoding="utf-8")
    assert [number for number, _ in suite_mentions(page)] == [5]
    notebook = tmp_path / "page.py"
    notebook.write_text(f"# %% [markdown]\n# Some teaching.\n#\n# {sentence}\n\n# %%\nx = 1\n", encoding="utf-8")
    assert [number for number, _ in suite_mentions(notebook)] == [4]


@pytest.mark.parametrize("sentence", TEACHES)
def test_legitimate_uses_of_test_pass(tmp_path, sentence):
    page = tmp_path / "page.md"
    page.write_text(f"# A page\n\n{sentence}\n\n```text\nthe test suite\n```\n<!-- the tests -->\n", encoding="utf-8")
    assert suite_mentions(page) == []


# Figures: drawn at build time by hooks/figures.py from a snippets function `figure_<name>` and shown on a
# page (their alt text is checked with every other image's, in the built site: tests/test_site.py).
FIGURE_IMAGE = re.compile(r"!\[[^\]]*\]\((?:\.\./)*(?P<uri>" + FIGURES + r"/(?P<module>\w+)/(?P<name>\w+)\.svg)\)")


def figure_functions() -> set[str]:
    """`assets/figures/<module>/<name>.svg` for each `figure_<name>` function of a snippets module, found
    without importing the modules (the hook imports them at build time)."""
    uris = set()
    for module in MODULES:
        for node in ast.parse(module.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith(PREFIX):
                uris.add(f"{FIGURES}/{module.stem}/{node.name.removeprefix(PREFIX)}.svg")
    return uris


def test_every_figure_is_drawn_and_shown():
    drawn, shown, problems = figure_functions(), set(), []
    for page in PAGES:
        for match in FIGURE_IMAGE.finditer(page.read_text(encoding="utf-8")):
            shown.add(match["uri"])
            if match["uri"] not in drawn:
                problems.append(f"{relative(page)}: {match['uri']}: no function {PREFIX}{match['name']} in "
                                f"snippets/{match['module']}.py")  # fmt: skip
    problems += [f"{uri}: drawn by a {PREFIX} function but shown by no page" for uri in sorted(drawn - shown)]
    assert not problems, "\n".join(problems)
