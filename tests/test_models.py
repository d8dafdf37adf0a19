"""snippets/models.py: the shared classifier's architecture, output and training behaviour."""

import pytest
import torch
from torch import nn

from snippets.models import MLP
from snippets.spirals import two_spirals


def test_returns_one_logit_per_class_for_each_input():
    model = MLP(num_inputs=3, num_classes=5, hidden=(8,))
    assert model(torch.randn(4, 3)).shape == (4, 5)


@pytest.mark.parametrize(
    ("hidden", "expected"),
    [((), 2 * 3 + 3), ((4,), 2 * 4 + 4 + 4 * 3 + 3), ((64, 64), 2 * 64 + 64 + 64 * 64 + 64 + 64 * 3 + 3)],
)
def test_parameter_count(hidden, expected):
    model = MLP(num_inputs=2, num_classes=3, hidden=hidden)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_ends_in_a_linear_layer_and_dropout_only_between_hidden_layers():
    model = MLP(2, 3, hidden=(8, 8), dropout=0.5)
    kinds = [type(layer) for layer in model.layers]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    assert not any(isinstance(layer, nn.Softmax) for layer in model.modules())


def test_gradients_reach_every_parameter():
    model = MLP(2, 2)
    nn.functional.cross_entropy(model(torch.randn(16, 2)), torch.randint(0, 2, (16,))).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_learns_the_two_spirals():
    inputs, labels = two_spirals(n_per_class=300, seed=1)
    torch.manual_seed(0)
    model = MLP(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(400):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
    accuracy = (model(inputs).argmax(dim=1) == labels).float().mean().item()
    assert accuracy > 0.95


def test_without_hidden_layers_it_is_one_linear_layer():
    model = MLP(4, 3, hidden=())
    assert [type(layer) for layer in model.layers] == [nn.Linear]


def test_dropout_is_active_in_training_mode_only():
    model, x = MLP(2, 3, hidden=(32,), dropout=0.5), torch.randn(16, 2)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


def test_state_dict_round_trip(tmp_path):
    model = MLP(2, 3, hidden=(8, 8)).eval()
    torch.save(model.state_dict(), tmp_path / "mlp.pt")
    restored = MLP(2, 3, hidden=(8, 8)).eval()
    restored.load_state_dict(torch.load(tmp_path / "mlp.pt"))  # weights_only=True: tensors only
    x = torch.randn(5, 2)
    assert torch.equal(restored(x), model(x))
