"""Run the code of docs pages bare, without pytest: every block once, in page order, in one process.

This is the baseline for the harness's overhead: what the pages cost when nothing checks them. The page is
the harness's own: its parser finds the blocks, pymdownx expands their includes (the same bytes the tests
execute), its Page runs them in a reader's fresh session, and its skip directives are decided by the
harness's skip parser and Sybil's evaluator. Only the evaluators of code and examples are swapped for bare
ones: code runs, `>>>` examples run as a Python prompt runs them, expected exceptions caught, and outputs
are not compared. The one-thread policy is the suite's own (the root conftest.py).

Usage: python bench/bare.py docs/a.md docs/b.md ...   prints one JSON object {page: seconds}.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import time
from pathlib import Path
from unittest import SkipTest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import conftest  # noqa: E402, F401 - the root conftest's one-thread policy, set before torch loads
from harness.pages import PageParser, check_output, page_sybil, run_doctest  # noqa: E402 - likewise


def bare_evaluators(document, parser: PageParser) -> None:
    """The harness's evaluators of code, examples and outputs swapped for bare ones; every other evaluator
    (skip directives, another environment's variants) is the harness's."""
    for _, region in document.regions:
        parsed = region.parsed
        if region.evaluator == parser.run_code:
            chunks = parser.embedder.chunks(parsed.lines, parsed.first_line, document.path)
            region.evaluator = lambda example, code=[chunk.compile() for chunk in chunks]: run_code(
                code, example.namespace
            )
        elif region.evaluator is run_doctest:
            code, raises = compile(parsed.source, document.path, "single"), parsed.exc_msg is not None
            region.evaluator = lambda example, code=code, raises=raises: run_example(code, example.namespace, raises)
        elif region.evaluator is check_output:
            region.evaluator = lambda example: None


def run_code(code: list, namespace: dict) -> None:
    for chunk in code:  # an evaluator returns None: Sybil reports anything else as a failure
        exec(chunk, namespace)


def run_example(code, namespace: dict, raises: bool) -> None:
    try:
        exec(code, namespace)
    except Exception:
        if not raises:
            raise


def run_page(page: Path, sybil, parser: PageParser) -> float:
    document = sybil.parse(page)
    bare_evaluators(document, parser)  # parsing, expansion and compilation are not the code's cost
    document.start()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.perf_counter()
            for example in document.examples():
                with contextlib.suppress(SkipTest):
                    example.evaluate()
            return time.perf_counter() - started
    finally:
        document.finish()


def main(pages: list[str]) -> None:
    sybil = page_sybil(ROOT)
    parser = next(p for p in sybil.parsers if isinstance(p, PageParser))
    print(json.dumps({page: run_page(ROOT / page, sybil, parser) for page in pages}))


if __name__ == "__main__":
    main(sys.argv[1:])
