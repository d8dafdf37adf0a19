"""Code of docs/custom-modules.md: writing, inspecting, saving and loading your own nn.Module."""

# --8<-- [start:classifier]
import torch
from torch import nn

torch.manual_seed(0)


class Classifier(nn.Module):
    """Two linear layers with a ReLU between them: one raw score (logit) per class."""

    def __init__(self, num_inputs, num_classes, num_hidden=8):
        super().__init__()
        self.hidden = nn.Linear(num_inputs, num_hidden)
        self.output = nn.Linear(num_hidden, num_classes)

    def forward(self, x):
        return self.output(torch.relu(self.hidden(x)))


# --8<-- [end:classifier]


# --8<-- [start:swish]
class Swish(nn.Module):
    """x * sigmoid(beta * x): an activation with a learnable parameter, beta."""

    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = nn.Parameter(torch.tensor(beta))  # (1)!

    def forward(self, x):
        return x * torch.sigmoid(self.beta * x)


# --8<-- [end:swish]


# --8<-- [start:standardise]
class Standardise(nn.Module):
    """Standardises inputs with a mean and a standard deviation measured on data."""

    def __init__(self, mean, std):
        super().__init__()
        self.register_buffer("mean", mean)  # (1)!
        self.register_buffer("std", std)

    def forward(self, x):
        return (x - self.mean) / self.std


# --8<-- [end:standardise]


# --8<-- [start:post_code]
# The original post's module, character for character (two-space indents too).
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

    def __init__(self, num_inputs, num_classes, dropout_prob=0.3):
        super().__init__()
        self.pipe = nn.Sequential(
            nn.Linear(num_inputs, 5),
            nn.ReLU(),
            nn.Linear(5, 20),
            nn.ReLU(),
            nn.Dropout(p=dropout_prob),
            nn.Linear(20, num_classes),
        )

    def forward(self, x):
        return self.pipe(x)


if __name__ == "__main__":  # (1)!
    net = OurModule(num_inputs=2, num_classes=3)
    v = torch.tensor([[2.0, 3.0]])
    net.eval()
    with torch.no_grad():
        out = net(v)
    print(net)
    print(out)  # logits
    print(out.softmax(dim=1))  # probabilities, to read
# --8<-- [end:our_module]
