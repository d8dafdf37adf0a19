# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Walkthrough: spirals, end to end
#
# **What you will learn:** how the pieces of the earlier chapters fit into one complete training run, from a
# dataset made in code to a saved, reloaded and checked model, watched with TensorBoard along the way.
#
# This page is a notebook, executed every time the site is built: the outputs and figures below are the
# ones this code produced. If the accuracy ever drops below 97%, an `assert` further down fails and the site
# does not build. Download it with the button at the top of the page and run it in Jupyter, or copy the cells
# in order into a Python session: it needs only `torch`, `matplotlib` and `tensorboard`, nothing from this
# guide's repository.

# %% [markdown]
# ## Set-up
#
# The imports, and a seed for PyTorch's global random generator: the model's initial weights come from it,
# so the numbers below are the same on every run. Everything this notebook writes (TensorBoard logs, the
# checkpoint) goes into a fresh temporary folder, never into your working directory.

# %%
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from tensorboard.backend.event_processing import event_accumulator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split
from torch.utils.tensorboard import SummaryWriter

torch.manual_seed(0)
torch.set_num_threads(1)  # see the note below
workdir = Path(tempfile.mkdtemp(prefix="walkthrough-"))
print(f"PyTorch {torch.__version__}")

# %% [markdown]
# Why `torch.set_num_threads(1)`? This model and its batches are so small that splitting each operation over
# several CPU threads costs more than it saves, and on a busy machine the threads also wait for each other.
# One thread trains this notebook in well under a second (the training cell prints its time). Large models are
# the opposite: leave the default there.

# %% [markdown]
# ## The data: a Dataset, a split and two DataLoaders
#
# Two interleaved spirals, one per class: a line cannot separate them, a small network can. The data are
# made in code (nothing is downloaded) and seeded, so everyone gets the same 1000 points.
#
# A [`Dataset`](https://docs.pytorch.org/docs/stable/data.html#torch.utils.data.Dataset) is anything with a
# length that returns one example per index; `TensorDataset` wraps tensors whose first dimension counts the
# examples. [`random_split`](https://docs.pytorch.org/docs/stable/data.html#torch.utils.data.random_split)
# holds out a validation set the model never trains on, and each
# [`DataLoader`](https://docs.pytorch.org/docs/stable/data.html#torch.utils.data.DataLoader) cuts its set
# into batches. The split and the shuffling each take their own seeded `torch.Generator`, so they do not
# depend on what else used the global generator before.
#
# The points come from `two_spirals`, the function [Optimizers](../../optimizers/) introduces:

# %%
--8<-- "snippets/spirals.py:two_spirals"

# %%
inputs, labels = two_spirals(n_per_class=500, noise=0.1, seed=0)
dataset = TensorDataset(inputs, labels)
train_set, val_set = random_split(
    dataset, [800, 200], generator=torch.Generator().manual_seed(0)
)
train_loader = DataLoader(
    train_set, batch_size=64, shuffle=True,
    generator=torch.Generator().manual_seed(0),
)
val_loader = DataLoader(val_set, batch_size=200)  # one batch, in order

x, y = dataset[0]
inputs = [round(v, 4) for v in x.tolist()]
print(f"{len(dataset)} examples, e.g. inputs {inputs} with label {y.item()}")
print(f"train on {len(train_set)} in {len(train_loader)} batches, "
      f"validate on {len(val_set)}")

# %% [markdown]
# ## The model, the loss, the optimizer and the scheduler
#
# `MLP` is the classifier built on [Custom modules](../../custom-modules/), used here with two hidden layers
# of 64 units and one output per class. It returns **logits**, which is what
# [`CrossEntropyLoss`](https://docs.pytorch.org/docs/stable/generated/torch.nn.CrossEntropyLoss.html) expects
# (see [Loss functions](../../losses/)).

# %%
--8<-- "snippets/models.py:mlp"


# %% [markdown]
# [`AdamW`](https://docs.pytorch.org/docs/stable/generated/torch.optim.AdamW.html) adapts each parameter's
# step size; [`OneCycleLR`](https://docs.pytorch.org/docs/stable/generated/torch.optim.lr_scheduler.OneCycleLR.html)
# warms the learning rate up to `max_lr`, then anneals it far below where it started. It is stepped after
# every batch, so it needs the number of batches per epoch (see [Optimizers](../../optimizers/)).

