"""Fenced code blocks in Markdown: finding them and naming their language, as the site build reads them."""

from __future__ import annotations

import re
from collections.abc import Iterator

from sybil import Document, Region
from sybil.parsers.markdown.lexers import RawFencedCodeBlockLexer

# Pygments names for Python source and for Python console sessions (```pycon shows >>> prompts as prompts).
PYTHON_LANGUAGES = frozenset({"python", "py", "python3", "py3", "pycon"})
OUTPUT_LANGUAGE = "output"

# Stock Sybil runs a fence only when its info string is exactly `python`; this lexer keeps the whole info
# string, so `python title="x.py"`, `{ .python .annotate }` and `py` are recognised too.
_LEXER = RawFencedCodeBlockLexer(
    info_pattern=re.compile(r"(?P<info>[^\n]*)$\n", re.MULTILINE),
    mapping={"info": "info", "source": "source"},
)
_ATTR_LIST_CLASS = re.compile(r"\.([\w+-]+)")
_LEADING_WORD = re.compile(r"[\w+-]+")


def fence_language(info: str) -> str | None:
    """The language of a fence from its info string: `python title="x"` and `{ .python .annotate }` give python."""
    info = info.strip()
    if info.startswith("{"):
        match = _ATTR_LIST_CLASS.search(info)
    else:
        match = _LEADING_WORD.match(info)
    return match.group(1 if info.startswith("{") else 0).lower() if match else None


def fenced_blocks(document: Document) -> Iterator[Region]:
    """Every fence of the document in page order; a fence nested inside another one is content, not a block."""
    regions = sorted(_LEXER(document), key=lambda region: region.start)
    end_of_previous = -1
    for region in regions:
        if region.start >= end_of_previous:
            end_of_previous = region.end
            yield region
