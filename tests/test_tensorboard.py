"""Claims of docs/tensorboard.md checked beyond what the page prints: the event files a training run writes,
and what the real `tensorboard` server makes of them through its HTTP API."""

from __future__ import annotations

import inspect
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
import torch
from packaging.version import Version
from tensorboard.summary.writer.event_file_writer import EventFileWriter
from torch.utils.tensorboard import SummaryWriter

from snippets.models import MLP
from snippets.tensorboard import (
    LAYOUT,
    best_accuracies,
    evaluate,
    load_run,
    log_graph,
    log_squares,
    log_with_add_scalars,
    new_run,
    read_while_open,
    spiral_splits,
    train,
    train_one_epoch,
)

EPOCHS, HISTOGRAM_EVERY = 4, 2  # a short run: every kind of event, in a fraction of a second
RUNS = ("lr-0.01", "lr-0.001")
SCALAR_TAGS = {"loss/train", "loss/validation", "accuracy/validation"}
PARAMETERS = [f"layers.{index}.{kind}" for index in (0, 2, 4) for kind in ("weight", "bias")]
HISTOGRAM_TAGS = {f"{prefix}/{name}" for prefix in ("weights", "gradients") for name in PARAMETERS}
TENSORBOARD = Path(sys.executable).parent / "tensorboard"  # the venv's own server
SERVER_TIMEOUT_S = 20


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, dict[str, tuple[float, float]]]:
    """Two short training runs, logged as the page logs them (one folder per run under runs/), and what
    train returned for each: the final validation loss and accuracy."""
    root, returned = tmp_path_factory.mktemp("tensorboard") / "runs", {}
    for run in RUNS:
        torch.manual_seed(0)
        lr = float(run.removeprefix("lr-"))
        returned[run] = train(root / run, lr=lr, epochs=EPOCHS, histogram_every=HISTOGRAM_EVERY)
    return root, returned


@pytest.fixture(scope="module")
def log_root(trained) -> Path:
    return trained[0]


# The event files


def test_each_run_is_one_folder_with_its_hparams_inside(log_root):
    assert sorted(path.name for path in log_root.iterdir()) == sorted(RUNS)
    for run in RUNS:
        folders = [path for path in (log_root / run).rglob("*") if path.is_dir()]
        assert folders == [], f"run_name='.' keeps add_hparams in the run's folder, found {folders}"
        assert len(list((log_root / run).glob("events.out.tfevents.*"))) == 2  # the run's, then add_hparams'


def test_scalars_have_one_value_per_epoch(log_root):
    run = load_run(log_root / "lr-0.01")
    assert set(run.Tags()["scalars"]) == SCALAR_TAGS | {"hparam/accuracy", "hparam/loss"}
    for tag in SCALAR_TAGS:
        assert [event.step for event in run.Scalars(tag)] == list(range(1, EPOCHS + 1)), tag
    accuracy = [event.value for event in run.Scalars("accuracy/validation")]
    assert all(0.0 <= value <= 1.0 for value in accuracy)


def test_final_scalars_match_what_train_returns(trained):
    root, returned = trained
    for name, (validation_loss, accuracy) in returned.items():
        run = load_run(root / name)
        assert run.Scalars("loss/validation")[-1].value == pytest.approx(validation_loss)
        assert run.Scalars("accuracy/validation")[-1].value == pytest.approx(accuracy)
        assert run.Scalars("hparam/loss")[-1].value == pytest.approx(validation_loss)
        assert run.Scalars("hparam/accuracy")[-1].value == pytest.approx(accuracy)


def test_a_larger_learning_rate_learns_faster_in_these_runs(trained):
    _, returned = trained
    assert returned["lr-0.01"][0] < returned["lr-0.001"][0]  # validation loss after the same epochs