# %%
epochs = 40
model = MLP(num_inputs=2, num_classes=2, hidden=(64, 64))
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=2e-2, epochs=epochs, steps_per_epoch=len(train_loader)
)
print(model)
print(f"{sum(p.numel() for p in model.parameters())} parameters")


# %% [markdown]
# ## One epoch of training, one pass of validation
#
# Training runs the familiar step for each batch: clear the old gradients, compute the loss, backpropagate,
# update, then move the scheduler on. Validation runs in `eval()` mode (it matters as soon as a model has
# dropout or batch norm) and under `torch.no_grad()`, since nothing is learned there.

# %%
def train_one_epoch(model, loader, loss_fn, optimizer, scheduler):
    """One pass over `loader`, updating `model`; returns the mean loss."""
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()  # after optimizer.step(): the other order warns
        total += loss.item() * len(y)
    return total / len(loader.dataset)


@torch.no_grad()
def evaluate(model, loader, loss_fn):
    """Mean loss and accuracy of `model` on `loader`; changes nothing."""
    model.eval()
    total, correct = 0.0, 0
    for x, y in loader:
        logits = model(x)
        total += loss_fn(logits, y).item() * len(y)
        correct += (logits.argmax(dim=1) == y).sum().item()
    return total / len(loader.dataset), correct / len(loader.dataset)


# %% [markdown]
# ## The training run, logged to TensorBoard
#
# Each epoch trains, validates, and writes four scalars with a
# [`SummaryWriter`](https://docs.pytorch.org/docs/stable/tensorboard.html) (see
# [Monitoring with TensorBoard](../../tensorboard/)). Whenever the validation accuracy beats the best so far,
# the model's `state_dict` is saved as a checkpoint, with the epoch and the optimizer's state: that is the
# model to keep, not necessarily the last one.

# %%
log_dir = workdir / "runs" / "spirals"
best_path = workdir / "best.pt"
history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
best_accuracy = 0.0
started = time.perf_counter()

with SummaryWriter(log_dir=log_dir) as writer:
    for epoch in range(1, epochs + 1):
        lr = scheduler.get_last_lr()[0]  # the rate this epoch starts with
        train_loss = train_one_epoch(
            model, train_loader, loss_fn, optimizer, scheduler
        )
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
        history["train_loss"].append(train_loss)
        history["val_loss"].append(val_loss)
        history["val_accuracy"].append(val_accuracy)
        writer.add_scalar("loss/train", train_loss, epoch)
        writer.add_scalar("loss/validation", val_loss, epoch)
        writer.add_scalar("accuracy/validation", val_accuracy, epoch)
        writer.add_scalar("learning_rate", lr, epoch)
        if val_accuracy > best_accuracy:
            best_accuracy = val_accuracy
            torch.save({"epoch": epoch,
                        "val_accuracy": val_accuracy,
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict()}, best_path)
        if epoch == 1 or epoch % 5 == 0:
            print(f"epoch {epoch:2d}  lr {lr:.5f}  train loss {train_loss:.4f}"
                  f"  val loss {val_loss:.4f}  val accuracy {val_accuracy:.3f}")

print(f"{epochs} epochs in {time.perf_counter() - started:.1f} s")

# %% [markdown]
# Once the learning rate has warmed up, the validation accuracy climbs fast (epochs 5 to 15) while the losses
# fall; the last epochs, at a tiny learning rate, only polish what was learned.
#
# ## Loss curves
#
# The same numbers, drawn. Training and validation loss falling together means the model learns the spirals
# rather than memorising its 800 points; a validation loss that turned up while the training loss kept falling
# would be overfitting.

# %% alt="Two line charts over the 40 epochs. Left: the training and validation losses, falling together. Right: the validation accuracy, rising from near chance to close to 1."
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(8, 2.8), dpi=72)
epoch_numbers = range(1, epochs + 1)
ax_loss.plot(epoch_numbers, history["train_loss"], label="training")
ax_loss.plot(epoch_numbers, history["val_loss"], label="validation")
ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
ax_loss.legend()
ax_acc.plot(epoch_numbers, history["val_accuracy"], color="tab:green")
ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0.5, 1.0),
           title="Validation accuracy")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Load the best checkpoint back, and check it
