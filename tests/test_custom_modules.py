"""Claims of docs/custom-modules.md checked beyond what the page prints."""

import math
import pickle
import runpy

import pytest
import torch
from torch import nn
from torch.autograd import gradcheck
from torch.func import functional_call

from snippets import custom_modules
from snippets.custom_modules import Classifier, OurModule, Standardise, Swish, post_code

FIXED_POST_CODE = post_code.replace("self. num_inputs", "self, num_inputs")


@pytest.fixture(autouse=True)
def seeded():
    torch.manual_seed(0)


def post_module_class():
    """The post's OurModule with only its syntax error fixed, defined without running its __main__ block."""
    namespace = {"torch": torch, "nn": nn, "__name__": "post"}
    exec(FIXED_POST_CODE, namespace)
    return namespace["OurModule"]


def layer_summary(module):
    """(kind, in_features, out_features) of each layer, so that two architectures can be compared."""
    return [
        (type(layer).__name__, getattr(layer, "in_features", None), getattr(layer, "out_features", None))
        for layer in module.pipe
    ]


def test_classifier_registers_its_layers_and_returns_one_logit_per_class():
    model = Classifier(num_inputs=4, num_classes=5, num_hidden=6)
    assert [name for name, _ in model.named_children()] == ["hidden", "output"]
    assert sum(p.numel() for p in model.parameters()) == (4 * 6 + 6) + (6 * 5 + 5)
    x = torch.randn(7, 4)
    assert model(x).shape == (7, 5)
    torch.testing.assert_close(model(x), model.output(torch.relu(model.hidden(x))))
    assert model.to(torch.float64).hidden.weight.dtype == torch.float64  # registered: moved by to()


def test_classifier_learns_a_separable_problem():
    x = torch.randn(200, 2)
    y = (x[:, 0] > x[:, 1]).long()
    model = Classifier(2, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    assert (model(x).argmax(dim=1) == y).float().mean() > 0.95


@pytest.mark.parametrize("num_classes", [2, 3, 4])
def test_dropout_after_the_output_gives_one_of_two_to_the_classes_answers(num_classes):
    net = post_module_class()(num_inputs=2, num_classes=num_classes)
    net.pipe[6].dim = 1
    v = torch.tensor([[2.0, 3.0]])
    with torch.no_grad():
        answers = {tuple(net(v).squeeze().tolist()) for _ in range(3000)}
        scores = net.pipe[:5](v)  # the class scores, before dropout and softmax
    assert len(answers) == 2**num_classes  # each score dropped or kept
    kept = (scores / 0.7).softmax(dim=1)  # nothing dropped: the survivors scaled by 1 / (1 - p)
    dropped = torch.zeros_like(scores).softmax(dim=1)  # everything dropped: all scores 0
    assert {tuple(kept.squeeze().tolist()), tuple(dropped.squeeze().tolist())} <= answers


def test_post_code_is_the_posts_code_and_a_syntax_error_at_the_comma():
    with pytest.raises(SyntaxError) as raised:
        compile(post_code, "ourmodule.py", "exec")
    assert raised.value.lineno == 2
    assert raised.value.text.strip().startswith("def __init__(self. num_inputs")
    assert raised.value.offset == raised.value.text.index(".") + 1  # the caret the page shows, under the full stop
    assert post_code.count("self. num_inputs") == 1  # the replacement on the page fixes exactly one place
    compile(FIXED_POST_CODE, "ourmodule.py", "exec")


def test_the_posts_main_block_runs_once_fixed_and_warns_about_softmax(capsys):
    namespace = {"torch": torch, "nn": nn, "__name__": "__main__"}
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        exec(FIXED_POST_CODE, namespace)
    printed = capsys.readouterr().out
    assert printed.startswith("OurModule(") and "Softmax(dim=None)" in printed
    assert namespace["out"].shape == (1, 3)


def test_the_posts_module_ignores_num_inputs():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x4 and 2x5\)"):
        post_module_class()(num_inputs=4, num_classes=3)(torch.randn(1, 4))


