"""Run the code of docs pages bare, without pytest: every block once, in page order, in one process.

This is the baseline for the harness's overhead: what the pages cost when nothing checks them. The blocks are
the harness's own (its parser finds them, pymdownx expands their includes: the same bytes the tests execute);
`>>>` examples run as a Python prompt runs them, expected exceptions caught; skip directives are honoured as
Sybil honours them; outputs are not compared.

Usage: python bench/bare.py docs/a.md docs/b.md ...   prints one JSON object {page: seconds}.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import json
import os
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.pages import CodeBlock, PageParser, page_sybil  # noqa: E402


def statements(page: Path, parser: PageParser):
    """(region kind, payload) in page order: ("code", [code objects]), ("doctest", (code, raises)),
    ("skip", (action, arguments)); output fences are left out."""
    document = page_sybil(ROOT).parse(page)
    for _, region in document.regions:
        parsed = region.parsed
        if isinstance(parsed, CodeBlock):
            chunks = parser.embedder.chunks(parsed.lines, parsed.first_line, str(page))
            yield "code", [chunk.compile() for chunk in chunks]
        elif isinstance(parsed, doctest.Example):
            yield "doctest", (compile(parsed.source, str(page), "single"), parsed.exc_msg is not None)
        elif isinstance(parsed, tuple):  # a skip directive: (action, arguments)
            yield "skip", parsed


def skip_reason(arguments: str | None, namespace: dict) -> str | None:
    """What Sybil's Skipper decides for `next`/`start`: a reason to skip, or None to run."""
    arguments = (arguments or "").strip()
    if arguments.startswith("if"):
        namespace = {**namespace, "if_": lambda condition, reason=None: (reason or "condition") if condition else None}
        return eval("if_" + arguments[2:], namespace)
    return eval(arguments, namespace) if arguments else "no reason"


def run_page(page: Path, parser: PageParser) -> float:
    steps = list(statements(page, parser))  # parsing, expansion and compilation are not the code's cost
    session = types.ModuleType("__main__")  # a reader's session: classes the page defines can be pickled
    namespace, main, cwd = session.__dict__, sys.modules["__main__"], os.getcwd()
    with tempfile.TemporaryDirectory() as workdir, contextlib.redirect_stdout(io.StringIO()):
        os.chdir(workdir)
        sys.modules["__main__"] = session
        started = time.perf_counter()
        skipping, skip_next = False, False
        try:
            for kind, payload in steps:
                if kind == "skip":
                    action, arguments = payload
                    if action == "end":
                        skipping = False
                    elif skip_reason(arguments, namespace):
                        skipping, skip_next = action == "start", action == "next"
                    continue
                if skipping or skip_next:
                    skip_next = False
                    continue
                if kind == "code":
                    for code in payload:
                        exec(code, namespace)
                else:
                    code, raises = payload
                    try:
                        exec(code, namespace)
                    except Exception:
                        if not raises:
                            raise
            return time.perf_counter() - started
        finally:
            os.chdir(cwd)
            sys.modules["__main__"] = main


def main(pages: list[str]) -> None:
    parser = next(p for p in page_sybil(ROOT).parsers if isinstance(p, PageParser))
    print(json.dumps({page: run_page(ROOT / page, parser) for page in pages}))


if __name__ == "__main__":
    main(sys.argv[1:])
