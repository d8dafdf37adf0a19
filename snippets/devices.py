"""Code of docs/devices.md: one training loop on any device, mixed precision, torch.compile, memory."""

# --8<-- [start:imports]
import time
import warnings

import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
# --8<-- [end:imports]

from snippets.models import MLP  # noqa: E402 - shown on the page from its own section, after the imports
from snippets.spirals import two_spirals  # noqa: E402
from snippets.tensors import pick_device  # noqa: E402, F401 - the page shows it from tensors.py


# --8<-- [start:loader]
def spiral_loader(device, batch_size=100, seed=0):
    """The two spirals in shuffled batches, pinned when `device` is not the CPU."""
    inputs, labels = two_spirals(seed=seed)
    return DataLoader(
        TensorDataset(inputs, labels),
        batch_size=batch_size,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),  # (1)!
        pin_memory=device.type != "cpu",  # (2)!
    )


# --8<-- [end:loader]


# --8<-- [start:minimal_loop]
def train_one_epoch(model, loader, loss_fn, optimizer, device=None):
    """One pass over `loader`, updating `model`; returns the mean loss per sample."""
    device = device or next(model.parameters()).device
    model.train()
    total, count = torch.zeros((), device=device), 0  # (1)!
    for inputs, targets in loader:
        inputs = inputs.to(device, non_blocking=True)  # (2)!
        targets = targets.to(device, non_blocking=True)
        optimizer.zero_grad()
        loss = loss_fn(model(inputs), targets)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(targets)  # (3)!
        count += len(targets)
    return (total / count).item()  # (4)!


# --8<-- [end:minimal_loop]


# --8<-- [start:train]
def train(device, epochs=5, seed=0):
    """A fresh MLP trained on the spirals on `device`: (model, mean loss per epoch)."""
    torch.manual_seed(seed)
    model = MLP(num_inputs=2, num_classes=2).to(device)  # (1)!
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)  # (2)!
    loader = spiral_loader(device, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(epochs):
        losses.append(train_one_epoch(model, loader, loss_fn, optimizer, device=device))
    return model, losses


# --8<-- [end:train]


# --8<-- [start:timing]
def seconds_per_call(fn, device, calls=10):
    """Wall-clock seconds per call of `fn()`, with the work it queued on `device`."""

    def wait():
        if device.type != "cpu":  # (1)!
            torch.accelerator.synchronize()

    fn()  # (2)!
    wait()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    wait()  # (3)!
    return (time.perf_counter() - start) / calls


# --8<-- [end:timing]


# --8<-- [start:autocast_ops]
WEIGHT = torch.linspace(-1, 1, 16).reshape(4, 4)  # float32, like a layer's weight
TARGETS = torch.zeros(8, dtype=torch.long)

OPERATIONS = {  # each takes a (8, 4) batch
    "linear": lambda x: nn.functional.linear(x, WEIGHT),
    "matmul": lambda x: x @ WEIGHT,
    "relu": torch.relu,
    "softmax": lambda x: x.softmax(dim=1),
    "sum": torch.sum,
    "mse_loss": lambda x: nn.functional.mse_loss(x, torch.zeros_like(x)),
    "cross_entropy": lambda x: nn.functional.cross_entropy(x, TARGETS),
}


def autocast_dtypes(x, device_type="cpu", dtype=torch.bfloat16):
    """{operation: dtype of its result} for each of OPERATIONS on `x` under autocast."""
    with torch.autocast(device_type, dtype=dtype):
        return {name: operation(x).dtype for name, operation in OPERATIONS.items()}


# --8<-- [end:autocast_ops]


# --8<-- [start:underflow]
def float16_gradient(scale=1.0):
    """The gradient float16 gives a weight whose true gradient is 1e-8, when the loss
    is multiplied by `scale` before backward() and the gradient divided by it after."""
    layer = nn.Linear(1, 1, bias=False)
    nn.init.ones_(layer.weight)  # float32, as autocast expects its weights
    x = torch.full((1, 1), 1e-4)
    with torch.autocast("cpu", dtype=torch.float16):
        loss = layer(x).float().sum() * 1e-4  # (1)!
    (loss * scale).backward()  # (2)!
    return layer.weight.grad.item() / scale  # (3)!


# --8<-- [end:underflow]


# --8<-- [start:amp_step]
def amp_settings(device):
    """(autocast dtype, GradScaler) for `device`: float16 with a scaler on CUDA,
    bfloat16 without one elsewhere."""
    dtype = torch.float16 if device.type == "cuda" else torch.bfloat16  # (1)!
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)  # (2)!
    return dtype, scaler