#
# [`torch.load`](https://docs.pytorch.org/docs/stable/generated/torch.load.html) with `weights_only=True`
# (today's default, see [What changed](../../changes/#torchload-loads-only-weights-by-default)) only unpickles
# tensors and plain containers, so a checkpoint from someone else cannot run code on your machine. A fresh
# `MLP` receives the saved weights with `load_state_dict`, and its accuracy on the validation set is measured
# again: it must be the one recorded at save time, and at least 97%, or this cell fails and with it the build
# of this site.

# %%
checkpoint = torch.load(best_path, weights_only=True)
best_model = MLP(num_inputs=2, num_classes=2, hidden=(64, 64))
best_model.load_state_dict(checkpoint["model"])
_, accuracy = evaluate(best_model, val_loader, loss_fn)

assert accuracy == checkpoint["val_accuracy"]
assert accuracy >= 0.97, f"validation accuracy {accuracy:.3f} is below 0.97"
print(f"best checkpoint: epoch {checkpoint['epoch']}, "
      f"validation accuracy {accuracy:.3f}")

# %% [markdown]
# ## The learned decision boundary
#
# Ask the model for the probability of class 1 at every point of a grid covering the plane, and colour the
# plane by the class it predicts; the black line is where the probability crosses 0.5. The validation points,
# which the model never trained on, are drawn in the colour of their true class: as the accuracy above says,
# nearly all of them sit on their side.

# %% alt="The plane split into two interleaved spiral-shaped regions, one per predicted class, separated by a black boundary line, with the 200 validation points drawn on top in the colour of their true class."
grid = torch.linspace(-1.3, 1.3, 200)
grid_y, grid_x = torch.meshgrid(grid, grid, indexing="ij")
points = torch.stack([grid_x.flatten(), grid_y.flatten()], dim=1)
best_model.eval()
with torch.no_grad():
    probability = best_model(points).softmax(dim=1)[:, 1]
probability = probability.reshape(grid_x.shape)

val_inputs, val_labels = next(iter(val_loader))
fig, ax = plt.subplots(figsize=(4, 4), dpi=72)
ax.contourf(grid_x, grid_y, probability, levels=[0, 0.5, 1],
            colors=["#f8d0c8", "#c8d8f0"])
ax.contour(grid_x, grid_y, probability, levels=[0.5], colors="black")
for label, color in [(0, "tab:red"), (1, "tab:blue")]:
    chosen = val_labels == label
    ax.scatter(val_inputs[chosen, 0], val_inputs[chosen, 1], s=12,
               color=color, label=f"class {label}")
ax.set(title="Decision boundary and validation points",
       xticks=[], yticks=[], aspect="equal")
ax.legend(loc="lower right")
plt.show()

# %% [markdown]
# ## What TensorBoard received
#
# The writer left an event file in `log_dir`. TensorBoard's own reader finds the four series in it, one value
# per epoch:

# %%
events = event_accumulator.EventAccumulator(str(log_dir)).Reload()
for tag in sorted(events.Tags()["scalars"]):
    print(f"{tag}: {len(events.Scalars(tag))} values")
print(f"tensorboard --logdir {log_dir.parent}")

# %% [markdown]
# To browse the curves, run that last command (it names this run's temporary folder) and open
# <http://localhost:6006>, before running the last cell, which deletes the folder.
#
# ## Clean up
#
# The logs and the checkpoint were written in a temporary folder; remove it.

# %%
shutil.rmtree(workdir)

# %% [markdown]
# ## Where to go next
#
# - Each step above has its chapter: [Tensors](../../tensors/), [Gradients](../../gradients/),
#   [Building blocks](../../building-blocks/), [Custom modules](../../custom-modules/),
#   [Loss functions](../../losses/), [Optimizers](../../optimizers/),
#   [Monitoring with TensorBoard](../../tensorboard/).
# - [What changed since PyTorch 0.4](../../changes/) compares the original 2018 post with today's PyTorch, and
#   [Common errors](../../errors/) explains the error messages you are most likely to meet.
# - Reference: [`torch.utils.data`](https://docs.pytorch.org/docs/stable/data.html),
#   [Saving and loading models](https://docs.pytorch.org/tutorials/beginner/saving_loading_models.html),
#   [`torch.utils.tensorboard`](https://docs.pytorch.org/docs/stable/tensorboard.html).
