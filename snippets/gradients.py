"""Code of docs/gradients.md: autograd, from grad_fn and backward() to gradcheck and a captured graph."""

# --8<-- [start:imports]
import torch

torch.manual_seed(0)
# --8<-- [end:imports]


# --8<-- [start:show_graph]
def show_graph(node, depth=0):
    """Print the backward graph that ends at `node` (a grad_fn), one node a line."""
    print("    " * depth + node.name())
    for child, _ in node.next_functions:  # (1)!
        if child is not None:  # (2)!
            show_graph(child, depth + 1)


# --8<-- [end:show_graph]


# --8<-- [start:minimise]
def minimise(f, start, lr=0.1, steps=100):
    """Gradient descent on a function of one number; return where it ends."""
    x = torch.tensor(start, requires_grad=True)
    for _ in range(steps):
        loss = f(x)
        loss.backward()
        with torch.no_grad():
            x -= lr * x.grad
        x.grad = None
    return x.item()


# --8<-- [end:minimise]


# --8<-- [start:bad_square]
class BadSquare(torch.autograd.Function):
    """x * x, with a wrong backward on purpose: the derivative of x**2 is 2x, not x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x  # (1)!


# --8<-- [end:bad_square]


# --8<-- [start:grow]
def grow(x):
    """Double x until its sum reaches 10: how many times depends on the values in x."""
    while x.sum() < 10:
        x = x * 2
    return x


# --8<-- [end:grow]


# --8<-- [start:export]
class Cubic(torch.nn.Module):
    def forward(self, x):
        return x**3 + 2 * x


def capture(module, example):
    """Trace `module` on an example input; return its graph, an ExportedProgram."""
    return torch.export.export(module, (example,))


# --8<-- [end:export]
