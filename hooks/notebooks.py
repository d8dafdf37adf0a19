"""Build hook for the notebook pages (docs/notebooks/*.py, jupytext percent format), which the mkdocs-jupyter
plugin executes and renders. It adds what the plugin lacks:

- a download: each notebook is converted with jupytext into a `.ipynb` written beside its page, where the
  button of overrides/main.html points (mkdocs-jupyter itself only copies the `.py` source);
- a failing cell fails the build naming the file and line to fix, `docs/notebooks/x.py:LINE`, with the cell's
  traceback mapped onto the `.py` source (the plugin reports the cell's code and `Cell In[2], line 9`);
- alt text for figures, taken from their cell's metadata (`# %% alt="..."` in the `.py`); a figure without it
  is a build warning, so the strict build fails (nbconvert writes "No description has been provided");
- a page of reasonable weight: the plugin inlines all of JupyterLab's CSS (575 KB) into every notebook page;
  only the rules that can match the page, and the custom properties those rules use, are kept;
- a quiet build log: the kernel connection is encrypted when the kernel supports it (ipykernel otherwise
  prints a WARNING line, "Kernel is running over TCP without encryption", into the build log).
"""

from __future__ import annotations

import json
import logging
import os
import posixpath
import re
import resource
import tempfile
import time
from pathlib import Path, PurePosixPath

import jupytext
import tinycss2
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.notebooks")

ANSI = re.compile(r"\x1b\[[0-9;]*m")
CELL_FRAME = re.compile(r"Cell In\[(\d+)\], line (\d+)")
NO_ALT = 'alt="No description has been provided for this image"'
CELL_START = re.compile(r'(?=<div class="jp-Cell [^"]*" id="cell-id=)')  # one per cell, code or markdown
PERCENT_MARKER = re.compile(r"^# %%(?:\s|$)")


def _plugin(config):
    return config.plugins.get("mkdocs-jupyter")


def _is_notebook(file, config) -> bool:
    plugin = _plugin(config)
    return plugin is not None and plugin.should_include(file)


def _relative(path: str, config) -> str:
    root = Path(config.config_file_path).parent
    return os.path.relpath(path, root)


# Quiet, encrypted kernel connection ------------------------------------------------------------------------

_jupyter_config_dir: str | None = None


