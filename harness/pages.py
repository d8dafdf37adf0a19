"""Every docs page as a test: the Sybil configuration behind the root conftest.py.

- Every fence whose language is Python runs, whatever else its info string holds (`python title="x.py"`,
  `{ .python .annotate }`, `py`), in page order, in one namespace per page.
- A block starting with `>>>` is a doctest (ELLIPSIS, NORMALIZE_WHITESPACE).
- `--8<--` lines are expanded by pymdownx.snippets with mkdocs.yml's settings (see embed.py).
- A fence with language `output` shows what the Python block before it prints; the two are compared. A block
  that prints with no `output` fence after it fails, so nothing a reader would see goes unchecked.
- An expected exception is compared in full: every line shown after the traceback header (doctests.py).
- Content tabs labelled by environment (`=== "torch 2.13"`) are variants: each is checked where it applies
  (variants.py).
- A fence titled with a file name (`python title="train.py"`) is written to the page's folder, not run; a
  ```console fence's `$ ` commands run there, compared with the output fence after it (commands.py).
- `<!-- skip: next "reason" -->` skips; a skip that gives no reason fails.
- One cause, one failure: once a block raises, the page's later blocks are skipped, "not run: the block at
  line N failed". A shown output that differs from what its block printed fails alone: the page goes on.
- Each page runs as in a fresh interpreter (`__name__ == "__main__"`, freshly seeded generators), in its own
  empty temporary working directory, with the repository's own packages (snippets, harness...) not
  importable, as for a reader who has not cloned it; it puts back the process-wide state it changed.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import doctest
import io
import os
import shutil
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from unittest import SkipTest

import pytest
from sybil import Document, Example, Region, Sybil
from sybil.example import SybilFailure
from sybil.integration.pytest import SybilFile, SybilItem
from sybil.parsers.abstract.doctest import DocTestStringParser
from sybil.parsers.markdown import SkipParser

from harness import doctests
from harness.commands import CONSOLE_LANGUAGE, CommandError, Commands, file_title
from harness.embed import Embedder, EmbedError, snippets_options
from harness.fences import OUTPUT_LANGUAGE, PYTHON_LANGUAGES, fence_language, fenced_blocks
from harness.session import fresh_session, repository_hidden
from harness.variants import Variants

# When set, each page runs in <this folder>/<page> and leaves it there: a second run finds what the first left.
KEEP_FOLDERS = "PRIMER_PAGE_FOLDERS"


class NotRun(SkipTest):
    """A block left out because an earlier block of its page failed."""


class BlockFailed(SybilFailure):
    """A failure that leaves the page's namespace incomplete (an include that cannot be expanded, a `>>>`
    example that raised): the page's later blocks are not run."""


class Page(Document):
    """A docs page, run the way a reader runs it: top to bottom in a fresh `__main__`, in an empty folder."""

    root: Path | None = None  # the repository, whose own packages the page must not import

    def __init__(self, text: str, path: str) -> None:
        super().__init__(text, path)
        self.failed_at: int | None = None  # the line of the block that raised
        # A real module, so classes a page defines can be pickled and found again, as in a reader's session.
        self.main = types.ModuleType("__main__")
        self.namespace = self.main.__dict__
        self.workdir: str | None = None
        self.origin = os.getcwd()  # where the run started: failures are reported relative to it
        self._restore: list[Callable[[], None]] = []
        _open_pages[id(self.namespace)] = self

    def start(self) -> None:
        """Enter the page's session. It holds until finish(), not just during each block: code a page leaves
        running in the background (a SummaryWriter's thread, say) keeps writing where the page runs."""
        kept = os.environ.get(KEEP_FOLDERS)
        if kept:  # the folder this page's previous run left, to run it again there (tests/test_portability.py)
            self.workdir = os.path.join(kept, self.folder_name())
            os.makedirs(self.workdir, exist_ok=True)
        else:
            self.workdir = tempfile.mkdtemp(prefix=f"primer-{Path(self.path).stem}-")
        main, cwd = sys.modules["__main__"], os.getcwd()
        self.origin = cwd
        self._restore = [fresh_session(), lambda: os.chdir(cwd), lambda: sys.modules.__setitem__("__main__", main)]
        if self.root is not None:
            self._restore.append(repository_hidden(self.root))
        os.chdir(self.workdir)
        sys.modules["__main__"] = self.main

    def folder_name(self) -> str:
        """The page's path relative to the docs (`tensors.md`): its folder under KEEP_FOLDERS."""
        return os.path.relpath(self.path, self.root / "docs") if self.root else os.path.basename(self.path)

    def finish(self) -> None:
        for restore in reversed(self._restore):
            restore()
        self._restore = []
        if self.workdir and not os.environ.get(KEEP_FOLDERS):
            shutil.rmtree(self.workdir, ignore_errors=True)
        _open_pages.pop(id(self.namespace), None)

    def evaluate(self, example: Example, evaluator: Callable) -> None:
        __tracebackhide__ = True
        if self.workdir is None:  # evaluated outside pytest's setup (Sybil used directly)
            self.start()
        if self.failed_at is not None:  # reported once per page, at the harness's line, not once per block
            raise NotRun(f"not run: the block at {self.failed_at} failed")
        try:
            super().evaluate(example, evaluator)
        except SkipTest:
            raise
        except SybilFailure as failure:
            if isinstance(failure, BlockFailed):
                self.failed_at = f"{os.path.relpath(self.path, self.origin)}:{example.line}"
            raise
        except BaseException:
            self.failed_at = f"{os.path.relpath(self.path, self.origin)}:{example.line}"
            raise