def amp_training_step(model, inputs, targets, loss_fn, optimizer, scaler, dtype):
    """One mixed-precision training step; returns the loss (a tensor: no .item())."""
    optimizer.zero_grad()
    with torch.autocast(inputs.device.type, dtype=dtype):  # (3)!
        loss = loss_fn(model(inputs), targets)
    scaler.scale(loss).backward()  # (4)!
    scaler.step(optimizer)  # (5)!
    scaler.update()  # (6)!
    return loss.detach()


# --8<-- [end:amp_step]


# --8<-- [start:graph_breaks]
def with_print(x):
    y = x.sin()
    print("halfway")  # (1)!
    return y.cos()


def with_branch(x):
    if x.sum() > 0:  # (2)!
        return x.cos()
    return x.sin()


def without_break(x):
    return x.sin().cos()


def graph_ops(explanation):
    """The operations in each graph that torch._dynamo.explain found."""
    return [
        [
            getattr(node.target, "__name__", node.target)
            for node in graph.graph.nodes
            if node.op in ("call_method", "call_function")
        ]
        for graph in explanation.graphs
    ]


# --8<-- [end:graph_breaks]


# --8<-- [start:recompiles]
compiled_graphs = []


def recording_backend(graph_module, example_inputs):
    """A torch.compile backend that notes each graph it is given and runs it as is."""
    dynamic = any(isinstance(value, torch.SymInt) for value in example_inputs)  # (1)!
    compiled_graphs.append("dynamic" if dynamic else "static")
    return graph_module.forward


def compiles_per_call(fn, sizes):
    """What calling `fn` on a tensor of each length in `sizes` compiled, if anything."""
    events = []
    for size in sizes:
        before = len(compiled_graphs)
        fn(torch.ones(size))
        compiled = len(compiled_graphs) > before
        events.append(f"{size}: {compiled_graphs[-1] if compiled else 'reused'}")
    return events


# --8<-- [end:recompiles]


# --8<-- [start:memory]
def tensor_bytes(tensors):
    """Bytes the tensors' elements take: element_size() * nelement(), summed."""
    return sum(t.element_size() * t.nelement() for t in tensors)


def training_memory(model, optimizer):
    """Bytes held by the parameters, their gradients and the optimizer's state."""
    parameters = list(model.parameters())
    state = [v for s in optimizer.state.values() for v in s.values()]
    state = [v for v in state if torch.is_tensor(v)]  # LBFGS also keeps counts
    return {
        "parameters": tensor_bytes(parameters),
        "gradients": tensor_bytes(p.grad for p in parameters if p.grad is not None),
        "optimizer state": tensor_bytes(state),
    }


# --8<-- [end:memory]


def eager_and_compiled_losses(steps=5, seed=0):
    """The loss at each of `steps` full-batch Adam steps of the same MLP, eager and compiled."""
    inputs, labels = two_spirals(seed=seed)
    losses = {}
    for name in ("eager", "compiled"):
        torch.manual_seed(seed)
        model = MLP(num_inputs=2, num_classes=2)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
        forward = torch.compile(model) if name == "compiled" else model
        curve = []
        for _ in range(steps):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(forward(inputs), labels)
            loss.backward()
            optimizer.step()
            curve.append(loss.item())
        losses[name] = curve
    return losses


