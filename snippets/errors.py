"""Code of docs/errors.md: common PyTorch errors reproduced, and the code that fixes them."""

# --8<-- [start:imports]
import dataclasses
import io
import warnings

import numpy as np
import torch
from torch import nn

torch.manual_seed(0)
# --8<-- [end:imports]


# --8<-- [start:fit_slope_wrong]
def fit_slope_wrong(x, y, steps=50, lr=0.5):
    """Fit y = w * x by gradient descent. Broken: see below."""
    w = torch.zeros(1, requires_grad=True)
    predictions = x * w  # computed once, before the loop: every step reuses it
    for _ in range(steps):
        loss = ((predictions - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w -= lr * w.grad
        w.grad = None
    return w.item()


# --8<-- [end:fit_slope_wrong]


# --8<-- [start:fit_slope]
def fit_slope(x, y, steps=50, lr=0.5):
    """Fit y = w * x by gradient descent, written out by hand."""
    w = torch.zeros(1, requires_grad=True)
    for _ in range(steps):
        loss = ((x * w - y) ** 2).mean()  # the forward pass, inside the loop
        loss.backward()
        with torch.no_grad():  # the update must not be recorded
            w -= lr * w.grad
        w.grad = None  # gradients add up: clear them before the next step
    return w.item()


# --8<-- [end:fit_slope]


# --8<-- [start:settings]
@dataclasses.dataclass
class Settings:
    """What a training run was configured with."""

    in_features: int = 2
    out_features: int = 3
    lr: float = 0.01


# --8<-- [end:settings]


# --8<-- [start:plain_settings]
def save_with_plain_settings(model, settings):
    """The weights and the settings of a run, as tensors and plain values only."""
    buffer = io.BytesIO()  # or a file name
    saved = {
        "model": model.state_dict(),
        "settings": dataclasses.asdict(settings),  # a dict of numbers: accepted
    }
    torch.save(saved, buffer)
    return buffer.getvalue()


def load_with_plain_settings(data):
    """Rebuild the settings and the model from what save_with_plain_settings wrote."""
    saved = torch.load(io.BytesIO(data), weights_only=True)
    settings = Settings(**saved["settings"])  # the class is rebuilt by your code
    model = nn.Linear(settings.in_features, settings.out_features)
    model.load_state_dict(saved["model"])
    return model, settings


# --8<-- [end:plain_settings]
