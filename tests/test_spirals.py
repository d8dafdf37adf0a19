"""snippets/spirals.py: the synthetic datasets are what the pages say, and reproducible."""

import torch

from snippets.spirals import two_spirals


def test_shapes_dtypes_and_balanced_labels():
    inputs, labels = two_spirals(n_per_class=300)
    assert inputs.shape == (600, 2) and inputs.dtype == torch.float32
    assert labels.shape == (600,) and labels.dtype == torch.int64
    assert torch.equal(labels.bincount(), torch.tensor([300, 300]))


def test_same_seed_same_data_and_no_global_rng_use():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    first = two_spirals(seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after), "two_spirals must draw from its own generator, not the global one"
    second = two_spirals(seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    assert not torch.equal(first[0], two_spirals(seed=8)[0])


def test_the_arms_are_half_a_turn_apart():
    inputs, labels = two_spirals(n_per_class=200, noise=0.0)
    assert torch.allclose(inputs[labels == 1], -inputs[labels == 0], atol=1e-6)
    assert inputs.norm(dim=1).max() <= 1.0 + 1e-6


def test_the_classes_are_not_linearly_separable():
    # why the pages need a hidden layer: the best linear classifier stays far from perfect
    inputs, labels = two_spirals(n_per_class=500)
    torch.manual_seed(0)
    linear = torch.nn.Linear(2, 2)
    optimizer = torch.optim.Adam(linear.parameters(), lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(linear(inputs), labels).backward()
        optimizer.step()
    accuracy = (linear(inputs).argmax(dim=1) == labels).float().mean().item()
    assert accuracy < 0.75
