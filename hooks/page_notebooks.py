"""Build hook: every Markdown page also downloads as a Jupyter notebook, `<page>.ipynb` beside the page, linked at
the top of the page next to the edit button (overrides/partials/actions.html).

The notebook is made from the page's own blocks, as the doc-test harness reads them (harness/pages.py and the
modules it uses: fences, includes, variants, files and commands), in page order, so a notebook runs exactly
what the page's tests run:

- prose becomes Markdown cells: admonitions as quotes under their title, content tabs under their label,
  links to other pages and figures made absolute (a notebook has no site around it);
- a Python block becomes a code cell, includes expanded; a `>>>` block becomes one cell per example, as a
  prompt runs them (a bare expression shows its value); a fence titled with a file name becomes a
  `%%writefile` cell, a ```console block a `%%bash` cell;
- each cell carries, as its outputs, what the page shows for it (its ```output fence, the `>>>` answers, an
  expected exception, whose cell is tagged `raises-exception` so that running on goes on);
- content tabs that show what each kind of install prints: the cells are the tab of the environment the
  notebook is made in (the build's: the versions pinned in constraints.txt), the other tabs are shown as
  text, as the page shows them, so the notebook runs top to bottom and the reader still sees every variant;
- blocks the page skips under a condition (`<!-- skip: start if(not torch.cuda.is_available(), ...) -->`) are
  cells under `if <the condition to run>:`, with a note, so the notebook runs anywhere and does the GPU's part
  where there is one; a block skipped unconditionally is shown as text.

tests/test_notebooks.py executes every notebook in a fresh kernel without the repository.
"""

from __future__ import annotations

import ast
import doctest
import functools
import io
import posixpath
import re
import tokenize
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import nbformat
from mkdocs.structure.files import File
from sybil import Document

from harness.commands import CONSOLE_LANGUAGE
from harness.embed import Embedder, load_mkdocs_yml, snippets_options
from harness.fences import fenced_blocks
from harness.pages import (
    CodeBlock,
    ExplainedSkipParser,
    FileBlock,
    OutputBlock,
    PageParser,
    run_commands,
)
from harness.variants import TAB, Variants, describe, environment

ROOT = Path(__file__).resolve().parents[1]
# What a reader installs: the project's own dependencies, at the versions the site was checked with.
CONSTRAINTS = "constraints.txt"
ADMONITION = re.compile(r'^(?P<indent> *)(?:!!!|\?\?\?\+?) *(?P<kind>[\w-]+)(?: +"(?P<title>[^"]*)")? *$')
HTML_DIV = re.compile(r"^ *(?:<div\b[^>]*\bmarkdown\b[^>]*>|</div>) *$")  # md_in_html wrappers
LINK = re.compile(r"(\]\()(?P<target>[^)\s]+)(\))")
SKIP_CONDITION = re.compile(r"^if\((?P<rest>.*)\)$", re.DOTALL)
TAGS = "tags"
RAISES = "raises-exception"  # nbclient and JupyterLab run on past a cell with this tag that raises


# IPython shows a value with its own pretty-printer (`torch.Tensor` for the class a prompt shows as
# <class 'torch.Tensor'>); Python's repr is what a page shows.
PLAIN_VALUES = (
    "# Show values as Python's prompt does (their repr), as the page shows them\n"
    "%config PlainTextFormatter.pprint = False"
)


def notebook_name(src_uri: str) -> str:
    """The download's name: the page's own (`tensors.ipynb`), `index.ipynb` for a folder's index page."""
    return PurePosixPath(src_uri).stem + ".ipynb"


