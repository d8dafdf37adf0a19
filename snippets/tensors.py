"""Code of docs/tensors.md: creating, converting, reshaping and moving tensors."""

# --8<-- [start:imports]
import numpy as np
import torch

torch.manual_seed(0)  # (1)!
# --8<-- [end:imports]


# --8<-- [start:standardise]
def standardise(x):
    """Give each column (feature) of x zero mean and unit standard deviation."""
    mean = x.mean(dim=0, keepdim=True)  # (1)!
    std = x.std(dim=0, keepdim=True)
    return (x - mean) / std  # (2)!
# --8<-- [end:standardise]


# --8<-- [start:pick_device]
def pick_device():
    """The machine's accelerator (CUDA, MPS, XPU, ...) when one is usable, else the CPU."""
    if torch.accelerator.is_available():  # (1)!
        return torch.accelerator.current_accelerator()
    return torch.device("cpu")


device = pick_device()
# --8<-- [end:pick_device]


# --8<-- [start:to_device]
x = torch.randn(2, 3, device=device)  # (1)!
w = torch.ones(3, 1).to(device)  # (2)!
y = x @ w  # both operands on one device: fine
y_cpu = y.cpu()  # (3)!
assert x.device.type == w.device.type == y.device.type == device.type
assert y_cpu.device.type == "cpu"
# --8<-- [end:to_device]
