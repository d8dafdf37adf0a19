"""Content tabs that show what one kind of install prints: each tab's blocks are checked where they apply.

Where a block prints differently across the versions the guide supports, the page shows each variant in a
content tab labelled by what it depends on, and the reader picks theirs:

    === "torch 2.15"

        ```output
        RuntimeError: mm: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)
        ```

    === "torch 2.13"

        ...

A label is one or more facets separated by ", ": `torch 2.15` (or `torch 2.15.0`), `Python 3.13`, and the kind
of install, `CPU-only build` (no accelerator compiled in), `CUDA build without a GPU`, `with a GPU`. A tab set
whose labels are all made of facets is a set of variants: the blocks of a tab run only in an environment
matching every facet of its label, the others are skipped naming the environment that checks them
(`make test-matrix` runs the others). A set with no tab for the running environment fails: the page would show
this reader nothing. Tabs with other labels are ordinary tabs, all of whose blocks run.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

TAB = re.compile(r'^(?P<indent> *)===[!+]? +"(?P<label>[^"]*)"[^\n]*$', re.MULTILINE)
VERSION_FACET = re.compile(r"^(?P<package>torch|Python) (?P<version>\d+\.\d+(?:\.\d+)?)$")
KINDS = ("CPU-only build", "CUDA build without a GPU", "with a GPU")


def install_kind() -> str:
    """Which of KINDS this process runs: the accelerator compiled into torch, and whether one is usable."""
    import torch

    if torch.accelerator.is_available():
        return "with a GPU"
    accelerator = torch.accelerator.current_accelerator()  # what the build supports, usable or not
    return "CPU-only build" if accelerator is None else f"{accelerator.type.upper()} build without a GPU"


def environment() -> dict[str, str]:
    import torch

    return {
        "torch": torch.__version__.split("+")[0],
        "Python": ".".join(map(str, sys.version_info[:3])),
        "kind": install_kind(),
    }


def describe(env: dict[str, str]) -> str:
    return f"torch {env['torch']}, Python {env['Python']}, {env['kind']}"


def is_facet(facet: str) -> bool:
    return bool(VERSION_FACET.match(facet)) or facet in KINDS


def facets(label: str) -> list[str]:
    return [facet.strip() for facet in label.split(",")]


def matches(label: str, env: dict[str, str]) -> bool:
    for facet in facets(label):
        version = VERSION_FACET.match(facet)
        if version:
            installed = env[version["package"]]
            if installed != version["version"] and not installed.startswith(version["version"] + "."):
                return False
        elif facet != env["kind"]:
            return False
    return True


@dataclass
class Tab:
    label: str
    start: int  # offsets in the page text: the `===` line, and the end of the tab's content
    end: int
    line: int
    indent: int
    tab_set: TabSet | None = None


@dataclass
class TabSet:
    tabs: list[Tab] = field(default_factory=list)

    @property
    def is_variants(self) -> bool:
        return all(is_facet(facet) for tab in self.tabs for facet in facets(tab.label))

    @property
    def mixed(self) -> bool:
        labels = [facet for tab in self.tabs for facet in facets(tab.label)]
        return any(is_facet(facet) for facet in labels) and not self.is_variants


class Variants:
    """The content tabs of one page, and for any place in it, whether it is checked in this environment."""

    def __init__(self, text: str, env: dict[str, str] | None = None) -> None:
        self.env = env if env is not None else environment()
        self.tabs = _tabs(text)

    def enclosing(self, offset: int) -> list[Tab]:
        return [tab for tab in self.tabs if tab.start <= offset < tab.end]

    def skip_reason(self, offset: int) -> str | None:
        """Why the block at `offset` is not checked here, or None when it is."""
        for tab in self.enclosing(offset):
            if tab.tab_set.is_variants and not matches(tab.label, self.env):
                return f'shown for "{tab.label}"; checked where that applies (this is {describe(self.env)})'
        return None

    def problem(self, offset: int) -> str | None:
        """A failure to report at `offset`: a tab set that mixes facets with other labels, or a set of variants
        with none for this environment (reported once, at the set's first block)."""
        for tab in self.enclosing(offset):
            tab_set = tab.tab_set
            if tab_set.mixed:
                labels = ", ".join(f'"{t.label}"' for t in tab_set.tabs)
                return (
                    f"line {tab.line}: the tabs {labels} mix variant labels with others; a variant label is "
                    f"made of facets: torch X.Y, Python X.Y, {', '.join(KINDS)}"
                )
            if tab_set.is_variants and not any(matches(t.label, self.env) for t in tab_set.tabs):
                labels = ", ".join(f'"{t.label}"' for t in tab_set.tabs)
                return (
                    f"line {tab_set.tabs[0].line}: no tab of {labels} shows what {describe(self.env)} prints: add one"
                )
        return None


def _tabs(text: str) -> list[Tab]:
    tabs: list[Tab] = []
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    for match in TAB.finditer(text):
        indent = len(match["indent"])
        line = text.count("\n", 0, match.start())  # 0-based
        end_line = line + 1
        while end_line < len(lines):  # the content: blank lines and lines indented deeper than the tab
            current = lines[end_line]
            if current.strip() and len(current) - len(current.lstrip(" ")) <= indent:
                break
            end_line += 1
        tabs.append(Tab(match["label"], match.start(), offsets[end_line], line + 1, indent))
    for index, tab in enumerate(tabs):  # a tab continues the set of the tab that ends right where it starts
        previous = next((t for t in reversed(tabs[:index]) if t.indent == tab.indent and t.end <= tab.start), None)
        if previous is not None and previous.end == tab.start:
            tab.tab_set = previous.tab_set
            tab.tab_set.tabs.append(tab)
        else:
            tab.tab_set = TabSet([tab])
    return tabs
