"""Code of docs/training.md: train, validation and test, early stopping, checkpoints, reproducibility."""

# --8<-- [start:imports]
import copy
import math
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split

torch.manual_seed(0)
# --8<-- [end:imports]

from snippets.models import MLP  # noqa: E402 - shown on the page from its own section, after the imports


# --8<-- [start:digits]
def digits_splits(seed=0):
    """scikit-learn's 1797 handwritten digits, as train, validation and test sets."""
    digits = load_digits()  # 8x8 grey images, pixels from 0 to 16, labels 0 to 9
    images = torch.tensor(digits.images, dtype=torch.float32).flatten(1) / 16
    labels = torch.tensor(digits.target)  # int64, what CrossEntropyLoss expects
    dataset = TensorDataset(images, labels)  # 64 inputs in [0, 1] and a label per image
    split = torch.Generator().manual_seed(seed)  # its own: the same split every time
    return random_split(dataset, [0.7, 0.15, 0.15], generator=split)


# --8<-- [end:digits]


# --8<-- [start:train_one_epoch]
def train_one_epoch(model, loader, loss_fn, optimizer, scheduler=None, device=None):
    """One pass over `loader`, updating `model`; returns the mean training loss.

    A scheduler, when given, is stepped after every batch (OneCycleLR counts batches);
    batches are moved to `device` when one is given."""
    model.train()
    total, count = 0.0, 0
    for inputs, targets in loader:
        if device is not None:
            inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()  # after optimizer.step(): the other order warns
        total += loss.detach() * len(targets)  # no .item() here: on a GPU it would wait
        count += len(targets)
    return total.item() / count


# --8<-- [end:train_one_epoch]


# --8<-- [start:evaluate]
@torch.no_grad()
def evaluate(model, loader, loss_fn, device=None):
    """Mean loss and accuracy of `model` over `loader`, in eval mode; learns nothing."""
    was_training = model.training
    model.eval()  # dropout off, batch norm uses its running statistics
    total, correct, count = 0.0, 0, 0
    for inputs, targets in loader:
        if device is not None:
            inputs, targets = inputs.to(device), targets.to(device)
        logits = model(inputs)
        total += loss_fn(logits, targets) * len(targets)
        correct += (logits.argmax(dim=1) == targets).sum()
        count += len(targets)
    model.train(was_training)  # back to the mode the caller had
    return total.item() / count, correct.item() / count


# --8<-- [end:evaluate]


# --8<-- [start:overfit]
def overfit(train_set, val_set, epochs=40, early_stopping=None):
    """Train a large MLP on only 60 training images; returns it and its losses."""
    torch.manual_seed(0)
    model = MLP(num_inputs=64, num_classes=10, hidden=(512, 512))
    few = torch.utils.data.Subset(train_set, range(60))
    train_loader = DataLoader(
        few, batch_size=20, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    val_loader = DataLoader(val_set, batch_size=len(val_set))
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    history = {"training": [], "validation": []}
    for epoch in range(1, epochs + 1):
        history["training"].append(
            train_one_epoch(model, train_loader, loss_fn, optimizer)
        )
        val_loss, _ = evaluate(model, val_loader, loss_fn)
        history["validation"].append(val_loss)
        if early_stopping is not None and early_stopping.step(val_loss, model, epoch):
            break
    return model, history


# --8<-- [end:overfit]


def figure_overfitting():
    """The overfitting run's losses per epoch, with its best epoch marked (drawn at build time)."""
    import matplotlib.pyplot as plt

    train_set, val_set, _ = digits_splits()
    _, history = overfit(train_set, val_set)
    epochs = range(1, len(history["training"]) + 1)
    best = min(epochs, key=lambda epoch: history["validation"][epoch - 1])
    figure, ax = plt.subplots(figsize=(6.4, 3.4), layout="constrained")
    ax.plot(
        epochs, history["training"], label="training loss (60 images)", linewidth=1.8
    )
    ax.plot(
        epochs,
        history["validation"],
        label="validation loss (270 images)",
        linewidth=1.8,
    )
    ax.axvline(best, color="0.45", linestyle="--", linewidth=1)
    ax.annotate(
        f"lowest validation loss: epoch {best}",
        xy=(best, history["validation"][best - 1]),
        xytext=(best + 3, 1.6),
        arrowprops={"arrowstyle": "->", "color": "0.3"},
    )
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy loss (log scale)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(frameon=False, loc="lower left")
    return figure


# --8<-- [start:early_stopping]
class EarlyStopping:
    """Says when the validation loss has not improved for `patience` epochs, and keeps
    the weights of the best epoch."""

    def __init__(self, patience):
        self.patience = patience
        self.best_loss = math.inf
        self.best_epoch = 0
        self.best_weights = None
        self.stopped = False

    def step(self, val_loss, model, epoch):
        """Record one epoch's validation loss; True when training should stop."""
        if val_loss < self.best_loss:
            self.best_loss, self.best_epoch = val_loss, epoch
            self.best_weights = copy.deepcopy(model.state_dict())  # a copy, not a view
        self.stopped = epoch - self.best_epoch >= self.patience
        return self.stopped

    def state_dict(self):  # to save it in a checkpoint, like PyTorch's own objects
        return dict(vars(self))

    def load_state_dict(self, state):
        vars(self).update(state)


# --8<-- [end:early_stopping]


# --8<-- [start:checkpoint]
import os


def save_checkpoint(
    path, *, model, optimizer, scheduler=None, epoch, generator=None, **extra
):
    """Save all a run needs to go on after `epoch`, and `extra`: anything else made of
    tensors, numbers, strings and containers (a GradScaler's state_dict, the best loss).
    Atomic: `path` is always the previous checkpoint or this one, never half of one."""
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "epoch": epoch,
        "rng": {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all(),  # one per GPU; [] without one
            "generator": None if generator is None else generator.get_state(),
        },
        "extra": extra,
    }
    partial = f"{path}.partial"  # in the same folder: a rename never crosses disks
    with open(partial, "wb") as file:
        torch.save(checkpoint, file)
        file.flush()
        os.fsync(file.fileno())  # on disk before the rename, even if the power fails
    os.replace(partial, path)  # atomic: replaces the old checkpoint in one step


