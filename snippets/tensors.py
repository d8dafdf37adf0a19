"""Code of docs/tensors.md: creating, converting, reshaping and moving tensors."""

# --8<-- [start:imports]
import numpy as np
import torch

torch.manual_seed(0)  # (1)!
# --8<-- [end:imports]


# --8<-- [start:standardise]
def standardise(x):
    """Give each column (feature) of x zero mean and unit standard deviation."""
    mean = x.mean(dim=0, keepdim=True)  # shape (1, features)
    std = x.std(dim=0, keepdim=True)
    return (x - mean) / std  # (rows, features) minus (1, features): broadcast


# --8<-- [end:standardise]


# The broadcasting section's figures, drawn at build time (hooks/figures.py) from the page's examples.


def broadcast(a, b):
    """a and b as `a - b` sees them, each repeated to the result's shape, with a mask of the cells that are in
    its memory (the others repeat a size-1 or missing axis); and the result."""
    result = a - b
    operands = []
    for operand in (a, b):
        padded = operand.reshape(
            (1,) * (result.ndim - operand.ndim) + tuple(operand.shape)
        )
        in_memory = torch.zeros(result.shape, dtype=torch.bool)
        in_memory[tuple(slice(0, size) for size in padded.shape)] = True
        operands.append((operand.expand(result.shape), in_memory))
    return operands, result


def _subtraction(a, b, names):
    """A figure of `a - b = result` as grids of numbers; repeated cells are drawn faded and dashed."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    (a_shown, a_own), (b_shown, b_own) = broadcast(a, b)[0]
    result = a - b
    grids = [
        (names[0], a_shown, a_own),
        "−",
        (names[1], b_shown, b_own),
        "=",
        (names[2], result, torch.ones(result.shape, dtype=torch.bool)),
    ]
    width, sign = (
        1.4,
        0.9,
    )  # a cell's width and a sign's, in the units of a cell's height
    span = sum(
        sign if isinstance(grid, str) else grid[1].shape[1] * width for grid in grids
    )
    figure, ax = plt.subplots(figsize=(0.5 * span + 0.3, 2.3), layout="constrained")
    x = 0.0
    for grid in grids:
        if isinstance(grid, str):
            ax.text(x + sign / 2, -1.5, grid, ha="center", va="center", fontsize=18)
            x += sign
            continue
        title, values, own = grid
        rows, columns = values.shape
        for row in range(rows):
            for column in range(columns):
                real = bool(own[row, column])
                ax.add_patch(
                    Rectangle(
                        (x + column * width, -row - 1),
                        width,
                        1,
                        linewidth=1.2,
                        facecolor="#fbe9e7" if real else "white",
                        edgecolor="#bf360c" if real else "#9e9e9e",
                        linestyle="-" if real else "--",
                    )
                )
                ax.text(
                    x + (column + 0.5) * width,
                    -row - 0.5,
                    f"{values[row, column].item():g}",
                    ha="center",
                    va="center",
                    color="black" if real else "#757575",
                )
        ax.text(x + columns * width / 2, 0.25, title, ha="center", va="bottom")
        x += columns * width
    ax.set_xlim(-0.1, x + 0.1)
    ax.set_ylim(-3.2, 1.1)
    ax.set_aspect("equal")
    ax.axis("off")
    return figure


def figure_broadcasting():
    """The standardise example: a (3, 2) matrix minus the (1, 2) row of its column means."""
    data = torch.tensor([[1.0, 100.0], [2.0, 200.0], [3.0, 300.0]])
    mean = data.mean(dim=0, keepdim=True)
    return _subtraction(
        data, mean, ["data (3, 2)", "mean (1, 2)", "data - mean (3, 2)"]
    )


def figure_broadcast_bug():
    """The pitfall: (3, 1) predictions minus (3,) targets is a (3, 3) grid of every pair."""
    predictions = torch.tensor([[1.0], [2.0], [3.0]])
    targets = torch.tensor([1.0, 2.0, 3.0])
    names = ["predictions (3, 1)", "targets (3,)", "difference (3, 3)"]
    return _subtraction(predictions, targets, names)


# --8<-- [start:pick_device]
def pick_device():
    """The accelerator (CUDA, MPS, XPU, ...) when one is usable, else the CPU."""
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
