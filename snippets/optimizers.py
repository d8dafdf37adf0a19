"""Code of docs/optimizers.md: the training step, the optimizers of torch.optim, schedules, checkpoints."""

# --8<-- [start:imports]
from functools import partial

import torch
from torch import nn

torch.manual_seed(0)
# --8<-- [end:imports]

from snippets.models import MLP  # noqa: E402 - shown on the page from its own section, after the imports
from snippets.spirals import two_spirals  # noqa: E402


# --8<-- [start:training_step]
def training_step(model, optimizer, loss_fn, inputs, targets):
    """One step of training: returns the loss before the step."""
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    loss.backward()
    optimizer.step()
    return loss.item()


# --8<-- [end:training_step]


# --8<-- [start:step_sizes]
def step_sizes(make_optimizer, gradient, steps=5):
    """How far an optimizer moves a weight whose gradient is always `gradient`."""
    weight = torch.zeros(1, requires_grad=True)
    optimizer = make_optimizer([weight])
    sizes = []
    for _ in range(steps):
        before = weight.item()
        optimizer.zero_grad()
        (gradient * weight).sum().backward()  # d(gradient * weight)/d(weight)
        optimizer.step()
        sizes.append(round(before - weight.item(), 3))
    return sizes


# Each entry takes the parameters and a learning rate, and returns an optimizer
# with its default settings otherwise.
OPTIMIZERS = {
    "SGD": lambda params, lr: torch.optim.SGD(params, lr=lr),
    "SGD + momentum": lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9),
    "RMSprop": lambda params, lr: torch.optim.RMSprop(params, lr=lr),
    "Adagrad": lambda params, lr: torch.optim.Adagrad(params, lr=lr),
    "Adam": lambda params, lr: torch.optim.Adam(params, lr=lr),
}
# --8<-- [end:step_sizes]


# --8<-- [start:weight_decay]
def after_one_step(make_optimizer):
    """A weight of 1.0 after one step on a loss that ignores it: only decay moves it."""
    weight = torch.ones(1, requires_grad=True)
    optimizer = make_optimizer([weight])
    (0 * weight).sum().backward()  # its gradient is exactly 0
    optimizer.step()
    return round(weight.item(), 4)


# --8<-- [end:weight_decay]


# --8<-- [start:race]
def rosenbrock(point):
    """A long, curved, flat-bottomed valley with its minimum 0 at (1, 1)."""
    x, y = point
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def descend_rosenbrock(make_optimizer, lr, steps=500, start=(-1.2, 1.0)):
    """The loss at each step of minimising Rosenbrock's function from `start`."""
    point = torch.tensor(start, requires_grad=True)
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
    """The loss at each step of training a fresh MLP on all the spirals at once."""
    inputs, labels = two_spirals(seed=seed)
    torch.manual_seed(seed)  # every optimizer starts from the same initial weights
    model = MLP(num_inputs=2, num_classes=2)
    optimizer = make_optimizer(model.parameters(), lr)
    loss_fn = nn.CrossEntropyLoss()
    return [
        training_step(model, optimizer, loss_fn, inputs, labels) for _ in range(steps)
    ]


# Picked by hand after trying a few values on each problem: reasonable, not the
# best each optimizer can do. SGD with and without momentum share a rate.
LEARNING_RATES = {
    "Rosenbrock": {
        "SGD": 0.002,
        "SGD + momentum": 0.002,
        "RMSprop": 0.02,
        "Adagrad": 1.0,
        "Adam": 0.2,
    },
    "two spirals": {
        "SGD": 0.2,
        "SGD + momentum": 0.2,
        "RMSprop": 0.002,
        "Adagrad": 0.05,
        "Adam": 0.01,
    },
}


def race():
    """Every optimizer on both problems: {problem: {optimizer: [loss at each step]}}."""
    curves = {"Rosenbrock": {}, "two spirals": {}}
    for name, make in OPTIMIZERS.items():
        rates = {problem: LEARNING_RATES[problem][name] for problem in curves}
        curves["Rosenbrock"][name] = descend_rosenbrock(make, rates["Rosenbrock"])
        curves["two spirals"][name] = train_classifier(make, rates["two spirals"])
    return curves


# --8<-- [end:race]


TITLES = {
    "Rosenbrock": "Rosenbrock's function, from (-1.2, 1)",
    "two spirals": "MLP on two spirals, full batch",
}


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
def learning_rates(make_scheduler, steps=100):
    """The learning rate of each step under a scheduler, starting from lr=0.1."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # the optimizer's step first...
        scheduler.step()  # ...then the scheduler's
    return rates


SCHEDULERS = {
    "StepLR": lambda optimizer: torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=30, gamma=0.5
    ),
    "CosineAnnealingLR": lambda optimizer: torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=100
    ),
    "OneCycleLR": lambda optimizer: torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=100
    ),
}
# --8<-- [end:schedules]


def figure_schedules():
    """The learning rate of each step under each scheduler of the page (drawn at build time)."""
    import matplotlib.pyplot as plt

    figure, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
    for name, make_scheduler in SCHEDULERS.items():
        rates = learning_rates(make_scheduler)
        ax.plot(range(len(rates)), rates, label=name, linewidth=2)
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    return figure


# --8<-- [start:checkpoint]
def one_cycle(optimizer):
    """A 100-step schedule: warm-up to 0.05 over the first 30 steps, then down."""
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=100)


def train_steps(model, optimizer, scheduler, inputs, labels, steps):
    """Train `steps` full-batch steps under a schedule; return each step's rate."""
    loss_fn = nn.CrossEntropyLoss()
    rates = []
    for _ in range(steps):
        rates.append(round(optimizer.param_groups[0]["lr"], 5))
        training_step(model, optimizer, loss_fn, inputs, labels)
        scheduler.step()
    return rates


# --8<-- [end:checkpoint]


# --8<-- [start:inventory]
def optimizer_classes():
    """The optimizers torch.optim exports: its subclasses of Optimizer, by name."""
    return sorted(
        name
        for name, value in vars(torch.optim).items()
        if isinstance(value, type)
        and issubclass(value, torch.optim.Optimizer)
        and value is not torch.optim.Optimizer
    )


# --8<-- [end:inventory]
