"""Code of docs/changes.md: the 2018 post's idioms run on today's PyTorch, beside their replacements."""

# --8<-- [start:imports]
import io
import warnings

import numpy as np
import torch
from torch import nn
from torch.autograd import Variable

torch.manual_seed(0)


def warnings_from(action):
    """Call `action()`; return its warnings as "Category: message" strings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
    return [f"{w.category.__name__}: {w.message}" for w in caught]


# --8<-- [end:imports]


# --8<-- [start:step_2018]
def train_step_2018(model, inputs, targets, optimizer):
    """One training step the way PyTorch 0.3/0.4-era tutorials wrote it."""
    inputs, targets = Variable(inputs), Variable(targets)  # runs, adds nothing
    criterion = nn.MSELoss(size_average=True)  # warns: use reduction=
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.data[0]  # fails: the loss is a 0-d tensor


# --8<-- [end:step_2018]


# --8<-- [start:step_today]
def train_step(model, inputs, targets, optimizer):
    """The same step today: plain tensors, `reduction=`, `.item()`."""
    criterion = nn.MSELoss(reduction="mean")
    optimizer.zero_grad()
    loss = criterion(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


# --8<-- [end:step_today]


# --8<-- [start:save_whole_model]
def save_whole_model(model):
    """Pickle the whole module, as 2018 tutorials often did; return the bytes."""
    buffer = io.BytesIO()  # a file would do the same
    torch.save(model, buffer)
    return buffer.getvalue()


# --8<-- [end:save_whole_model]


# --8<-- [start:save_state_dict]
def save_weights(model):
    """Save only the tensors (the state_dict): what torch.load takes by default."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def load_weights(data, model):
    """Load saved weights into `model`, built by your code, and return it."""
    model.load_state_dict(torch.load(io.BytesIO(data), weights_only=True))
    return model


# --8<-- [end:save_state_dict]
