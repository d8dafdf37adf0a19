"""Code of docs/losses.md: the loss functions of torch.nn, and two of them computed by hand."""

# --8<-- [start:imports]
import torch
from torch import nn

torch.manual_seed(0)
# --8<-- [end:imports]


# --8<-- [start:inventory]
def loss_classes():
    """The names of every class in torch.nn whose name ends in "Loss", read from the installed package."""
    return sorted(name for name, value in vars(nn).items() if name.endswith("Loss") and isinstance(value, type))
# --8<-- [end:inventory]


# --8<-- [start:mse]
def mse(predictions, targets):
    """Mean squared error: the average of the squared differences."""
    return ((predictions - targets) ** 2).mean()
# --8<-- [end:mse]


# --8<-- [start:cross_entropy]
def cross_entropy(logits, labels):
    """Cross-entropy of raw scores (logits) against class indices, averaged over the batch."""
    log_probabilities = logits - logits.logsumexp(dim=1, keepdim=True)  # (1)!
    picked = log_probabilities[torch.arange(len(labels)), labels]  # (2)!
    return -picked.mean()
# --8<-- [end:cross_entropy]
