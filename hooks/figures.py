"""Build hook: draw the pages' figures from the snippets code at build time (nothing computed is committed).

A figure is a function of a snippets module named `figure_<name>`, taking no argument and returning a
Matplotlib figure; the build writes it to `assets/figures/<module>/<name>.svg`, where the page's image points
(`snippets/optimizers.py: figure_race` is `assets/figures/optimizers/race.svg`). The SVG is deterministic
(fixed hash salt, no date, text kept as text), so a rebuild changes it only when the numbers change.
`mkdocs serve` watches snippets/: the modules are reloaded on each build, so an edit there redraws its figure.
"""

from __future__ import annotations

import importlib
import inspect
import io
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: draw to a file

import matplotlib.pyplot as plt  # noqa: E402 - the backend is chosen first
from mkdocs.structure.files import File  # noqa: E402 - after the backend, with the other imports

FIGURES = "assets/figures"
PREFIX = "figure_"
STYLE = {
    "svg.hashsalt": "pytorch-primer",  # ids in the SVG are derived from this, not drawn at random
    "svg.fonttype": "none",  # text stays text: no glyph outlines embedded, a much smaller file
    "font.family": "sans-serif",
    "font.size": 10,
}


def figure_functions(root: Path) -> dict[str, Callable]:
    """`assets/figures/<module>/<name>.svg` -> the snippets function that draws it, for every module."""
    found = {}
    for path in sorted((root / "snippets").glob("*.py")):
        if path.stem == "__init__":
            continue
        module = importlib.reload(importlib.import_module(f"snippets.{path.stem}"))
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if name.startswith(PREFIX) and function.__module__ == module.__name__:
                found[f"{FIGURES}/{path.stem}/{name.removeprefix(PREFIX)}.svg"] = function
    return found


def svg(draw: Callable) -> str:
    """What `draw()` draws, as SVG text, in the guide's style."""
    with plt.rc_context(STYLE):
        figure = draw()
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
        plt.close(figure)
    return buffer.getvalue()


def on_files(files, config):
    root = Path(config.config_file_path).parent
    for uri, draw in figure_functions(root).items():
        files.append(File.generated(config, uri, content=svg(draw)))
    return files
