"""Claims of docs/losses.md checked beyond what the page prints: the hand-written losses against PyTorch's,
the equalities the page states, and the inventory table against the installed torch.nn."""

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from snippets.losses import (
    bce_curves,
    cross_entropy,
    figure_bce,
    figure_regression,
    loss_classes,
    mse,
    regression_curves,
)
from tests.inventory import table_names

PAGE = Path(__file__).resolve().parents[1] / "docs" / "losses.md"


def test_mse_by_hand_matches_torch_on_random_inputs():
    generator = torch.Generator().manual_seed(0)
    predictions, targets = torch.randn(2, 5, 7, generator=generator)
    torch.testing.assert_close(mse(predictions, targets), nn.MSELoss()(predictions, targets))


def test_cross_entropy_by_hand_matches_torch_and_log_softmax_plus_nll():
    generator = torch.Generator().manual_seed(0)
    logits = 5 * torch.randn(32, 10, generator=generator)
    labels = torch.randint(0, 10, (32,), generator=generator)
    expected = nn.CrossEntropyLoss()(logits, labels)
    torch.testing.assert_close(cross_entropy(logits, labels), expected)
    assert torch.equal(nn.NLLLoss()(nn.LogSoftmax(dim=1)(logits), labels), expected)  # computed that way: same bits


def test_cross_entropy_by_hand_does_not_overflow_on_large_logits():
    logits = torch.tensor([[1000.0, 0.0], [0.0, 1000.0]])
    assert cross_entropy(logits, torch.tensor([0, 0])).item() == pytest.approx(500.0)


def test_smooth_l1_is_huber_divided_by_its_threshold():
    generator = torch.Generator().manual_seed(1)
    predictions, targets = 3 * torch.randn(2, 50, generator=generator)
    for beta in (0.5, 1.0, 2.0):
        torch.testing.assert_close(
            nn.SmoothL1Loss(beta=beta)(predictions, targets), nn.HuberLoss(delta=beta)(predictions, targets) / beta
        )


def test_multilabel_soft_margin_equals_bce_with_logits():
    generator = torch.Generator().manual_seed(2)
    logits = torch.randn(8, 4, generator=generator)
    targets = torch.randint(0, 2, (8, 4), generator=generator).float()
    torch.testing.assert_close(nn.MultiLabelSoftMarginLoss()(logits, targets), nn.BCEWithLogitsLoss()(logits, targets))


def test_bce_saturates_and_bce_with_logits_stays_exact():
    logit = torch.tensor([20.0], requires_grad=True)
    assert torch.sigmoid(logit).item() == 1.0  # float32 rounds 1 - 2e-9 to 1
    true_loss = -math.log1p(-1 / (1 + math.exp(-20.0)))  # -log(1 - sigmoid(20)) in float64
    assert nn.BCELoss()(torch.sigmoid(logit), torch.tensor([0.0])).item() == 100.0
    assert nn.BCEWithLogitsLoss()(logit, torch.tensor([0.0])).item() == pytest.approx(true_loss)


def test_label_smoothing_is_a_probability_target():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 4, generator=generator)
    labels = torch.randint(0, 4, (6,), generator=generator)
    smoothed = 0.8 * nn.functional.one_hot(labels, num_classes=4).float() + 0.2 / 4
    torch.testing.assert_close(
        nn.CrossEntropyLoss(label_smoothing=0.2)(logits, labels), nn.CrossEntropyLoss()(logits, smoothed)
    )


def test_softmax_before_cross_entropy_cannot_reach_zero():
    # The best a double softmax can do for two classes: probabilities (1, 0) taken as logits.
    best = nn.CrossEntropyLoss()(torch.tensor([[1.0, 0.0]]), torch.tensor([0]))
    assert best.item() == pytest.approx(math.log(1 + math.exp(-1)))
    assert best.item() > 0.3


def test_class_weights_give_a_weighted_mean_and_ignore_index_drops_examples():
    generator = torch.Generator().manual_seed(4)
    logits = torch.randn(10, 3, generator=generator)
    labels = torch.randint(0, 3, (10,), generator=generator)
    weights = torch.tensor([0.2, 1.0, 3.0])
    per_example = nn.CrossEntropyLoss(reduction="none")(logits, labels)
    torch.testing.assert_close(
        nn.CrossEntropyLoss(weight=weights)(logits, labels),
        (weights[labels] * per_example).sum() / weights[labels].sum(),
    )
    padded = labels.clone()
    padded[::2] = -100
    torch.testing.assert_close(nn.CrossEntropyLoss()(logits, padded), per_example[1::2].mean())


# The inventory


def test_loss_classes_are_the_classes_of_torch_nn_named_loss():
    names = loss_classes()
    assert names == sorted(set(names))
    assert all(isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module) for name in names)
    assert {"MSELoss", "BCELoss", "CrossEntropyLoss"} <= set(names)  # the three the 2018 post names
    assert len(names) > 17  # the post's count for PyTorch 0.4


def test_page_table_lists_exactly_the_installed_losses():
    listed = table_names(PAGE, "torch.nn")
    assert len(listed) == len(set(listed)), "a loss is listed twice"
    installed = set(loss_classes())
    assert not installed - set(listed), f"add to the table in {PAGE.name}: {sorted(installed - set(listed))}"
    assert not set(listed) - installed, f"remove from the table in {PAGE.name}: {sorted(set(listed) - installed)}"


