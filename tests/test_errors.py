"""Claims of docs/errors.md checked beyond what the page prints, and the one message the page cannot reproduce
without a GPU, checked where a GPU raises it."""

import io
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snippets.errors import (
    Settings,
    fit_slope,
    fit_slope_wrong,
    load_with_plain_settings,
    save_with_plain_settings,
)
from tests.chapters import TEACHING_CHAPTERS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "errors.md"
DEVICE_MESSAGE = re.compile(
    r"RuntimeError: (Expected all tensors to be on the same device, but got )(\w+)( is on )(cpu)"
    r"(, different from other tensors on )(cuda:0)( \(when checking argument in method )wrapper_CUDA_(\w+)\)"
)


def page_text():
    return PAGE.read_text(encoding="utf-8")


def sections():
    """(title, body) of each `## ` section that explains an error."""
    parts = re.split(r"^## (.+)$", page_text(), flags=re.M)[1:]
    return [(title, body) for title, body in zip(parts[::2], parts[1::2]) if title not in ("Reference", "Next")]


def test_the_device_section_shows_the_message_in_its_documented_form():
    match = DEVICE_MESSAGE.search(page_text())
    assert match, "the device section must show the message in the expected form"
    # Linear's product is addmm, whose input argument is mat1.
    assert match[2] == "mat1" and match[8] == "addmm"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: only a GPU raises this message")
def test_the_device_message_is_the_one_a_gpu_raises():
    expected = DEVICE_MESSAGE.search(page_text())[0].removeprefix("RuntimeError: ")
    with pytest.raises(RuntimeError) as caught:
        nn.Linear(2, 1).to("cuda")(torch.ones(1, 2))
    assert str(caught.value) == expected


# The errors issue 7 lists, each by the start of its message.
REQUIRED = [
    "mat1 and mat2 shapes cannot be multiplied",
    "mat1 and mat2 must have the same dtype",
    "Expected all tensors to be on the same device",
    "Trying to backward through the graph a second time",
    "a leaf Variable that requires grad is being used in an in-place operation",
    "grad can be implicitly created only for scalar outputs",
    "invalid index of a 0-dim tensor",
    "0D or 1D target tensor expected",
    "Target 3 is out of bounds",
    "Weights only load failed",
    # and the three issue 17 adds
    "Expected input batch_size (8) to match target batch_size (4)",
    "expected input[8, 1, 28, 28] to have 3 channels",
    "CUDA out of memory",
]
# Raised only by a GPU: the page explains them, and a test below checks them where a GPU exists.
GPU_ONLY = {"CUDA out of memory"}


def test_every_error_of_the_list_has_its_row():
    table = page_text().split("| The message contains |", 1)[1].split("\n\n", 1)[0]
    assert not [message for message in REQUIRED if f"`{message}" not in table]


def test_every_message_in_the_table_is_shown_and_checked_on_the_page():
    text = page_text()
    table = text.split("| The message contains |", 1)[1].split("\n\n", 1)[0]
    raised = re.findall(r"^ *(?:\w+\.)*\w+(?:Error|Exception): (.+)$", text, flags=re.M)
    for row in table.splitlines()[2:]:
        for message in re.findall(r"`([^`]+)`", row.split("|")[1]):
            if message in GPU_ONLY:
                assert f"`{message}" in text.split("## Reference")[0].split(row, 1)[1], message
                continue
            assert any(message in line for line in raised), f"not shown as raised: {message}"


def test_every_section_gives_cause_fix_and_chapter():
    found = sections()
    assert len(found) >= 10
    for title, body in found:
        assert "**Cause:**" in body and "**Fix:**" in body, title
        cause = body.split("**Cause:**", 1)[1].split("**Fix:**", 1)[0].strip()
        assert cause.count(". ") == 0, f"{title}: the cause in one sentence"
        linked = set(re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\)", body))
        assert linked & TEACHING_CHAPTERS, f"{title}: link the chapter that teaches the fix"


def test_the_hand_written_fit_finds_the_slope_and_the_broken_one_fails_on_its_second_step():
    x = torch.linspace(-1, 1, 20)
    y = 3 * x
    assert fit_slope(x, y) == pytest.approx(3.0, abs=1e-3)
    assert fit_slope_wrong(x, y, steps=1) > 0  # one step is fine: the graph is used once
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        fit_slope_wrong(x, y, steps=2)


