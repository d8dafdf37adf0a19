"""Claims of docs/optimizers.md checked beyond what the page prints: update rules, the race and its figure,
schedules, checkpoints, and the inventory of torch.optim."""

import importlib.util
import math
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from snippets.spirals import two_spirals
from snippets.models import MLP
from snippets.optimizers import (
    LEARNING_RATES,
    OPTIMIZERS,
    after_one_step,
    descend_rosenbrock,
    learning_rates,
    load_checkpoint,
    optimizer_classes,
    figure_race,
    race,
    rosenbrock,
    save_checkpoint,
    step_sizes,
    train_classifier,
    training_step,
)
from tests.inventory import table_names

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "optimizers.md"


def load_hook():
    spec = importlib.util.spec_from_file_location("figures_hook", ROOT / "hooks" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def curves():
    return race()


def final(losses):
    return {name: curve[-1] for name, curve in losses.items()}


# The training step


def test_one_sgd_step_is_p_minus_lr_times_grad():
    torch.manual_seed(3)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    before = [p.detach().clone() for p in model.parameters()]
    loss = training_step(model, optimizer, nn.MSELoss(), torch.randn(16, 4), torch.randn(16, 2))
    assert loss > 0
    for old, new in zip(before, model.parameters()):
        assert new.grad is not None
        torch.testing.assert_close(new.detach(), old - 0.05 * new.grad)


def test_zero_grad_sets_grad_to_none():
    model = nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).zero_grad()
    assert all(p.grad is None for p in model.parameters())


# Step sizes under a constant gradient


def test_sgd_steps_scale_with_the_gradient_and_adaptive_ones_do_not():
    make = {name: (lambda params, m=make: m(params, lr=0.1)) for name, make in OPTIMIZERS.items()}
    assert step_sizes(make["SGD"], 100.0) == [100 * s for s in step_sizes(make["SGD"], 1.0)]
    for name in ("RMSprop", "Adagrad", "Adam"):
        assert step_sizes(make[name], 100.0) == step_sizes(make[name], 1.0), name


def test_momentum_steps_grow_towards_ten_times_the_plain_step():
    sizes = step_sizes(lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9), 1.0, steps=200)
    assert sizes == sorted(sizes)
    assert sizes[-1] == pytest.approx(0.1 / (1 - 0.9), abs=1e-3)


def test_adagrad_steps_are_lr_over_sqrt_t():
    sizes = step_sizes(lambda params: torch.optim.Adagrad(params, lr=0.1), 1.0, steps=5)
    assert sizes == [round(0.1 / math.sqrt(t), 3) for t in range(1, 6)]


def test_rmsprop_first_step_is_ten_times_lr_and_adam_steps_are_lr():
    assert step_sizes(lambda params: torch.optim.RMSprop(params, lr=0.1), 1.0, steps=1) == [1.0]
    assert step_sizes(lambda params: torch.optim.Adam(params, lr=0.1), 7.0, steps=20) == [0.1] * 20


def test_nesterov_reacts_one_step_sooner():
    plain = step_sizes(lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9), 1.0, steps=6)
    nesterov = step_sizes(lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, nesterov=True), 1.0)
    assert nesterov == plain[1:]


# Weight decay


