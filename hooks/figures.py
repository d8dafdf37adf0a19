"""Build hook: draw the figures of the pages from the snippets code at build time (nothing computed is committed).

docs/optimizers.md shows assets/figures/optimizer-race.svg: the loss curves of five optimizers on Rosenbrock's
function and on the two-spirals classifier, computed by snippets.optimizers.race, the function the page runs.
The SVG is deterministic (fixed hash salt, no date, text kept as text) so a rebuild changes it only when the
numbers change. `mkdocs serve` watches snippets/ and hooks/: the snippets modules are reloaded on each build so
an edit there redraws the figure.
"""

from __future__ import annotations

import importlib
import io
import tempfile
import threading
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: draw to a file

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from mkdocs.structure.files import File  # noqa: E402

RACE_FIGURE = "assets/figures/optimizer-race.svg"
TITLES = {"Rosenbrock": "Rosenbrock's function, from (-1.2, 1)", "two spirals": "MLP on two spirals, full batch"}
STYLE = {
    "svg.hashsalt": "pytorch-primer",  # ids in the SVG are derived from this, not drawn at random
    "svg.fonttype": "none",  # text stays text: no glyph outlines embedded, a much smaller file
    "font.family": "sans-serif",
    "font.size": 10,
}


def fresh(name):
    """Import a snippets module anew, so `mkdocs serve` picks up an edit without a restart."""
    return importlib.reload(importlib.import_module(name))


def race_curves():
    fresh("snippets.models")
    fresh("snippets.data")
    optimizers = fresh("snippets.optimizers")
    # The race computes in float64, so the curves are the page's on any processor and any number of threads.
    # One thread is still the faster choice for its small tensors, and leaves the other core to the notebook's
    # kernel, which runs meanwhile.
    # Both settings (the thread count here, the default dtype inside race()) are the whole process's, not this
    # thread's: harmless, as nothing else in the mkdocs process uses torch (the notebook runs in its kernel).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return optimizers.race()
    finally:
        torch.set_num_threads(threads)


def draw_race(curves) -> str:
    """The loss curves, one panel per problem, as SVG text."""
    with plt.rc_context(STYLE):
        figure, axes = plt.subplots(1, len(curves), figsize=(9, 3.6), layout="constrained")
        for ax, (problem, losses) in zip(axes, curves.items()):
            for name, curve in losses.items():
                ax.plot(range(1, len(curve) + 1), curve, label=name, linewidth=1.5)
            ax.set_yscale("log")
            ax.set_title(TITLES.get(problem, problem))
            ax.set_xlabel("step")
            ax.grid(True, which="major", alpha=0.3)
        axes[0].set_ylabel("loss (log scale)")
        axes[-1].legend(frameon=False)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg", metadata={"Date": None}, facecolor="white")
        plt.close(figure)
    return buffer.getvalue()


class Drawing(threading.Thread):
    """Draws the figure while MkDocs renders the pages (the notebook page runs its kernel meanwhile): it only
    has to be on disk when static files are copied, after on_env."""

    def __init__(self, path: Path) -> None:
        super().__init__(name="figures", daemon=True)
        self.path, self.error = path, None

    def run(self) -> None:
        try:
            self.path.write_text(draw_race(race_curves()), encoding="utf-8")
        except BaseException as error:  # re-raised by on_env, in the build's own thread
            self.error = error


_drawing: Drawing | None = None


def on_files(files, config):
    global _drawing
    _drawing = Drawing(Path(tempfile.mkdtemp(prefix="primer-figures-")) / Path(RACE_FIGURE).name)
    _drawing.start()
    files.append(File.generated(config, RACE_FIGURE, abs_src_path=str(_drawing.path)))
    return files


def on_env(env, config, files):
    _drawing.join()
    if _drawing.error is not None:
        raise _drawing.error
    return env


def on_post_build(config):
    _drawing.path.unlink(missing_ok=True)
    _drawing.path.parent.rmdir()