def test_histograms_of_weights_and_gradients_every_few_epochs(log_root):
    run = load_run(log_root / "lr-0.01")
    assert set(run.Tags()["histograms"]) == HISTOGRAM_TAGS
    model = MLP(num_inputs=2, num_classes=2)
    sizes = {name: parameter.numel() for name, parameter in model.named_parameters()}
    for tag in HISTOGRAM_TAGS:
        events = run.Histograms(tag)
        assert [event.step for event in events] == list(range(HISTOGRAM_EVERY, EPOCHS + 1, HISTOGRAM_EVERY)), tag
        assert events[-1].histogram_value.num == sizes[tag.partition("/")[2]], tag


def test_gradient_histograms_are_not_all_zero(log_root):
    histogram = load_run(log_root / "lr-0.01").Histograms("gradients/layers.0.weight")[-1].histogram_value
    assert histogram.max > histogram.min


def test_default_size_guidance_keeps_only_the_last_histogram(log_root):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = EventAccumulator(str(log_root / "lr-0.01")).Reload()
    assert [event.step for event in run.Histograms("weights/layers.0.weight")] == [EPOCHS]


def test_graph_holds_the_three_linear_layers(log_root):
    run = load_run(log_root / "lr-0.01")
    assert run.Tags()["graph"] is True
    nodes = run.Graph().node
    ops = [node.op for node in nodes if node.op.startswith("aten::")]
    assert ops == ["aten::linear", "aten::relu"] * 2 + ["aten::linear"]
    names = [node.name for node in nodes]
    assert "input/x" in names
    for index in (0, 2, 4):
        assert any(f"Linear[{index}]/weight" in name for name in names), index


def hparams_of(run):
    """The hyperparameters add_hparams stored in a run, decoded from the HParams plugin's protobuf."""
    from tensorboard.plugins.hparams import plugin_data_pb2

    content = run.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info.hparams
    return {name: getattr(value, value.WhichOneof("kind")) for name, value in hparams.items()}


def test_hparams_text_and_layout_are_recorded(log_root):
    for run_name in RUNS:
        run = load_run(log_root / run_name)
        lr = float(run_name.removeprefix("lr-"))
        # Numbers come back as floats (the format stores every number as one), hidden as the string passed.
        assert hparams_of(run) == {"batch_size": 200.0, "epochs": float(EPOCHS), "hidden": "(64, 64)", "lr": lr}
        note = run.Tensors("run/text_summary")[0].tensor_proto.string_val[0].decode()
        assert f"lr={lr}" in note
        assert "custom_scalars__config__" in run.Tags()["tensors"]


def test_add_graph_still_warns_without_the_filter(tmp_path):
    # log_graph silences two deprecation warnings of torch.jit.trace; when PyTorch stops emitting them, this
    # test fails, and the filter (and the page's sentence about it) can go.
    model, inputs = MLP(num_inputs=2, num_classes=2), torch.zeros(3, 2)
    with SummaryWriter(tmp_path) as writer, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.add_graph(model, inputs)
    messages = [str(warning.message).partition(" is deprecated")[0] for warning in caught]
    assert messages == ["`torch.jit.trace`", "`torch.jit.trace_method`", "`torch.jit.trace_method`"]
    # a DeprecationWarning up to torch 2.13, a FutureWarning from 2.14: the page shows both
    expected = DeprecationWarning if Version(torch.__version__) < Version("2.14") else FutureWarning
    assert all(warning.category is expected for warning in caught)


def test_log_graph_emits_no_warning(tmp_path):
    with SummaryWriter(tmp_path) as writer, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        log_graph(writer, MLP(num_inputs=2, num_classes=2), torch.zeros(3, 2))
    assert caught == []


def test_first_writer_and_reused_folder(tmp_path):
    log_squares(tmp_path / "squares", steps=3)
    log_squares(tmp_path / "squares", steps=3)
    run = load_run(tmp_path / "squares")
    assert [(event.step, event.value) for event in run.Scalars("demo/square")] == [(0, 0.0), (1, 1.0), (2, 4.0)] * 2


def test_writer_defaults_the_page_names():
    defaults = inspect.signature(SummaryWriter).parameters
    assert (defaults["max_queue"].default, defaults["flush_secs"].default) == (10, 120)