def test_repaired_module_matches_the_posts_architecture_except_where_the_page_says():
    post = layer_summary(post_module_class()(num_inputs=2, num_classes=3))
    repaired = layer_summary(OurModule(num_inputs=2, num_classes=3))
    assert post[-2:] == [("Dropout", None, None), ("Softmax", None, None)]
    # The page: Dropout moves between the hidden layers (before the last Linear), Softmax leaves the model.
    expected = post[:4] + [post[5], post[4]]
    assert repaired == expected
    assert custom_modules.OurModule(2, 3).pipe[4].p == 0.3  # the post's dropout_prob is kept


def test_repaired_module_has_the_posts_parameter_count():
    post = post_module_class()(num_inputs=2, num_classes=3)
    repaired = OurModule(num_inputs=2, num_classes=3)
    count = sum(p.numel() for p in repaired.parameters())
    assert count == sum(p.numel() for p in post.parameters()) == (2 * 5 + 5) + (5 * 20 + 20) + (20 * 3 + 3) == 198


@pytest.mark.parametrize(("num_inputs", "num_classes", "batch"), [(2, 3, 1), (4, 3, 8), (10, 7, 5)])
def test_repaired_module_uses_num_inputs_and_returns_one_logit_per_class(num_inputs, num_classes, batch):
    model = OurModule(num_inputs, num_classes)
    out = model(torch.randn(batch, num_inputs))
    assert out.shape == (batch, num_classes)
    assert sum(p.numel() for p in model.parameters()) == (num_inputs * 5 + 5) + 120 + (20 * num_classes + num_classes)


def test_repaired_module_returns_logits_not_probabilities():
    model = OurModule(2, 3)
    assert not any(isinstance(layer, (nn.Softmax, nn.LogSoftmax)) for layer in model.modules())
    assert isinstance(model.pipe[-1], nn.Linear)
    out = model.eval()(torch.randn(50, 2) * 10)
    assert not torch.allclose(out.sum(dim=1), torch.ones(50))


@pytest.mark.parametrize(
    "model",
    [
        OurModule(2, 3),
        nn.Sequential(Standardise(torch.zeros(2), torch.ones(2)), OurModule(2, 3), Swish()),
    ],
    ids=["OurModule", "Standardise+OurModule+Swish"],
)
def test_gradients_reach_every_parameter(model):
    nn.functional.cross_entropy(model(torch.randn(16, 2)), torch.randint(0, 3, (16,))).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_dropout_makes_training_mode_random_and_eval_mode_deterministic():
    model, x = OurModule(2, 3), torch.randn(64, 2)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert not any(module.training for module in model.modules())
    without_dropout = nn.Sequential(*[layer for layer in model.pipe if not isinstance(layer, nn.Dropout)])
    assert torch.equal(model(x), without_dropout(x))


def test_main_block_runs_as_a_script_and_not_on_import(capsys):
    assert not hasattr(custom_modules, "net")  # importing the module skipped its __main__ block
    namespace = runpy.run_path(custom_modules.__file__, run_name="__main__")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "OurModule(" and printed[-2].startswith("tensor([[")
    out = namespace["out"]
    assert out.shape == (1, 3) and not out.requires_grad
    assert torch.allclose(out.softmax(dim=1).sum(), torch.tensor(1.0))


def test_softmax_does_not_change_the_predicted_class():
    logits = OurModule(2, 3).eval()(torch.randn(100, 2))
    assert torch.equal(logits.argmax(dim=1), logits.softmax(dim=1).argmax(dim=1))


def test_cross_entropy_on_probabilities_cannot_reach_zero():
    target = torch.tensor([0])
    floor = nn.functional.cross_entropy(torch.tensor([[1.0, 0.0, 0.0]]), target)
    assert floor.item() == pytest.approx(math.log(1 + 2 / math.e))  # log(1 + 2/e) = 0.5514
    probabilities = torch.rand(1000, 3).softmax(dim=1) ** 4
    probabilities = probabilities / probabilities.sum(dim=1, keepdim=True)
    losses = nn.functional.cross_entropy(probabilities, torch.zeros(1000, dtype=torch.long), reduction="none")
    assert (losses >= floor - 1e-6).all()  # no probability vector does better than the perfect one
    assert nn.functional.cross_entropy(torch.tensor([[20.0, 0.0, 0.0]]), target).item() < 1e-8


