"""Two interleaved spirals made in code, nothing downloaded: a dataset shared by pages.

The two_spirals section is shown on docs/optimizers.md, docs/devices.md,
docs/tensorboard.md and the walkthrough notebook."""

# --8<-- [start:two_spirals]
import math

import torch


def two_spirals(n_per_class=500, noise=0.1, seed=0):
    """Two interleaved spirals in the plane, `n_per_class` points each.

    Returns inputs (2n, 2) of the default dtype (float32 unless changed) and
    labels (2n,) of int64, 0 for one arm and 1 for the other.
    """
    generator = torch.Generator().manual_seed(seed)  # leaves the global one alone
    # sqrt spreads the points evenly along an arm
    radius = torch.rand(n_per_class, generator=generator).sqrt()
    angle = radius * 3 * math.pi  # one and a half turns from the centre outwards
    arms = []
    for label in (0, 1):
        turn = angle + label * math.pi  # the second arm: the first turned half a turn
        points = torch.stack([radius * turn.cos(), radius * turn.sin()], dim=1)
        scale = noise * radius.unsqueeze(1)  # more scatter towards the rim
        jitter = scale * torch.randn(n_per_class, 2, generator=generator)
        arms.append(points + jitter)
    inputs = torch.cat(arms)
    labels = torch.arange(2).repeat_interleave(n_per_class)
    return inputs, labels


# --8<-- [end:two_spirals]


def figure_two_spirals():
    """The 1000 points of two_spirals(), by label; drawn by hooks/figures.py."""
    import matplotlib.pyplot as plt

    inputs, labels = two_spirals()
    figure, ax = plt.subplots(figsize=(4.2, 4.2), layout="constrained")
    for label, marker in ((0, "o"), (1, "^")):
        arm = inputs[labels == label]
        ax.scatter(
            arm[:, 0], arm[:, 1], s=9, marker=marker, alpha=0.8, label=f"label {label}"
        )
    ax.set_aspect("equal")
    ax.set_xlabel("inputs[:, 0]")
    ax.set_ylabel("inputs[:, 1]")
    ax.legend(loc="upper right", frameon=False)
    return figure