CHILD = (  # a script that logs 100 events, then ends as argv[2] says
    "import os, signal, sys, time\n"
    "from tensorboard.compat.proto import event_pb2, summary_pb2\n"
    "from tensorboard.summary.writer.event_file_writer import EventFileWriter\n"
    "writer = EventFileWriter(sys.argv[1], max_queue_size=10, flush_secs=120)\n"
    "for step in range(100):\n"
    "    value = summary_pb2.Summary.Value(tag='demo/value', simple_value=step)\n"
    "    summary = summary_pb2.Summary(value=[value])\n"
    "    writer.add_event(event_pb2.Event(wall_time=time.time(), step=step, summary=summary))\n"
    "if 'flush' in sys.argv[2]:\n"
    "    writer.flush()\n"
    "if 'kill' in sys.argv[2]:\n"
    "    os.kill(os.getpid(), signal.SIGKILL)\n"
)


def logged_by_child(run: Path, ending: str) -> int:
    subprocess.run([sys.executable, "-c", CHILD, str(run), ending], timeout=60)
    events = load_run(run)
    return len(events.Scalars("demo/value")) if events.Tags()["scalars"] else 0


def test_what_a_writer_left_open_keeps(tmp_path):
    # SummaryWriter hands its events to tensorboard's EventFileWriter, queue and background thread included;
    # the child drives that writer directly, as SummaryWriter would, to spare the import of torch.
    with SummaryWriter(tmp_path / "probe") as writer:
        assert isinstance(writer.file_writer.event_writer, EventFileWriter)
    # Without close(), what can be lost is what was still queued (max_queue events, and the one being written);
    # how much is lost depends on how far the background thread got, so only the bound is certain.
    assert 100 - 11 <= logged_by_child(tmp_path / "ends", "end") <= 100
    assert 100 - 11 <= logged_by_child(tmp_path / "killed", "kill") <= 100
    # After flush(), everything added so far is in the file, even if the process is killed at once.
    assert logged_by_child(tmp_path / "flushed", "flush, kill") == 100


def test_new_run_gives_a_rerun_the_same_events(tmp_path):
    for _ in range(2):
        log_squares(new_run(tmp_path / "squares"), steps=3)
    assert len(list((tmp_path / "squares").iterdir())) == 1
    assert [event.step for event in load_run(tmp_path / "squares").Scalars("demo/square")] == [0, 1, 2]
    new_run(tmp_path / "never-made")  # a folder that does not exist yet is fine too


def test_the_loop_has_the_guides_signatures():
    # The guide has one training loop (the training chapter's); the page embeds it, under these signatures.
    assert list(inspect.signature(train_one_epoch).parameters) == [
        "model",
        "loader",
        "loss_fn",
        "optimizer",
        "scheduler",
        "device",
    ]
    assert list(inspect.signature(evaluate).parameters) == ["model", "loader", "loss_fn", "device"]


def test_the_loop_weighs_each_batch_by_its_size():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    inputs, labels = torch.randn(5, 2), torch.tensor([0, 1, 1, 0, 1])
    loss_fn = torch.nn.CrossEntropyLoss()
    dataset = torch.utils.data.TensorDataset(inputs, labels)
    loss, accuracy = evaluate(model, torch.utils.data.DataLoader(dataset, batch_size=2), loss_fn)
    with torch.no_grad():
        logits = model(inputs)
    assert loss == pytest.approx(loss_fn(logits, labels).item())  # batches of 2, 2 and 1: the mean of all 5
    assert accuracy == pytest.approx((logits.argmax(dim=1) == labels).float().mean().item())
    assert torch.is_grad_enabled()  # evaluate's no_grad did not leak
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: the weights stay, the loss is the same
    assert train_one_epoch(model, torch.utils.data.DataLoader(dataset, batch_size=2), loss_fn, optimizer) == (
        pytest.approx(loss)
    )


