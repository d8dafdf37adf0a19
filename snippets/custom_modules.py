"""Code of docs/custom-modules.md: writing, inspecting, saving and loading your own nn.Module."""

# --8<-- [start:post_code]
import torch
from torch import nn

torch.manual_seed(0)

# The original post's custom module, character for character (two-space indents included).
post_code = """\
class OurModule(nn.Module):
  def __init__(self. num_inputs, num_classes, dropout_prob=0.3):
    super(OurModule, self).__init__()
    self.pipe = nn.Sequential(
        nn.Linear(2,5),
        nn.ReLU(),
        nn.Linear(5, 20),
        nn.ReLU(),
        nn.Linear(20, num_classes),
        nn.Dropout(p=dropout_prob),
        nn.Softmax()
    )
  def forward(self, x):
    return self.pipe(x)

if __name__ == "__main__":
  net = OurModule(num_inputs=2, num_classes=3)
  v = torch.FloatTensor([[2,3]])
  out = net(v)
  print(net); print(out)
"""
# --8<-- [end:post_code]


# --8<-- [start:our_module]
class OurModule(nn.Module):
    """The post's classifier, repaired: it returns one logit per class."""

    def __init__(self, num_inputs, num_classes, dropout_prob=0.3):  # (1)!
        super().__init__()  # (2)!
        self.pipe = nn.Sequential(
            nn.Linear(num_inputs, 5),  # (3)!
            nn.ReLU(),
            nn.Linear(5, 20),
            nn.ReLU(),
            nn.Dropout(p=dropout_prob),  # (4)!
            nn.Linear(20, num_classes),  # (5)!
        )

    def forward(self, x):
        return self.pipe(x)


if __name__ == "__main__":  # (6)!
    net = OurModule(num_inputs=2, num_classes=3)
    v = torch.tensor([[2.0, 3.0]])  # (7)!
    net.eval()  # (8)!
    with torch.no_grad():
        out = net(v)
    print(net)
    print(out)  # logits
    print(out.softmax(dim=1))  # (9)!
# --8<-- [end:our_module]


# --8<-- [start:swish]
class Swish(nn.Module):
    """x * sigmoid(beta * x): an activation function with a learnable parameter, beta."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(beta))  # (1)!

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)
# --8<-- [end:swish]


# --8<-- [start:standardize]
class Standardize(nn.Module):
    """Standardises inputs with a mean and a standard deviation measured on the training data."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)  # (1)!
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std
# --8<-- [end:standardize]


# --8<-- [start:checkpoint]
def save_checkpoint(path, model, optimizer, epoch):
    """Write what resuming training needs: model and optimizer state, and the epoch reached."""
    checkpoint = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": epoch,
    }
    torch.save(checkpoint, path)


def load_checkpoint(path, model, optimizer):
    """Load a save_checkpoint file into a model and an optimizer; return its epoch."""
    checkpoint = torch.load(path, map_location="cpu")  # (1)!
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]
# --8<-- [end:checkpoint]
