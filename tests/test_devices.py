"""Claims of docs/devices.md checked beyond what the page prints: the loop on any device, the timing helper,
autocast's dtypes per operation, the gradient scaler, torch.compile (same losses, graph breaks, recompiles),
memory counts, and the build-time speed figure."""

import re
from pathlib import Path

import pytest
import torch
from torch import nn

from snippets import devices
from snippets.devices import (
    OPERATIONS,
    amp_settings,
    amp_training_step,
    autocast_dtypes,
    compiles_per_call,
    eager_and_compiled_losses,
    float16_gradient,
    graph_ops,
    machine,
    recording_backend,
    seconds_per_call,
    spiral_loader,
    train,
    train_one_epoch,
    training_memory,
    with_branch,
    with_print,
    without_break,
)
from snippets.models import MLP
from snippets.spirals import two_spirals

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "devices.md"
CPU = torch.device("cpu")


# One training loop for every device


def test_the_loop_learns_and_keeps_the_model_where_it_was_put():
    model, losses = train(CPU, epochs=5)
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.8 * losses[0]
    assert all(p.device == CPU for p in model.parameters())


def test_the_epoch_loss_is_the_mean_per_sample_even_with_a_smaller_last_batch():
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    loader = spiral_loader(CPU, batch_size=300)  # 1000 samples: batches of 300, 300, 300 and 100
    # What each batch's loss will be, step by step, computed by hand on a copy of the model, from a loader
    # of the same seed (each pass over a loader draws a new order from its generator).
    reference = MLP(num_inputs=2, num_classes=2)
    reference.load_state_dict(model.state_dict())
    optimizer, reference_optimizer = (torch.optim.SGD(m.parameters(), lr=0.1) for m in (model, reference))
    expected_total, sizes, batch_means = 0.0, [], []
    for inputs, targets in spiral_loader(CPU, batch_size=300):
        sizes.append(len(targets))
        reference_optimizer.zero_grad()
        loss = nn.functional.cross_entropy(reference(inputs), targets)
        loss.backward()
        reference_optimizer.step()
        expected_total += loss.item() * len(targets)
        batch_means.append(loss.item())
    assert sizes == [300, 300, 300, 100]
    mean = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, device=CPU)
    assert mean == pytest.approx(expected_total / 1000, rel=1e-6)
    assert mean != pytest.approx(sum(batch_means) / 4, rel=1e-4)  # not the mean of the batches' means
    for trained, by_hand in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(trained, by_hand)


def test_the_device_defaults_to_the_models():
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert isinstance(train_one_epoch(model, spiral_loader(CPU), nn.CrossEntropyLoss(), optimizer), float)


def test_the_loader_pins_memory_only_for_an_accelerator_and_shuffles_reproducibly():
    assert not spiral_loader(CPU).pin_memory
    assert spiral_loader(torch.device("cuda")).pin_memory  # not iterated: no GPU needed to build it
    first, second = spiral_loader(CPU), spiral_loader(CPU)
    for (a, _), (b, _) in zip(first, second):
        assert torch.equal(a, b)
    inputs, _ = two_spirals()
    assert not torch.equal(next(iter(first))[0], inputs[:100])  # shuffled, not in dataset order


def test_moving_to_the_device_a_tensor_is_on_returns_it_unchanged():
    batch = torch.ones(3)
    assert batch.to(CPU) is batch and batch.to(CPU, non_blocking=True) is batch


# Timing


def test_seconds_per_call_warms_up_and_waits_for_an_accelerator_only(monkeypatch):
    calls, waits = [], []
    monkeypatch.setattr(torch.accelerator, "synchronize", lambda *args: waits.append(args))
    assert seconds_per_call(lambda: calls.append(1), CPU, calls=4) > 0  # it measured something
    assert len(calls) == 5 and waits == []  # one untimed call first; the CPU has nothing to wait for
    seconds_per_call(lambda: calls.append(1), torch.device("cuda"), calls=4)
    assert len(waits) == 2  # after the warm-up call and after the timed ones


def test_synchronize_without_an_accelerator_raises():
    if torch.accelerator.is_available():
        pytest.skip("this machine has an accelerator")
    with pytest.raises((RuntimeError, AssertionError)):
        torch.accelerator.synchronize()


