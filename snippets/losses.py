"""Code of docs/losses.md: the loss functions of torch.nn, and two of them computed by hand."""

# --8<-- [start:imports]
import torch
from torch import nn

torch.manual_seed(0)
# --8<-- [end:imports]


# --8<-- [start:inventory]
def loss_classes():
    """The names of the classes in torch.nn whose name ends in "Loss"."""
    return sorted(
        name
        for name, value in vars(nn).items()
        if name.endswith("Loss") and isinstance(value, type)
    )


# --8<-- [end:inventory]


# --8<-- [start:mse]
def mse(predictions, targets):
    """Mean squared error: the average of the squared differences."""
    return ((predictions - targets) ** 2).mean()


# --8<-- [end:mse]


# --8<-- [start:cross_entropy]
def cross_entropy(logits, labels):
    """Cross-entropy of raw scores (logits) against class indices, averaged."""
    log_probabilities = logits - logits.logsumexp(dim=1, keepdim=True)  # (1)!
    picked = log_probabilities[torch.arange(len(labels)), labels]  # (2)!
    return -picked.mean()


# --8<-- [end:cross_entropy]


# The page's figures, drawn at build time (hooks/figures.py) from PyTorch's own losses.
REGRESSION_LOSSES = {
    "MSELoss": nn.MSELoss,
    "L1Loss": nn.L1Loss,
    "HuberLoss": nn.HuberLoss,
}


def regression_curves(errors):
    """{loss name: (loss, gradient)} of each error on its own (prediction - target), by autograd."""
    curves = {}
    for name, make_loss in REGRESSION_LOSSES.items():
        predictions = errors.clone().requires_grad_()
        losses = make_loss(reduction="none")(predictions, torch.zeros_like(errors))
        losses.sum().backward()  # each loss depends on its own prediction only
        curves[name] = (losses.detach(), predictions.grad)
    return curves


def bce_curves(logits):
    """{loss name: (loss, gradient with respect to the logit)} for target 0, in float32."""
    targets = torch.zeros_like(logits)
    curves = {}
    for name in ("BCELoss", "BCEWithLogitsLoss"):
        z = logits.clone().requires_grad_()
        if name == "BCELoss":
            losses = nn.BCELoss(reduction="none")(torch.sigmoid(z), targets)
        else:
            losses = nn.BCEWithLogitsLoss(reduction="none")(z, targets)
        losses.sum().backward()
        curves[name] = (losses.detach(), z.grad)
    return curves


def _two_panels(curves, x, xlabel, titles, styles):
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for name, (loss, gradient) in curves.items():
        axes[0].plot(x, loss, label=name, **styles[name])
        axes[1].plot(x, gradient, label=name, **styles[name])
    for ax, title in zip(axes, titles):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(True, alpha=0.3)
    axes[0].legend(frameon=False)
    return figure, axes


def figure_regression():
    """MSE, L1 and Huber (delta 1) of one error and their gradients; the page's outlier is marked."""
    import matplotlib.pyplot as plt

    styles = {
        "MSELoss": {"color": "#bf360c"},
        "L1Loss": {"color": "#1565c0", "linestyle": "--"},
        "HuberLoss": {"color": "#2e7d32", "linestyle": "-."},
    }
    wide, near = torch.linspace(-8, 8, steps=321), torch.linspace(-2, 2, steps=161)
    outlier = regression_curves(torch.tensor([7.0]))
    figure, axes = plt.subplots(1, 3, figsize=(10, 3.3), layout="constrained")
    panels = [
        (axes[0], wide, 0, "loss of one error"),
        (axes[1], near, 0, "the same, near the answer"),
        (axes[2], wide, 1, "its gradient"),
    ]
    for ax, errors, part, title in panels:
        for name, curves in regression_curves(errors).items():
            ax.plot(errors, curves[part], label=name, **styles[name])
            if errors is wide:
                ax.plot([7.0], outlier[name][part], "o", color=styles[name]["color"])
        ax.set_title(title)
        ax.set_xlabel("error (prediction - target)")
        ax.grid(True, alpha=0.3)
    axes[0].annotate(
        "the outlier, 7",
        (7.0, outlier["MSELoss"][0].item()),
        (-1.0, 50),
        arrowprops={"arrowstyle": "->"},
    )
    axes[1].legend(frameon=False, loc="upper center")
    return figure


def figure_bce():
    """BCELoss on sigmoid(logit) against BCEWithLogitsLoss, target 0, as the logit grows, in float32."""
    logits = torch.linspace(0, 30, steps=301)
    styles = {
        "BCELoss": {"color": "#bf360c"},
        "BCEWithLogitsLoss": {"color": "#1565c0", "linestyle": "--"},
    }
    figure, axes = _two_panels(
        bce_curves(logits),
        logits,
        "logit (the answer is 0)",
        ["loss", "gradient with respect to the logit"],
        styles,
    )
    axes[1].set_ylim(-0.1, 1.2)
    return figure
