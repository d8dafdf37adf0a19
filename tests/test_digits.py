"""The digits notebook (docs/notebooks/digits.py): a small CNN on scikit-learn's handwritten digits.

The strict site build (fixture `built_site`) executes the notebook once per test session, and its own cell
asserts the test accuracy, so a regression already fails the build. These tests check the page from the
outside, as tests/test_walkthrough.py does for the walkthrough: the accuracy it printed, its figure and alt
text, the download, its links; and the cells a reader copies, run as a plain program in an empty folder.
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
SOURCE = ROOT / "docs" / "notebooks" / "digits.py"
NAME = "docs/notebooks/digits.py"
PAGE = Path("notebooks") / "digits" / "index.html"
NBCONVERT_PLACEHOLDER_ALT = "No description has been provided for this image"
# What the notebook prints once, after every choice is made: the one figure to report.
TEST_ACCURACY = re.compile(r"test accuracy (\d\.\d{3}): (\d+) of (\d+) test images wrong")


EMBEDDER = Embedder(snippets_options(ROOT / "mkdocs.yml"))


def expanded() -> str:
    """The notebook as the build executes it and a reader downloads it: includes expanded."""
    text, _ = hook.expand_includes(str(SOURCE), EMBEDDER, NAME)
    return text


def code_cells():
    return [cell for cell in jupytext.reads(expanded(), fmt="py:percent").cells if cell.cell_type == "code"]


def text_of(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.fixture(scope="module")
def page(built_site) -> str:
    path = built_site.directory / PAGE
    assert path.exists(), f"{PAGE} was not built"
    return path.read_text(encoding="utf-8")


# What the build rendered ---------------------------------------------------------------------------------------


def test_the_page_reports_a_test_accuracy_of_at_least_97_percent_once(page):
    found = TEST_ACCURACY.findall(text_of(page))
    assert len(found) == 1, f"the test accuracy is reported once, not {len(found)} times"
    accuracy, wrong, total = float(found[0][0]), int(found[0][1]), int(found[0][2])
    assert accuracy >= 0.97
    assert total == 269 and accuracy == round(1 - wrong / total, 3)


def test_the_test_set_is_used_only_after_training():
    cells = [cell.source for cell in code_cells()]
    uses = [index for index, source in enumerate(cells) if re.search(r"\btest_(data|set|loader)\b", source)]
    training = next(index for index, source in enumerate(cells) if "train_one_epoch(model" in source)
    prepared, *after = uses  # the split and its transform, made with the other two sets
    assert after and prepared < training < min(after), "no cell between the split and the end of training reads it"


def test_the_page_shows_the_layer_shapes_the_training_and_the_confusion_matrix(page):
    text = text_of(page)
    for layer, shape in [
        ("input", "(1, 1, 8, 8)"),
        ("Conv2d", "(1, 16, 8, 8)"),
        ("MaxPool2d", "(1, 16, 4, 4)"),
        ("MaxPool2d", "(1, 32, 2, 2)"),
        ("Flatten", "(1, 128)"),
        ("Linear", "(1, 10)"),
    ]:
        assert re.search(rf"{layer} +{re.escape(shape)}", text), (layer, shape)
    assert re.search(r"epoch  1  training loss \d\.\d{3}  validation loss \d\.\d{3}  accuracy \d\.\d{3}", text)
    assert re.search(r"best weights from epoch \d+", text)
    rows = re.findall(r"\[\s*(\d+(?:,\s+\d+){9})\]", text)
    assert len(rows) == 10, "the 10 rows of the confusion matrix"
    counts = [[int(n) for n in row.split(",")] for row in rows]
    ((_, wrong, total),) = TEST_ACCURACY.findall(text)
    assert sum(map(sum, counts)) == int(total)
    assert sum(row[i] for i, row in enumerate(counts)) == int(total) - int(wrong)


def test_the_misclassified_digits_figure_has_its_cell_alt_text_at_100_dpi_or_more(page):
    import base64
    import io

    from PIL import Image

    images = re.findall(r"<img\b[^>]*>", page)
    figures = [tag for tag in images if 'src="data:image/png;base64,' in tag]
    alts = [unescape(re.search(r'alt="([^"]*)"', tag)[1]) for tag in figures]
    expected = [cell.metadata["alt"] for cell in code_cells() if "alt" in cell.metadata]
    assert len(expected) == 1 and alts == expected
    assert NBCONVERT_PLACEHOLDER_ALT not in page
    png = Image.open(io.BytesIO(base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', figures[0])[1])))
    assert min(png.info["dpi"]) >= 99.5, f"the figure is drawn at {png.info['dpi']} dpi"


def test_the_download_is_the_notebook_with_its_includes_expanded(built_site, page):
    match = re.search(r'<a href="([^"]+)" download[^>]*>', page)
    assert match and match[1] == "digits.ipynb"
    downloaded = nbformat.read(built_site.directory / PAGE.parent / match[1], as_version=4)
    nbformat.validate(downloaded)
    source = jupytext.reads(expanded(), fmt="py:percent")
    assert [(c.cell_type, c.source) for c in downloaded.cells] == [(c.cell_type, c.source) for c in source.cells]
    assert not any(cell.get("outputs") for cell in downloaded.cells), "the download is the source, not a run"
    assert not any("--8<--" in cell.source for cell in downloaded.cells), "an include left unexpanded"
    code = "\n".join(cell.source for cell in downloaded.cells if cell.cell_type == "code")
    for definition in (
        "class DigitsDataset(Dataset):",
        "def split_dataset(",
        "class Standardize:",
        "def train_one_epoch(",
        "def evaluate(",
        "class EarlyStopping:",
        "def save_checkpoint(",
        "def load_checkpoint(",
        "def confusion_matrix(",
    ):
        assert definition in code, f"{definition} is not written out in the download"


def test_the_notebook_embeds_shared_code_rather_than_copying_it():
    source = SOURCE.read_text(encoding="utf-8")
    includes = re.findall(r'^--8<-- "([^"]+)"$', source, re.MULTILINE)
    assert includes == [
        "snippets/data.py:digits_dataset",
        "snippets/data.py:split",
        "snippets/data.py:standardize",
        "snippets/training.py:train_one_epoch",
        "snippets/training.py:evaluate",
        "snippets/training.py:early_stopping",
        "snippets/training.py:checkpoint",
        "snippets/training.py:metrics",
    ]
    for definition in ("def train_one_epoch(", "def save_checkpoint(", "class DigitsDataset("):
        assert definition not in source


def test_relative_links_in_the_notebook_resolve(built_site, page):
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


def test_the_build_logs_how_long_the_notebook_took(built_site):
    # Reported by make bench; no test holds it to a figure (the training cell prints its own CPU time).
    times = {source: float(cpu) for source, _, cpu in hook.TIME_LOGGED.findall(built_site.log)}
    assert NAME in times, "the build log does not say how long the notebook took"


# The cells a reader copies -------------------------------------------------------------------------------------


def copied_program() -> str:
    return "\n\n".join(cell.source for cell in code_cells())


def test_code_cells_are_plain_python():
    tree = ast.parse(copied_program())  # a magic such as %matplotlib or !pip is a syntax error here
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"display", "get_ipython"}
    assert all(cell.source.strip() for cell in code_cells()), "an empty code cell"


# Runs a program as `python program.py` would, except that the repository's own packages cannot be imported even
# through the venv's editable install: a reader who downloads the notebook has none of them.
WITHOUT_THE_REPOSITORY = """
import runpy, sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"snippets", "harness", "hooks"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Refuse())
runpy.run_path(sys.argv[1], run_name="__main__")
"""


def test_code_cells_copied_into_a_file_run_in_a_fresh_python_without_the_repository(tmp_path):
    """What a reader who downloads or copies the cells gets: plain `python` in an empty folder, no Jupyter
    kernel, no inline figures (matplotlib's file backend), nothing from this repository. The notebook's own
    assert holds the accuracy."""
    program = tmp_path / "digits_copy.py"
    program.write_text(copied_program(), encoding="utf-8")
    process = subprocess.run(
        [sys.executable, "-I", "-c", WITHOUT_THE_REPOSITORY, program.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "MPLBACKEND": "Agg"},
        timeout=300,
        check=False,
    )
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    found = TEST_ACCURACY.findall(process.stdout)
    assert len(found) == 1 and float(found[0][0]) >= 0.97, process.stdout[-3000:]
    assert sorted(path.name for path in tmp_path.iterdir()) == [program.name], "it wrote outside its temporary folder"


def test_the_notebook_writes_only_into_its_temporary_folder():
    program = copied_program()
    assert "workdir = Path(tempfile.mkdtemp(" in program
    assert "shutil.rmtree(workdir)" in code_cells()[-1].source
    assert re.findall(r"checkpoint_path = (.+)", program) == ['workdir / "digits.pt"']


def test_every_cell_starts_with_a_percent_marker_so_errors_map_to_lines():
    starts = hook.cell_lines(str(SOURCE))
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    for start, cell in zip(starts, jupytext.read(SOURCE).cells):
        assert lines[start - 2].startswith("# %%")
        if cell.cell_type == "code":
            assert lines[start - 1] == cell.source.splitlines()[0]