_open_pages: dict[int, Page] = {}


def _start_page(namespace: dict) -> None:
    _open_pages[id(namespace)].start()


def _finish_page(namespace: dict) -> None:
    _open_pages[id(namespace)].finish()


@dataclass
class CodeBlock:
    """A Python block that is not a doctest; `printed` is its stdout once it has run."""

    lines: list[str]
    first_line: int  # line of the fence's first code line in the page
    output: OutputBlock | None = None
    state: str = "not run"  # then "ran" or "raised"
    printed: str = ""


@dataclass
class FileBlock:
    """A fence titled with a file name (`title="train.py"`): written to the page's folder, not run."""

    name: str
    lines: list[str]
    first_line: int
    python: bool  # its includes are expanded


@dataclass
class OutputBlock:
    text: str
    line: int
    code: CodeBlock | None = field(default=None, repr=False)


def _failure(message: str) -> Callable[[Example], str]:
    return lambda example: message


class PageParser:
    """Finds the Python, doctest and output blocks of a page and pairs each output block with its code."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.doctests = DocTestStringParser(run_doctest)

    def __call__(self, document: Document) -> Iterator[Region]:
        variants = Variants(document.text)
        reported: set[str] = set()
        for region in self.regions(document):
            problem = variants.problem(region.start)
            if problem and problem not in reported:
                reported.add(problem)
                region.evaluator = _failure(problem)
            elif variants.skip_reason(region.start):
                region.evaluator = _skip(variants.skip_reason(region.start))
            yield region

    def regions(self, document: Document) -> Iterator[Region]:
        variants = Variants(document.text)
        previous: CodeBlock | None = None  # the code block an output fence placed next would show
        for region in fenced_blocks(document):
            language = fence_language(region.lexemes["info"])
            source = region.lexemes["source"]
            line = document.text.count("\n", 0, region.start) + 1
            checked = language in PYTHON_LANGUAGES or language in (OUTPUT_LANGUAGE, CONSOLE_LANGUAGE)
            if variants.skip_reason(region.start):  # another environment's variant: shown, not checked here
                if checked:
                    yield region
                continue
            title = file_title(region.lexemes["info"])
            if title and language not in (OUTPUT_LANGUAGE, CONSOLE_LANGUAGE):
                region.parsed = FileBlock(title, source.splitlines(), line + 1, language in PYTHON_LANGUAGES)
                region.evaluator = self.write_file
                previous = None
                yield region
            elif language == CONSOLE_LANGUAGE:
                previous = CodeBlock(source.splitlines(), first_line=line + 1)
                region.parsed, region.evaluator = previous, run_commands
                yield region
            elif language in PYTHON_LANGUAGES and source.lstrip().startswith(">>>"):
                for example in self.doctests(source, document.path):
                    # Sybil's Region.adjust assumes the fence's text was not dedented; inside an admonition
                    # or a list it was, and the example's line number would drift. Map it line by line.
                    example.start = _page_offset(document, line, source, example.start)
                    example.end = _page_offset(document, line, source, example.end)
                    yield example
                previous = None
            elif language in PYTHON_LANGUAGES:
                previous = CodeBlock(source.splitlines(), first_line=line + 1)
                region.parsed, region.evaluator = previous, self.run_code
                yield region
            elif language == OUTPUT_LANGUAGE:
                shown = OutputBlock(_fence_body(document, region), line, code=previous)
                if previous is not None:
                    previous.output = shown
                region.parsed, region.evaluator = shown, check_output
                previous = None
                yield region
            else:
                previous = None

    def write_file(self, example: Example) -> None:
        """A fence titled with a file name: its text, includes expanded, written to the page's folder."""
        __tracebackhide__ = True
        block: FileBlock = example.parsed
        lines = block.lines
        if block.python:
            try:
                lines = [
                    line
                    for chunk in self.embedder.chunks(lines, block.first_line, example.path)
                    for line in chunk.lines
                ]
            except EmbedError as error:
                raise BlockFailed(example, str(error)) from None
        path = Path(block.name)
        if path.is_absolute() or ".." in path.parts:
            raise BlockFailed(example, f"{block.name!r}: a file a page shows is written inside its folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def run_code(self, example: Example) -> str | None:
        __tracebackhide__ = True
        block: CodeBlock = example.parsed
        try:
            chunks = self.embedder.chunks(block.lines, block.first_line, example.path)
            codes = [chunk.compile() for chunk in chunks]
        except SyntaxError as error:
            block.state = "raised"
            raise SyntaxError(error.msg, (error.filename, error.lineno, error.offset, error.text)) from None
        except EmbedError as error:
            block.state = "raised"
            raise BlockFailed(example, str(error)) from None
        block.state = "raised"
        stdout = io.StringIO()
        try:
            with contextlib.redirect_stdout(stdout):
                for code in codes:
                    exec(code, example.namespace)
        except BaseException as error:
            if stdout.getvalue():
                error.add_note(f"The block had printed, before the error:\n{stdout.getvalue()}")
            raise
        block.state, block.printed = "ran", stdout.getvalue()
        if block.output is None and block.printed:
            return (
                "this block prints, but no ```output fence follows it to show what it prints:\n"
                f"{_indent(block.printed)}\nAdd the output fence (it is checked) or stop printing."
            )
        return None


def run_commands(example: Example) -> None:
    """A ```console fence: its `$ ` commands run in the page's folder; stdout is what the output fence shows."""
    __tracebackhide__ = True
    block: CodeBlock = example.parsed
    block.state = "raised"
    try:
        block.printed = Commands.parse(block.lines, example.path, block.first_line).run(os.getcwd())
    except CommandError as error:
        raise BlockFailed(example, str(error)) from None
    block.state = "ran"
    if block.output is None and block.printed:
        raise SybilFailure(
            example,
            f"these commands print, but no ```output fence follows to show what they print:\n{_indent(block.printed)}",
        )


def run_doctest(example: Example) -> str | None:
    __tracebackhide__ = True
    outcome = doctests.run_example(example.parsed, example.namespace, f"<doctest {example.path}[{example.line}]>")
    example.parsed.got = outcome.got  # read by `make update-outputs`
    if outcome.raised:
        raise BlockFailed(example, doctests.describe(example, outcome))
    return None if outcome.passed else doctests.describe(example, outcome)


def _skip(reason: str) -> Callable[[Example], None]:
    def skip(example: Example) -> None:
        raise SkipTest(reason)

    return skip


def check_output(example: Example) -> str | None:
    __tracebackhide__ = True
    shown: OutputBlock = example.parsed
    code = shown.code
    if code is None:
        return (
            "an ```output fence must come after a python or console block (doctest blocks show their output "
            "inline); nothing here prints what it shows"
        )
    if code.state == "not run":
        raise SkipTest(f"its block (line {code.first_line - 1}) was skipped")
    if code.state == "raised":
        return f"not checked: its block (line {code.first_line - 1}) failed"
    want, got = _normalise(shown.text), _normalise(code.printed)
    if doctest.OutputChecker().check_output(want, got, doctest.ELLIPSIS):
        return None
    diff = difflib.unified_diff(
        want.splitlines(), got.splitlines(), "shown on the page", "printed by the code", lineterm="", n=2
    )
    return "the output shown differs from what the code printed:\n" + "\n".join(diff)


def _page_offset(document: Document, fence_line: int, source: str, offset: int) -> int:
    """Where `offset` in a fence's (dedented) source lies in the page text."""
    row = source.count("\n", 0, offset)
    column = offset - (source.rfind("\n", 0, offset) + 1)
    source_line = source.split("\n")[row]
    page_lines = document.text.split("\n")
    page_line = page_lines[fence_line + row]  # the fence's first source line is the page line after the fence
    indent = len(page_line) - len(source_line) if source_line else len(page_line) - len(page_line.lstrip())
    return sum(len(text) + 1 for text in page_lines[: fence_line + row]) + max(indent, 0) + column


def _fence_body(document: Document, region: Region) -> str:
    """The text of a fence as written, less only the fence's own indentation. Sybil's lexeme is also dedented,
    which would strip the leading spaces right-aligned output shares on every line."""
    opening, *body, _closing = document.text[region.start : region.end].split("\n")
    indent = len(opening) - len(opening.lstrip(" "))
    return "\n".join(line[indent:] if line.startswith(" " * indent) else line.lstrip(" ") for line in body)


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines())