def machine():
    """What runs this process: CPU model, torch's thread count, GPU, torch version (for a figure's title)."""
    import platform
    from pathlib import Path

    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if (
        cpuinfo.exists()
    ):  # Linux: the model name and, since two models may share a name, family and model
        first = cpuinfo.read_text().split("\n\n")[0]
        fields = {
            key.strip(): value.strip()
            for key, _, value in (line.partition(":") for line in first.splitlines())
        }
        if fields.get("model name"):
            cpu = f"{fields['model name']} (family {fields.get('cpu family', '?')} model {fields.get('model', '?')})"
    threads = torch.get_num_threads()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {threads} thread{'s' if threads > 1 else ''}, {gpu}, torch {torch.__version__}"


BATCH_SIZES = (64, 512, 4096)


def measure_speed(batch_sizes=BATCH_SIZES, min_run_time=0.1):
    """Seconds per forward pass of an MLP on the CPU, per batch size: eager float32, eager under bfloat16
    autocast, compiled float32; and the first call of the compiled model, which compiles it. The timers use
    torch's thread count (theirs is 1 by default), the one machine() reports."""
    torch.manual_seed(0)
    model = MLP(num_inputs=64, num_classes=10, hidden=(256, 256)).eval()
    compiled = torch.compile(model)

    def autocast_bfloat16(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x)

    runs = {
        "eager, float32": model,
        "eager, bfloat16 autocast": autocast_bfloat16,
        "compiled, float32": compiled,
    }
    with torch.no_grad():
        start = time.perf_counter()
        compiled(torch.randn(batch_sizes[0], 64))
        first_call = time.perf_counter() - start
        for size in batch_sizes[
            1:
        ]:  # the next size recompiles (for any size): not in the timings
            compiled(torch.randn(size, 64))
        per_call = {
            name: [
                benchmark.Timer(
                    "run(x)",
                    globals={"run": run, "x": torch.randn(size, 64)},
                    num_threads=torch.get_num_threads(),
                )
                .blocked_autorange(min_run_time=min_run_time)
                .median
                for size in batch_sizes
            ]
            for name, run in runs.items()
        }
    return {
        "batch sizes": list(batch_sizes),
        "per call": per_call,
        "first compiled call": first_call,
    }


def figure_speed():
    """Speed measured on the machine that builds the site (drawn at build time: hooks/figures.py)."""
    import matplotlib.pyplot as plt

    speed = measure_speed()
    sizes, per_call = speed["batch sizes"], speed["per call"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 4), layout="constrained")
    width = 0.8 / len(per_call)
    for index, (name, seconds) in enumerate(per_call.items()):
        offset = (index - (len(per_call) - 1) / 2) * width
        left.bar(
            [i + offset for i in range(len(sizes))],
            [s * 1e6 for s in seconds],
            width,
            label=name,
        )
    left.set_xticks(range(len(sizes)), [str(size) for size in sizes])
    left.set_yscale("log")
    left.set_xlabel("batch size")
    left.set_ylabel("microseconds per forward pass (log scale)")
    left.set_title("One forward pass on the CPU (median of many)")
    left.legend(frameon=False, fontsize=8)
    calls = {
        "eager call": per_call["eager, float32"][0],
        "compiled:\nfirst call": speed["first compiled call"],
        "compiled:\nlater calls": per_call["compiled, float32"][0],
    }
    right.bar(list(calls), [s * 1e3 for s in calls.values()], color=["C0", "C2", "C2"])
    right.set_yscale("log")
    right.set_ylabel("milliseconds per call (log scale)")
    right.set_title(f"The first call compiles (batch of {sizes[0]})")
    figure.suptitle(f"Measured while this site was built: {machine()}", fontsize=9)
    return figure
