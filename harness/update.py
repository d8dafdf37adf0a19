"""`make update-outputs`: run the pages and rewrite, in place, every shown output that differs from what the
code printed.

It runs the pages as the suite does (the same harness, in this environment), then, for each page:

- an ```` ```output ```` fence, or the answer under a `>>>` example, that no longer matches what its code
  printed is rewritten to what it printed. Lines that still match are kept as written, so a `...` stays
  wherever its pattern still matches; what the page shows matches what the code prints afterwards, so a
  second run changes nothing;
- a content tab for another environment (harness/variants.py) is not run here, so it is left as it is: run
  `make update-outputs-<name>` for a further environment's tabs;
- a page with a block that raised where the page shows no exception, or any other failure that is not a
  shown output differing from its code, is refused: nothing of it is rewritten, and the page and line are
  named. Fix the code or the page, then run it again.

As a command, `python -m harness.update [PAGES...]` (docs/ by default) exits 0 when every page was rewritten
or already matched, 1 when a page was refused. As a pytest plugin, `-p harness.update`.
"""

from __future__ import annotations

import difflib
import doctest
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sybil.example import SybilFailure

from harness import doctests
from harness.pages import BlockFailed, OutputBlock, PageItem, check_output, run_doctest

BLANKLINE = "<BLANKLINE>"  # how a doctest shows an empty line (a blank line would end its answer)
PS2 = re.compile(r"^\s*\.\.\.")  # a continuation line of a `>>>` example, as doctest reads it
FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass
class Edit:
    first: int  # 0-based index of the first page line replaced
    count: int  # how many lines are replaced
    lines: list[str]  # what replaces them, indentation included
    line: int  # the 1-based line named in the report (the fence or the `>>>` line)
    kind: str


@dataclass
class PageChanges:
    text: str  # the page as it was parsed
    edits: list[Edit] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)


class Rewriter:
    """Collects, while the pages run, what each one showed against what its code printed; writes the pages
    at the end of the session."""

    def __init__(self, start: Path) -> None:
        self.start = start  # where the run started: pages are named relative to it
        self.pages: dict[str, PageChanges] = {}
        self.written: list[str] = []

    def _relative(self, path: str) -> str:
        return os.path.relpath(path, self.start)

    def _page(self, item: PageItem) -> PageChanges:
        document = item.example.document
        return self.pages.setdefault(document.path, PageChanges(document.text))

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        if not isinstance(item, PageItem) or report.when != "call":
            return
        page = self._page(item)
        if not report.failed:
            return
        example = item.example
        evaluator = example.region.evaluator
        error = call.excinfo.value if call.excinfo else None
        where = f"{self._relative(example.path)}:{example.line}"
        if evaluator is check_output and _ran(example.parsed):
            page.edits.append(output_edit(page.text, example.parsed))
        elif evaluator is run_doctest and isinstance(error, SybilFailure) and not isinstance(error, BlockFailed):
            page.edits.append(doctest_edit(page.text, example.line, example.parsed))
        else:
            raised = not isinstance(error, SybilFailure) or evaluator is run_doctest
            cause = "raised where the page shows no exception" if raised else "failed"
            failure = str(item.repr_failure(call.excinfo, style="short"))  # --tb=no would give the long style
            page.refusals.append(f"{where}: the block {cause}:\n{_indent(failure)}")
            return
        report.primer_differs = True

    def pytest_report_teststatus(self, report, config):
        if getattr(report, "primer_differs", False):
            return "differs", "D", "DIFFERS"
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        for path, page in self.pages.items():
            if page.refusals or not page.edits:
                continue
            current = Path(path).read_text(encoding="utf-8")
            if current != page.text:
                page.refusals.append(f"{self._relative(path)}: changed on disk while it ran")
                continue
            Path(path).write_text(apply(page.text, page.edits), encoding="utf-8")
            self.written.append(path)
        if exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            refused = any(page.refusals for page in self.pages.values())
            session.exitstatus = pytest.ExitCode.TESTS_FAILED if refused else pytest.ExitCode.OK

    def pytest_terminal_summary(self, terminalreporter):
        write = terminalreporter.write_line
        rewritten = [(path, edit) for path in self.written for edit in self.pages[path].edits]
        refused = {path: page.refusals for path, page in self.pages.items() if page.refusals}
        write("")
        if rewritten:
            write(f"update-outputs rewrote {len(rewritten)} output(s) in {len(self.written)} page(s):")
            for path, edit in rewritten:
                write(f"  {self._relative(path)}:{edit.line} ({edit.kind})")
        for path, refusals in refused.items():
            write(f"update-outputs refused {self._relative(path)}, which it left as it was:", red=True)
            for refusal in refusals:
                write(f"  {refusal}")
        if not rewritten and not refused:
            write("update-outputs: every output shown matches what its code printed; nothing was rewritten")


def _ran(shown: OutputBlock) -> bool:
    return shown.code is not None and shown.code.state == "ran" and shown.code.output is shown


def output_edit(text: str, shown: OutputBlock) -> Edit:
    """The fence's body rewritten to what its code printed, keeping the lines that still match."""
    lines = text.split("\n")
    opening = shown.line - 1
    closing = next(index for index in range(opening + 1, len(lines)) if FENCE.match(lines[index]))
    indent = _indentation(lines[opening])
    printed = _normalised_lines(shown.code.printed)
    shown_lines = [
        line.removeprefix(indent) if line.startswith(indent) else line.lstrip(" ")
        for line in lines[opening + 1 : closing]
    ]
    body = merge(_normalised_lines("\n".join(shown_lines)), printed, _output_matches)
    if not _output_matches("\n".join(body), "\n".join(printed)):
        body = printed
    return Edit(
        opening + 1, closing - opening - 1, [indent + line if line else "" for line in body], shown.line, "output fence"
    )


