"""Build hook for the notebook pages (docs/notebooks/*.py, jupytext percent format), which mkdocs-jupyter
executes and renders. It adds what the plugin lacks:

- includes: a line `--8<-- "snippets/x.py:section"` at column 0 of a code cell is expanded as on Markdown pages
  (harness/embed.py, with mkdocs.yml's pymdownx.snippets options) before the plugin reads the notebook, so the
  page, its executed outputs, the `.py` copied for download and the `.ipynb` all hold the embedded code; a
  missing file or section fails the build naming the notebook's line;
- a download: the notebook as `.ipynb` beside its page, where overrides/main.html's button points (the plugin
  only copies the `.py`);
- a failing cell fails the build naming the line to fix, `docs/notebooks/x.py:LINE` (or the snippet's line, for
  embedded code), with its traceback mapped onto the sources (the plugin says `Cell In[2], line 9`); the time
  the notebook took is logged;
- alt text for figures, from their cell's metadata (`# %% alt="..."`); a figure without it is a warning, so the
  strict build fails (nbconvert writes "No description has been provided for this image");
- a light page: of the 575 KB of JupyterLab CSS the plugin inlines, only the rules that can match the page and
  the custom properties they use are kept;
- a quiet log: the kernel's connection is encrypted (jupyter/jupyter_config.json); over plain TCP, ipykernel
  writes a WARNING line into the build log.
"""

from __future__ import annotations

import html as markup
import logging
import os
import posixpath
import re
import resource
import shutil
import tempfile
import time
from pathlib import Path, PurePosixPath
from typing import NamedTuple

import jupytext
import tinycss2
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from nbclient.exceptions import CellExecutionError

from harness.embed import Embedder, EmbedError, snippets_options

log = logging.getLogger("mkdocs.hooks.notebooks")
ROOT = Path(__file__).resolve().parents[1]


def _is_notebook(file, config) -> bool:
    plugin = config.plugins.get("mkdocs-jupyter")
    return plugin is not None and plugin.should_include(file)


def _relative(path: str, config) -> str:
    return os.path.relpath(path, Path(config.config_file_path).parent)


# Encrypted kernel connection -----------------------------------------------------------------------------------

JUPYTER_CONFIG = str(Path(__file__).parent / "jupyter")


def on_config(config):
    import zmq

    paths = [path for path in os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if path]
    if zmq.has("curve") and JUPYTER_CONFIG not in paths:  # without CurveZMQ, "auto" is an error
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join([JUPYTER_CONFIG, *paths])
    return config


# Includes: the notebook as the plugin reads it -----------------------------------------------------------------

PERCENT_MARKER = re.compile(r"^# %%(?:\s|$)")


class Expanded(NamedTuple):
    """A notebook with its includes expanded: `path` is the copy the plugin reads and executes, `origins` the
    file and line each of its lines comes from (the notebook, or the snippet an include embedded)."""

    source: str  # the notebook as written
    path: str
    origins: list[tuple[str, int]]

    def where(self, line: int) -> str:
        """`file:line` of line `line` (1-based) of the expanded copy."""
        filename, number = self.origins[line - 1]
        return f"{filename}:{number}"


def expand_includes(source: str, embedder: Embedder, name: str) -> tuple[str, list[tuple[str, int]]]:
    """The text of the notebook at `source` with the includes of its code cells expanded, and the origin of each
    line. `name` is how messages call the notebook (its path from the repository root)."""
    lines = Path(source).read_text(encoding="utf-8").split("\n")
    starts = cell_lines(source)  # each cell's first content line, after its marker
    cells = jupytext.read(source).cells
    ends = [start - 1 for start in starts[1:]] + [len(lines) + 1]  # the line of the next marker
    out, origins = lines[: starts[0] - 1], [(name, number) for number in range(1, starts[0])]
    for cell, start, end in zip(cells, starts, ends):
        body = lines[start - 1 : end - 1]
        if cell.cell_type == "code":
            try:
                chunks = embedder.chunks(body, start, name)
            except EmbedError as error:
                raise PluginError(str(error)) from None
            for chunk in chunks:
                included = chunk.filename != name
                filename = _repository_relative(chunk.filename) if included else chunk.filename
                kept = len(chunk.lines)
                while included and kept and not chunk.lines[kept - 1].strip():
                    kept -= 1  # an included section ends at its last line of code, as on a Markdown page
                out += chunk.lines[:kept]
                origins += [(filename, number) for number in chunk.numbers[:kept]]
        else:
            out += body
            origins += [(name, number) for number in range(start, end)]
        if end <= len(lines):  # the next cell's marker
            out.append(lines[end - 1])
            origins.append((name, end))
    return "\n".join(out), origins


def _repository_relative(path: str) -> str:
    return os.path.relpath(path, ROOT) if Path(path).is_relative_to(ROOT) else path