def test_flush_then_read_and_closed_writer_reopens(tmp_path):
    assert read_while_open(tmp_path / "demo") == ["demo/value"]
    assert len(list((tmp_path / "demo").glob("events.out.tfevents.*"))) == 2
    # The reader goes through the event files in name order, which need not be the order they were written.
    assert sorted(event.value for event in load_run(tmp_path / "demo").Scalars("demo/value")) == [1.0, 2.0]


def test_add_scalars_makes_one_run_per_curve(tmp_path):
    log_with_add_scalars(tmp_path / "both")
    assert sorted(path.name for path in (tmp_path / "both").iterdir() if path.is_dir()) == [
        "loss_train",
        "loss_validation",
    ]
    for curve in ("loss_train", "loss_validation"):
        assert load_run(tmp_path / "both" / curve).Tags()["scalars"] == ["loss"]  # one tag, two runs
    assert load_run(tmp_path / "both").Tags()["scalars"] == []  # the run itself holds no scalar


def test_layout_charts_name_tags_that_train_logs():
    import re

    for charts in LAYOUT.values():
        for kind, patterns in charts.values():
            assert kind == "Multiline"
            for pattern in patterns:
                assert any(re.fullmatch(pattern, tag) for tag in SCALAR_TAGS), pattern


def test_spiral_splits_are_fixed_and_disjoint():
    train_set, validation_set = spiral_splits()
    again, _ = spiral_splits()
    assert len(train_set) == 800 and len(validation_set) == 200
    assert torch.equal(train_set.tensors[0], again.tensors[0])
    labels = torch.cat([train_set.tensors[1], validation_set.tensors[1]])
    assert labels.bincount().tolist() == [500, 500]
    points = torch.cat([train_set.tensors[0], validation_set.tensors[0]])
    assert len(points.unique(dim=0)) == 1000  # no point in both sets


def test_best_accuracies_reads_every_run(log_root):
    best = best_accuracies(log_root)
    assert sorted(best) == sorted(RUNS)
    for run, value in best.items():
        accuracy = [event.value for event in load_run(log_root / run).Scalars("accuracy/validation")]
        assert value == round(max(accuracy), 2)


# The real server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch_json(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.load(response)


class Server:
    def __init__(self, process: subprocess.Popen, url: str, log: Path) -> None:
        self.process, self.url, self.log = process, url, log

    def get(self, route: str, body: dict | None = None):
        return fetch_json(self.url + route, body)

    def wait_for(self, route: str, ready, timeout: float = SERVER_TIMEOUT_S):
        """Poll a route until ready(answer) holds; the server loads runs in the background after it starts."""
        deadline, answer = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"tensorboard exited with {self.process.returncode}:\n{self.log.read_text()}")
            try:
                answer = self.get(route)
                if ready(answer):
                    return answer
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet
            time.sleep(0.2)
        pytest.fail(f"{route} not ready after {timeout} s; last answer {answer!r}\n{self.log.read_text()}")


def log_reused_folder(log_dir: Path) -> None:
    """Two writers, one after the other, on the same folder: steps 0 to 4, then steps 0 to 2 again."""
    for first_value, steps in ((0, 5), (10, 3)):
        with SummaryWriter(log_dir) as writer:
            for step in range(steps):
                writer.add_scalar("demo/value", first_value + step, global_step=step)