# Mixed precision


BFLOAT16_FROM_FLOAT32 = {
    "linear": torch.bfloat16,
    "matmul": torch.bfloat16,  # matrix products: cast down
    "relu": torch.float32,
    "softmax": torch.float32,
    "sum": torch.float32,  # on the CPU: follow their input
    "mse_loss": torch.float32,
    "cross_entropy": torch.float32,  # losses: cast up
}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_autocast_dtypes_per_operation_on_the_cpu(dtype):
    low = {name: dtype if kind == torch.bfloat16 else kind for name, kind in BFLOAT16_FROM_FLOAT32.items()}
    assert autocast_dtypes(torch.randn(8, 4), dtype=dtype) == low
    following = {**low, "relu": dtype, "softmax": dtype, "sum": dtype}
    assert autocast_dtypes(torch.randn(8, 4).to(dtype), dtype=dtype) == following


def test_autocast_is_off_outside_its_block():
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pass
    assert OPERATIONS["linear"](torch.randn(8, 4)).dtype == torch.float32
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=False):
        assert OPERATIONS["linear"](torch.randn(8, 4)).dtype == torch.float32


def test_autocast_keeps_weights_and_gradients_float32_and_the_result_close():
    torch.manual_seed(0)
    layer, x = nn.Linear(16, 8), torch.randn(32, 16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = layer(x)
    low.float().sum().backward()
    assert layer.weight.dtype == layer.weight.grad.dtype == torch.float32
    exact = layer(x)
    assert not torch.allclose(low.float(), exact, atol=1e-6)
    torch.testing.assert_close(low.float(), exact, atol=0.1, rtol=0.02)


def test_float16_loses_a_small_gradient_that_a_scaled_loss_keeps():
    assert torch.tensor(1e-8, dtype=torch.float16).item() == 0.0
    assert torch.tensor(1e-8, dtype=torch.bfloat16).item() == pytest.approx(1e-8, rel=0.01)
    assert float16_gradient() == 0.0
    assert float16_gradient(scale=2.0**16) == pytest.approx(1e-8, rel=1e-3)
    # float16's smallest subnormal is about 6e-8: a scale that lifts 1e-8 just past it keeps a rough value.
    assert float16_gradient(scale=16.0) == pytest.approx(1e-8, rel=0.5)


def test_the_scaler_skips_an_overflowing_step_halves_and_then_grows_its_scale():
    layer = nn.Linear(1, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", growth_interval=3)

    def step(x):
        optimizer.zero_grad()
        scaler.scale(layer(torch.full((1, 1), x)).sum()).backward()
        scaler.step(optimizer)
        scaler.update()

    before = layer.weight.detach().clone()
    step(1e38)
    assert torch.equal(layer.weight, before) and scaler.get_scale() == 2.0**15
    for _ in range(3):
        step(1.0)
    assert not torch.equal(layer.weight, before)
    assert scaler.get_scale() == 2.0**16  # doubled after growth_interval clean steps


def test_amp_settings_per_device():
    dtype, scaler = amp_settings(CPU)
    assert dtype == torch.bfloat16 and not scaler.is_enabled()
    if torch.cuda.is_available():
        dtype, scaler = amp_settings(torch.device("cuda"))
        assert dtype == torch.float16 and scaler.is_enabled()
    else:  # GradScaler("cuda") without a GPU says so and disables itself
        with pytest.warns(UserWarning, match="CUDA is not available"):
            dtype, scaler = amp_settings(torch.device("cuda"))
        assert dtype == torch.float16 and not scaler.is_enabled()


@pytest.mark.parametrize(
    "dtype, scaler",
    [
        (torch.bfloat16, torch.amp.GradScaler("cpu", enabled=False)),
        (torch.float16, torch.amp.GradScaler("cpu")),  # float16 on the CPU, scaled: the CUDA recipe
    ],
)
def test_the_mixed_precision_step_trains(dtype, scaler):
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    epochs = []
    for _ in range(4):
        losses = []
        for inputs, targets in spiral_loader(CPU):
            loss = amp_training_step(model, inputs, targets, nn.CrossEntropyLoss(), optimizer, scaler, dtype)
            assert loss.dtype == torch.float32 and not loss.requires_grad
            losses.append(loss.item())
        epochs.append(sum(losses) / len(losses))
    assert epochs == sorted(epochs, reverse=True) and epochs[-1] < 0.8 * epochs[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_the_scaler_state_round_trips_through_a_checkpoint_and_a_disabled_one_has_none(tmp_path):
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    torch.save({"scaler": scaler.state_dict()}, tmp_path / "checkpoint.pt")
    resumed = torch.amp.GradScaler("cpu")
    resumed.load_state_dict(torch.load(tmp_path / "checkpoint.pt")["scaler"])
    assert resumed.get_scale() == 1024.0 and resumed.state_dict() == scaler.state_dict()
    assert torch.amp.GradScaler("cpu", enabled=False).state_dict() == {}
    with pytest.raises(RuntimeError, match="saved from a disabled instance"):
        torch.amp.GradScaler("cpu").load_state_dict({})
    torch.amp.GradScaler("cpu", enabled=False).load_state_dict(scaler.state_dict())  # ignored, no error


# torch.compile


def test_eager_and_compiled_training_give_the_same_losses():
    losses = eager_and_compiled_losses(steps=5)
    assert losses["eager"][-1] < losses["eager"][0]
    # Inductor may fuse and reorder float32 arithmetic: equal to about float32's precision over 5 steps.
    assert losses["compiled"] == pytest.approx(losses["eager"], rel=1e-5, abs=1e-6)


def test_a_compiled_module_shares_the_weights_and_prefixes_its_state_dict():
    model = MLP(num_inputs=2, num_classes=2)
    compiled = torch.compile(model)  # nothing is compiled before a call
    assert compiled._orig_mod is model
    assert list(compiled.state_dict()) == [f"_orig_mod.{key}" for key in model.state_dict()]
    with pytest.raises(RuntimeError, match="Missing key"):
        MLP(num_inputs=2, num_classes=2).load_state_dict(compiled.state_dict())
    model.compile()  # in place: the names stay
    assert next(iter(model.state_dict())) == "layers.0.weight"


def test_graph_breaks_found_by_explain(capsys):
    counts = {}
    for function in (without_break, with_print, with_branch):
        explanation = torch._dynamo.explain(function)(torch.ones(3))
        counts[function.__name__] = (explanation.graph_count, explanation.graph_break_count, graph_ops(explanation))
    assert counts == {
        "without_break": (1, 0, [["sin", "cos"]]),
        "with_print": (2, 1, [["sin"], ["cos"]]),
        "with_branch": (2, 1, [["sum", "gt"], ["cos"]]),
    }
    assert capsys.readouterr().out == "halfway\n"  # the print ran, in Python, between the two graphs


@pytest.mark.parametrize("function", [with_print, with_branch])
def test_fullgraph_turns_a_graph_break_into_an_error(function):
    torch.compiler.reset()
    with pytest.raises(torch._dynamo.exc.Unsupported):
        torch.compile(function, fullgraph=True, backend="eager")(torch.ones(3))


def test_a_graph_break_keeps_the_results_right():
    torch.compiler.reset()
    for x in (torch.ones(3), -torch.ones(3)):
        assert torch.equal(torch.compile(with_branch, backend="eager")(x), with_branch(x))


def compile_fresh(**options):
    torch.compiler.reset()
    devices.compiled_graphs.clear()
    return torch.compile(without_break, backend=recording_backend, **options)


def test_recompilation_when_shapes_change():
    sizes = [3, 4, 5, 6]
    assert compiles_per_call(compile_fresh(), sizes) == ["3: static", "4: dynamic", "5: reused", "6: reused"]
    assert compiles_per_call(compile_fresh(dynamic=True), sizes) == ["3: dynamic"] + [f"{n}: reused" for n in sizes[1:]]
    assert compiles_per_call(compile_fresh(dynamic=False), sizes) == [f"{n}: static" for n in sizes]
    # Same shape, other dtype: a guard fails too.
    function = compile_fresh()
    assert compiles_per_call(function, [3]) == ["3: static"]
    function(torch.ones(3, dtype=torch.float64))
    assert len(devices.compiled_graphs) == 2


def test_static_compilation_stops_at_the_recompile_limit():
    limit = torch._dynamo.config.recompile_limit
    sizes = list(range(1, limit + 3))
    function = compile_fresh(dynamic=False)
    events = compiles_per_call(function, sizes)
    assert events == [f"{n}: static" for n in sizes[:limit]] + [f"{n}: reused" for n in sizes[limit:]]
    # "reused" here means nothing was compiled: past the limit the function runs eagerly, still right.
    assert torch.equal(function(torch.ones(limit + 5)), without_break(torch.ones(limit + 5)))
    assert len(devices.compiled_graphs) == limit


# Memory


def test_training_memory_counts_parameters_gradients_and_optimizer_state():
    torch.manual_seed(0)
    model = MLP(num_inputs=2, num_classes=2)
    count = sum(p.nelement() for p in model.parameters())
    adam = torch.optim.Adam(model.parameters())
    assert training_memory(model, adam) == {"parameters": 4 * count, "gradients": 0, "optimizer state": 0}
    nn.functional.cross_entropy(model(torch.randn(5, 2)), torch.zeros(5, dtype=torch.long)).backward()
    adam.step()
    steps = len(list(model.parameters()))  # one float32 step count per parameter tensor
    assert training_memory(model, adam) == {
        "parameters": 4 * count,
        "gradients": 4 * count,
        "optimizer state": 2 * 4 * count + 4 * steps,
    }
    sgd = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sgd.step()
    assert training_memory(model, sgd)["optimizer state"] == 4 * count  # one velocity per parameter
    assert training_memory(model.to(torch.bfloat16), sgd)["parameters"] == 2 * count


def test_the_cpu_allocator_failure_is_not_an_out_of_memory_error():
    with pytest.raises(RuntimeError, match="can't allocate memory") as caught:
        torch.empty(2**50)
    assert not isinstance(caught.value, torch.OutOfMemoryError)
    assert torch.cuda.OutOfMemoryError is torch.OutOfMemoryError


# The speed figure, measured at build time


def test_machine_names_the_processor_threads_and_torch():
    described = machine()
    assert f"torch {torch.__version__}" in described
    assert re.search(rf"\b{torch.get_num_threads()} threads?\b", described)
    assert ("no GPU" in described) != torch.cuda.is_available()


def test_measure_speed_times_each_variant_at_each_size():
    speed = devices.measure_speed(batch_sizes=(8,), min_run_time=0.01)
    assert speed["batch sizes"] == [8]
    assert set(speed["per call"]) == {"eager, float32", "eager, bfloat16 autocast", "compiled, float32"}
    assert all(len(seconds) == 1 and min(seconds) > 0 for seconds in speed["per call"].values())
    assert speed["first compiled call"] > 0


def test_the_figure_says_which_machine_measured_it(monkeypatch):
    fake = {
        "batch sizes": [64, 512, 4096],
        "first compiled call": 1.0,
        "per call": {
            name: [1e-5, 1e-4, 1e-3] for name in ("eager, float32", "eager, bfloat16 autocast", "compiled, float32")
        },
    }
    monkeypatch.setattr(devices, "measure_speed", lambda: fake)
    figure = devices.figure_speed()
    assert machine() in figure.get_suptitle()
    assert [ax.get_yscale() for ax in figure.axes] == ["log", "log"]


def test_built_site_shows_the_figure(built_site):
    svg = built_site.directory / "assets" / "figures" / "devices" / "speed.svg"
    assert svg.exists(), "the build hook did not write the figure"
    assert f"torch {torch.__version__}" in svg.read_text(encoding="utf-8")  # the title names the machine
    page = (built_site.directory / "devices" / "index.html").read_text(encoding="utf-8")
    image = re.search(r'<img[^>]*src="\.\./assets/figures/devices/speed\.svg"[^>]*>', page)
    assert image and re.search(r'alt="Two bar charts measured by the machine named in the title', image.group())


def test_the_page_prints_no_duration():
    # Timings vary by machine and run: the page may time things, never show a time as a checked output.
    outputs = re.findall(r"```output\n(.*?)```", PAGE.read_text(encoding="utf-8"), re.DOTALL)
    duration = re.compile(r"\b\d+(\.\d+)?\s*(ns|us|µs|ms|s|sec|seconds?)\b")
    assert outputs and not any(duration.search(block) for block in outputs)
