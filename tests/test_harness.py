"""The doc-test harness, tested on small pages written to a temporary project and run by pytest in-process.

Each test states an outcome that would change if the behaviour it guards were removed: a fence with
attributes that stopped running would pass instead of fail, a missing section would vanish silently, etc.
"""

import textwrap
import tomllib
from pathlib import Path

import pytest
import torch  # noqa: F401  (loaded before pytester runs: it unloads what a run imports, and numpy cannot reload)

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS_EXTENSION_CONFIG = """\
markdown_extensions:
  - pymdownx.snippets:
      base_path: [!relative $config_dir]
      check_paths: true
"""


@pytest.fixture
def project(pytester):
    """A temporary project laid out like ours: mkdocs.yml, docs/, snippets/, and the root conftest's hook."""
    pytester.makefile(".yml", mkdocs=SNIPPETS_EXTENSION_CONFIG)
    pytester.makeconftest(
        "from pathlib import Path\n"
        "from harness.pages import collect_pages\n"
        "pytest_collect_file = collect_pages(Path(__file__).parent)\n"
    )
    # the suite's own warning filters, so a page is held to the same rules as ours
    filters = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["filterwarnings"]
    pytester.makeini("[pytest]\nfilterwarnings =\n" + "".join(f"    {f}\n" for f in filters))
    (pytester.path / "docs").mkdir()
    (pytester.path / "snippets").mkdir()
    return pytester


def write(project, relative: str, text: str) -> Path:
    path = project.path / relative
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def run(project, *args):
    return project.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist", "-rs", *args)