@pytest.fixture(scope="module")
def server(log_root, tmp_path_factory):
    """The real tensorboard server on loopback, started once for this file, always stopped. Its logdir holds
    runs/ (the trained runs, listed as runs/lr-0.01 ...) and reused/ (two writers on one folder)."""
    port, work = free_port(), tmp_path_factory.mktemp("tensorboard-server")
    log_reused_folder(log_root.parent / "reused")
    log = work / "tensorboard.log"
    env = {**os.environ, "TMPDIR": str(work)}  # its .tensorboard-info record goes here, not to /tmp
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(TENSORBOARD), "--logdir", str(log_root.parent), "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=work,
            env=env,
        )
    try:
        yield Server(process, f"http://127.0.0.1:{port}", log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


SERVED = [f"runs/{run}" for run in RUNS]  # run names as the server lists them: relative to its logdir


def test_server_lists_the_runs(server):
    runs = server.wait_for("/data/runs", lambda answer: set(SERVED) <= set(answer))
    assert sorted(runs) == sorted([*SERVED, "reused"])


def test_server_says_tensorflow_is_not_needed(server):
    server.wait_for("/data/runs", lambda answer: "reused" in answer)
    assert server.log.read_text().startswith("TensorFlow installation not found - running with reduced feature set.")


def test_server_keeps_only_the_last_writer_of_a_reused_folder(server):
    # EventAccumulator returns both writers' points (test_first_writer_and_reused_folder); the server takes the
    # step that goes back as a restart and drops every point from that step on: the first run vanishes.
    route = "/data/plugin/scalars/scalars?run=reused&tag=demo/value"
    points = server.wait_for(route, lambda answer: len(answer) > 0)
    assert [(step, value) for _, step, value in points] == [(0, 10.0), (1, 11.0), (2, 12.0)]


def test_server_lists_the_scalar_tags(server):
    tags = server.wait_for("/data/plugin/scalars/tags", lambda answer: set(SERVED) <= set(answer))
    for run in SERVED:
        assert SCALAR_TAGS <= set(tags[run]), run


def test_server_lists_the_histogram_tags(server):
    tags = server.wait_for("/data/plugin/histograms/tags", lambda answer: set(SERVED) <= set(answer))
    for run in SERVED:
        assert set(tags[run]) == HISTOGRAM_TAGS, run


def test_server_shows_the_graph_text_layout_and_hparams(server):
    graphs = server.wait_for("/data/plugin/graphs/info", lambda answer: set(SERVED) <= set(answer))
    assert all(graphs[run]["run_graph"] for run in SERVED)
    assert set(server.get("/data/plugin/text/tags")) == set(SERVED)
    layout = server.get("/data/plugin/custom_scalars/layout")
    assert [chart["title"] for chart in layout["category"][0]["chart"]] == ["loss", "accuracy"]
    experiment = server.get("/data/plugin/hparams/experiment", {"experimentName": ""})
    assert {info["name"] for info in experiment["hparamInfos"]} == {"lr", "hidden", "batch_size", "epochs"}


def test_server_enables_the_dashboards_the_page_names(server):
    dashboards = ("scalars", "custom_scalars", "histograms", "distributions", "graphs", "text", "hparams")
    server.wait_for("/data/plugins_listing", lambda answer: all(answer[name]["enabled"] for name in dashboards))


def test_server_opens_on_the_time_series_tab(server):
    # The dashboard opens the first plugin of its listing: "It opens on the Time Series tab".
    listing = server.wait_for("/data/plugins_listing", lambda answer: answer["timeseries"]["enabled"])
    assert next(iter(listing)) == "timeseries"


def test_server_defaults_the_page_states():
    """Port 6006, a reread every 5 seconds, and without --host a note about --bind_all: read from the
    installed tensorboard's own flag definitions and serving message."""
    import argparse

    with warnings.catch_warnings():  # tensorboard's plugins import html5lib's sanitizer, which warns
        warnings.filterwarnings("ignore", "html5lib's sanitizer is deprecated", DeprecationWarning)
        from tensorboard import program
        from tensorboard.plugins.core import core_plugin

    parser = argparse.ArgumentParser()
    core_plugin.CorePluginLoader().define_flags(parser)
    flags = parser.parse_args([])
    assert (flags.port, core_plugin.DEFAULT_PORT) == (None, 6006)  # no --port: 6006
    assert flags.reload_interval == 5.0
    assert flags.host is None and flags.bind_all is False
    serving_message = inspect.getsource(program.WerkzeugServer.print_serving_message)
    assert "self._flags.host is None and not self._flags.bind_all" in serving_message
    assert "Serving TensorBoard on localhost; to expose to the network, " in serving_message
    assert "use a proxy or pass --bind_all" in serving_message
