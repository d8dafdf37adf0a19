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


# --8<-- [start:checkpoint]
import os


def save_checkpoint(path, *, model, optimizer, scheduler=None, epoch, generator=None,
                    **extra):
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


def load_checkpoint(path, *, model, optimizer=None, scheduler=None, generator=None,
                    map_location="cpu"):
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