class ExplainedSkipParser(SkipParser):
    """Sybil's skip directive, except that starting a skip without saying why is an error (Sybil counts it
    as a pass). Accepted: `<!-- skip: next "why" -->` and `<!-- skip: start if(condition, reason="why") -->`."""

    def __call__(self, document: Document) -> Iterator[Region]:
        for region in super().__call__(document):
            action, arguments = region.parsed
            if action in ("start", "next") and not _states_reason(arguments):
                region.evaluator = _failure(
                    f'a skip must say why: <!-- skip: {action} "reason" --> '
                    f'or <!-- skip: {action} if(condition, reason="reason") -->'
                )
            yield region


def _states_reason(arguments: str | None) -> bool:
    arguments = (arguments or "").strip()
    try:
        if arguments.startswith("if"):
            call = ast.parse("if_" + arguments[2:], mode="eval").body
            reasons = [k.value for k in call.keywords if k.arg == "reason"] + call.args[1:2]
        else:
            reasons = [ast.parse(arguments, mode="eval").body]
    except SyntaxError:
        return False
    return any(isinstance(r, ast.Constant) and isinstance(r.value, str) and r.value.strip() for r in reasons)


def page_sybil(root: Path, docs: str = "docs") -> Sybil:
    """The Sybil that runs every Markdown page under `root/docs`, with the snippet settings of root/mkdocs.yml."""
    embedder = Embedder(snippets_options(root / "mkdocs.yml"))

    class RepositoryPage(Page):
        pass

    RepositoryPage.root = root
    return Sybil(
        parsers=[PageParser(embedder), ExplainedSkipParser()],
        path=str(root / docs),
        patterns=["*.md"],
        document_types={".md": RepositoryPage},
        setup=_start_page,
        teardown=_finish_page,
    )


