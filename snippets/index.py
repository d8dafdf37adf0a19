"""Code of docs/index.md, the home page: a first taste of PyTorch, fitting a line with autograd."""

# --8<-- [start:data]
import torch

torch.manual_seed(0)
x = torch.linspace(-1, 1, steps=100).unsqueeze(1)  # 100 inputs of 1 feature: (100, 1)
y = 2 * x + 1 + 0.1 * torch.randn_like(x)  # the line y = 2x + 1, plus noise
# --8<-- [end:data]


# --8<-- [start:fit_line]
def fit_line(x, y, steps=200, lr=0.1):
    """Fit y = w*x + b by gradient descent; return the model and the final loss."""
    model = torch.nn.Linear(in_features=1, out_features=1)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
    return model, loss.item()


# --8<-- [end:fit_line]
