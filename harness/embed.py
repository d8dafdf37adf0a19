"""Expand `--8<--` includes in a Python fence with pymdownx.snippets itself, configured as in mkdocs.yml.

The build and the tests must execute the same bytes, so nothing here re-implements the include syntax: the
extension's own preprocessor expands each line. What this module adds is bookkeeping: a block is cut into
chunks at its include lines, and each chunk is compiled with the file and line numbers it came from, so a
traceback points at the `.md` line for code written in the page and at `snippets/x.py` for embedded code.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

import markdown
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.utils.yaml import get_yaml_loader, yaml_load
from pymdownx.snippets import SnippetMissingError

SNIPPETS_EXTENSION = "pymdownx.snippets"


class EmbedError(Exception):
    """An include that cannot be expanded: missing file or section, or a form the harness cannot map to lines."""


def load_mkdocs_yml(mkdocs_yml: Path) -> dict:
    """mkdocs.yml as written, its `!relative` and `!ENV` tags resolved as MkDocs does (plugins not loaded)."""
    config = MkDocsConfig(config_file_path=str(mkdocs_yml))
    with open(mkdocs_yml, encoding="utf-8") as file:
        return yaml_load(file, loader=get_yaml_loader(config=config))


def snippets_options(mkdocs_yml: Path) -> dict:
    """The pymdownx.snippets options of mkdocs.yml: the harness expands includes exactly as the build does."""
    for entry in load_mkdocs_yml(mkdocs_yml).get("markdown_extensions") or []:
        if entry == SNIPPETS_EXTENSION:
            return {}
        if isinstance(entry, dict) and SNIPPETS_EXTENSION in entry:
            return dict(entry[SNIPPETS_EXTENSION] or {})
    raise LookupError(f"{mkdocs_yml} does not enable {SNIPPETS_EXTENSION}")


@dataclass
class Chunk:
    """Consecutive lines of a block that come from one file, with their line numbers in that file."""

    lines: list[str]
    numbers: list[int]
    filename: str

    def compile(self) -> CodeType:
        source = "\n".join(self.lines) + "\n"
        try:
            tree = ast.parse(source, self.filename)
        except SyntaxError as error:  # report it at its line in the page or snippet file
            index = min(error.lineno or 1, len(self.lines)) - 1
            raise SyntaxError(
                error.msg, (self.filename, self.numbers[index], error.offset, self.lines[index])
            ) from None
        for node in ast.walk(tree):
            if hasattr(node, "lineno"):
                node.lineno = self.numbers[node.lineno - 1]
                node.end_lineno = self.numbers[(node.end_lineno or node.lineno) - 1]
        return compile(tree, self.filename, "exec", dont_inherit=True)


class Embedder:
    """Cuts a Python fence into chunks, expanding its `--8<--` lines exactly as the site build does."""

    def __init__(self, options: dict) -> None:
        md = markdown.Markdown(extensions=[SNIPPETS_EXTENSION], extension_configs={SNIPPETS_EXTENSION: options})
        self.preprocessor = md.preprocessors["snippet"]

    def chunks(self, lines: list[str], first_line: int, page: str) -> list[Chunk]:
        """Chunks of a block whose first line is line `first_line` of `page`."""
        chunks: list[Chunk] = []
        literal: list[tuple[int, str]] = []

        def flush_literal() -> None:
            if literal:
                numbers, text = zip(*literal)
                expanded = self._expand(list(text), page, numbers[0])
                if len(expanded) != len(text):
                    raise EmbedError(
                        f"{page}, line {numbers[0]}: in a python fence an include must be a whole line "
                        f'`--8<-- "file:section"` at column 0 (indented or block-style includes are not supported)'
                    )
                chunks.append(Chunk(expanded, list(numbers), page))
                literal.clear()

        for offset, line in enumerate(lines):
            number = first_line + offset
            match = self.preprocessor.RE_ALL_SNIPPETS.match(line)
            if match and match.group("inline_marker") and not match.group("escape") and not match.group("space"):
                flush_literal()
                chunks.append(self._include(line, match.group("snippet")[1:-1].strip(), page, number))
            else:
                literal.append((number, line))
        flush_literal()
        return chunks

    def _expand(self, lines: list[str], page: str, number: int) -> list[str]:
        try:
            return self.preprocessor.run(list(lines))
        except SnippetMissingError as error:
            raise EmbedError(f"{page}, line {number}: {lines[0].strip()}: {error}") from None

    def _include(self, line: str, spec: str, page: str, number: int) -> Chunk:
        expanded = self._expand([line], page, number)
        target = self.preprocessor.parse_snippet_target(spec)
        path = target and self.preprocessor.get_snippet_path(target["path"])
        if not path:  # only reachable when check_paths is off: the build silently drops the include too
            raise EmbedError(f"{page}, line {number}: snippet {spec!r} not found (set check_paths: true)")
        with open(path, encoding=self.preprocessor.encoding) as file:
            source_lines = file.read().split("\n")
        start = _selection_start(self.preprocessor, source_lines, target)
        return Chunk(expanded, _align(expanded, source_lines, start), os.path.abspath(path))


def _selection_start(preprocessor, source_lines: list[str], target: dict) -> int:
    """Index of the first line the include can take from the file: after its start marker, or its first range."""
    if target["section"]:
        for index, line in enumerate(source_lines):
            marker = preprocessor.match_section(line)
            if marker and marker.group("type") == "start" and marker.group("name") == target["section"]:
                return index + 1
    if target["start"] and target["start"][0] is not None and target["start"][0] >= 0:
        return target["start"][0]
    return 0


def _align(expanded: list[str], source_lines: list[str], start: int) -> list[int]:
    """Line numbers in the file of each expanded line: expansion only drops marker lines (and may dedent)."""
    numbers, index, last = [], start, start + 1
    for line in expanded:
        probe = index
        while probe < len(source_lines) and source_lines[probe].strip() != line.strip():
            probe += 1
        if probe < len(source_lines):
            last, index = probe + 1, probe + 1
        numbers.append(last)
    return numbers
