"""Claims of docs/index.md checked beyond what the page prints."""

import pytest
import torch

from snippets.index import fit_line, x, y


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
