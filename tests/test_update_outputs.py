"""`make update-outputs` (harness/update.py), tested on pages written to a temporary project and run by pytest
in-process: what it rewrites, what it keeps, what it refuses, and that a second run changes nothing."""

import sys
import textwrap
from pathlib import Path

import pytest
import torch  # noqa: F401  (loaded before pytester runs: it unloads what a run imports, and numpy cannot reload)

from harness.update import _output_matches, merge

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(pytester):
    """A temporary project laid out like ours: mkdocs.yml, docs/, and the root conftest's hook."""
    pytester.makefile(".yml", mkdocs=(ROOT / "mkdocs.yml").read_text())
    pytester.makeconftest(
        "from pathlib import Path\n"
        "from harness.pages import collect_pages\n"
        "pytest_collect_file = collect_pages(Path(__file__).parent)\n"
    )
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    (pytester.path / "docs").mkdir()
    (pytester.path / "snippets").mkdir()
    return pytester


def write(project, relative: str, text: str) -> Path:
    path = project.path / relative
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def update(project, *pages: str):
    """One `make update-outputs` run on the project's pages."""
    # --assert=plain: harness.update is already imported here, too late for pytest to rewrite its asserts
    return project.runpytest_inprocess(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:xdist",
        "--assert=plain",
        "-p",
        "harness.update",
        "-q",
        "--tb=no",
        *(pages or ["docs"]),
    )


def page(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def test_an_output_fence_that_differs_is_rewritten_and_a_second_run_changes_nothing(project):
    path = write(
        project,
        "docs/page.md",
        """
        ```python
        print("loss", round(0.5 + 0.25, 2))
        print("steps", 3)
        ```

        ```output
        loss 0.5
        steps 3
        ```

        Prose stays.
    """,
    )
    result = update(project)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["update-outputs rewrote 1 output(s) in 1 page(s):", "  docs/page.md:6 (output fence)"])
    rewritten = path.read_text()
    assert rewritten == page("""
        ```python
        print("loss", round(0.5 + 0.25, 2))
        print("steps", 3)
        ```

        ```output
        loss 0.75
        steps 3
        ```

        Prose stays.
    """)
    again = update(project)
    assert again.ret == 0
    again.stdout.fnmatch_lines(
        ["update-outputs: every output shown matches what its code printed; nothing was rewritten"]
    )
    assert path.read_text() == rewritten


def test_an_ellipsis_is_kept_wherever_its_pattern_still_matches(project):
    path = write(
        project,
        "docs/page.md",
        """
        ```python
        print("saved to /tmp/run-1234/model.pt")
        print("accuracy", 0.97)
        for step in range(3):
            print("step", step)
        print("done")
        ```

        ```output
        saved to .../model.pt
        accuracy 0.95
        ...
        done
        ```

        ```python
        print("id 0x7f3a")
        ```

        ```output
        id 0x...
        ```
    """,
    )
    assert update(project).ret == 0
    assert path.read_text() == page("""
        ```python
        print("saved to /tmp/run-1234/model.pt")
        print("accuracy", 0.97)
        for step in range(3):
            print("step", step)
        print("done")
        ```

        ```output
        saved to .../model.pt
        accuracy 0.97
        ...
        done
        ```

        ```python
        print("id 0x7f3a")
        ```

        ```output
        id 0x...
        ```
    """)


def test_a_changed_line_replaces_the_line_it_was_rather_than_hiding_under_an_ellipsis():
    def rewritten(shown: str, printed: str) -> str:
        return "\n".join(merge(shown.split("\n"), printed.split("\n"), _output_matches))

    assert rewritten("loss 0.5\n...\nacc 0.9", "loss 0.6\nepoch 2\nacc 0.8") == "loss 0.6\n...\nacc 0.8"
    assert (
        rewritten("error: ...\n(1) in 2.5, ...\nnote: ...", "error: bad file\n(1) in 2.6, x\n(2) or y\nnote: z")
        == "error: ...\n(1) in 2.6, x\n(2) or y\nnote: ..."
    )
    assert rewritten("a\n...\nz", "a\nb\nc\ny") == "a\n...\ny"
    assert rewritten("a\nb", "a\nx\nb") == "a\nx\nb"
    assert rewritten("a\ngone", "a") == "a"