class PageItem(SybilItem):
    """One block of a page. Sybil's item shows its own and the harness's frames in a failure; this one drops
    frames marked `__tracebackhide__`, so a traceback starts at the page (or snippet) line that failed."""

    def _traceback_filter(self, excinfo):
        return super()._traceback_filter(excinfo).filter(excinfo)

    def runtest(self) -> None:
        try:
            super().runtest()
        except NotRun as skip:  # one summary line per failed page, not one per block left out
            raise pytest.skip.Exception(str(skip)) from None
        except SkipTest as skip:  # Sybil skips with unittest's exception: report it at the page line
            raise pytest.skip.Exception(str(skip), _use_item_location=True) from None

    def repr_failure(self, excinfo, style=None):
        # pytest's long style prints a module-level frame from line 1 of its file: the whole page up to the
        # failure. Short style prints the failing line of each frame. An explicit --tb still wins.
        if style is None and self.config.getoption("tbstyle") == "auto":
            style = "short"
        with contextlib.chdir(self.example.document.origin):  # paths relative to where pytest started
            return super().repr_failure(excinfo, style)


class PageFile(SybilFile):
    def collect(self):
        for sybil in self.sybils:
            document = sybil.parse(self.path)
            self.documents.append(document)
            for example in document.examples():
                yield PageItem.from_parent(self, sybil=sybil, example=example)


def collect_pages(root: Path, docs: str = "docs"):
    """The `pytest_collect_file` hook for a conftest.py: every page under `root/docs` becomes a test file."""
    sybil = page_sybil(root, docs)

    def pytest_collect_file(file_path: Path, parent):
        if sybil.should_parse(file_path):
            return PageFile.from_parent(parent, path=file_path, sybils=[sybil])
        return None

    return pytest_collect_file
