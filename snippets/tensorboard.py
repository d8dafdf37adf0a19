"""Code of docs/tensorboard.md: logging a real training run to TensorBoard and reading the logs back."""

# --8<-- [start:imports]
import shutil
import warnings
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import (
    HISTOGRAMS,
    SCALARS,
    EventAccumulator,
)
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
# --8<-- [end:imports]

from snippets.models import MLP  # noqa: E402 - the page shows these from their sections
from snippets.spirals import two_spirals  # noqa: E402
from snippets.training import evaluate, train_one_epoch  # noqa: E402


# --8<-- [start:first_writer]
def new_run(log_dir):
    """An empty folder for a run: whatever an earlier run left there is deleted."""
    shutil.rmtree(log_dir, ignore_errors=True)
    return log_dir


def log_squares(log_dir, steps=5):
    """The smallest useful log: one scalar per step, in a run of its own."""
    with SummaryWriter(log_dir=log_dir) as writer:
        for step in range(steps):
            writer.add_scalar("demo/square", step**2, global_step=step)


# --8<-- [end:first_writer]


# --8<-- [start:load_run]
def load_run(run_dir):
    """Read every event file of one run folder back into memory."""
    keep_all = {SCALARS: 0, HISTOGRAMS: 0}  # 0: every event, not a sample of them
    return EventAccumulator(str(run_dir), size_guidance=keep_all).Reload()


# --8<-- [end:load_run]


# --8<-- [start:flush_and_close]
def read_while_open(log_dir):
    """Read a run while its writer is open; close it; then use it again."""
    writer = SummaryWriter(log_dir=log_dir)
    writer.add_scalar("demo/value", 1.0, global_step=0)
    writer.flush()
    tags = load_run(log_dir).Tags()["scalars"]
    writer.close()
    writer.add_scalar("demo/value", 2.0, global_step=1)  # a mistake, on purpose
    writer.close()
    return tags


# --8<-- [end:flush_and_close]


# --8<-- [start:add_scalars]
def log_with_add_scalars(log_dir, steps=3):
    """Two curves on one chart with add_scalars."""
    with SummaryWriter(log_dir=log_dir) as writer:
        for step in range(steps):
            losses = {"train": 1 / (step + 1), "validation": 1.2 / (step + 1)}
            writer.add_scalars("loss", losses, global_step=step)


# --8<-- [end:add_scalars]


# --8<-- [start:layout]
LAYOUT = {  # categories, then charts, as the Custom Scalars tab shows them
    "Spirals": {
        # one chart: every tag matching one of these regular expressions
        "loss": ["Multiline", ["loss/train", "loss/validation"]],
        "accuracy": ["Multiline", [r"accuracy/.*"]],
    },
}
# --8<-- [end:layout]


# --8<-- [start:data]
def spiral_splits(n_validation=200, seed=0):
    """Two-spirals points, shuffled and split into training and validation."""
    inputs, labels = two_spirals(n_per_class=500, noise=0.1, seed=seed)
    generator = torch.Generator().manual_seed(seed)  # not the global one
    order = torch.randperm(len(inputs), generator=generator)
    inputs, labels = inputs[order], labels[order]
    train = TensorDataset(inputs[n_validation:], labels[n_validation:])
    validation = TensorDataset(inputs[:n_validation], labels[:n_validation])
    return train, validation


# --8<-- [end:data]


# --8<-- [start:log_graph]
# add_graph traces the model with torch.jit.trace, which PyTorch deprecates
# (two messages: trace, trace_method; a DeprecationWarning up to 2.13, a
# FutureWarning from 2.14). TensorBoard's graph still comes from that trace,
# so log_graph silences exactly those messages, whatever their category.
TRACE_DEPRECATED = r"`torch\.jit\.trace(_method)?` is deprecated"


def log_graph(writer, model, example_inputs):
    """Record the model's graph, traced on example inputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=TRACE_DEPRECATED)
        writer.add_graph(model, example_inputs)


# --8<-- [end:log_graph]


# --8<-- [start:log_histograms]
def log_histograms(writer, model, step):
    """A histogram of each parameter tensor, and of its gradient."""
    for name, parameter in model.named_parameters():  # layers.0.weight, ...
        writer.add_histogram(f"weights/{name}", parameter, global_step=step)
        if parameter.grad is not None:  # only after a backward()
            writer.add_histogram(f"gradients/{name}", parameter.grad, global_step=step)


# --8<-- [end:log_histograms]


# --8<-- [start:train]
def train(
    log_dir, lr=0.01, hidden=(64, 64), epochs=30, batch_size=200, histogram_every=5
):
    """Train an MLP on the two spirals, logging to TensorBoard in log_dir."""
    train_set, validation_set = spiral_splits()
    model = MLP(num_inputs=2, num_classes=2, hidden=hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    validation_loader = DataLoader(validation_set, batch_size=batch_size)

    with SummaryWriter(log_dir=log_dir) as writer:
        note = f"MLP {hidden}, Adam lr={lr}, batch size {batch_size}"
        writer.add_text("run", note)
        writer.add_custom_scalars(LAYOUT)
        log_graph(writer, model, train_set.tensors[0][:batch_size])
        for epoch in range(1, epochs + 1):
            train_loss = train_one_epoch(model, loader, loss_fn, optimizer)
            loss, accuracy = evaluate(model, validation_loader, loss_fn)
            writer.add_scalar("loss/train", train_loss, global_step=epoch)
            writer.add_scalar("loss/validation", loss, global_step=epoch)
            writer.add_scalar("accuracy/validation", accuracy, global_step=epoch)
            if epoch % histogram_every == 0:
                log_histograms(writer, model, step=epoch)
        writer.add_hparams(
            {
                "lr": lr,
                "hidden": str(hidden),
                "batch_size": batch_size,
                "epochs": epochs,
            },
            {"hparam/accuracy": accuracy, "hparam/loss": loss},
            run_name=".",
        )
    return loss, accuracy


# --8<-- [end:train]


# --8<-- [start:compare_runs]
def best_accuracies(log_root, tag="accuracy/validation"):
    """For each run under log_root: the highest value its `tag` reached."""
    best = {}
    for run_dir in sorted(Path(log_root).iterdir()):
        values = [event.value for event in load_run(run_dir).Scalars(tag)]
        best[run_dir.name] = round(max(values), 2)
    return best


# --8<-- [end:compare_runs]
