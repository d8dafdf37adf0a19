"""The walkthrough notebook (docs/notebooks/walkthrough.py) and the build hook behind notebook pages
(hooks/notebooks.py).

The notebook is executed once per test session, by the strict site build (fixture `built_site`): these tests
read what that execution rendered instead of running it a second time. Its own cells assert the accuracy, so a
regression already fails the build; here the page is checked from the outside: the printed accuracy, the
figures and their alt text, the download, the links, the weight and the time it took.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import jupytext
import nbformat
import pytest

from harness.embed import Embedder, snippets_options
from hooks import notebooks as hook

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "docs" / "notebooks" / "walkthrough.py"
PAGE = Path("notebooks") / "walkthrough" / "index.html"
HTML_BUDGET = 250_000  # bytes of the page itself; with Material's assets a first visit stays near 500 KB
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"


EMBEDDER = Embedder(snippets_options(ROOT / "mkdocs.yml"))


def expanded(path: Path = SOURCE, name: str = "docs/notebooks/walkthrough.py"):
    """The notebook's text with its includes expanded, as the build executes it, and each line's origin."""
    return hook.expand_includes(str(path), EMBEDDER, name)


@pytest.fixture(scope="module")
def page(built_site) -> str:
    path = built_site.directory / PAGE
    assert path.exists(), f"{PAGE} was not built"
    return path.read_text(encoding="utf-8")


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


def code_cells():
    """The code cells as the build executes them and a reader downloads them: includes expanded."""
    text, _ = expanded()
    return [cell for cell in jupytext.reads(text, fmt="py:percent").cells if cell.cell_type == "code"]


# What the build rendered ---------------------------------------------------------------------------------------


def test_the_page_shows_the_accuracy_it_asserted(page):
    found = re.findall(r"validation accuracy (\d\.\d{3})", text_of(page))
    assert found, "the page does not show the best checkpoint's validation accuracy"
    assert float(found[-1]) >= 0.97


def test_the_page_shows_training_and_tensorboard_output(page):
    text = text_of(page)
    assert re.search(r"epoch 40 .* val accuracy \d\.\d{3}", text)
    for tag in ("accuracy/validation", "learning_rate", "loss/train", "loss/validation"):
        assert f"{tag}: 40 values" in text


def test_figures_are_inline_with_the_alt_text_of_their_cell(page):
    images = re.findall(r"<img\b[^>]*>", page)
    figures = [tag for tag in images if 'src="data:image/png;base64,' in tag]
    alts = [unescape(re.search(r'alt="([^"]*)"', tag)[1]) for tag in figures]
    expected = [cell.metadata["alt"] for cell in code_cells() if "alt" in cell.metadata]
    assert len(expected) == 2, "the loss curves and the decision boundary"
    assert alts == expected
    assert NBCONVERT_PLACEHOLDER_ALT not in page


def test_the_download_button_points_at_a_notebook_of_the_same_cells(built_site, page):
    match = re.search(r'<a href="([^"]+)" download[^>]*>', page)
    assert match, "no download link on the page"
    assert match[1] == "walkthrough.ipynb"
    assert "Jupyter notebook" in match[0], "the icon-only link needs a title for screen readers"
    downloaded = nbformat.read(built_site.directory / PAGE.parent / match[1], as_version=4)
    nbformat.validate(downloaded)
    assert downloaded.metadata.kernelspec.name == "python3"
    source = jupytext.reads(expanded()[0], fmt="py:percent")
    assert [(c.cell_type, c.source) for c in downloaded.cells] == [(c.cell_type, c.source) for c in source.cells]
    assert not any(cell.get("outputs") for cell in downloaded.cells), "the download is the source, not a run"
    assert not any("--8<--" in cell.source for cell in downloaded.cells), "an include left unexpanded"


def test_the_copied_source_has_its_includes_expanded(built_site, page):
    copied = (built_site.directory / PAGE.parent / "walkthrough.py").read_text(encoding="utf-8")
    assert copied == expanded()[0]
    assert "--8<--" in SOURCE.read_text(encoding="utf-8"), "the walkthrough embeds its shared code"
    assert "--8<--" not in copied and "--8<--" not in text_of(page)
    assert "def two_spirals(" in text_of(page) and "class MLP(nn.Module):" in text_of(page)


def test_relative_links_in_the_notebook_resolve(built_site, page):
    # MkDocs checks links in Markdown pages only; the notebook's HTML comes from nbconvert, unchecked.
    broken = []
    for href in re.findall(r'<a\b[^>]*href="([^"#]+)(?:#[^"]*)?"', page):
        parts = urlsplit(href)
        if parts.scheme or parts.netloc or href.startswith("/"):
            continue
        target = (built_site.directory / PAGE.parent / parts.path).resolve()
        if target.is_dir():
            target = target / "index.html"
        if not target.exists():
            broken.append(href)
    assert not broken, f"links from the notebook to nowhere: {broken}"


def test_the_page_stays_light(page):
    # tests/test_site.py weighs every page's first visit in a browser, assets included; this is the part the
    # notebook controls: its figures (modest PNGs) and JupyterLab's CSS, pruned by hooks/notebooks.py.
    styles = sum(len(css) for css in re.findall(r"<style[^>]*>(.*?)</style>", page, re.S))
    figures = sum(len(tag) for tag in re.findall(r'<img\b[^>]*src="data:[^>]*>', page))
    assert styles < 40_000, f"{styles} bytes of inline CSS: is JupyterLab's stylesheet pruned?"
    assert figures < 80_000, f"{figures} bytes of inline figures"
    assert len(page.encode()) < HTML_BUDGET, f"the notebook page's HTML weighs {len(page.encode())} bytes"


def test_the_build_logs_how_long_the_notebook_took(built_site):
    # Reported by make bench against its budget; a test holding a shared machine to a figure fails by chance.
    times = {source: float(cpu) for source, _, cpu in hook.TIME_LOGGED.findall(built_site.log)}
    assert "docs/notebooks/walkthrough.py" in times, "the build log does not say how long the notebook took"


def test_the_build_wrote_nothing_into_the_checkout():
    for leftover in ("runs", "best.pt", "walkthrough.ipynb"):
        assert not (ROOT / leftover).exists(), f"{leftover} in the repository root"


# The cells a reader copies -------------------------------------------------------------------------------------


def copied_program() -> str:
    """The code cells, copied one after the other into a file."""
    return "\n\n".join(cell.source for cell in code_cells())


def test_code_cells_are_plain_python():
    """No IPython-only syntax (magics, `!shell`, top-level await, display()): the cells, copied one after the
    other into a file, are one valid program."""
    cells = code_cells()
    tree = ast.parse(copied_program())  # a magic such as %matplotlib or !pip is a syntax error here
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"display", "get_ipython"}
    assert not any(isinstance(node, ast.Await) for node in ast.walk(tree))
    assert all(cell.source.strip() for cell in cells), "an empty code cell"


def test_code_cells_copied_into_a_file_run_in_a_fresh_python(tmp_path):
    """What a reader who copies the cells in order gets: plain `python`, no Jupyter kernel, no inline figures
    (matplotlib's file backend), in an empty folder. The notebook's own assert holds the accuracy."""
    program = tmp_path / "walkthrough_copy.py"
    program.write_text(copied_program(), encoding="utf-8")
    process = subprocess.run(
        [sys.executable, str(program)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=120,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    found = re.findall(r"validation accuracy (\d\.\d{3})", process.stdout)
    assert found and float(found[-1]) >= 0.97, process.stdout[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == [program.name], "it wrote outside its temporary folder"


def test_the_notebook_writes_only_into_its_temporary_folder():
    program = copied_program()
    assert "workdir = Path(tempfile.mkdtemp(" in program
    assert "shutil.rmtree(workdir)" in code_cells()[-1].source
    for target in re.findall(r"(?:log_dir|best_path) = (.+)", program):
        assert target.startswith("workdir /"), target


def test_every_cell_starts_with_a_percent_marker_so_errors_map_to_lines():
    starts = hook.cell_lines(str(SOURCE))
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    for start, cell in zip(starts, jupytext.read(SOURCE).cells):
        assert lines[start - 2].startswith("# %%")
        if cell.cell_type == "code":
            assert lines[start - 1] == cell.source.splitlines()[0]


# The hook's pieces, on small inputs -----------------------------------------------------------------------------


NOTEBOOK = """\
# %% [markdown]
# # Title

# %%
x = 1

# %%
def f():
    return 1 / 0


# %%
y = 2
f()
"""


def notebook_in(tmp_path, text: str, name: str = "nb.py"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    source, origins = hook.expand_includes(str(path), EMBEDDER, name)
    copy = tmp_path / "expanded" / name
    copy.parent.mkdir()
    copy.write_text(source, encoding="utf-8")
    return hook.Expanded(str(path), str(copy), origins)


def ipython_traceback(*frames: str) -> str:
    """What IPython prints for an error in a cell, colours included: `frames` are `Cell In[n], line k` lines."""
    return (
        "\x1b[31mZeroDivisionError\x1b[39m Traceback (most recent call last)\n"
        + "".join(f"\x1b[36m{frame}\x1b[39m\n----> code\n" for frame in frames)
        + "ZeroDivisionError: division by zero"
    )


def test_a_failing_cell_is_reported_at_its_line_in_the_source(tmp_path):
    from nbclient.exceptions import CellExecutionError

    notebook = notebook_in(tmp_path, NOTEBOOK)
    # The cell that ran first (execution 3: the third non-empty code cell), then the function it called.
    traceback = ipython_traceback("Cell In[3], line 2", "Cell In[2], line 2, in f()")
    error = CellExecutionError(traceback, "ZeroDivisionError", "division by zero")
    message = hook.describe_cell_error(error, notebook)
    first, *rest = message.splitlines()
    assert first == "nb.py:14: the notebook cell starting at nb.py:13 failed with ZeroDivisionError: division by zero"
    assert "nb.py:14\n" in message  # the cell's frame
    assert "nb.py:9, in f()" in message  # the function it called, defined in another cell
    assert "\x1b[" not in message


INCLUDING = """\
# %% [markdown]
# # Title

# %%
import torch
--8<-- "snippets/spirals.py:two_spirals"

# %%
inputs, labels = two_spirals(n_per_class=3)
print(inputs.shape)
"""


def test_an_include_is_expanded_with_the_lines_it_came_from(tmp_path):
    notebook = notebook_in(tmp_path, INCLUDING)
    text = Path(notebook.path).read_text(encoding="utf-8")
    spirals = (ROOT / "snippets" / "spirals.py").read_text(encoding="utf-8").splitlines()
    assert "--8<--" not in text
    cells = jupytext.reads(text, fmt="py:percent").cells
    assert [cell.cell_type for cell in cells] == ["markdown", "code", "code"], "the include added no cell"
    lines = text.split("\n")
    definition = lines.index("def two_spirals(n_per_class=500, noise=0.1, seed=0):") + 1
    assert notebook.where(definition) == f"snippets/spirals.py:{spirals.index(lines[definition - 1]) + 1}"
    assert notebook.where(lines.index("import torch") + 1) == "nb.py:5"
    assert notebook.where(lines.index("inputs, labels = two_spirals(n_per_class=3)") + 1) == "nb.py:9"


def test_an_error_in_embedded_code_names_the_snippet_line_and_the_notebook_cell(tmp_path):
    from nbclient.exceptions import CellExecutionError

    notebook = notebook_in(tmp_path, INCLUDING)
    # Cell 1 is the include's: its line 2 is the import, its line 7 the def (after 2 blank lines and `import`)
    expanded_cell = jupytext.reads(Path(notebook.path).read_text(encoding="utf-8"), fmt="py:percent").cells[1]
    line_of_def = expanded_cell.source.splitlines().index("def two_spirals(n_per_class=500, noise=0.1, seed=0):")
    error = CellExecutionError(ipython_traceback(f"Cell In[1], line {line_of_def + 2}"), "ZeroDivisionError", "x")
    message = hook.describe_cell_error(error, notebook)
    spirals = (ROOT / "snippets" / "spirals.py").read_text(encoding="utf-8").splitlines()
    body_line = spirals.index(expanded_cell.source.splitlines()[line_of_def + 1]) + 1
    assert message.startswith(f"snippets/spirals.py:{body_line}: the notebook cell starting at nb.py:5 failed")


def test_a_missing_section_fails_naming_the_notebook_line(tmp_path):
    from mkdocs.exceptions import PluginError

    with pytest.raises(PluginError, match=r"^nb\.py, line 6: .*snippets/spirals\.py:nowhere.*could not be located"):
        notebook_in(tmp_path, INCLUDING.replace("spirals.py:two_spirals", "spirals.py:nowhere"))
    (tmp_path / "b").mkdir()
    with pytest.raises(PluginError, match=r"^nb\.py, line 6: .*snippets/nothing\.py"):
        notebook_in(tmp_path / "b", INCLUDING.replace("spirals.py:two_spirals", "nothing.py:x"))


def test_an_error_outside_a_cell_is_left_alone():
    assert hook.describe_cell_error(RuntimeError("kernel died"), None) is None


def test_pruning_keeps_the_rules_and_properties_the_page_can_use():
    html = (
        "<style>:root{--used: 1px; --chained: var(--used); --unused: 2px}"
        ".a{margin: var(--chained)} .absent{color: red} .a:not(.absent){padding: 0}"
        ".md-typeset__scrollwrap{overflow: auto} p{color: blue}"
        ".absent, .a>p{border: 0} .a :is(.a, p) .gone{border: 1px}"
        "@media (max-width: 10px){.absent{color: red} .a{color: green}}"
        "@font-face{font-family: x; src: url(data:font/woff2;base64,AAAA)}</style>"
        '<div class="a"><p>text</p></div>'
    )
    css = re.search(r"<style>(.*)</style>", hook.prune_styles(html), re.S)[1]
    assert "--used" in css and "--chained" in css and "--unused" not in css
    assert ".absent{" not in css and ".a:not(.absent)" in css
    assert ".md-typeset__scrollwrap" in css  # Material adds these classes from JavaScript
    assert ".absent, .a>p{" in css, "one selector of a list that can match keeps the rule"
    assert ".gone" not in css, "a comma inside :is() does not split the selector"
    assert "p{color: blue}" in css and ".a{color: green}" in css and "@media" in css
    assert "font-face" not in css