def doctest_edit(text: str, line: int, example: doctest.Example) -> Edit:
    """The answer under a `>>>` example rewritten to what it printed (or raised), keeping what still matches."""
    lines = text.split("\n")
    prompt = line - 1
    first = prompt + 1
    while first < len(lines) and PS2.match(lines[first]):
        first += 1
    end = first
    while (
        end < len(lines)
        and lines[end].strip()
        and not lines[end].lstrip().startswith(">>>")
        and not FENCE.match(lines[end])
    ):
        end += 1
    indent = _indentation(lines[prompt])
    got = [line.rstrip() for line in example.got.rstrip("\n").split("\n")] if example.got.strip() else []
    exception = example.exc_msg is not None and got[:1] == [doctests.TRACEBACK_HEADER]
    if exception:  # compared as the harness compares it: blank lines ignored, a tab as four spaces
        got = [line.expandtabs(4) for line in got if line]
    matches = _exception_matches if exception else _doctest_matches
    shown = [line.removeprefix(indent) for line in lines[first:end]]
    answer = merge(shown, got, matches)
    if not matches("\n".join(answer), "\n".join(got)):
        answer = got
    answer = [line or BLANKLINE for line in answer]
    return Edit(first, end - first, [indent + line for line in answer], line, ">>> answer")


def merge(shown: list[str], got: list[str], matches) -> list[str]:
    """`got`, except that each shown line that still matches what it stood for is kept as shown: a line with
    `...` may stand for several printed lines (a line that is only `...`, for none). Of the ways to line the
    two up, it takes the one that keeps the most shown lines, then the one that leaves the most lines in
    their place (a changed line replaces the line it was, rather than hiding under a `...` beside it), then
    the one whose replaced lines are most like the lines they replace, then the one whose kept lines cover
    the most printed lines."""
    n, m = len(shown), len(got)
    # best[i][j]: the score of lining up shown[i:] with got[j:], and the step taken (what to write, where next)
    best = [[((0, 0, 0.0, 0), None)] * (m + 1) for _ in range(n + 1)]
    for j in range(m - 1, -1, -1):
        best[n][j] = (best[n][j + 1][0], (got[j], n, j + 1))
    for i in range(n - 1, -1, -1):
        ellipsis = "..." in shown[i]
        for j in range(m, -1, -1):
            choices = [(best[i + 1][j][0], (None, i + 1, j))]  # the shown line goes
            if j < m:
                choices.append((best[i][j + 1][0], (got[j], i, j + 1)))  # the printed line is written before it
                kept, placed, alike, covered = best[i + 1][j + 1][0]
                likeness = difflib.SequenceMatcher(None, shown[i], got[j]).ratio()
                choices.append(((kept, placed + 1, alike + likeness, covered), (got[j], i + 1, j + 1)))  # replaces it
            for k in range(j, m + 1) if ellipsis else range(j + 1, min(j + 2, m + 1)):
                if matches(shown[i], "\n".join(got[j:k])):  # the shown line stands for the printed lines j to k
                    kept, placed, alike, covered = best[i + 1][k][0]
                    choices.append(((kept + 1, placed + 1, alike + 1, covered + k - j), (shown[i], i + 1, k)))
            best[i][j] = max(choices, key=lambda choice: choice[0])
    lines, i, j = [], 0, 0
    while (i, j) != (n, m):
        line, i, j = best[i][j][1]
        if line is not None:
            lines.append(line)
    return lines


def _output_matches(want: str, got: str) -> bool:
    """As check_output compares an output fence (ELLIPSIS, trailing whitespace ignored)."""
    return doctest.OutputChecker().check_output(_normalised(want), _normalised(got), doctest.ELLIPSIS)


def _doctest_matches(want: str, got: str) -> bool:
    return doctest.OutputChecker().check_output(want + "\n", got + "\n", doctests.FLAGS)


def _exception_matches(want: str, got: str) -> bool:
    """As harness/doctests.py compares a shown exception: from the line after the header and its `...`."""
    if doctests.TRACEBACK_HEADER in want and doctests.TRACEBACK_HEADER in got:
        want, got = doctests.shown_exception(want), doctests.shown_exception(got)
    return doctest.OutputChecker().check_output(doctests._lines(want), doctests._lines(got), doctests.EXCEPTION_FLAGS)


def _normalised(text: str) -> str:
    return "\n".join(_normalised_lines(text)) + "\n"


def _normalised_lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.strip("\n").splitlines()]


def apply(text: str, edits: list[Edit]) -> str:
    lines = text.split("\n")
    for edit in sorted(edits, key=lambda edit: edit.first, reverse=True):
        lines[edit.first : edit.first + edit.count] = edit.lines
    return "\n".join(lines)


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").splitlines())


def pytest_configure(config) -> None:
    config.pluginmanager.register(Rewriter(config.invocation_params.dir), "primer-update-outputs")


def main(arguments: list[str]) -> int:
    # One process: the rewriter reads what each block printed, which stays in the process that ran it.
    return pytest.main(
        [*(arguments or ["docs"]), "-n0", "-q", "--tb=no", "-rN", "-p", "no:cacheprovider", "-p", "harness.update"]
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