def load_checkpoint(
    path, *, model, optimizer=None, scheduler=None, generator=None, map_location="cpu"
):
    """Restore a checkpoint into the objects given; returns the epoch and the extras."""
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    saved_schedule = checkpoint["scheduler"] is not None
    if optimizer is not None and saved_schedule and scheduler is None:
        raise ValueError(f"{path} has a scheduler state: pass scheduler= to resume it")
    if scheduler is not None and not saved_schedule:
        raise ValueError(f"{path} has no scheduler state to resume")
    if generator is not None and checkpoint["rng"]["generator"] is None:
        raise ValueError(f"{path} has no generator state to resume")
    model.load_state_dict(checkpoint["model"])
    if optimizer is not None:
        optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    rng = checkpoint["rng"]
    torch.set_rng_state(rng["torch"].cpu())  # a CPU tensor, whatever map_location says
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([state.cpu() for state in rng["cuda"]])
    if generator is not None:
        generator.set_state(rng["generator"].cpu())
    return {"epoch": checkpoint["epoch"], **checkpoint["extra"]}


# --8<-- [end:checkpoint]


# --8<-- [start:fit]
def fit(checkpoint, train_set, val_set, *, epochs=15, patience=4, stop_after=None):
    """Train the digits MLP with early stopping, saving `checkpoint` after every
    epoch and resuming from it if it exists; returns the model with its best
    weights. `stop_after=k` ends the run after epoch k, as a killed process would."""
    torch.manual_seed(0)
    model = MLP(num_inputs=64, num_classes=10, hidden=(128, 128), dropout=0.2)
    generator = torch.Generator().manual_seed(0)
    train_loader = DataLoader(
        train_set, batch_size=64, shuffle=True, generator=generator
    )
    val_loader = DataLoader(val_set, batch_size=len(val_set))
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.01, epochs=epochs, steps_per_epoch=len(train_loader)
    )
    loss_fn = nn.CrossEntropyLoss()
    early_stopping = EarlyStopping(patience)
    versions = {"torch": str(torch.__version__), "cuda": torch.version.cuda}  # (1)!
    epoch = 0
    if Path(checkpoint).exists():
        state = load_checkpoint(
            checkpoint,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            generator=generator,
        )
        early_stopping.load_state_dict(state["early_stopping"])
        epoch = state["epoch"]
        print(f"resuming after epoch {epoch}")
    while epoch < epochs and not early_stopping.stopped:
        epoch += 1
        lr = optimizer.param_groups[0]["lr"]
        train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, scheduler)
        val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
        early_stopping.step(val_loss, model, epoch)
        save_checkpoint(
            checkpoint,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            epoch=epoch,
            generator=generator,
            early_stopping=early_stopping.state_dict(),
            versions=versions,
        )
        print(
            f"epoch {epoch:2}  lr {lr:.5f}  training loss {train_loss:.3f}  "
            f"validation loss {val_loss:.3f}  accuracy {val_accuracy:.3f}"
        )
        if epoch == stop_after:
            return None
    model.load_state_dict(early_stopping.best_weights)
    return model


# --8<-- [end:fit]


# --8<-- [start:metrics]
@torch.no_grad()
def predict(model, loader):
    """The predicted class and the true label of every example in `loader`."""
    was_training = model.training
    model.eval()
    predictions, labels = [], []
    for inputs, targets in loader:
        predictions.append(model(inputs).argmax(dim=1))
        labels.append(targets)
    model.train(was_training)
    return torch.cat(predictions), torch.cat(labels)


def confusion_matrix(predictions, labels, num_classes):
    """Row i, column j: how many examples of class i were predicted as class j."""
    pairs = labels * num_classes + predictions  # one number per (true, predicted) pair
    counts = torch.bincount(pairs, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


# --8<-- [end:metrics]
