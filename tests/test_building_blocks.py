"""Claims of docs/building-blocks.md checked beyond what the page prints."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snippets.building_blocks import count_parameters, init_weights, net, print_shapes, small_cnn


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def test_post_sequential_is_the_posts_network():
    kinds = [type(layer) for layer in net]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.Dropout, nn.Softmax]
    assert (net[0].in_features, net[0].out_features, net[2].in_features, net[2].out_features) == (2, 5, 5, 20)
    assert net[3].p == 0.3 and net[4].dim == 1


@pytest.mark.parametrize("training", [True, False])
def test_post_sequential_returns_one_probability_row_per_example(training):
    net.train(training)
    probs = net(torch.randn(7, 2))
    assert probs.shape == (7, 20)
    assert torch.allclose(probs.sum(dim=1), torch.ones(7))
    assert (probs >= 0).all()
    net.train()


@pytest.mark.parametrize(("in_features", "out_features", "batch"), [(2, 5, 4), (7, 3, 1), (1, 1, 10)])
def test_linear_computes_x_times_w_transposed_plus_b(in_features, out_features, batch):
    layer = nn.Linear(in_features, out_features)
    x = torch.randn(batch, in_features)
    assert layer.weight.shape == (out_features, in_features)
    assert torch.allclose(layer(x), x @ layer.weight.T + layer.bias, atol=1e-6)


def test_two_linear_layers_without_activation_are_one_linear_layer():
    first, second, x = nn.Linear(3, 8), nn.Linear(8, 4), torch.randn(5, 3)
    weight, bias = second.weight @ first.weight, second.weight @ first.bias + second.bias
    assert torch.allclose(second(first(x)), F.linear(x, weight, bias), atol=1e-6)
    # With a ReLU in between the composition is no longer linear: f(-x) != -f(x) + 2*f(0) in general.
    pair = nn.Sequential(first, nn.ReLU(), second)
    zero = torch.zeros(1, 3)
    assert not torch.allclose(pair(-x), -pair(x) + 2 * pair(zero), atol=1e-4)


def test_relu_is_max_with_zero():
    x = torch.randn(100)
    assert torch.equal(nn.ReLU()(x), torch.clamp(x, min=0))


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_dropout_zeroes_with_probability_p_and_scales_survivors_in_training(p):
    dropout = nn.Dropout(p)
    out = dropout(torch.ones(200_000))
    survivors = out[out != 0]
    assert torch.allclose(survivors, torch.full_like(survivors, 1 / (1 - p)))
    assert (out == 0).float().mean().item() == pytest.approx(p, abs=0.01)
    assert out.mean().item() == pytest.approx(1.0, abs=0.01)


def test_dropout_is_the_identity_in_eval_mode():
    dropout = nn.Dropout(0.5).eval()
    x = torch.randn(1000)
    assert torch.equal(dropout(x), x)


def test_eval_switches_every_layer_of_a_model():
    model = nn.Sequential(nn.Linear(2, 50), nn.Dropout(0.5), nn.Linear(50, 2))
    x = torch.randn(8, 2)
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert not any(layer.training for layer in model)
    assert torch.equal(model(x), model(x))


def test_functional_dropout_ignores_eval_unless_given_the_flag():
    x = torch.ones(1000)
    assert (F.dropout(x, p=0.5) == 0).any()  # training=True by default
    assert torch.equal(F.dropout(x, p=0.5, training=False), x)


def test_softmax_dim_normalises_the_chosen_axis():
    scores = torch.randn(3, 4)
    assert torch.allclose(nn.Softmax(dim=1)(scores).sum(dim=1), torch.ones(3))
    assert torch.allclose(nn.Softmax(dim=0)(scores).sum(dim=0), torch.ones(4))


@pytest.mark.parametrize(("shape", "guessed"), [((5,), 0), ((2, 5), 1), ((4, 6, 3), 0), ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_warns_and_guesses(shape, guessed):
    x = torch.randn(shape)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        out = nn.Softmax()(x)
    assert torch.allclose(out, torch.softmax(x, dim=guessed))


def test_count_parameters_of_the_posts_network():
    assert count_parameters(net) == (2 * 5 + 5) + (5 * 20 + 20) == 135


def test_count_parameters_skips_frozen_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model[0].requires_grad_(False)
    assert count_parameters(model) == 4 * 2 + 2


def test_functional_twins_compute_what_the_modules_compute():
    layer, x = nn.Linear(3, 2), torch.randn(4, 3)
    assert torch.equal(F.linear(x, layer.weight, layer.bias), layer(x))
    assert torch.equal(F.relu(x), nn.ReLU()(x))
    assert torch.equal(F.softmax(x, dim=1), nn.Softmax(dim=1)(x))


def test_default_linear_init_is_bounded_by_one_over_sqrt_fan_in():
    layer = nn.Linear(16, 1000)
    bound = 1 / math.sqrt(16)
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.95 * bound  # uniform over the whole interval, not a narrower one


def test_init_weights_gives_xavier_weights_and_zero_biases_and_leaves_other_layers():
    model = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.BatchNorm1d(30), nn.Linear(30, 10))
    batch_norm = model[2].weight.detach().clone()
    model.apply(init_weights)
    for layer in (model[0], model[3]):
        bound = math.sqrt(6 / (layer.in_features + layer.out_features))
        assert layer.weight.abs().max() <= bound
        assert torch.equal(layer.bias, torch.zeros_like(layer.bias))
        assert layer.weight.requires_grad  # initialised in place, still a parameter
    assert torch.equal(model[2].weight, batch_norm)


def test_init_without_underscore_is_deprecated():
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        nn.init.xavier_uniform(torch.empty(3, 4))


@pytest.mark.parametrize("num_classes", [10, 3])
def test_small_cnn_shapes_and_parameter_count(num_classes, capsys):
    model = small_cnn(num_classes)
    images = torch.randn(8, 3, 32, 32)
    logits = print_shapes(model, images)
    assert logits.shape == (8, num_classes)
    assert torch.equal(logits, model(images))
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].split() == ["input", "(8,", "3,", "32,", "32)"]
    assert printed[-1].split() == ["Linear", "(8,", f"{num_classes})"]
    assert count_parameters(model) == (16 * 3 * 3 * 3 + 16) + (16 * 16 * 16 * num_classes + num_classes)


def test_conv2d_without_padding_shrinks_by_kernel_minus_one():
    conv = nn.Conv2d(3, 16, kernel_size=3)
    assert conv(torch.randn(2, 3, 32, 32)).shape == (2, 16, 30, 30)


def test_gradients_reach_every_parameter_of_the_small_cnn():
    model = small_cnn()
    F.cross_entropy(model(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3])).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_batch_norm_normalises_per_feature_and_tracks_running_statistics():
    features = torch.randn(64, 4) * 5 + 3
    batch_norm = nn.BatchNorm1d(4)
    out = batch_norm(features)
    assert torch.allclose(out.mean(dim=0), torch.zeros(4), atol=1e-5)
    assert torch.allclose(out.var(dim=0, unbiased=False), torch.ones(4), atol=1e-3)
    batch_norm(features)
    assert torch.allclose(batch_norm.running_mean, 0.19 * features.mean(dim=0), atol=1e-5)
    batch_norm.eval()
    expected = (features - batch_norm.running_mean) / torch.sqrt(batch_norm.running_var + batch_norm.eps)
    assert torch.allclose(batch_norm(features), expected, atol=1e-5)
    assert [name for name, _ in batch_norm.named_parameters()] == ["weight", "bias"]


def test_layer_norm_normalises_each_example_the_same_in_both_modes():
    features = torch.randn(8, 6) * 4 - 2
    layer_norm = nn.LayerNorm(6)
    out = layer_norm(features)
    assert torch.allclose(out.mean(dim=1), torch.zeros(8), atol=1e-5)
    assert torch.equal(layer_norm.eval()(features), out)


def test_embedding_is_a_lookup_table():
    embedding = nn.Embedding(10, 3)
    tokens = torch.randint(0, 10, (2, 5))
    out = embedding(tokens)
    assert out.shape == (2, 5, 3)
    assert torch.equal(out, embedding.weight[tokens])
    with pytest.raises(IndexError):
        embedding(torch.tensor([10]))