def test_weight_decay_coupled_and_decoupled():
    assert after_one_step(lambda params: torch.optim.SGD(params, lr=0.1, weight_decay=0.01)) == 0.999
    assert after_one_step(lambda params: torch.optim.Adam(params, lr=0.1, weight_decay=0.01)) == 0.9
    assert after_one_step(lambda params: torch.optim.AdamW(params, lr=0.1, weight_decay=0.01)) == 0.999
    assert torch.optim.AdamW([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 0.01
    assert torch.optim.Adam([torch.zeros(1, requires_grad=True)]).defaults["weight_decay"] == 0


def test_adam_with_decoupled_weight_decay_is_adamw():
    inputs, labels = two_spirals(n_per_class=50)
    runs = []
    for make in (
        lambda params: torch.optim.AdamW(params, lr=0.01, weight_decay=0.1),
        lambda params: torch.optim.Adam(params, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ):
        torch.manual_seed(0)
        model = MLP(num_inputs=2, num_classes=2)
        optimizer = make(model.parameters())
        runs.append([training_step(model, optimizer, nn.CrossEntropyLoss(), inputs, labels) for _ in range(10)])
    assert runs[0] == runs[1]


# The race and its figure


def test_rosenbrock_minimum():
    assert rosenbrock(torch.tensor([1.0, 1.0])).item() == 0
    assert rosenbrock(torch.tensor([-1.2, 1.0])).item() == pytest.approx(24.2)


def test_every_optimizer_starts_the_classifier_from_the_same_weights():
    first = {train_classifier(make, 0.1, steps=1)[0] for make in OPTIMIZERS.values()}
    assert len(first) == 1
    assert first.pop() == pytest.approx(math.log(2), abs=0.05)  # two classes, an untrained network


def test_race_runs_every_optimizer_on_both_problems(curves):
    assert set(curves) == set(LEARNING_RATES)
    for problem, losses in curves.items():
        assert set(losses) == set(OPTIMIZERS) == set(LEARNING_RATES[problem])
        assert all(math.isfinite(loss) for curve in losses.values() for loss in curve), problem


def test_rosenbrock_ranking_claimed_by_the_page(curves):
    losses = final(curves["Rosenbrock"])
    ranking = sorted(losses, key=losses.get)
    assert ranking[0] == "SGD + momentum"  # "momentum builds up speed there"
    assert ranking[1] == "Adam"  # "Adam is first on one problem and second on the other"
    assert ranking[-1] == "SGD"
    assert losses["SGD"] / losses["SGD + momentum"] > 1000  # "ending thousands of times lower"


def test_spirals_ranking_claimed_by_the_page(curves):
    losses = final(curves["two spirals"])
    ranking = sorted(losses, key=losses.get)
    # "Adam wins, momentum comes second, then Adagrad and RMSprop, and plain SGD has barely started"
    assert ranking == ["Adam", "SGD + momentum", "Adagrad", "RMSprop", "SGD"]
    assert losses["SGD"] > 0.4  # it began at log(2) = 0.69


def test_rmsprop_ends_the_spirals_race_above_its_lowest_loss(curves):
    rmsprop = curves["two spirals"]["RMSprop"]
    assert rmsprop[-1] > 1.5 * min(rmsprop)  # the page prints 1.9 times the lowest
    assert len(rmsprop) - rmsprop.index(min(rmsprop)) < 20  # its lowest was only a few steps before the end


def test_another_learning_rate_changes_the_ranking(curves):
    # The page's warning: Adam with lr=0.5 instead of the race's rate beats momentum on Rosenbrock's function.
    assert descend_rosenbrock(OPTIMIZERS["Adam"], lr=0.5)[-1] < final(curves["Rosenbrock"])["SGD + momentum"]


def spikes(curve, factor=2, within=10):
    """Where the loss, once past the first quarter of the run, rises above `factor` times its lowest value of
    the previous `within` steps: the first step of each such episode."""
    rising = [t for t in range(len(curve) // 4, len(curve)) if curve[t] > factor * min(curve[t - within : t])]
    return [t for i, t in enumerate(rising) if i == 0 or t - rising[i - 1] > within]


def test_rmsprop_jumps_twice_on_rosenbrock_and_momentum_overshoots_once_on_the_spirals(curves):
    counts = {name: len(spikes(curve)) for name, curve in curves["Rosenbrock"].items()}
    assert counts.pop("RMSprop") == 2  # "jumps up twice"
    assert set(counts.values()) == {0}  # the other curves settle down
    momentum = curves["two spirals"]["SGD + momentum"]
    [start] = spikes(momentum)
    assert momentum[-1] < min(momentum[start - 10 : start])  # it recovers, and ends below where it overshot


def test_plain_sgd_diverges_on_rosenbrock_with_a_larger_learning_rate():
    assert math.isnan(descend_rosenbrock(OPTIMIZERS["SGD"], lr=0.01)[-1])
    assert math.isfinite(descend_rosenbrock(OPTIMIZERS["SGD"], lr=LEARNING_RATES["Rosenbrock"]["SGD"])[-1])


def test_figure_is_a_small_deterministic_svg_with_text_as_text(built_site):
    svg = load_hook().svg(figure_race)
    built = (built_site.directory / "assets" / "figures" / "optimizers" / "race.svg").read_text(encoding="utf-8")
    # The build's process raced and drew the same numbers, to the same bytes.
    differing = next((pair for pair in enumerate(zip(svg.splitlines(), built.splitlines()), 1)
                      if pair[1][0] != pair[1][1]), None)
    assert svg == built, f"drawn here and in the build, the SVGs differ first at line {differing}"
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    assert len(svg.encode()) < 150_000
    assert "<dc:date>" not in svg  # no build date in the file
    assert "<text" in svg and "SGD + momentum" in svg  # text kept as text...
    assert 'id="DejaVuSans' not in svg  # ...not drawn as embedded glyph outlines


def test_built_site_shows_the_figure(built_site):
    figure = built_site.directory / "assets" / "figures" / "optimizers" / "race.svg"
    assert figure.exists(), "the build hook did not write the figure"
    page = (built_site.directory / "optimizers" / "index.html").read_text(encoding="utf-8")
    image = re.search(r'<img[^>]*src="\.\./assets/figures/optimizers/race\.svg"[^>]*>', page)
    assert image, "the page does not show the figure"
    assert re.search(r'alt="Two line charts of loss against step', image.group())


# Schedules


def test_schedules_shown_on_the_page():
    step = learning_rates(lambda optimizer: torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5))
    assert step[:4] == [0.1, 0.1, 0.1, 0.05]
    cosine = learning_rates(lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10))
    assert cosine == sorted(cosine, reverse=True) and cosine[5] == 0.05
    one_cycle = learning_rates(
        lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=10)
    )
    assert one_cycle[0] == pytest.approx(0.1 / 25) and max(one_cycle) == 0.1


def test_scheduler_before_optimizer_warns():
    optimizer = torch.optim.SGD(nn.Linear(1, 1).parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.warns(UserWarning, match=r"lr_scheduler.step\(\)` before `optimizer.step\(\)"):
        scheduler.step()


def test_one_cycle_refuses_more_steps_than_total():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3)
    with pytest.raises(ValueError, match="total steps is 3"):
        for _ in range(4):
            optimizer.step()
            scheduler.step()


# Checkpoints


def train_and_checkpoint(path, inputs, labels):
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(5):
        training_step(model, optimizer, nn.CrossEntropyLoss(), inputs, labels)
    save_checkpoint(path, model, optimizer, epoch=5)
    return model, optimizer


def test_resuming_from_a_checkpoint_continues_exactly(tmp_path):
    inputs, labels = two_spirals(n_per_class=100)
    model, optimizer = train_and_checkpoint(tmp_path / "checkpoint.pt", inputs, labels)
    resumed_model = MLP(num_inputs=2, num_classes=2)
    resumed_optimizer = torch.optim.Adam(resumed_model.parameters(), lr=0.01)
    assert load_checkpoint(tmp_path / "checkpoint.pt", resumed_model, resumed_optimizer) == 5
    for _ in range(10):
        assert training_step(model, optimizer, nn.CrossEntropyLoss(), inputs, labels) == training_step(
            resumed_model, resumed_optimizer, nn.CrossEntropyLoss(), inputs, labels
        )


def next_step_sizes(path, inputs, labels, restore_optimizer):
    """How far each parameter entry that has a gradient moves in the first step after resuming."""
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    if restore_optimizer:
        load_checkpoint(path, model, optimizer)
    else:
        model.load_state_dict(torch.load(path)["model"])
    before = torch.cat([p.detach().flatten() for p in model.parameters()])
    training_step(model, optimizer, nn.CrossEntropyLoss(), inputs, labels)
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    has_gradient = torch.cat([p.grad.flatten() for p in model.parameters()]).abs() > 1e-6
    return (after - before).abs()[has_gradient]


def test_resuming_with_a_fresh_optimizer_jolts_the_model(tmp_path):
    inputs, labels = two_spirals(n_per_class=100)
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(50):  # long enough for Adam's steps to settle below lr
        training_step(model, optimizer, nn.CrossEntropyLoss(), inputs, labels)
    save_checkpoint(tmp_path / "checkpoint.pt", model, optimizer, epoch=50)
    fresh = next_step_sizes(tmp_path / "checkpoint.pt", inputs, labels, restore_optimizer=False)
    restored = next_step_sizes(tmp_path / "checkpoint.pt", inputs, labels, restore_optimizer=True)
    torch.testing.assert_close(fresh, torch.full_like(fresh, 0.01), rtol=0.02, atol=0)  # every one by lr
    assert restored.mean() < 0.5 * fresh.mean()


# Gradient clipping


def test_clip_grad_norm_returns_the_norm_before_and_caps_it():
    model = nn.Linear(3, 1)
    (1000 * model(torch.ones(1, 3))).sum().backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert total.item() == pytest.approx(2000.0)
    after = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    assert after.item() == pytest.approx(1.0, abs=1e-5)


# The inventory


def test_optimizer_classes_are_torch_optim_optimizers():
    exported = {name for name in torch.optim.__all__ if isinstance(getattr(torch.optim, name), type)}
    optimizers = {name for name in exported if issubclass(getattr(torch.optim, name), torch.optim.Optimizer)}
    assert set(optimizer_classes()) == optimizers - {"Optimizer"}
    assert {"SGD", "RMSprop", "Adagrad", "Adam", "AdamW"} <= set(optimizer_classes())


def test_page_table_lists_exactly_the_installed_optimizers():
    listed = table_names(PAGE, "torch.optim")
    assert len(listed) == len(set(listed)), "an optimizer is listed twice"
    installed = set(optimizer_classes())
    assert not installed - set(listed), f"add to the table in {PAGE.name}: {sorted(installed - set(listed))}"
    assert not set(listed) - installed, f"remove from the table in {PAGE.name}: {sorted(set(listed) - installed)}"
