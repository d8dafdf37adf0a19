"""Claims of docs/tensors.md checked beyond what the page prints: memory sharing, copies, dtypes, devices."""

import numpy as np
import pytest
import torch

from snippets import tensors
from snippets.tensors import (
    broadcast,
    figure_broadcast_bug,
    figure_broadcasting,
    pick_device,
    standardise,
)


def shares_memory(tensor, array):
    return np.shares_memory(tensor.numpy(), array)


@pytest.mark.parametrize(
    "dtype, torch_dtype",
    [
        (np.float32, torch.float32),
        (np.float64, torch.float64),
        (np.int64, torch.int64),
        (np.int32, torch.int32),
        (np.bool_, torch.bool),
    ],
)
def test_from_numpy_shares_memory_in_both_directions_and_keeps_the_dtype(dtype, torch_dtype):
    array = np.zeros((3, 4), dtype=dtype)
    tensor = torch.from_numpy(array)
    assert shares_memory(tensor, array)
    array[1, 2] = 1
    assert tensor[1, 2].item() == 1
    tensor[2, 3] = 1
    assert array[2, 3] == 1
    assert tensor.dtype == torch_dtype


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_torch_tensor_copies_the_array(dtype):
    array = np.zeros(5, dtype=dtype)
    tensor = torch.tensor(array)
    assert not shares_memory(tensor, array)
    array[0] = 7
    assert tensor[0].item() == 0


def test_numpy_of_a_tensor_shares_its_memory():
    tensor = torch.zeros(4)
    array = tensor.numpy()
    array[0] = 3.0
    assert tensor[0].item() == 3.0


def test_numpy_default_float64_is_kept_and_converting_copies():
    array = np.zeros((2, 2))
    assert torch.from_numpy(array).dtype == torch.tensor(array).dtype == torch.float64
    converted = torch.from_numpy(array).float()
    assert converted.dtype == torch.float32
    assert not shares_memory(converted, array)
    with pytest.raises(RuntimeError, match="must have the same dtype"):
        torch.nn.Linear(2, 1)(torch.from_numpy(array))


def test_legacy_constructors_make_float32_of_the_given_shape():
    assert torch.FloatTensor(10).shape == (10,)
    assert torch.FloatTensor(2, 3, 4).shape == (2, 3, 4)
    assert torch.FloatTensor(2, 3).dtype == torch.float32
    assert torch.Tensor([1, 2]).dtype == torch.float32
    assert torch.tensor([1, 2]).dtype == torch.int64
    assert torch.FloatTensor([[1, 2, 3], [3, 2, 1]]).equal(torch.tensor([[1, 2, 3], [3, 2, 1]], dtype=torch.float32))


def test_view_shares_and_reshape_copies_only_when_it_must():
    base = torch.arange(6)
    assert base.view(2, 3).data_ptr() == base.data_ptr()
    assert base.reshape(2, 3).data_ptr() == base.data_ptr()  # contiguous: reshape is a view too
    transposed = base.view(2, 3).t()
    assert not transposed.is_contiguous()
    reshaped = transposed.reshape(6)
    assert reshaped.data_ptr() != base.data_ptr()
    assert reshaped.tolist() == [0, 3, 1, 4, 2, 5]
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        transposed.view(6)


def test_slices_are_views_and_masks_are_copies():
    m = torch.arange(12).reshape(3, 4)
    row = m[0]
    row[0] = 50
    assert m[0, 0] == 50
    picked = m[m > 3]
    picked[0] = -1
    assert (m >= 0).all()


@pytest.mark.parametrize("value, expected", [(1.7, 1), (-1.7, -1), (0.999, 0), (-0.5, 0), (2.0, 2)])
def test_float_to_int_truncates_toward_zero(value, expected):
    assert torch.tensor([value]).to(torch.int64).item() == expected


@pytest.mark.parametrize("shape", [(5, 1), (10, 3), (100, 7), (4, 2)])
def test_standardise_gives_zero_mean_unit_std_per_column(shape):
    generator = torch.Generator().manual_seed(sum(shape))
    data = torch.randn(shape, generator=generator) * torch.arange(1, shape[1] + 1) * 10 + 3
    before = data.clone()
    scaled = standardise(data)
    assert scaled.shape == data.shape
    torch.testing.assert_close(scaled.mean(dim=0), torch.zeros(shape[1]), atol=1e-5, rtol=0)
    torch.testing.assert_close(scaled.std(dim=0), torch.ones(shape[1]), atol=1e-5, rtol=0)
    assert data.equal(before)  # the input is left alone


@pytest.mark.parametrize("n", [1, 2, 3, 10])
def test_column_minus_vector_broadcasts_to_a_square(n):
    assert (torch.zeros(n, 1) - torch.zeros(n)).shape == (n, n)
    assert (torch.zeros(n, 1).squeeze(1) - torch.zeros(n)).shape == (n,)


@pytest.mark.parametrize(
    ("a", "b", "a_cells", "b_cells"),
    [
        ((3, 2), (1, 2), 6, 2),  # a row of statistics repeated down the rows
        ((3, 1), (3,), 3, 3),  # a column and a row: every pair
        ((2, 3, 4), (4,), 24, 4),  # a missing axis counts as size 1
        ((5,), (5,), 5, 5),  # equal shapes: nothing repeated
    ],
)
def test_broadcast_marks_the_cells_in_memory(a, b, a_cells, b_cells):
    left, right = torch.randn(a), torch.randn(b)
    ((a_shown, a_own), (b_shown, b_own)), result = broadcast(left, right)
    assert a_shown.shape == b_shown.shape == result.shape == torch.broadcast_shapes(a, b)
    assert (a_own.sum().item(), b_own.sum().item()) == (a_cells, b_cells)
    assert torch.equal(a_shown - b_shown, result)
    assert torch.equal(b_shown[b_own].reshape(right.shape), right)  # the marked cells are the operand itself


def texts(figure):
    return [text.get_text() for ax in figure.axes for text in ax.texts]


def test_the_figures_show_the_pages_examples():
    import matplotlib.pyplot as plt

    standardise_figure, bug_figure = figure_broadcasting(), figure_broadcast_bug()
    try:
        shown = texts(standardise_figure)
        # What the alt text says: data, the means 2 and 200 (once, then twice faded), the difference.
        assert shown[:6] == ["1", "100", "2", "200", "3", "300"]
        assert shown[8:14] == ["2", "200"] * 3
        assert shown[-7:-1] == ["-1", "-100", "0", "0", "1", "100"]
        assert {"data (3, 2)", "mean (1, 2)", "data - mean (3, 2)"} <= set(shown)
        difference = texts(bug_figure)[-10:-1]
        assert difference == ["0", "-1", "-2", "1", "0", "-1", "2", "1", "0"]
    finally:
        plt.close(standardise_figure)
        plt.close(bug_figure)


def test_to_returns_the_same_tensor_when_nothing_changes():
    z = torch.ones(2)
    assert z.to("cpu") is z
    assert z.to(torch.float32) is z
    assert z.to(torch.float64) is not z


def test_pick_device_on_this_machine():
    device = pick_device()
    if torch.accelerator.is_available():
        assert device == torch.accelerator.current_accelerator()
    else:
        assert device == torch.device("cpu")


def test_pick_device_prefers_an_available_accelerator(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device("mps"))
    assert pick_device() == torch.device("mps")


def test_to_device_section_keeps_everything_on_one_device():
    assert tensors.y.device.type == tensors.device.type
    assert tensors.y_cpu.device.type == "cpu"
    torch.testing.assert_close(tensors.y_cpu, tensors.x.cpu().sum(dim=1, keepdim=True))
