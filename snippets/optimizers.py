"""Code of docs/optimizers.md: the training step, the optimizers of torch.optim, schedulers and checkpoints."""

# --8<-- [start:imports]
from contextlib import contextmanager

import torch
from torch import nn

torch.manual_seed(0)
# --8<-- [end:imports]

from snippets.models import MLP  # noqa: E402 - shown on the page from its own section, after the imports
from snippets.spirals import two_spirals  # noqa: E402


# --8<-- [start:training_step]
def training_step(model, optimizer, loss_fn, inputs, targets):
    """One step of training: returns the loss before the step."""
    optimizer.zero_grad()  # (1)!
    outputs = model(inputs)  # (2)!
    loss = loss_fn(outputs, targets)  # (3)!
    loss.backward()  # (4)!
    optimizer.step()  # (5)!
    return loss.item()
# --8<-- [end:training_step]


# --8<-- [start:step_sizes]
def step_sizes(make_optimizer, gradient, steps=5):
    """How far an optimizer moves a weight whose gradient is always `gradient`, step after step."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = make_optimizer([weight])
    sizes = []
    for _ in range(steps):
        before = weight.item()
        optimizer.zero_grad()
        (gradient * weight).sum().backward()  # d(gradient * weight)/d(weight) = gradient
        optimizer.step()
        sizes.append(round(before - weight.item(), 3))
    return sizes


OPTIMIZERS = {  # (1)!
    "SGD": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "SGD + momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "RMSprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr),
    "Adagrad": lambda params, lr: torch.optim.Adagrad(params, lr=lr),
    "Adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}
# --8<-- [end:step_sizes]


# --8<-- [start:weight_decay]
def after_one_step(make_optimizer):
    """A weight of 1.0 after one step on a loss that ignores it: only weight decay can move it."""
    weight = torch.ones(1, requires_grad=True)
    optimizer = make_optimizer([weight])
    (0 * weight).sum().backward()  # its gradient is exactly 0
    optimizer.step()
    return round(weight.item(), 4)
# --8<-- [end:weight_decay]


# --8<-- [start:default_dtype]
@contextmanager
def default_dtype(dtype):
    """Inside the block, new floating-point tensors (data, weights) are `dtype`."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)
# --8<-- [end:default_dtype]


# --8<-- [start:race]
def rosenbrock(point):
    """Rosenbrock's function: a long, curved, flat-bottomed valley with its minimum 0 at (1, 1)."""
    x, y = point
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def descend_rosenbrock(make_optimizer, lr, steps=500, start=(-1.2, 1.0)):
    """The loss at each step of minimising Rosenbrock's function from `start`."""
    point = torch.tensor(start, dtype=torch.float64, requires_grad=True)  # (1)!
    optimizer = make_optimizer([point], lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = rosenbrock(point)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def train_classifier(make_optimizer, lr, steps=200, seed=0):
    """The loss at each step of training a fresh MLP on the two spirals, all points at once (full batch)."""
    with default_dtype(torch.float64):  # (2)!
        inputs, labels = two_spirals(seed=seed)
        torch.manual_seed(seed)  # (3)!
        model = MLP(num_inputs=2, num_classes=2)
    optimizer = make_optimizer(model.parameters(), lr)
    loss_fn = nn.CrossEntropyLoss()
    return [training_step(model, optimizer, loss_fn, inputs, labels) for _ in range(steps)]


LEARNING_RATES = {  # (4)!
    "Rosenbrock": {"SGD": 0.002, "SGD + momentum": 0.002, "RMSprop": 0.02, "Adagrad": 1.0, "Adam": 0.2},
    "two spirals": {"SGD": 0.2, "SGD + momentum": 0.2, "RMSprop": 0.005, "Adagrad": 0.05, "Adam": 0.01},
}


def race():
    """Loss curves of every optimizer on both problems: {problem: {optimizer: [loss at each step]}}."""
    curves = {"Rosenbrock": {}, "two spirals": {}}
    for name, make_optimizer in OPTIMIZERS.items():
        curves["Rosenbrock"][name] = descend_rosenbrock(make_optimizer, LEARNING_RATES["Rosenbrock"][name])
        curves["two spirals"][name] = train_classifier(make_optimizer, LEARNING_RATES["two spirals"][name])
    return curves
# --8<-- [end:race]


TITLES = {"Rosenbrock": "Rosenbrock's function, from (-1.2, 1)", "two spirals": "MLP on two spirals, full batch"}


def figure_race():
    """The race's loss curves, one panel per problem (drawn at build time: hooks/figures.py)."""
    import matplotlib.pyplot as plt

    curves = race()
    figure, axes = plt.subplots(1, len(curves), figsize=(9, 3.6), layout="constrained")
    for ax, (problem, losses) in zip(axes, curves.items()):
        for name, curve in losses.items():
            ax.plot(range(1, len(curve) + 1), curve, label=name, linewidth=1.5)
        ax.set_yscale("log")
        ax.set_title(TITLES.get(problem, problem))
        ax.set_xlabel("step")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("loss (log scale)")
    axes[-1].legend(frameon=False)
    return figure


# --8<-- [start:schedules]
def learning_rates(make_scheduler, epochs=10):
    """The learning rate used in each epoch under a scheduler, starting from lr=0.1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(epochs):
        rates.append(round(optimizer.param_groups[0]["lr"], 4))
        optimizer.step()  # (1)!
        scheduler.step()  # (2)!
    return rates
# --8<-- [end:schedules]


# --8<-- [start:checkpoint]
def save_checkpoint(path, model, optimizer, epoch):
    torch.save(
        {"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()},  # (1)!
        path,
    )


def load_checkpoint(path, model, optimizer):
    checkpoint = torch.load(path)  # (2)!
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]
# --8<-- [end:checkpoint]


# --8<-- [start:inventory]
def optimizer_classes():
    """The names of every optimizer in torch.optim: the subclasses of torch.optim.Optimizer it exports."""
    return sorted(
        name
        for name, value in vars(torch.optim).items()
        if isinstance(value, type) and issubclass(value, torch.optim.Optimizer) and value is not torch.optim.Optimizer
    )
# --8<-- [end:inventory]