def install_command(root: Path = ROOT) -> str:
    """`pip install torch==2.15.0 ...`: what a page needs, pinned as constraints.txt pins it."""
    import tomllib

    with open(root / "pyproject.toml", "rb") as file:
        requirements = tomllib.load(file)["project"]["dependencies"]
    names = [re.match(r"[A-Za-z0-9_.-]+", requirement)[0] for requirement in requirements]
    pins = dict(
        line.split("==", 1)
        for line in (root / CONSTRAINTS).read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    return "pip install " + " ".join(f"{name}=={pins[name].strip()}" for name in names)


# nbformat's new_* functions validate each node against the schema, which took most of the time; the
# notebook is validated once, when written.
def _code(source: str):
    return nbformat.from_dict(
        {"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": None}
    )


def _markdown(source: str):
    return nbformat.from_dict({"cell_type": "markdown", "source": source, "metadata": {}})


def _output(output_type: str, **fields):
    if output_type in ("execute_result", "display_data"):
        fields.setdefault("metadata", {})
    if output_type == "execute_result":
        fields.setdefault("execution_count", None)
    return nbformat.from_dict({"output_type": output_type, **fields})


@functools.cache
def _site_url(root: Path) -> str:
    return load_mkdocs_yml(root / "mkdocs.yml").get("site_url") or ""


@functools.cache
def _embedder(root: Path) -> Embedder:
    return Embedder(snippets_options(root / "mkdocs.yml"))


# What a page holds, in page order ------------------------------------------------------------------------------


@dataclass
class Fence:
    first: int  # 0-based lines of the opening and closing fence lines
    last: int
    regions: list = field(default_factory=list)  # what the harness checks in it (none: shown, not run)


@dataclass
class Guard:
    """A skip directive in force: `condition` is the Python condition under which the page runs the blocks
    (None: it never does), `reason` what the page says."""

    condition: str | None
    reason: str
    once: bool = False  # `skip: next`


def _guard(action: str, arguments: str | None) -> Guard | None:
    arguments = (arguments or "").strip()
    match = SKIP_CONDITION.match(arguments)
    if match:
        call = ast.parse("f(" + match["rest"] + ")", mode="eval").body
        reason = next((k.value.value for k in call.keywords if k.arg == "reason"), None)
        if reason is None and len(call.args) > 1:
            reason = call.args[1].value
        skip_if = call.args[0]
        run_if = (
            skip_if.operand
            if isinstance(skip_if, ast.UnaryOp) and isinstance(skip_if.op, ast.Not)
            else ast.UnaryOp(ast.Not(), skip_if)
        )
        return Guard(ast.unparse(run_if), reason or "", once=action == "next")
    reason = ast.literal_eval(arguments) if arguments else ""
    return Guard(None, reason, once=action == "next")


class PageNotebook:
    """One page made into a notebook (see the module's docstring)."""

    def __init__(self, path: Path, root: Path = ROOT, env: dict | None = None, site_url: str | None = None):
        self.path, self.root = Path(path).resolve(), Path(root).resolve()
        self.src_uri = self.path.relative_to(self.root / "docs").as_posix()
        self.env = env if env is not None else environment()
        if site_url is None:
            site_url = _site_url(self.root)
        self.site_url = site_url.rstrip("/") + "/"
        self.text = self.path.read_text(encoding="utf-8")
        self.lines = self.text.split("\n")
        self.embedder = _embedder(self.root)
        self.document = Document(self.text, str(self.path))
        self.variants = Variants(self.text, self.env)
        self.cells: list = []
        self.markdown: list[str] = []

    # Positions ---------------------------------------------------------------------------------------------

    def line_of(self, offset: int) -> int:
        return self.text.count("\n", 0, offset)

    def fences(self) -> dict[int, Fence]:
        fences = {}
        for region in fenced_blocks(self.document):
            first = self.line_of(region.start)
            last = self.line_of(region.end - 1)
            if self.lines[last].strip() == "":
                last -= 1
            fences[first] = Fence(first, last)
        starts = sorted(fences)
        for region in PageParser(self.embedder).regions(self.document):
            line = self.line_of(region.start)
            owner = max((start for start in starts if start <= line), default=None)
            if (
                owner is not None
                and line <= fences[owner].last
                and region.parsed is not None
                and not isinstance(region.parsed, dict)
            ):
                fences[owner].regions.append(region)
        return fences

    def directives(self) -> dict[int, tuple[str, str | None]]:
        return {self.line_of(region.start): region.parsed for region in ExplainedSkipParser()(self.document)}

    def other_variants(self) -> dict[int, int]:
        """First line -> the line after the end, of each tab that shows another install's output."""
        ends = {}
        for tab in self.variants.tabs:
            if tab.tab_set.is_variants and self.variants.skip_reason(tab.start) is not None:
                ends[tab.line - 1] = self.line_of(tab.end) if tab.end < len(self.text) else len(self.lines)
        return ends

    # Markdown ----------------------------------------------------------------------------------------------

    def rendered_lines(self) -> list[str | None]:
        """Each page line as Markdown for a notebook: out of its admonition or tab (quoted, for an admonition),
        links made absolute; None for a line to leave out."""
        fence_lines = set()
        for fence in self.fences_by_line.values():
            fence_lines.update(range(fence.first, fence.last + 1))
        rendered: list[str | None] = []
        stack: list[tuple[int, str]] = []  # (indent of the header, "quote" or "tab")
        for number, line in enumerate(self.lines):
            indent = len(line) - len(line.lstrip(" "))
            lead = ""
            if line.strip():
                while stack and indent <= stack[-1][0]:
                    if stack.pop()[1] == "quote":
                        lead = "\n"  # a blank line ends the quote before what follows
            content_indent = stack[-1][0] + 4 if stack else 0
            body = line[content_indent:] if line.startswith(" " * content_indent) else line.lstrip(" ")
            quote = "> " * sum(kind == "quote" for _, kind in stack)
            admonition = ADMONITION.match(line) if number not in fence_lines else None
            tab = TAB.match(line) if number not in fence_lines else None
            if admonition:
                title = admonition["title"] or admonition["kind"].capitalize()
                rendered.append(f"{lead}{quote}**{title}**")
                stack.append((indent, "quote"))
            elif tab:
                rendered.append(f"{lead}{quote}{self.tab_heading(tab['label'], number)}")
                stack.append((indent, "tab"))
            elif HTML_DIV.match(line) and number not in fence_lines:
                rendered.append(None)
            else:
                if number not in fence_lines:
                    body = LINK.sub(lambda match: match[1] + self.absolute(match["target"]) + match[3], body)
                rendered.append(lead + f"{quote}{body}".rstrip() if body.strip() else quote.rstrip())
        return rendered

    def tab_heading(self, label: str, number: int) -> str:
        offset = sum(len(line) + 1 for line in self.lines[:number])
        tab = next(tab for tab in self.variants.tabs if tab.start == offset)
        if not tab.tab_set.is_variants:
            return f"**{label}**"
        if self.variants.skip_reason(offset + len(self.lines[number])) is None:
            return f"**{label}** (what the cells below print here)"
        return f"**{label}** (as the page shows it; this notebook runs the tab of {describe(self.env)})"

    def absolute(self, target: str) -> str:
        """A link of the page as the site serves it: another page's URL, or a file's."""
        if re.match(r"^[a-z][a-z0-9+.-]*:|^#|^/", target):
            return target if not target.startswith("#") else self.page_url(self.src_uri) + target
        path, _, anchor = target.partition("#")
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(self.src_uri), path))
        return self.page_url(resolved) + (f"#{anchor}" if anchor else "")

    def page_url(self, src_uri: str) -> str:
        if src_uri.endswith((".md", ".py")) and (src_uri.endswith(".md") or src_uri.startswith("notebooks/")):
            url = File(src_uri, "docs", "site", use_directory_urls=True).url
        else:
            url = src_uri
        return self.site_url + ("" if url == "." else url)

    def add_markdown(self, line: str | None) -> None:
        if line is not None:
            self.markdown.append(line)

    def flush_markdown(self) -> None:
        lines = self.markdown
        self.markdown = []
        while lines and lines[0].strip(" >") == "":
            lines.pop(0)
        while lines and lines[-1].strip(" >") == "":
            lines.pop()
        collapsed = []  # no runs of blank lines
        for line in lines:
            if not (line == "" and collapsed and collapsed[-1] == ""):
                collapsed.append(line)
        if collapsed:
            self.cells.append(_markdown("\n".join(collapsed)))

    # Code --------------------------------------------------------------------------------------------------

    def code_cell(self, source: str, line: int, guard: Guard | None, kind: str) -> nbformat.NotebookNode:
        cell = _code(source)
        cell.metadata["primer"] = {"line": line, "kind": kind}  # where on the page; read by the tests
        if guard is not None and guard.condition is not None:
            cell.source = guarded(source, guard.condition)
            cell.metadata["primer"]["runs_if"] = guard.condition
        self.flush_markdown()
        self.cells.append(cell)
        return cell

    def add_region(self, region, guard: Guard | None, last_code: dict) -> None:
        parsed = region.parsed
        line = self.line_of(region.start) + 1
        if isinstance(parsed, FileBlock):
            lines = parsed.lines
            if parsed.python:
                lines = [
                    text
                    for chunk in self.embedder.chunks(lines, parsed.first_line, str(self.path))
                    for text in chunk.lines
                ]
            last_code["cell"] = self.code_cell(f"%%writefile {parsed.name}\n" + "\n".join(lines), line, guard, "file")
        elif isinstance(parsed, CodeBlock) and region.evaluator is run_commands:
            commands = [line.removeprefix("$ ") for line in parsed.lines]
            if any(command.rstrip().endswith("&") for command in commands):
                commands.append("wait")
            last_code["cell"] = self.code_cell("%%bash\n" + "\n".join(commands), line, guard, CONSOLE_LANGUAGE)
        elif isinstance(parsed, CodeBlock):
            lines = [
                text
                for chunk in self.embedder.chunks(parsed.lines, parsed.first_line, str(self.path))
                for text in chunk.lines
            ]
            last_code["cell"] = self.code_cell("\n".join(lines), line, guard, "python")
        elif isinstance(parsed, OutputBlock):
            cell = last_code.get("cell")
            if cell is not None and parsed.code is not None:
                cell.outputs.append(_output("stream", name="stdout", text=parsed.text.rstrip("\n") + "\n"))
                cell.metadata["primer"]["output"] = parsed.line + 1
        elif isinstance(parsed, doctest.Example):
            source = parsed.source.rstrip("\n")
            outputs = doctest_outputs(parsed)
            nested = nested_displays(source) if parsed.want and parsed.exc_msg is None else source
            if nested != source:  # a prompt shows the values of expressions inside a `with` or a loop
                source = nested
                outputs = [
                    _output("display_data", data={"text/plain": o.text.rstrip("\n")})
                    if o.output_type == "stream"
                    else o
                    for o in outputs
                ]
            if guard is not None and outputs and outputs[0].output_type == "execute_result":
                source = displayed(source)  # under an `if`, a bare expression shows nothing
                outputs[0] = _output("display_data", data=outputs[0].data)
            cell = self.code_cell(source, line, guard, "doctest")
            cell.outputs.extend(outputs)
            if parsed.exc_msg is not None:
                cell.metadata[TAGS] = [RAISES]
            last_code["cell"] = None

    # The whole page ----------------------------------------------------------------------------------------

    def notebook(self) -> nbformat.NotebookNode:
        self.fences_by_line = self.fences()
        directives = self.directives()
        other_variants = self.other_variants()
        rendered = self.rendered_lines()
        self.cells, self.markdown = [], []
        guard: Guard | None = None
        last_code: dict = {}
        shown_as_text: set[int] = set()  # the blocks shown as text: their output fences are text too
        number = 0
        while number < len(self.lines):
            if number in other_variants:
                for line in range(number, other_variants[number]):
                    self.add_markdown(rendered[line])
                number = other_variants[number]
                continue
            if number in directives:
                action, arguments = directives[number]
                if action in ("start", "next"):
                    guard = _guard(action, arguments)
                    self.add_markdown(skip_note(guard))
                else:
                    guard = None
                number += 1
                continue
            fence = self.fences_by_line.get(number)
            if fence is None or not fence.regions:
                end = fence.last + 1 if fence else number + 1
                for line in range(number, end):
                    self.add_markdown(rendered[line])
                number = end
                continue
            follows_text = any(
                isinstance(region.parsed, OutputBlock) and id(region.parsed.code) in shown_as_text
                for region in fence.regions
            )
            if follows_text or (guard is not None and (guard.condition is None or not can_guard(fence, self))):
                for line in range(fence.first, fence.last + 1):  # shown as text, as the page shows it
                    self.add_markdown(rendered[line])
                shown_as_text.update(id(region.parsed) for region in fence.regions)
                last_code["cell"] = None
            else:
                for region in fence.regions:
                    self.add_region(region, guard, last_code)
                    if guard is not None and guard.once and not isinstance(region.parsed, OutputBlock):
                        guard = None
            if guard is not None and guard.once:
                guard = None
            number = fence.last + 1
        self.flush_markdown()
        notebook = nbformat.v4.new_notebook()
        notebook.cells = [self.intro(), _code(PLAIN_VALUES), *self.cells]
        for index, cell in enumerate(notebook.cells):
            cell.id = f"cell-{index}"  # stable ids: the same page gives the same file
        notebook.metadata = {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        }
        return notebook

    def intro(self) -> nbformat.NotebookNode:
        return _markdown(
            f"*This notebook is the page [{self.src_uri}]({self.page_url(self.src_uri)}) of the PyTorch Primer, "
            f"block for block. It needs no clone of the guide's repository, only:*\n\n"
            f"```bash\n{install_command(self.root)}\n```\n\n"
            f"*Run it top to bottom in a fresh kernel; its first cell has values shown as Python's prompt "
            f"shows them. The outputs saved in it are what the page shows, checked "
            f"with {describe(self.env)} (`...` in an output stands for text that varies); where the page shows "
            f"what other installs print, in tabs, the cells are this install's and the others are shown as "
            f"text.*"
        )