_expanded: dict[str, Expanded] = {}  # src_uri -> the expanded copy, for this build
_workdir: str | None = None


def on_files(files, config):
    """Point each notebook page at a copy of it with its includes expanded (so the plugin executes, renders and
    copies that), and add `<name>.ipynb` next to it (where include_source puts `<name>.py`)."""
    global _workdir
    _cleanup()
    _workdir = tempfile.mkdtemp(prefix="primer-notebooks-")
    embedder = None
    for file in list(files):
        if not (_is_notebook(file, config) and file.src_uri.endswith(".py")):
            continue
        embedder = embedder or Embedder(snippets_options(Path(config.config_file_path)))
        source = file.abs_src_path
        text, origins = expand_includes(source, embedder, _relative(source, config))
        copy = Path(_workdir, file.src_uri)  # the same name and folders: the plugin's patterns still match
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(text, encoding="utf-8")
        file.abs_src_path = str(copy)
        _expanded[file.src_uri] = Expanded(source, str(copy), origins)
        notebook = jupytext.reads(text, fmt="py:percent")
        name = PurePosixPath(file.src_uri).stem + ".ipynb"
        uri = posixpath.join(posixpath.dirname(file.dest_uri), name)
        files.append(File.generated(config, uri, content=jupytext.writes(notebook, fmt="ipynb")))
    return files


def _cleanup():
    global _workdir
    if _workdir:
        shutil.rmtree(_workdir, ignore_errors=True)
    _workdir = None
    _expanded.clear()


def on_post_build(config):
    _cleanup()  # after on_post_page, where the plugin copied the expanded .py


def on_build_error(error):
    _cleanup()


# A failing cell names its file and line ------------------------------------------------------------------------

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")


def cell_lines(path: str) -> list[int]:
    """The 1-based line in the jupytext percent source where each cell's content starts, one per cell."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    markers = [number for number, line in enumerate(lines, start=1) if PERCENT_MARKER.match(line)]
    cells = jupytext.read(path).cells
    if len(markers) != len(cells):
        raise PluginError(f"{path}: every cell must start with a '# %%' line ({len(markers)} for {len(cells)} cells)")
    return [marker + 1 for marker in markers]


def describe_cell_error(error: BaseException, notebook: Expanded) -> str | None:
    """`docs/notebooks/x.py:LINE: ...` (or `snippets/x.py:LINE` for a line an include embedded), then the cell's
    traceback with each `Cell In[n], line k` mapped to the sources. None for an error that is not a cell's."""
    if not isinstance(error, CellExecutionError):
        return None
    cells = jupytext.read(notebook.path).cells
    # The kernel numbers executions 1, 2, ...: the code cells in order, less the empty ones nbclient skips.
    starts = [
        start
        for start, cell in zip(cell_lines(notebook.path), cells)
        if cell.cell_type == "code" and cell.source.strip()
    ]
    details = ANSI.sub("", error.traceback)
    frames = [(int(n), int(k)) for n, k in CELL_FRAME.findall(details)]
    if not frames or not all(1 <= n <= len(starts) for n, _ in frames):
        return None  # not this source's cells: leave the plugin's message as it is
    details = CELL_FRAME.sub(lambda match: notebook.where(starts[int(match[1]) - 1] + int(match[2]) - 1), details)
    execution, line = frames[0]  # the outermost frame: the cell that ran
    cell_start = starts[execution - 1]
    return (
        f"{notebook.where(cell_start + line - 1)}: the notebook cell starting at {notebook.where(cell_start)} "
        f"failed with {error.ename}: {error.evalue}\n{details.strip()}"
    )


# The line on_pre_page logs: read by tests/test_walkthrough.py (the budget) and bench/run.py.
TIME_LOGGED = re.compile(r"(\S+) executed and rendered in ([\d.]+) s \(([\d.]+) s of CPU, kernel included\)")


