"""`>>>` examples, run as a Python prompt runs them and compared as doctest compares them, with one change:
an expected exception is compared in full.

doctest compares only the last line of an exception (`traceback.format_exception_only(...)[-1]`), so the file,
line, source line and caret a page shows for a SyntaxError, or the notes added with `add_note`, went unchecked.
Here every line the page shows after the `Traceback (most recent call last):` header (and the `...` standing
for the frames) is compared with everything Python formats for the exception. Indentation counts (a caret
moved by one column fails); a tab counts as four spaces, and trailing whitespace and blank lines are ignored,
since a doctest cannot show a blank line.
"""

from __future__ import annotations

import doctest
import io
import sys
import traceback
from dataclasses import dataclass

from sybil import Example
from sybil.evaluators.doctest import OutputChecker

TRACEBACK_HEADER = "Traceback (most recent call last):"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
EXCEPTION_FLAGS = doctest.ELLIPSIS  # whitespace matters in an exception: it places the caret


@dataclass
class Outcome:
    """What an example did: `got` is the text the page should show for it (for `make update-outputs`)."""

    got: str
    raised: bool  # the example raised an exception the page does not show
    passed: bool


def run_example(example: doctest.Example, namespace: dict, filename: str) -> Outcome:
    """Run one `>>>` example in `namespace` as the interactive prompt would (a bare expression prints its
    value) and compare what it printed, or the exception it raised, with what the page shows."""
    stdout = io.StringIO()
    real_stdout, sys.stdout = sys.stdout, stdout
    try:
        exec(compile(example.source, filename, "single", dont_inherit=True), namespace)
        error = None
    except KeyboardInterrupt:
        raise
    except BaseException as caught:  # noqa: BLE001 - a page may show any exception, SystemExit included
        error = caught
    finally:
        sys.stdout = real_stdout
    printed = stdout.getvalue()
    checker = OutputChecker()
    if error is None:
        if example.exc_msg is not None:
            return Outcome(printed, raised=False, passed=False)
        return Outcome(printed, raised=False, passed=checker.check_output(example.want, printed, FLAGS))
    formatted = "".join(traceback.format_exception_only(type(error), error))
    if example.exc_msg is None:  # not shown on the page: the page's state is now broken
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        return Outcome(printed + details, raised=True, passed=False)
    got = f"{TRACEBACK_HEADER}\n  ...\n{formatted}"  # what was printed before it is not shown, as in doctest
    passed = checker.check_output(_lines(shown_exception(example.want)), _lines(formatted), EXCEPTION_FLAGS)
    return Outcome(got, raised=False, passed=passed)


def shown_exception(want: str) -> str:
    """The lines a page shows for an exception: after the traceback header, less the `...` line that stands
    for the frames."""
    lines = want.split("\n")
    start = next(index for index, line in enumerate(lines) if line.startswith(TRACEBACK_HEADER)) + 1
    if start < len(lines) and lines[start].strip() == "...":
        start += 1
    return "\n".join(lines[start:])


def _lines(text: str) -> str:
    lines = [line.expandtabs(4).rstrip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line) + "\n"


def describe(example: Example, outcome: Outcome) -> str:
    """A failure in doctest's words: what the page shows, what Python gave."""
    parsed: doctest.Example = example.parsed
    expected = parsed.want if parsed.want else "(nothing)\n"
    if parsed.exc_msg is not None and not outcome.raised and TRACEBACK_HEADER not in outcome.got:
        return f"Expected:\n{_indent(expected)}Got no exception; it printed:\n{_indent(outcome.got or '(nothing)')}"
    heading = "Exception raised:" if outcome.raised else "Got:"
    return f"Expected:\n{_indent(expected)}{heading}\n{_indent(outcome.got or '(nothing)')}"


def _indent(text: str) -> str:
    return "".join(f"    {line}\n" for line in text.rstrip("\n").split("\n"))