def test_swish_has_one_parameter_and_is_silu_at_beta_one():
    swish = Swish()
    assert [name for name, _ in swish.named_parameters()] == ["beta"]
    x = torch.randn(100)
    assert torch.allclose(swish(x), nn.SiLU()(x))


def test_swish_gradients_pass_gradcheck_for_input_and_beta():
    swish = Swish(beta=0.7).double()
    x = torch.randn(10, dtype=torch.float64, requires_grad=True)
    beta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, beta: functional_call(swish, {"beta": beta}, (x,)), (x, beta))
    assert gradcheck(swish, (x,))


def test_swish_beta_gradient_matches_the_formula():
    swish, x = Swish(beta=1.3), torch.randn(20)
    swish(x).sum().backward()
    s = torch.sigmoid(1.3 * x)
    assert torch.allclose(swish.beta.grad, (x**2 * s * (1 - s)).sum())


def test_swish_learns_its_beta():
    x = torch.linspace(-4, 4, 200)
    target = Swish(beta=2.0)(x).detach()
    swish = Swish()
    optimizer = torch.optim.Adam(swish.parameters(), lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        nn.functional.mse_loss(swish(x), target).backward()
        optimizer.step()
    assert swish.beta.item() == pytest.approx(2.0, abs=0.01)


def test_plain_tensors_and_plain_lists_are_not_registered():
    holder = nn.Module()
    holder.plain = torch.ones(3)
    holder.learned = nn.Parameter(torch.ones(3))
    holder.listed = [nn.Linear(3, 3)]
    holder.held = nn.ModuleList([nn.Linear(3, 3)])
    assert [name for name, _ in holder.named_parameters()] == ["learned", "held.0.weight", "held.0.bias"]
    assert list(holder.state_dict()) == ["learned", "held.0.weight", "held.0.bias"]
    holder.to(torch.float64)
    assert holder.learned.dtype == torch.float64 and holder.plain.dtype == torch.float32


def test_module_init_must_run_before_assigning_layers():
    class Forgetful(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"cannot assign module before Module.__init__\(\) call"):
        Forgetful()


def test_hooks_run_when_the_module_is_called_not_when_forward_is():
    model, calls = OurModule(2, 3), []
    handle = model.register_forward_hook(lambda module, inputs, output: calls.append(output.shape))
    model(torch.randn(5, 2))
    model.forward(torch.randn(5, 2))
    handle.remove()
    model(torch.randn(5, 2))
    assert calls == [(5, 3)]


def test_standardise_keeps_buffers_not_parameters():
    data = torch.randn(500, 2) * 3 + 5
    standardise = Standardise(data.mean(dim=0), data.std(dim=0))
    assert list(standardise.parameters()) == []
    assert list(standardise.state_dict()) == ["mean", "std"]
    out = standardise(data)
    assert torch.allclose(out.mean(dim=0), torch.zeros(2), atol=1e-5)
    assert torch.allclose(out.std(dim=0), torch.ones(2), atol=1e-5)
    standardise.to(torch.float64)  # buffers move and convert with the module
    assert standardise.mean.dtype == standardise.std.dtype == torch.float64


def test_buffers_are_untouched_by_an_optimizer():
    model = nn.Sequential(Standardise(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])), OurModule(2, 3))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.cross_entropy(model(torch.randn(8, 2)), torch.randint(0, 3, (8,))).backward()
    optimizer.step()
    assert torch.equal(model[0].mean, torch.tensor([1.0, 2.0]))
    assert torch.equal(model[0].std, torch.tensor([3.0, 4.0]))


def test_children_modules_and_named_parameters():
    model = OurModule(2, 3)
    assert [name for name, _ in model.named_children()] == ["pipe"]
    assert len(list(model.modules())) == 8
    assert [name for name, _ in model.named_parameters()] == [
        "pipe.0.weight",
        "pipe.0.bias",
        "pipe.2.weight",
        "pipe.2.bias",
        "pipe.5.weight",
        "pipe.5.bias",
    ]
    assert model.get_submodule("pipe.5") is model.pipe[5]


def test_to_moves_a_module_in_place_and_a_tensor_by_copy():
    model, v = OurModule(2, 3), torch.ones(1, 2)
    assert model.to(torch.float64) is model
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert v.to(torch.float64) is not v and v.dtype == torch.float32