def test_doctest_answers_are_rewritten_in_place_with_their_indentation(project):
    path = write(
        project,
        "docs/page.md",
        """
        ```pycon
        >>> 1 + 1
        3
        >>> for word in ["a", "", "b"]:
        ...     print(word)
        a
        c
        >>> [1, 2].index(5)
        Traceback (most recent call last):
          ...
        ValueError: 4 is not in list
        >>> quiet = 1
        >>> quiet
        ```

        !!! note

            ```pycon
            >>> {"k": [1] * 3}
            {'k': [1, 1]}
            ```
    """,
    )
    result = update(project)
    assert result.ret == 0, result.stdout.str()
    assert path.read_text() == page("""
        ```pycon
        >>> 1 + 1
        2
        >>> for word in ["a", "", "b"]:
        ...     print(word)
        a
        <BLANKLINE>
        b
        >>> [1, 2].index(5)
        Traceback (most recent call last):
          ...
        ValueError: 5 is not in list
        >>> quiet = 1
        >>> quiet
        1
        ```

        !!! note

            ```pycon
            >>> {"k": [1] * 3}
            {'k': [1, 1, 1]}
            ```
    """)
    assert update(project).ret == 0
    result = project.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "docs")
    result.assert_outcomes(passed=6)  # the suite agrees with what was written


def test_a_block_that_raised_where_the_page_shows_no_exception_is_refused_naming_it(project):
    shown = page("""
        ```python
        print("first")
        ```

        ```output
        frist
        ```

        ```python
        values = {}
        print(values["missing"])
        ```

        ```output
        1
        ```
    """)
    refused = write(project, "docs/refused.md", shown)
    fine = write(
        project,
        "docs/fine.md",
        """
        ```pycon
        >>> 2 * 2
        5
        ```
    """,
    )
    result = update(project)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "update-outputs rewrote 1 output(s) in 1 page(s):",
            "  docs/fine.md:2 (>>> answer)",
            "update-outputs refused docs/refused.md, which it left as it was:",
            "  docs/refused.md:9: the block raised where the page shows no exception:",
            "*KeyError: 'missing'",
        ]
    )
    assert refused.read_text() == shown  # not even its first fence, which would have been rewritten
    assert ">>> 2 * 2\n4\n" in fine.read_text()


def test_a_doctest_that_raised_where_the_page_shows_no_exception_is_refused(project):
    shown = page("""
        ```pycon
        >>> {}["key"]
        1
        ```
    """)
    path = write(project, "docs/page.md", shown)
    result = update(project)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["  docs/page.md:2: the block raised where the page shows no exception:", "*KeyError*"])
    assert path.read_text() == shown


def test_a_block_that_prints_without_an_output_fence_is_refused(project):
    shown = page("""
        ```python
        print("unshown")
        ```
    """)
    path = write(project, "docs/page.md", shown)
    result = update(project)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["  docs/page.md:1: the block failed:", "*no ```output fence follows it*"])
    assert path.read_text() == shown


def test_only_the_variant_of_the_running_environment_is_rewritten(project):
    here = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    path = write(
        project,
        "docs/page.md",
        f'''
        ```python
        import sys
        print(sys.version_info[0])
        ```

        === "{here}"

            ```output
            2
            ```

        === "Python 2.7"

            ```output
            2
            ```
    ''',
    )
    assert update(project).ret == 0
    assert path.read_text() == page(f'''
        ```python
        import sys
        print(sys.version_info[0])
        ```

        === "{here}"

            ```output
            3
            ```

        === "Python 2.7"

            ```output
            2
            ```
    ''')
