"""Every page's notebook download (hooks/page_notebooks.py), run as a reader runs it.

Each page's notebook, made by the function the build uses, runs in a fresh Jupyter kernel started in an empty
temporary folder, on a Python path without the repository: the folders holding its packages are removed from
`sys.path` before the kernel starts, so neither the checkout nor the venv's editable install (which puts a
checkout on the path) makes `import snippets` work, and a first cell checks that. It must run top to bottom,
and each cell must print what the page shows, compared as the harness compares it (harness/pages.py's
check_output for an output fence, harness/doctests.py's flags for `>>>` answers and exceptions). One test per
page: the slowest part is each kernel's start and `import torch`.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import nbformat
import pytest
import torch
from nbclient import NotebookClient
from sybil.evaluators.doctest import OutputChecker

from harness import doctests
from harness.pages import CodeBlock, OutputBlock, check_output
from hooks import page_notebooks as hook

# What a reader downloads is built once, in the environment the site is published from: the matrix leaves
# these tests to `make test` (harness/matrix.py).
pytestmark = pytest.mark.main_environment

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").glob("*.md"))
CELL_SECONDS = 300  # a bound for a hung cell, not a budget
ANSI = re.compile(r"\x1b\[[0-9;]*m")
WARNING = re.compile(r"\b\w*Warning: ")
REPOSITORY_PACKAGES = ("snippets", "harness", "hooks")


# The kernel's Python, less every sys.path entry holding one of the repository's packages (any checkout's).
WITHOUT_THE_REPOSITORY = f"""
import os, sys
sys.path[:] = [entry for entry in sys.path if not any(
    os.path.isdir(os.path.join(entry or os.getcwd(), name)) for name in {REPOSITORY_PACKAGES!r})]
from ipykernel import kernelapp
kernelapp.launch_new_instance()
"""
# The first cell of the copy a test runs: it shows which of the repository's packages the kernel can import
# (none), and has the kernel format an error as Python does (`traceback.format_exception_only`, what a page
# shows and harness/doctests.py compares) instead of IPython's coloured frames.
SETUP = f"""\
import importlib.util
import traceback



def show_as_python_does(shell, kind, error, frames, tb_offset=None):
    lines = traceback.format_exception_only(kind, error)
    shell._showtraceback(kind, error, lines)  # the kernel's error message, with these lines as its traceback
    return lines


get_ipython().set_custom_exc((BaseException,), show_as_python_does)
print([name for name in {REPOSITORY_PACKAGES!r} if importlib.util.find_spec(name)])"""


def reader_kernel(folder: Path) -> str:
    """A kernelspec under `folder` whose kernel cannot import the repository; returns its name."""
    spec = folder / "kernels" / "primer-reader"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-c", WITHOUT_THE_REPOSITORY, "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "reader", "language": "python"}))
    return "primer-reader"


def kernel_environment() -> dict[str, str]:
    """This environment, without PYTHONPATH, with this Python's scripts first on PATH (`%%bash` cells)."""
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), environment.get("PATH", "")])
    return environment


def execute(notebook, folder: Path):
    """Run a copy of `notebook` in a fresh reader's kernel in `folder` (empty); return the executed copy."""
    import zmq
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    specs = folder.parent / f"{folder.name}-kernel"
    name = reader_kernel(specs)
    executed = nbformat.reads(nbformat.writes(notebook), as_version=4)
    executed.cells.insert(0, nbformat.v4.new_code_cell(SETUP))
    manager = AsyncKernelManager(
        kernel_name=name,
        kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs / "kernels")]),
        # as the build's kernels (hooks/jupyter): over plain TCP the kernel logs a warning
        transport_encryption="auto" if zmq.has("curve") else "off",
    )
    client = NotebookClient(
        executed, km=manager, timeout=CELL_SECONDS, allow_errors=False, resources={"metadata": {"path": str(folder)}}
    )
    client.execute(env=kernel_environment(), cwd=str(folder), cleanup_kc=True)  # shut down, sockets closed
    return executed


def stdout_of(cell) -> str:
    return "".join(output.text for output in cell.outputs if output.output_type == "stream" and output.name == "stdout")