def on_config(config):
    """Let nbconvert's kernel manager provision CurveZMQ keys for kernels that declare support for them."""
    global _jupyter_config_dir
    import zmq

    if _jupyter_config_dir is None and zmq.has("curve"):
        _jupyter_config_dir = tempfile.mkdtemp(prefix="primer-jupyter-config-")
        settings = {"KernelManager": {"transport_encryption": "auto"}}
        Path(_jupyter_config_dir, "jupyter_config.json").write_text(json.dumps(settings), encoding="utf-8")
        paths = [_jupyter_config_dir, *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(paths)
    return config


def on_shutdown():
    if _jupyter_config_dir:
        Path(_jupyter_config_dir, "jupyter_config.json").unlink(missing_ok=True)
        os.rmdir(_jupyter_config_dir)


# Download: the .ipynb beside the page ----------------------------------------------------------------------


def on_files(files, config):
    """Add `<name>.ipynb` next to each notebook page (where include_source puts `<name>.py`)."""
    for file in list(files):
        if _is_notebook(file, config) and file.src_uri.endswith(".py"):
            notebook = jupytext.read(file.abs_src_path)
            name = PurePosixPath(file.src_uri).stem + ".ipynb"
            uri = posixpath.join(posixpath.dirname(file.dest_uri), name)
            files.append(File.generated(config, uri, content=jupytext.writes(notebook, fmt="ipynb")))
    return files


# A failing cell names its file and line ---------------------------------------------------------------------


def cell_lines(path: str) -> list[int]:
    """The 1-based line in the jupytext percent source where each cell's content starts, one per cell."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    markers = [number for number, line in enumerate(lines, start=1) if PERCENT_MARKER.match(line)]
    cells = jupytext.read(path).cells
    if len(markers) != len(cells):
        raise PluginError(f"{path}: every cell must start with a '# %%' line ({len(markers)} for {len(cells)} cells)")
    return [marker + 1 for marker in markers]


def failing_cell_index(error: BaseException) -> int | None:
    """The index of the cell nbclient was executing when `error` was raised (from nbclient's own frames)."""
    traceback = error.__traceback__
    index = None
    while traceback is not None:
        frame_locals = traceback.tb_frame.f_locals
        if traceback.tb_frame.f_code.co_name == "async_execute_cell" and "cell_index" in frame_locals:
            index = frame_locals["cell_index"]
        traceback = traceback.tb_next
    return index


def describe_cell_error(error: BaseException, path: str, config) -> str | None:
    """`docs/notebooks/x.py:LINE: ...` and the cell's traceback with `Cell In[n], line k` mapped to the source."""
    index = failing_cell_index(error)
    if index is None:
        return None
    starts = cell_lines(path)
    cells = jupytext.read(path).cells
    # The kernel numbers executions 1, 2, ...; nbclient skips markdown and empty code cells.
    executed = [i for i, cell in enumerate(cells) if cell.cell_type == "code" and cell.source.strip()]
    source = _relative(path, config)

    def location(execution: int, line: int) -> str:
        if 1 <= execution <= len(executed):
            return f"{source}:{starts[executed[execution - 1]] + line - 1}"
        return f"Cell In[{execution}], line {line}"

    details = ANSI.sub("", getattr(error, "traceback", None) or str(error))
    frames = CELL_FRAME.findall(details)
    line = starts[index] + int(frames[0][1]) - 1 if frames else starts[index]
    details = CELL_FRAME.sub(lambda match: location(int(match[1]), int(match[2])), details)
    kind = f"{error.ename}: {error.evalue}" if hasattr(error, "ename") else type(error).__name__
    return (
        f"{source}:{line}: the notebook cell starting at line {starts[index]} failed with {kind}\n"
        f"{details.strip()}"
    )


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the notebook's kernel, once shut down): unlike
    the wall clock, it does not grow when other work shares the machine."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def on_pre_page(page, config, files):
    """Wrap the render that mkdocs-jupyter installed: a failing cell names its line in the source, and the
    time the notebook took is logged (tests/test_walkthrough.py holds it to its budget)."""
    if not _is_notebook(page.file, config):
        return page
    render = page.render

    def render_naming_the_failing_line(config, files):
        started, cpu_started = time.perf_counter(), _cpu_seconds()
        try:
            render(config, files)
        except Exception as error:
            message = describe_cell_error(error, page.file.abs_src_path, config)
            if message is None:
                raise
            raise PluginError(message) from error
        seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
        log.info(f"{_relative(page.file.abs_src_path, config)} executed and rendered in {seconds:.1f} s "
                 f"({cpu:.1f} s of CPU, kernel included)")

    page.render = render_naming_the_failing_line
    return page


# Alt text for figures -----------------------------------------------------------------------------------------


def on_page_content(html, page, config, files):
    """Give each figure the alt text of its cell (`# %% alt="..."`); warn about figures without one."""
    if not _is_notebook(page.file, config):
        return html
    cells = jupytext.read(page.file.abs_src_path).cells
    starts = cell_lines(page.file.abs_src_path)
    head, *parts = CELL_START.split(html)
    if len(parts) != len(cells):
        log.warning(f"{page.file.src_uri}: {len(parts)} rendered cells for {len(cells)} in the source")
        return html
    for index, cell in enumerate(cells):
        if NO_ALT not in parts[index]:
            continue
        alt = cell.metadata.get("alt")
        if not alt:
            where = f"{_relative(page.file.abs_src_path, config)}:{starts[index] - 1}"
            log.warning(f'{where}: this cell draws a figure: give it alt text with # %% alt="..."')
            continue
        escaped = alt.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
        parts[index] = parts[index].replace(NO_ALT, f'alt="{escaped}"')
    return "".join([head, *parts])


# Page weight: keep the CSS rules that can match -----------------------------------------------------------------

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTRIBUTE = re.compile(r'class="([^"]*)"')
FUNCTIONAL_PSEUDO = re.compile(r":(?:not|is|where|has|matches|-webkit-any|-moz-any)\(")
ATTRIBUTE_SELECTOR = re.compile(r"\[[^\]]*\]")
CLASS_SELECTOR = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
VAR = re.compile(r"var\(\s*(--[\w-]+)")
BLOCK_AT_RULES = {"media", "supports"}


def _without_functional_pseudo_classes(selector: str) -> str:
    """`a:not(.x) .y` -> `a .y`: classes inside :not(), :is()... do not have to be on the page."""
    pieces, position = [], 0
    while match := FUNCTIONAL_PSEUDO.search(selector, position):
        pieces.append(selector[position:match.start()])
        depth, position = 1, match.end()
        while depth and position < len(selector):
            depth += {"(": 1, ")": -1}.get(selector[position], 0)
            position += 1
    pieces.append(selector[position:])
    return "".join(pieces)


def _may_match(selector: str, classes: set[str]) -> bool:
    """False only when the selector needs a class that appears nowhere on the page. Material's own classes
    (md-*) are always assumed present: its JavaScript adds some of them after load."""
    needed = CLASS_SELECTOR.findall(ATTRIBUTE_SELECTOR.sub("", _without_functional_pseudo_classes(selector)))
    return all(name in classes or name.startswith("md-") for name in needed)


def _parse(css: str):
    return tinycss2.parse_stylesheet(css, skip_comments=True, skip_whitespace=True)


def _declarations(rule):
    return [
        item for item in tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True)
        if item.type == "declaration"
    ]


def _matching_rules(rules, classes):
    """The rules (recursing into @media and @supports) with a selector that may match the page."""
    kept = []
    for rule in rules:
        if rule.type == "qualified-rule":
            if any(_may_match(part, classes) for part in tinycss2.serialize(rule.prelude).split(",")):
                kept.append(rule)
        elif rule.type == "at-rule" and rule.lower_at_keyword in BLOCK_AT_RULES and rule.content is not None:
            inner = _matching_rules(tinycss2.parse_rule_list(rule.content, skip_comments=True,
                                                             skip_whitespace=True), classes)
            if inner:
                kept.append((rule, inner))
        elif rule.type == "at-rule" and rule.lower_at_keyword != "font-face":
            kept.append(rule)
    return kept


def _qualified(kept):
    for item in kept:
        if isinstance(item, tuple):
            yield from _qualified(item[1])
        elif item.type == "qualified-rule":
            yield item


def _serialize(kept, used_properties):
    out = []
    for item in kept:
        if isinstance(item, tuple):
            inner = _serialize(item[1], used_properties)
            if inner:
                out.append(f"@{item[0].at_keyword}{tinycss2.serialize(item[0].prelude)}{{{inner}}}")
        elif item.type == "qualified-rule":
            declarations = [d for d in _declarations(item) if not d.name.startswith("--") or d.name in used_properties]
            if declarations:
                body = ";".join(d.serialize() for d in declarations)
                out.append(f"{tinycss2.serialize(item.prelude).strip()}{{{body}}}")
        else:
            out.append(item.serialize())
    return "".join(out)


def prune_styles(html: str) -> str:
    """Drop the CSS rules of the page's <style> blocks that cannot match it, then the custom properties
    (`--jp-...`) that no remaining declaration uses, directly or through another custom property."""
    classes = {name for match in CLASS_ATTRIBUTE.finditer(html) for name in match[1].split()}
    blocks = [_matching_rules(_parse(match[2]), classes) for match in STYLE.finditer(html)]
    definitions: dict[str, list[str]] = {}
    outside_styles = STYLE.sub("", html)
    used = set(VAR.findall(outside_styles))  # inline style="..." attributes
    for kept in blocks:
        for rule in _qualified(kept):
            for declaration in _declarations(rule):
                value = tinycss2.serialize(declaration.value)
                if declaration.name.startswith("--"):
                    definitions.setdefault(declaration.name, []).append(value)
                else:
                    used.update(VAR.findall(value))
    frontier = set(used)
    while frontier:
        found = {name for prop in frontier for value in definitions.get(prop, []) for name in VAR.findall(value)}
        frontier = found - used
        used |= found
    pruned = iter(_serialize(kept, used) for kept in blocks)
    return STYLE.sub(lambda match: f"{match[1]}{next(pruned)}{match[3]}", html)


def on_post_page(output, page, config):
    if not _is_notebook(page.file, config):
        return output
    return prune_styles(output)