def test_fences_with_attributes_are_run(project):
    write(
        project,
        "docs/page.md",
        """
        ```python title="A titled block"
        ran = ["titled"]
        ```

        ``` { .python .annotate }
        ran.append("attr-list")
        ```

        ```py
        ran.append("py")
        ```

        ```python hl_lines="1"
        ran.append("hl_lines")
        ```

        ```pycon
        >>> ran
        ['titled', 'attr-list', 'py', 'hl_lines', 'never']
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=4, failed=1)
    result.stdout.fnmatch_lines(["*['titled', 'attr-list', 'py', 'hl_lines']*"])


def test_blocks_share_one_namespace_in_page_order(project):
    write(
        project,
        "snippets/mod.py",
        '''
        """Code of docs/page.md."""
        # --8<-- [start:define]
        answer = 42
        # --8<-- [end:define]
    ''',
    )
    write(
        project,
        "docs/page.md",
        """
        ```python
        --8<-- "snippets/mod.py:define"
        ```

        ```python
        assert answer == 42
        doubled = answer * 2
        ```

        ```pycon
        >>> doubled
        84
        ```
    """,
    )
    run(project).assert_outcomes(passed=3)


def test_wrong_doctest_output_fails(project):
    write(
        project,
        "docs/page.md",
        """
        ```pycon
        >>> 1 + 1
        3
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Expected:*", "*3*", "*Got:*", "*2*"])


def test_doctest_inside_an_admonition_reports_its_own_line(project):
    write(
        project,
        "docs/page.md",
        """
        # Page

        !!! note "Indented four spaces"

            ```pycon
            >>> 1 + 1
            2
            >>> 2 + 2
            5
            ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 8, column 5 did not evaluate as expected*"])


def test_doctest_uses_ellipsis_and_normalized_whitespace(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        >>> list(range(30))
        [0, 1, 2, ..., 29]
        >>> print("a   b")
        a b
        ```
    """,
    )
    run(project).assert_outcomes(passed=2)


def test_wrong_output_block_fails_with_a_diff(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        print("loss = 0.25")
        print("done")
        ```

        ```output
        loss = 0.24
        done
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 6*", "*-loss = 0.24", "*+loss = 0.25"])


def test_matching_output_block_passes_and_allows_ellipsis(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        print("tensor([1., 2.])")
        print("<object at 0x7f00>")
        ```

        1. An annotation list may sit between a block and its output.

        ```output
        tensor([1., 2.])
        <object at ...>
        ```
    """,
    )
    run(project).assert_outcomes(passed=2)


def test_output_keeps_the_indentation_every_line_shares(project):
    # Right-aligned numbers start every line with spaces; the comparison must keep them on both sides.
    write(
        project,
        "docs/page.md",
        """
        ```python
        for n in (7, 42):
            print(f"{n:>4}")
        ```

        ```output
           7
          42
        ```

        ```python
        print("  7")
        ```

        ```output
           7
        ```
    """,
    )
    run(project).assert_outcomes(passed=3, failed=1)


def test_output_block_without_python_block_is_an_error(project):
    write(
        project,
        "docs/page.md",
        """
        ```bash
        echo hi
        ```

        ```output
        hi
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 5*", "*an ```output fence must come after a python or console block*"])


def test_printing_block_without_output_block_fails(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        print("unchecked")
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*no ```output fence follows*", "*unchecked*"])


def test_missing_snippet_section_fails_and_names_it(project):
    write(project, "snippets/mod.py", '"""Code of docs/page.md."""\n')
    write(
        project,
        "docs/page.md",
        """
        # Page

        ```python
        --8<-- "snippets/mod.py:absent"
        ```
    """,
    )
    write(
        project,
        "docs/other.md",
        """
        ```python
        --8<-- "snippets/nowhere.py:absent"
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            '*other.md, line 2: --8<-- "snippets/nowhere.py:absent": '
            "Snippet at path 'snippets/nowhere.py' could not be found",
            "*page.md, line 4: --8<-- \"snippets/mod.py:absent\": Snippet section 'absent' could not be located",
        ]
    )


def test_tracebacks_point_at_the_page_and_snippet_lines(project):
    write(
        project,
        "snippets/mod.py",
        '''
        """Code of docs/page.md."""

        # --8<-- [start:fail]
        def fail():
            raise ValueError("raised in the snippet")
        # --8<-- [end:fail]
    ''',
    )
    write(
        project,
        "docs/page.md",
        """
        # Page

        ```python
        --8<-- "snippets/mod.py:fail"

        fail()
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["docs/page.md:6: in <module>", "snippets/mod.py:5: in fail", "E   ValueError: raised in the snippet"]
    )


def test_syntax_error_names_the_page_line(project):
    write(
        project,
        "docs/page.md",
        """
        # Page

        ```python
        x = 1
        def broken(:
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(['*File "*docs/page.md", line 5*', "*SyntaxError*"])


def test_skip_without_reason_is_an_error(project):
    write(
        project,
        "docs/page.md",
        """
        <!-- skip: next -->
        ```python
        x = 1
        ```

        <!-- skip: next if(True) -->
        ```python
        y = 1
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=2, failed=2)
    result.stdout.fnmatch_lines(["*a skip must say why*"])


def test_skip_with_reason_skips_the_block_and_its_output(project):
    write(
        project,
        "docs/page.md",
        """
        <!-- skip: next "needs a GPU" -->
        ```python
        print(undefined_name)
        ```

        ```output
        never compared
        ```

        <!-- skip: start if(True, reason="needs an accelerator") -->
        ```python
        assert False
        ```
        <!-- skip: end -->
    """,
    )
    result = run(project)
    result.assert_outcomes(skipped=3, passed=3)  # the skip directives themselves count as passes
    result.stdout.fnmatch_lines(["*needs a GPU*", "*was skipped*", "*needs an accelerator*"])


def test_page_runs_in_an_empty_temporary_directory_and_leaves_nothing(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        import os
        from pathlib import Path

        assert os.listdir() == [], "the page starts in an empty folder"
        Path("runs").mkdir()
        Path("runs/events.txt").write_text("written by the page")
        Path("checkpoint.pt").write_bytes(b"0")
        ```
    """,
    )
    before = sorted(p.relative_to(project.path) for p in project.path.rglob("*"))
    run(project).assert_outcomes(passed=1)
    after = sorted(p.relative_to(project.path) for p in project.path.rglob("*") if "__pycache__" not in p.parts)
    assert after == before


def test_the_working_directory_holds_between_blocks(project):
    # A background thread (TensorBoard's writer, say) runs between blocks too: it must keep seeing the page's
    # folder, never the checkout. The thread samples the working directory while pytest moves between blocks.
    write(
        project,
        "docs/page.md",
        """
        ```python
        import os, threading, time
        here, seen, running = os.getcwd(), set(), threading.Event()
        running.set()

        def watch():
            while running.is_set():
                seen.add(os.getcwd())
                time.sleep(0.0002)

        watcher = threading.Thread(target=watch)
        watcher.start()
        ```

        ```python
        time.sleep(0.05)
        ```

        ```python
        running.clear()
        watcher.join()
        assert seen == {here}, seen
        ```
    """,
    )
    run(project).assert_outcomes(passed=3)


def test_each_page_starts_in_a_fresh_session(project):
    # Page a changes global state; page b, run after it in the same process, must not see the change.
    write(
        project,
        "docs/a.md",
        """
        ```python
        import torch
        torch.set_printoptions(precision=1)
        leaked = "from page a"
        ```
    """,
    )
    write(
        project,
        "docs/b.md",
        """
        ```pycon
        >>> __name__
        '__main__'
        >>> "leaked" in globals()
        False
        >>> import torch
        >>> torch.tensor([1 / 3])
        tensor([0.3333])
        >>> torch._C._is_torch_function_mode_enabled()  # no mode left by the restore (set_default_device)
        False
        ```
    """,
    )
    run(project).assert_outcomes(passed=6)


def test_generators_are_freshly_seeded_so_unseeded_pages_fail(project):
    # Two interpreters draw different unseeded numbers. Were the generator state carried (or restored) from
    # page to page, page b would draw exactly what page a drew, and an unseeded page would pass by luck.
    write(
        project,
        "docs/a.md",
        """
        ```python
        import sys
        import torch
        sys.primer_first_draw = torch.rand(1).item()
        ```
    """,
    )
    write(
        project,
        "docs/b.md",
        """
        ```python
        import sys
        import torch
        assert torch.rand(1).item() != sys.primer_first_draw
        del sys.primer_first_draw
        ```
    """,
    )
    run(project).assert_outcomes(passed=2)


def test_classes_defined_in_a_page_can_be_pickled(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        import pickle

        class Point:
            def __init__(self, x):
                self.x = x

        assert pickle.loads(pickle.dumps(Point(3))).x == 3
        ```
    """,
    )
    run(project).assert_outcomes(passed=1)


def test_warnings_are_errors(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        import warnings
        warnings.warn("deprecated call", DeprecationWarning)
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*DeprecationWarning: deprecated call*"])


def test_nested_fences_are_content_not_blocks(project):
    write(
        project,
        "docs/page.md",
        """
        ````markdown
        ```python
        assert False, "a fence shown inside another fence ran"
        ```
        ````
    """,
    )
    result = run(project)
    result.assert_outcomes()
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


# One cause, one failure ----------------------------------------------------------------------------------------


def test_after_a_block_raises_the_later_blocks_are_skipped_naming_it(project):
    write(
        project,
        "docs/page.md",
        """
        ```python
        model = None
        ```

        ```python
        raise RuntimeError("the first cause")
        ```

        ```python
        print(model.weight)
        ```

        ```output
        never compared
        ```

        ```pycon
        >>> model.weight
        1
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=1, skipped=3)
    result.stdout.fnmatch_lines(["*RuntimeError: the first cause*"])
    assert result.stdout.str().count("not run: the block at docs/page.md:5 failed") == 1
    assert "AttributeError" not in result.stdout.str()


def test_a_doctest_that_raises_unexpectedly_stops_the_page(project):
    write(
        project,
        "docs/page.md",
        """
        ```pycon
        >>> x = 1 / 0
        >>> x
        1
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*Exception raised:*", "*ZeroDivisionError*", "*not run: the block at docs/page.md:2 failed*"]
    )


def test_a_wrong_output_fails_alone_and_the_page_goes_on(project):
    # The block ran and its namespace is whole: only what it printed differs, so later blocks are still checked.
    write(
        project,
        "docs/page.md",
        """
        ```python
        print(1)
        ```

        ```output
        2
        ```

        ```pycon
        >>> 1 + 1
        3
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=1, failed=2)


# Exceptions compared in full -----------------------------------------------------------------------------------

POST = 'compile("x = (1 2)", "post.py", "exec")'


def formatted_syntax_error() -> list[str]:
    """What Python formats for the SyntaxError: the file and line, the source line, the caret, the message."""
    import traceback

    try:
        eval(POST)
    except SyntaxError as error:
        return "".join(traceback.format_exception_only(type(error), error)).rstrip("\n").split("\n")


def syntax_error_page(lines: list[str]) -> str:
    return "```pycon\n>>> " + POST + "\nTraceback (most recent call last):\n  ...\n" + "\n".join(lines) + "\n```\n"


def test_a_shown_syntax_error_passes_when_every_line_matches(project):
    write(project, "docs/page.md", syntax_error_page(formatted_syntax_error()))
    run(project).assert_outcomes(passed=1)


@pytest.mark.parametrize("change", ["line", "caret", "source"])
def test_a_shown_syntax_error_fails_on_a_wrong_line_source_or_caret(project, change):
    file_line, source, caret, message = formatted_syntax_error()
    wrong = {
        "line": (file_line.replace("line 1", "line 2"), source, caret),
        "caret": (file_line, source, " " + caret),
        "source": (file_line, source.replace("1 2", "1 3"), caret),
    }[change]
    write(project, "docs/page.md", syntax_error_page([*wrong, message]))
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Expected:*", "*Got:*"])


def test_notes_of_a_shown_exception_are_compared(project):
    write(
        project,
        "docs/page.md",
        """
        ```pycon
        >>> error = ValueError("bad shape")
        >>> error.add_note("hint: transpose it")
        >>> raise error
        Traceback (most recent call last):
          ...
        ValueError: bad shape
        hint: transpose it
        >>> raise error
        Traceback (most recent call last):
          ...
        ValueError: bad shape
        hint: reshape it
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 9*", "*hint: reshape it*"])


def test_an_ellipsis_in_a_shown_exception_still_matches_anything(project):
    write(
        project,
        "docs/page.md",
        """
        ```pycon
        >>> raise ValueError("shapes (2x3) and (4x5)")
        Traceback (most recent call last):
          ...
        ValueError: shapes ... and (4x5)
        ```
    """,
    )
    run(project).assert_outcomes(passed=1)


# Variants: content tabs labelled by environment ----------------------------------------------------------------


def variant_page(labels: list[str]) -> str:
    """A tab per label, each showing what its torch answers to `torch.__version__`."""
    tabs = "".join(
        f'=== "{label}"\n\n    ```pycon\n    >>> torch.__version__.split("+")[0]\n'
        f"    '{label.split()[1]}...'\n    ```\n\n"
        for label in labels
    )
    return f"```python\nimport torch\n```\n\n{tabs}"


def test_the_tab_for_this_torch_checks_the_output_and_the_others_are_skipped(project):

    this = ".".join(torch.__version__.split(".")[:2])
    write(project, "docs/page.md", variant_page([f"torch {this}", "torch 1.13"]))
    result = run(project)
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(['*shown for "torch 1.13"; checked where that applies (this is torch *'])


def test_a_tab_set_without_this_environment_fails_once(project):
    write(project, "docs/page.md", variant_page(["torch 1.12", "torch 1.13"]))
    result = run(project)
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.fnmatch_lines(['*line 5: no tab of "torch 1.12", "torch 1.13" shows what torch * prints: add one*'])


def test_a_tab_set_mixing_variant_labels_and_others_fails(project):
    write(project, "docs/page.md", variant_page(["torch 1.12", "On Linux"]))
    result = run(project)
    result.stdout.fnmatch_lines(["*mix variant labels with others*"])


def test_ordinary_tabs_all_run(project):
    write(
        project,
        "docs/page.md",
        """
        === "Adam"

            ```python
            ran = ["adam"]
            ```

        === "SGD"

            ```python
            ran.append("sgd")
            assert ran == ["adam", "sgd"]
            ```
    """,
    )
    run(project).assert_outcomes(passed=2)


def test_install_kind_facets(project):
    from harness.variants import environment, matches

    env = {"torch": "2.15.0", "Python": "3.13.1", "kind": "CUDA build without a GPU"}
    assert matches("torch 2.15, CUDA build without a GPU", env)
    assert matches("Python 3.13", env) and not matches("Python 3.1", env)
    assert not matches("torch 2.15, CPU-only build", env) and not matches("torch 2.1", env)
    assert environment()["kind"] in ("CPU-only build", "CUDA build without a GPU", "with a GPU")


# A reader has not cloned the repository ------------------------------------------------------------------------


def test_a_page_cannot_import_the_repository_s_own_code(project):
    write(project, "snippets/__init__.py", "")
    write(project, "snippets/mod.py", '"""Code of docs/page.md."""\nvalue = 1\n')
    write(
        project,
        "docs/page.md",
        """
        ```python
        from snippets.mod import value
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*No module named 'snippets*: a page runs as for a reader who has not cloned*"])


def test_the_repository_s_code_is_importable_again_after_the_page(project):
    (project.path / "ourcode").mkdir()  # a name of its own: this suite's real `snippets` may be loaded
    write(project, "ourcode/__init__.py", "")
    write(project, "ourcode/mod.py", "value = 1\n")
    write(
        project,
        "docs/page.md",
        """
        ```python
        try:
            import ourcode.mod
        except ModuleNotFoundError:
            hidden = True
        assert hidden
        ```
    """,
    )
    write(project, "test_after.py", "def test_import():\n    from ourcode.mod import value\n    assert value == 1\n")
    run(project, "docs/page.md", "test_after.py").assert_outcomes(passed=2)


def test_with_kept_folders_a_second_run_finds_what_the_first_left(project, monkeypatch, tmp_path):
    monkeypatch.setenv("PRIMER_PAGE_FOLDERS", str(tmp_path / "kept"))
    write(
        project,
        "docs/page.md",
        """
        ```python
        from pathlib import Path
        with open("log.txt", "a") as log:
            log.write("a line\\n")
        print(len(Path("log.txt").read_text().splitlines()), "line(s)")
        ```

        ```output
        1 line(s)
        ```
    """,
    )
    run(project).assert_outcomes(passed=2)
    result = run(project)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*-1 line(s)", "*+2 line(s)"])
    assert (tmp_path / "kept" / "page.md" / "log.txt").exists()


# Files and commands --------------------------------------------------------------------------------------------


def test_a_file_fence_is_written_and_a_console_fence_runs_it(project):
    write(
        project,
        "snippets/mod.py",
        '''
        """Code of docs/page.md."""
        # --8<-- [start:script]
        import sys
        print("argv", sys.argv[1:])
        # --8<-- [end:script]
    ''',
    )
    write(
        project,
        "docs/page.md",
        """
        ```python title="greet.py"
        --8<-- "snippets/mod.py:script"
        ```

        ```console
        $ python greet.py one \\
            two
        $ python greet.py three
        ```

        ```output
        argv ['one', 'two']
        argv ['three']
        ```

        ```console
        $ python greet.py four
        ```

        ```output
        argv ['five']
        ```

        ```pycon
        >>> "sys" in globals()  # the file was written, not run in the page
        False
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(passed=5, failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 20*"])
    assert "-argv ['five']" in result.stdout.str() and "+argv ['four']" in result.stdout.str()


def test_background_commands_are_waited_for(project):
    write(
        project,
        "docs/page.md",
        """
        ```console
        $ (sleep 0.2; echo late > late.txt) &
        $ echo now
        ```

        ```output
        now
        ```

        ```python
        from pathlib import Path
        assert Path("late.txt").read_text() == "late\\n"
        ```
    """,
    )
    run(project).assert_outcomes(passed=3)


def test_a_failing_command_fails_its_block_and_stops_the_page(project):
    write(
        project,
        "docs/page.md",
        """
        ```console
        $ echo before
        $ python -c "import sys; print('to stderr', file=sys.stderr); sys.exit(3)"
        ```

        ```output
        before
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(["*the commands exited with status 3*", "*to stderr*"])


def test_commands_that_overrun_are_stopped_with_their_children(project, monkeypatch, tmp_path):
    from harness import commands

    monkeypatch.setattr(commands, "COMMAND_SECONDS", 1)
    pid_file = tmp_path / "child.pid"
    write(
        project,
        "docs/page.md",
        f"""
        ```console
        $ sleep 60 &
        $ echo $! > {pid_file}
        $ sleep 60
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*did not finish within 1 s*"])
    stat = Path(f"/proc/{int(pid_file.read_text())}/stat")
    # gone, or a zombie waiting for init to reap it: either way no longer running
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_a_console_block_holds_only_commands(project):
    write(
        project,
        "docs/page.md",
        """
        ```console
        $ echo hi
        hi
        ```
    """,
    )
    result = run(project)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*page.md, line 3: a console block holds commands, each on a `$ ` line*"])