def doctest_outputs(example: doctest.Example) -> list:
    """What the page shows for a `>>>` example, as a notebook shows it: the value of a bare expression as its
    result, anything else as printed text, an expected exception as an error."""
    if example.exc_msg is not None:
        shown = example.want.rstrip("\n").split("\n")
        ename, _, evalue = shown[-1].partition(":")
        return [_output("error", ename=ename, evalue=evalue.strip(), traceback=shown)]
    if not example.want:
        return []
    try:
        tree = ast.parse(example.source)
    except SyntaxError:
        tree = None
    last = tree.body[-1] if tree and tree.body else None
    is_value = isinstance(last, ast.Expr) and not (
        isinstance(last.value, ast.Call) and isinstance(last.value.func, ast.Name) and last.value.func.id == "print"
    )
    if is_value and len(tree.body) == 1:
        return [_output("execute_result", data={"text/plain": example.want.rstrip("\n")})]
    return [_output("stream", name="stdout", text=example.want)]


def skip_note(guard: Guard) -> str:
    if guard.condition is None:
        return f"> **Not run:** the page shows the next block without running it ({guard.reason})."
    return (
        f"> **Runs only where `{guard.condition}`** ({guard.reason}): the page skips the next "
        f"{'block' if guard.once else 'blocks'} elsewhere, and here {'it sits' if guard.once else 'they sit'} "
        f"under `if {guard.condition}:`, so the notebook runs on any machine."
    )