def test_two_of_the_losses_are_layers_with_weights():
    layers = {
        "AdaptiveLogSoftmaxWithLoss": nn.AdaptiveLogSoftmaxWithLoss(64, 100, cutoffs=[10, 50]),
        "LinearCrossEntropyLoss": nn.LinearCrossEntropyLoss(64, 100),
    }
    for name in loss_classes():
        loss = layers[name] if name in layers else getattr(nn, name)()  # every other loss needs no argument
        assert (len(list(loss.parameters())) > 0) == (name in layers), name


def test_linear_cross_entropy_is_linear_then_cross_entropy_in_chunks_or_not():
    generator = torch.Generator().manual_seed(5)
    inputs, labels = torch.randn(64, 16, generator=generator), torch.randint(0, 1000, (64,), generator=generator)
    reference = nn.LinearCrossEntropyLoss(16, 1000)
    chunked = nn.LinearCrossEntropyLoss(16, 1000, options=nn.LinearCrossEntropyOptions())
    chunked.load_state_dict(reference.state_dict())
    expected = nn.CrossEntropyLoss()(reference.linear(inputs), labels)
    torch.testing.assert_close(reference(inputs, labels), expected)
    torch.testing.assert_close(chunked(inputs, labels), expected)


def test_almost_every_loss_has_a_functional_form():
    import torch.nn.functional as F

    functions = {name.replace("_", "") for name in dir(F)}  # mse_loss -> mseloss, kl_div -> kldiv
    spelled_out = {"BCELoss": "binarycrossentropy", "BCEWithLogitsLoss": "binarycrossentropywithlogits"}
    missing = [
        name
        for name in loss_classes()
        if not {spelled_out.get(name), name.lower(), name.lower().removesuffix("loss")} & functions
    ]
    assert missing == ["AdaptiveLogSoftmaxWithLoss"]  # "almost every loss" has a function in F


# The figures


def test_regression_curves_are_the_formulas():
    errors = torch.linspace(-8, 8, steps=321)
    curves = regression_curves(errors)
    torch.testing.assert_close(curves["MSELoss"][0], errors**2)
    torch.testing.assert_close(curves["MSELoss"][1], 2 * errors)
    torch.testing.assert_close(curves["L1Loss"][0], errors.abs())
    assert set(curves["L1Loss"][1][errors != 0].tolist()) == {-1.0, 1.0}
    huber = torch.where(errors.abs() < 1, errors**2 / 2, errors.abs() - 0.5)
    torch.testing.assert_close(curves["HuberLoss"][0], huber)
    torch.testing.assert_close(curves["HuberLoss"][1], errors.clamp(-1, 1))


def test_regression_figure_marks_the_outlier_as_the_alt_text_says():
    at_seven = {
        name: (loss.item(), gradient.item())
        for name, (loss, gradient) in regression_curves(torch.tensor([7.0])).items()
    }
    assert at_seven == {"MSELoss": (49.0, 14.0), "L1Loss": (7.0, 1.0), "HuberLoss": (6.5, 1.0)}
    ends = regression_curves(torch.tensor([-8.0, 8.0]))
    assert ends["MSELoss"][0].tolist() == [64.0, 64.0] and ends["L1Loss"][0].max() == 8.0


def test_bce_curves_saturate_where_float32_sigmoid_rounds_to_one():
    logits = torch.linspace(0, 30, steps=301)
    curves = bce_curves(logits)
    saturated = torch.sigmoid(logits) == 1
    first = logits[saturated].min().item()
    assert 16 < first < 17.5  # "about 17" in the alt text
    assert (curves["BCELoss"][0][saturated] == 100).all()
    assert (curves["BCELoss"][1][saturated] == 0).all()
    exact = nn.functional.softplus(logits.double())  # -log(1 - sigmoid(z)), computed without rounding to 1
    torch.testing.assert_close(curves["BCEWithLogitsLoss"][0].double(), exact, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(curves["BCEWithLogitsLoss"][1], torch.sigmoid(logits))
    assert curves["BCEWithLogitsLoss"][0][-1].item() == pytest.approx(30, abs=1e-4)


def test_the_figures_draw_their_panels_with_a_legend():
    import matplotlib.pyplot as plt

    for draw, panels, names in (
        (figure_regression, 3, ["MSELoss", "L1Loss", "HuberLoss"]),
        (figure_bce, 2, ["BCELoss", "BCEWithLogitsLoss"]),
    ):
        figure = draw()
        try:
            assert len(figure.axes) == panels
            legends = [ax.get_legend() for ax in figure.axes if ax.get_legend()]
            assert [text.get_text() for text in legends[0].get_texts()] == names
        finally:
            plt.close(figure)


def test_huber_runs_half_a_delta_below_l1_beyond_delta():
    errors = torch.tensor([-2.0, -1.5, 1.5, 2.0])
    curves = regression_curves(errors)
    torch.testing.assert_close(curves["L1Loss"][0] - curves["HuberLoss"][0], torch.full((4,), 0.5))
