"""Claims of docs/index.md checked beyond what the page prints."""

import re
from pathlib import Path

import pytest
import torch

from harness.embed import load_mkdocs_yml
from snippets.index import fit_line, x, y

ROOT = Path(__file__).resolve().parents[1]


def test_data_is_the_line_the_page_describes():
    assert x.shape == y.shape == (100, 1)
    residual = y - (2 * x + 1)
    assert residual.abs().max() < 0.5  # noise of standard deviation 0.1


def test_fit_line_recovers_slope_and_intercept():
    torch.manual_seed(1)  # the fit must not depend on the page's initialisation
    model, loss = fit_line(x, y)
    assert model.weight.item() == pytest.approx(2.0, abs=0.05)
    assert model.bias.item() == pytest.approx(1.0, abs=0.05)
    assert loss < 0.02


def test_fit_line_reduces_the_loss_with_more_steps():
    torch.manual_seed(0)
    _, short = fit_line(x, y, steps=5)
    torch.manual_seed(0)
    _, long = fit_line(x, y, steps=200)
    assert long < short


def nav_chapters():
    """(title, page) of every chapter in mkdocs.yml's nav, in order: all but the home page and the reference."""
    chapters = []

    def walk(entries):
        for entry in entries:
            for title, target in entry.items():
                if isinstance(target, list):
                    if title != "Reference":
                        walk(target)
                elif target != "index.md":
                    chapters.append((title, target))

    walk(load_mkdocs_yml(ROOT / "mkdocs.yml")["nav"])
    return chapters


def test_the_chapter_list_is_the_nav_in_order():
    page = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    listed = page.split("## The chapters", 1)[1].split("\n\n", 2)[1]  # the numbered list after the heading
    items = re.findall(r"^\d+\. \[([^\]]+)\]\(([^)]+)\)", listed, flags=re.MULTILINE)
    assert items == nav_chapters()