def can_guard(fence: Fence, page: PageNotebook) -> bool:
    """Whether the fence's code can be indented under an `if` unchanged: no string spans lines."""
    for region in fence.regions:
        source = getattr(region.parsed, "source", None)
        if source is None and isinstance(region.parsed, CodeBlock):
            source = "\n".join(region.parsed.lines)
        if source is None:
            continue
        try:
            tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
        except (tokenize.TokenError, SyntaxError):
            return False
        if any(token.type == tokenize.STRING and token.start[0] != token.end[0] for token in tokens):
            return False
    return True


def nested_displays(source: str) -> str:
    """The example with each expression statement that sits inside a compound statement (outside a function
    or class), other than a call, wrapped in `display()`: Python's prompt shows their values, IPython only a
    cell's last one."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    found = []

    def visit(node, top):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            # A call is left alone: most calls in a loop or a `with` return None, which a prompt does not show
            # and display() would.
            if isinstance(child, ast.Expr) and not top and not isinstance(child.value, (ast.Call, ast.Await)):
                found.append(child.value)
            visit(child, top=False)

    for statement in tree.body:
        visit(statement, top=False)
    lines = source.split("\n")
    for node in sorted(found, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        if node.lineno != node.end_lineno:
            continue
        line = lines[node.lineno - 1]
        lines[node.lineno - 1] = (
            f"{line[: node.col_offset]}display({line[node.col_offset : node.end_col_offset]})"
            f"{line[node.end_col_offset :]}"
        )
    return "\n".join(lines)


def displayed(source: str) -> str:
    """`display(expression)` for a one-expression example, its comment kept."""
    expression = ast.parse(source).body[0].value
    segment = ast.get_source_segment(source, expression)
    start = source.index(segment)
    return f"{source[:start]}display({segment}){source[start + len(segment) :]}"


def guarded(source: str, condition: str) -> str:
    body = "\n".join(("    " + line) if line.strip() else line for line in source.split("\n"))
    return f"if {condition}:\n{body}"


def page_notebook(path: Path, root: Path = ROOT, env: dict | None = None, site_url: str | None = None):
    """The notebook of the Markdown page at `path` (under root/docs), for the environment `env` (this one's by
    default): what the build writes and tests/test_notebooks.py executes."""
    return PageNotebook(path, root, env, site_url).notebook()


# The build -----------------------------------------------------------------------------------------------------


def _is_markdown_page(file) -> bool:
    return file.is_documentation_page() and file.src_uri.endswith(".md")


def on_files(files, config):
    """`<page>.ipynb` beside each Markdown page."""
    root = Path(config.config_file_path).parent
    env = environment()
    for file in list(files):
        if not _is_markdown_page(file):
            continue
        notebook = page_notebook(Path(file.abs_src_path), root, env, config.site_url)
        uri = posixpath.join(posixpath.dirname(file.dest_uri), notebook_name(file.src_uri))
        files.append(File.generated(config, uri, content=nbformat.writes(notebook) + "\n"))
    return files


def on_page_markdown(markdown, page, config, files):
    """The download's name, for overrides/partials/actions.html."""
    if _is_markdown_page(page.file):
        page.meta["notebook"] = notebook_name(page.file.src_uri)
    return markdown