def test_plain_settings_round_trip_keeps_weights_and_settings():
    torch.manual_seed(0)
    model = nn.Linear(2, 3)
    restored, settings = load_with_plain_settings(save_with_plain_settings(model, Settings(lr=0.05)))
    assert settings == Settings(lr=0.05)
    assert torch.equal(restored.weight, model.weight) and torch.equal(restored.bias, model.bias)


def test_an_object_in_a_checkpoint_loads_only_when_allowlisted():
    buffer = io.BytesIO()
    torch.save({"settings": Settings()}, buffer)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torch.load(io.BytesIO(buffer.getvalue()))
    with torch.serialization.safe_globals([Settings]):
        assert torch.load(io.BytesIO(buffer.getvalue()))["settings"] == Settings()


def test_the_other_fixes_the_page_mentions():
    assert nn.Linear(784, 10).weight.shape == (10, 784)  # the message's 784x10 is the weight transposed
    features = np.ones((3, 2))
    assert nn.Linear(2, 1).double()(torch.from_numpy(features)).dtype == torch.float64  # model.double() works
    assert nn.Flatten()(torch.rand(8, 1, 28, 28)).shape == (8, 784)
    logits = torch.randn(4, 3)
    soft = torch.softmax(torch.randn(4, 3), dim=1)
    assert nn.CrossEntropyLoss()(logits, soft).ndim == 0  # probabilities of the logits' shape are accepted
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    squares = w**2
    squares.backward(torch.ones_like(squares))
    assert w.grad.tolist() == [2.0, 4.0]


def test_retain_graph_silences_the_error_but_trains_on_stale_predictions():
    x = torch.linspace(-1, 1, 20)
    y = 3 * x
    w = torch.zeros(1, requires_grad=True)
    predictions = x * w  # the broken function's line, made with w = 0
    for _ in range(50):
        ((predictions - y) ** 2).mean().backward(retain_graph=True)
        with torch.no_grad():
            w -= 0.5 * w.grad
        w.grad = None
    assert predictions.abs().max() == 0  # never recomputed
    assert w.item() > 10, "the same gradient every step: w runs past the slope, 3, and keeps going"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: only a GPU raises this message")
def test_too_large_an_allocation_raises_the_out_of_memory_error_the_page_explains():
    total = torch.cuda.get_device_properties(0).total_memory
    with pytest.raises(torch.OutOfMemoryError) as caught:
        torch.empty(2 * total // 4 + 1, device="cuda")  # float32: twice the GPU's memory
    assert str(caught.value).startswith("CUDA out of memory. Tried to allocate")
    for word in ("total capacity", "free", "PyTorch"):  # what the page says the message goes on with
        assert word in str(caught.value), word


def test_the_convolution_fixes():
    conv = nn.Conv2d(3, 16, kernel_size=3)
    assert conv.weight.shape == (16, 3, 3, 3)  # (out_channels, in_channels, kernel height, kernel width)
    with pytest.raises(RuntimeError, match="to have 3 channels, but got 28 channels instead"):
        conv(torch.rand(8, 28, 28, 3))  # channels last: the height read as channels
    assert conv(torch.rand(8, 28, 28, 3).permute(0, 3, 1, 2)).shape == (8, 16, 26, 26)


def test_broadcast_targets_give_a_wrong_loss_with_only_a_warning():
    outputs, targets = torch.randn(8, 1), torch.randn(8)
    with pytest.warns(UserWarning, match="Using a target size"):
        broadcast = nn.MSELoss()(outputs, targets)
    right = nn.MSELoss()(outputs, targets.unsqueeze(1))
    assert broadcast.item() == pytest.approx(((outputs - targets) ** 2).mean().item())  # all 8 x 8 pairs
    assert broadcast.item() != pytest.approx(right.item())


def test_adding_loss_tensors_keeps_every_graph_and_item_keeps_none():
    w = torch.ones(2, requires_grad=True)
    total = 0
    for _ in range(3):
        total += (w * 3).sum()
    assert total.grad_fn is not None  # one graph, chained through all three batches
    total.backward()
    assert w.grad.tolist() == [9.0, 9.0]
    assert isinstance((w * 3).sum().item(), float)


def test_a_batch_of_256_colour_images_is_147_mib():
    assert 256 * 3 * 224 * 224 * 4 / 2**20 == 147.0
    assert issubclass(torch.OutOfMemoryError, RuntimeError)
