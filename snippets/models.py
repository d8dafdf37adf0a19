"""Models shared by several pages and the walkthrough notebook; shown and explained on docs/custom-modules.md."""

# --8<-- [start:mlp]
from torch import nn


class MLP(nn.Module):
    """A multilayer perceptron: Linear + ReLU blocks, then one logit per class.

    It returns logits, not probabilities: CrossEntropyLoss applies log-softmax
    itself, and `model(x).softmax(dim=1)` gives probabilities when you need them.
    """

    def __init__(self, num_inputs, num_classes, hidden=(64, 64), dropout=0.0):
        super().__init__()
        layers, width = [], num_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            if dropout:
                layers.append(nn.Dropout(dropout))  # never after the output
            width = size
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


# --8<-- [end:mlp]