def _cpu_seconds() -> float:
    """CPU time of this thread (the render) and of this process's finished children (the kernel, once shut
    down): unlike the wall clock, it does not grow when other work shares the machine. Not the whole process:
    hooks/figures.py draws on another thread meanwhile."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.thread_time() + children.ru_utime + children.ru_stime


def on_pre_page(page, config, files):
    """Wrap the render mkdocs-jupyter installed: a failing cell names its line, and the time the notebook took
    is logged."""
    if not _is_notebook(page.file, config):
        return page
    render = page.render
    notebook = _expanded[page.file.src_uri]

    def render_naming_the_failing_line(config, files):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        try:
            render(config, files)
        except Exception as error:
            message = describe_cell_error(error, notebook)
            if message is None:
                raise
            raise PluginError(message) from error
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
        log.info(
            f"{_relative(notebook.source, config)} executed and rendered in {seconds:.1f} s "
            f"({cpu:.1f} s of CPU, kernel included)"
        )

    page.render = render_naming_the_failing_line
    return page


# Alt text for figures ------------------------------------------------------------------------------------------

NO_ALT = 'alt="No description has been provided for this image"'
CELL_START = re.compile(r'(?=<div class="jp-Cell [^"]*" id="cell-id=)')  # one per cell, code or markdown


def on_page_content(html, page, config, files):
    """Give each figure the alt text of its cell (`# %% alt="..."`); warn about figures without one."""
    if not _is_notebook(page.file, config):
        return html
    notebook = _expanded[page.file.src_uri]
    cells = jupytext.read(notebook.path).cells
    starts = cell_lines(notebook.path)
    head, *parts = CELL_START.split(html)
    if len(parts) != len(cells):
        log.warning(f"{page.file.src_uri}: {len(parts)} rendered cells for {len(cells)} in the source")
        return html
    for index, cell in enumerate(cells):
        if NO_ALT not in parts[index]:
            continue
        alt = cell.metadata.get("alt")
        if not alt:
            log.warning(
                f'{notebook.where(starts[index] - 1)}: this cell draws a figure: give it alt text with # %% alt="..."'
            )
            continue
        parts[index] = parts[index].replace(NO_ALT, f'alt="{markup.escape(alt)}"')
    return "".join([head, *parts])


# A light page: only the CSS that can apply ---------------------------------------------------------------------

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
VAR = re.compile(r"var\(\s*(--[\w-]+)")
NESTING = {"media", "supports"}


def _rules(css):
    return tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)


def _declarations(rule):
    items = tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True)
    return [item for item in items if item.type == "declaration"]


def _may_match(rule, classes: set[str]) -> bool:
    """False only when each selector of the rule needs a class that is nowhere on the page. Classes inside
    :not(), :is()... or [...] are not needed; Material's md-* classes count as present (its JavaScript adds
    some after load)."""
    selectors, needed, previous = [], set(), None
    for token in rule.prelude:  # top-level tokens: the arguments of :not() and [...] are nested in blocks
        if token == ",":
            selectors.append(needed)
            needed = set()
        elif token.type == "ident" and previous == ".":
            needed.add(token.value)
        previous = token
    selectors.append(needed)
    return any(all(name in classes or name.startswith("md-") for name in names) for names in selectors)


def _style_rules(rules):
    """The style rules among `rules`, and inside their @media and @supports."""
    for rule in rules:
        if rule.type == "qualified-rule":
            yield rule
        elif rule.type == "at-rule" and rule.lower_at_keyword in NESTING and rule.content is not None:
            yield from _style_rules(_rules(rule.content))


def _pruned(rules, keep_rule, keep_declaration) -> str:
    """`rules` as CSS text without the style rules and declarations refused, nor @font-face (the page's text
    uses Material's fonts, not JupyterLab's)."""
    out = []
    for rule in rules:
        if rule.type == "qualified-rule" and keep_rule(rule):
            body = ";".join(item.serialize() for item in _declarations(rule) if keep_declaration(item))
            if body:
                out.append(f"{tinycss2.serialize(rule.prelude).strip()}{{{body}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword in NESTING and rule.content is not None:
            inner = _pruned(_rules(rule.content), keep_rule, keep_declaration)
            if inner:
                out.append(f"@{rule.at_keyword}{tinycss2.serialize(rule.prelude)}{{{inner}}}")
        elif rule.type == "at-rule" and rule.lower_at_keyword != "font-face":
            out.append(rule.serialize())
    return "".join(out)


def prune_styles(html: str) -> str:
    """Drop the rules of the page's <style> blocks that cannot match it, then the custom properties (`--jp-...`)
    that nothing left uses, directly or through another custom property."""
    classes = {name for match in CLASS_ATTRIBUTE.finditer(html) for name in match[1].split()}
    styles = [
        _pruned(_rules(match[2]), lambda rule: _may_match(rule, classes), lambda item: True)
        for match in STYLE.finditer(html)
    ]
    used = set(VAR.findall(STYLE.sub("", html)))  # in style="..." attributes
    references: dict[str, set[str]] = {}  # custom property -> the custom properties its value uses
    for css in styles:
        for rule in _style_rules(_rules(css)):
            for item in _declarations(rule):
                found = set(VAR.findall(tinycss2.serialize(item.value)))
                if item.name.startswith("--"):
                    references.setdefault(item.name, set()).update(found)
                else:
                    used |= found
    new = used
    while new:
        new = {name for prop in new for name in references.get(prop, ())} - used
        used |= new

    def needed(item):
        return not item.name.startswith("--") or item.name in used

    pruned = iter([_pruned(_rules(css), lambda rule: True, needed) for css in styles])
    return STYLE.sub(lambda match: f"{match[1]}{next(pruned)}{match[3]}", html)


def on_post_page(output, page, config):
    if not _is_notebook(page.file, config):
        return output
    return prune_styles(output)
