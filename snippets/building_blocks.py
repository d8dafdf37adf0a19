"""Code of docs/building-blocks.md: the layers of torch.nn, stacked with nn.Sequential and checked by hand."""

# --8<-- [start:post_sequential]
import torch
from torch import nn

torch.manual_seed(0)  # (1)!

net = nn.Sequential(  # (2)!
    nn.Linear(2, 5),  # (3)!
    nn.ReLU(),
    nn.Linear(5, 20),
    nn.Dropout(p=0.3),
    nn.Softmax(dim=1),  # (4)!
)
# --8<-- [end:post_sequential]


# --8<-- [start:count_parameters]
def count_parameters(model):
    """How many learnable numbers a model holds: its parameters' sizes, added up."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --8<-- [end:count_parameters]


# --8<-- [start:init_weights]
def init_weights(module):
    """Xavier-uniform weights, zero biases for Linear layers; others left alone."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)  # (1)!
        nn.init.zeros_(module.bias)


# --8<-- [end:init_weights]


# --8<-- [start:small_cnn]
def small_cnn(num_classes=10):
    """A small classifier for 3x32x32 images, made of the layers met after Linear."""
    return nn.Sequential(
        nn.Conv2d(in_channels=3, out_channels=16, kernel_size=3, padding=1),  # (1)!
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2),  # (2)!
        nn.Flatten(),  # (3)!
        nn.Linear(16 * 16 * 16, num_classes),
    )


def print_shapes(model, x):
    """Run x through an nn.Sequential layer by layer, printing each output's shape."""
    print(f"{'input':>9} {tuple(x.shape)}")
    for layer in model:
        x = layer(x)
        print(f"{type(layer).__name__:>9} {tuple(x.shape)}")
    return x


# --8<-- [end:small_cnn]