def test_state_dict_save_load_round_trip(tmp_path):
    model = OurModule(2, 3).eval()
    torch.save(model.state_dict(), tmp_path / "weights.pt")
    restored = OurModule(2, 3).eval()
    x = torch.randn(10, 2)
    assert not torch.equal(restored(x), model(x))  # a fresh model differs before loading
    restored.load_state_dict(torch.load(tmp_path / "weights.pt"))
    for (name, a), (other, b) in zip(model.state_dict().items(), restored.state_dict().items(), strict=True):
        assert name == other and torch.equal(a, b)
    assert torch.equal(restored(x), model(x))


def test_buffers_survive_the_round_trip(tmp_path):
    standardise = Standardise(torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0]))
    torch.save(standardise.state_dict(), tmp_path / "standardise.pt")
    restored = Standardise(torch.zeros(2), torch.ones(2))
    restored.load_state_dict(torch.load(tmp_path / "standardise.pt"))
    assert torch.equal(restored.mean, standardise.mean) and torch.equal(restored.std, standardise.std)


def test_loading_a_pickled_model_is_refused_by_default(tmp_path):
    torch.save(OurModule(2, 3), tmp_path / "whole.pt")
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL snippets.custom_modules.OurModule"):
        torch.load(tmp_path / "whole.pt")
    loaded = torch.load(tmp_path / "whole.pt", weights_only=False)  # our own file: trusted
    assert isinstance(loaded, OurModule)


class Surprise:
    def __reduce__(self):
        return print, ("this ran while loading!",)


def test_unpickling_runs_code_unless_weights_only(tmp_path, capsys):
    torch.save(Surprise(), tmp_path / "surprise.pt")
    assert torch.load(tmp_path / "surprise.pt", weights_only=False) is None
    assert capsys.readouterr().out == "this ran while loading!\n"
    with pytest.raises(pickle.UnpicklingError, match="Unsupported global: GLOBAL print"):
        torch.load(tmp_path / "surprise.pt")
    assert capsys.readouterr().out == ""


def test_a_dictionary_of_state_dicts_resumes_model_and_optimizer(tmp_path):
    # The page's recipe: {"model": ..., "optimizer": ...}, loaded with the safe default (weights_only=True).
    model = OurModule(2, 3)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    x, y = torch.randn(16, 2), torch.randint(0, 3, (16,))
    for _ in range(3):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "state.pt")

    loaded = torch.load(tmp_path / "state.pt", map_location="cpu")
    resumed = OurModule(2, 3)
    resumed.load_state_dict(loaded["model"])
    resumed_optimizer = torch.optim.Adam(resumed.parameters(), lr=0.01)
    resumed_optimizer.load_state_dict(loaded["optimizer"])
    saved, restored = optimizer.state_dict(), resumed_optimizer.state_dict()
    assert saved["param_groups"] == restored["param_groups"]
    for index, state in saved["state"].items():
        for key, value in state.items():
            assert torch.equal(value, restored["state"][index][key])

    # Resuming continues exactly as if training had never stopped.
    for m, opt in ((model, optimizer), (resumed, resumed_optimizer)):
        torch.manual_seed(1)
        opt.zero_grad()
        nn.functional.cross_entropy(m(x), y).backward()
        opt.step()
    for a, b in zip(model.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_fresh_scheduler_starts_its_schedule_again():
    # Why a complete checkpoint holds the scheduler too (the page points to the training chapter's recipe).
    def schedule():
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        return optimizer, torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=100)

    def step(optimizer, scheduler):
        optimizer.step()
        scheduler.step()
        return optimizer.param_groups[0]["lr"]

    optimizer, scheduler = schedule()
    for _ in range(60):
        step(optimizer, scheduler)
    saved_optimizer, saved_scheduler = optimizer.state_dict(), scheduler.state_dict()
    expected = step(optimizer, scheduler)  # the 61st step's rate, had the run never stopped

    optimizer_only, fresh = schedule()
    optimizer_only.load_state_dict(saved_optimizer)
    assert step(optimizer_only, fresh) < expected / 5  # back in the warm-up
    resumed, resumed_scheduler = schedule()
    resumed.load_state_dict(saved_optimizer)
    resumed_scheduler.load_state_dict(saved_scheduler)
    assert step(resumed, resumed_scheduler) == pytest.approx(expected)