def shown_text(cell) -> str:
    """What a cell shows as text: what it printed, then its value, as a `>>>` prompt shows them."""
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream" and output.name == "stdout":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(output.data.get("text/plain", "") + "\n")
    return "".join(parts)


def error_of(cell) -> str | None:
    errors = [output for output in cell.outputs if output.output_type == "error"]
    return ANSI.sub("", "".join(errors[0].traceback)) if errors else None


def difference(expected_cell, cell) -> str | None:
    """How `cell`, as executed, differs from what the page shows for it (the expected cell's outputs)."""
    kind = expected_cell.metadata["primer"]["kind"]
    stderr = "".join(o.text for o in cell.outputs if o.output_type == "stream" and o.name == "stderr")
    if WARNING.search(stderr):  # the pages run with warnings as errors; log lines (torch's) are let through
        return f"it warned, which the page does not show:\n{stderr}"
    condition = expected_cell.metadata["primer"].get("runs_if")
    if condition is not None and not eval(condition, {"torch": torch}):  # as the page's skip directive does
        return f"the page does not run it here, yet it showed {cell.outputs}" if cell.outputs else None
    if kind == "doctest":
        shown = expected_cell.outputs
        if shown and shown[0].output_type == "error":
            got = error_of(cell)
            if got is None:
                return f"the page shows {shown[0].ename}, but the cell raised nothing"
            want = doctests.shown_exception("\n".join(shown[0].traceback))
            if OutputChecker().check_output(doctests._lines(want), doctests._lines(got), doctests.EXCEPTION_FLAGS):
                return None
            return f"Expected the exception:\n{want}\nGot:\n{got}"
        want, got = shown_text(expected_cell), shown_text(cell)
        if OutputChecker().check_output(want, got, doctests.FLAGS):
            return None
        return f"Expected:\n{want}Got:\n{got}"
    if kind == "file":  # %%writefile says "Writing x.py"
        return None
    want = stdout_of(expected_cell)
    got = stdout_of(cell)
    if not want:
        return f"it printed, and the page shows no output:\n{got}" if got.strip() else None
    code = CodeBlock([], 0, state="ran", printed=got)
    shown = type("Shown", (), {"parsed": OutputBlock(want, 0, code=code)})()
    return check_output(shown)  # the harness's own comparison: None when they match


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
def test_the_notebook_runs_in_a_fresh_kernel_without_the_repository_and_prints_what_the_page_shows(page, tmp_path):
    notebook = hook.page_notebook(page)
    folder = tmp_path / "reader"
    folder.mkdir()
    executed = execute(notebook, folder)
    assert stdout_of(executed.cells[0]) == "[]\n", f"the kernel imports the repository: {executed.cells[0].outputs}"
    failures = []
    for expected, cell in zip(notebook.cells, executed.cells[1:]):
        if cell.cell_type != "code" or "primer" not in expected.metadata:
            continue
        problem = difference(expected, cell)
        if problem:
            failures.append(f"{page.relative_to(ROOT)}:{expected.metadata['primer']['line']}: {problem}")
    assert not failures, "\n\n".join(failures)


def test_every_page_links_its_notebook_which_the_build_made_with_the_same_function(built_site):
    problems = []
    for page in PAGES:
        src_uri = page.relative_to(ROOT / "docs").as_posix()
        folder = built_site.directory / ("" if src_uri == "index.md" else page.stem)
        html = (folder / "index.html").read_text(encoding="utf-8")
        name = hook.notebook_name(src_uri)
        link = re.search(rf'<a href="{re.escape(name)}" download title="([^"]*)"', html)
        if not link or "Jupyter notebook" not in link[1]:
            problems.append(f"{src_uri}: no download link to {name} with a title")
            continue
        downloaded = nbformat.read(folder / name, as_version=4)
        nbformat.validate(downloaded)
        if nbformat.writes(downloaded) != nbformat.writes(hook.page_notebook(page)):
            problems.append(f"{src_uri}: {name} differs from what page_notebook() makes of the page")
    assert not problems, "\n".join(problems)


def test_the_readme_installs_the_pinned_versions():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"^pip install (?!-)(.+)$", readme, re.MULTILINE)
    assert commands, "the README does not say what a reader installs"
    assert f"pip install {commands[0]}" == hook.install_command(), "the README's versions are not constraints.txt's"
