"""Two interleaved spirals made in code (nothing is downloaded), shared by the optimizers and TensorBoard pages and
the walkthrough notebook; the two-spirals section is shown on docs/optimizers.md."""

# --8<-- [start:two_spirals]
import math

import torch


def two_spirals(n_per_class=500, noise=0.1, seed=0):
    """Two interleaved spirals in the plane: inputs (2n, 2) of the default dtype (float32 unless changed) and labels (2n,) int64 in {0, 1}."""
    generator = torch.Generator().manual_seed(seed)  # its own generator: the global one is left alone
    radius = torch.rand(n_per_class, generator=generator).sqrt()  # sqrt: points spread evenly along the arm
    angle = radius * 3 * math.pi  # one and a half turns from the centre outwards
    arms = []
    for label in (0, 1):
        turn = angle + label * math.pi  # the second arm is the first rotated half a turn
        points = torch.stack([radius * torch.cos(turn), radius * torch.sin(turn)], dim=1)
        arms.append(points + noise * radius.unsqueeze(1) * torch.randn(n_per_class, 2, generator=generator))
    inputs = torch.cat(arms)
    labels = torch.arange(2).repeat_interleave(n_per_class)
    return inputs, labels
# --8<-- [end:two_spirals]
