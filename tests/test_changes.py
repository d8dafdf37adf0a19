"""Claims of docs/changes.md checked beyond what the page prints."""

import inspect
import io
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snippets.changes import (
    load_weights,
    save_weights,
    save_whole_model,
    train_step,
    train_step_2018,
    warnings_from,
)
from tests.chapters import TEACHING_CHAPTERS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "changes.md"


def table_rows():
    text = PAGE.read_text(encoding="utf-8")
    table = text.split("## At a glance", 1)[1].split("\n## ", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| The post")]


# What each row of DESIGN.md's table "The original post, checked" is about: each must have its row here.
DESIGN_ROWS = [
    "torch.FloatTensor(10)",
    "torch.from_numpy",
    "notebook gradients",
    "nn.Softmax()",
    "self. num_inputs",
    "17 loss functions",
    "SGD, RMSprop, Adagrad",
    "tensorboard-pytorch",
    "Variable",
    "volatile",
    "loss.data[0]",
    "size_average",
    "torch.range",
    "xavier_uniform",
    "zero_grad()",
    "torch.load",
    "scheduler",
    "torch.accelerator",
]


def test_every_claim_of_the_design_table_has_a_row():
    table = "\n".join(table_rows())
    missing = [claim for claim in DESIGN_ROWS if claim not in table]
    assert not missing, f"rows missing from 'At a glance': {missing}"


def test_every_row_links_to_its_proof_on_the_page_and_to_a_chapter():
    rows = table_rows()
    assert len(rows) >= 15
    for row in rows:
        proof = re.search(r"\[below\]\(#([\w-]+)\)", row)
        chapter = re.search(r"\]\(([\w-]+\.md)(?:#[\w-]+)?\) \|$", row)
        assert proof, f"no link to the checked example: {row}"
        assert chapter and chapter[1] in TEACHING_CHAPTERS, f"no link to the chapter teaching it: {row}"


def test_warnings_from_records_without_leaking_the_filter():
    before = warnings.filters[:]
    assert warnings_from(lambda: None) == []
    assert warnings_from(lambda: warnings.warn("x", FutureWarning)) == ["FutureWarning: x"]
    assert warnings.filters == before


def test_the_2018_step_updates_the_model_then_fails_on_data_0():
    torch.manual_seed(0)
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
            train_step_2018(model, torch.randn(8, 2), torch.randn(8, 1), optimizer)
    assert [w.category for w in caught] == [UserWarning]
    assert not torch.equal(model.weight, before), "the optimizer step ran before the failing line"


def test_todays_step_learns_a_linear_map():
    torch.manual_seed(0)
    inputs = torch.randn(64, 2)
    targets = inputs @ torch.tensor([[2.0], [-1.0]])
    model = nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    first = train_step(model, inputs, targets, optimizer)
    for _ in range(200):
        last = train_step(model, inputs, targets, optimizer)
    assert isinstance(last, float)
    assert last < first / 100


def test_from_numpy_shares_memory_both_ways_and_tensor_copies():
    n = np.zeros(3)
    shared, copied = torch.from_numpy(n), torch.tensor(n)
    shared[1] = 7.0
    assert n[1] == 7.0 and copied[1] == 0.0
    assert shared.data_ptr() == n.ctypes.data


def test_variable_returns_a_plain_tensor_on_the_same_memory():
    from torch.autograd import Variable

    t = torch.ones(2)
    wrapped = Variable(t)
    assert type(wrapped) is torch.Tensor
    assert wrapped.data_ptr() == t.data_ptr()


def test_a_whole_model_loads_only_when_trusted_and_weights_load_by_default():
    model = nn.Linear(3, 2)
    whole = save_whole_model(model)
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global"):
        torch.load(io.BytesIO(whole))
    trusted = torch.load(io.BytesIO(whole), weights_only=False)  # our own bytes, made just above
    assert isinstance(trusted, nn.Linear) and torch.equal(trusted.weight, model.weight)
    restored = load_weights(save_weights(model), nn.Linear(3, 2))
    assert all(torch.equal(a, b) for a, b in zip(restored.state_dict().values(), model.state_dict().values()))


def test_the_post_era_loss_flags_map_onto_reduction():
    prediction, target = torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summed = nn.MSELoss(size_average=False)(prediction, target)
        unreduced = nn.MSELoss(reduce=False)(prediction, target)
    assert torch.equal(summed, nn.MSELoss(reduction="sum")(prediction, target))
    assert torch.equal(unreduced, nn.MSELoss(reduction="none")(prediction, target))


def test_torch_range_includes_its_end_and_arange_does_not():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert torch.range(0, 3).tolist() == [0.0, 1.0, 2.0, 3.0]
    assert torch.arange(0, 3).tolist() == [0, 1, 2]


def test_legacy_constructors_allocate_uninitialised_memory_like_empty():
    # In deterministic mode PyTorch fills uninitialised memory with NaN, which makes it visible.
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        assert torch.utils.deterministic.fill_uninitialized_memory
        for made in (torch.FloatTensor(10), torch.FloatTensor(2, 3), torch.empty(10)):
            assert made.isnan().all()
        assert not torch.zeros(10).isnan().any()
    finally:
        torch.use_deterministic_algorithms(previous)


def test_implicit_softmax_dim_is_the_last_axis_in_2d_and_the_first_in_3d():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrix, sequences = torch.randn(2, 3), torch.randn(4, 6, 3)
        assert torch.equal(nn.Softmax()(matrix), matrix.softmax(dim=-1))
        assert torch.equal(nn.Softmax()(sequences), sequences.softmax(dim=0))


def test_the_posts_signature_fails_at_the_full_stop_where_the_page_puts_the_caret():
    line = "def __init__(self. num_inputs, num_classes, dropout_prob=0.3):"
    with pytest.raises(SyntaxError) as raised:
        compile(line + "\n    pass", "post.py", "exec")
    assert raised.value.msg == "invalid syntax" and raised.value.offset == line.index(".") + 1
    shown = PAGE.read_text(encoding="utf-8").split("    " + line + "\n", 1)[1].splitlines()[0]
    assert shown.index("^") - 4 == line.index("."), "the caret on the page is not under the full stop"


def test_zero_grad_sets_to_none_by_default_and_reduce_warns_too():
    assert inspect.signature(torch.optim.Optimizer.zero_grad).parameters["set_to_none"].default is True
    assert warnings_from(lambda: nn.MSELoss(reduce=False)) == [
        "UserWarning: size_average and reduce args will be deprecated, please use reduction='none' instead."
    ]
