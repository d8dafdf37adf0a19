"""Claims of docs/gradients.md checked beyond what the page prints: gradients against formulas, gradcheck."""

import math

import pytest
import torch
from torch.autograd.gradcheck import GradcheckError

from snippets.gradients import BadSquare, Cubic, capture, grow, minimise, show_graph

POINTS = [-3.0, -1.5, -0.25, 0.0, 0.5, 2.0, 4.0]


def double(values, requires_grad=True):
    return torch.tensor(values, dtype=torch.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("point", POINTS)
def test_backward_matches_the_hand_derivative_of_the_cubic(point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (x**3 + 2 * x).backward()
    assert x.grad.item() == pytest.approx(3 * point**2 + 2)


@pytest.mark.parametrize("point", POINTS)
def test_second_derivative_with_create_graph(point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (first,) = torch.autograd.grad(x**3 + 2 * x, x, create_graph=True)
    (second,) = torch.autograd.grad(first, x)
    assert first.item() == pytest.approx(3 * point**2 + 2)
    assert second.item() == pytest.approx(6 * point)


@pytest.mark.parametrize("point", POINTS)
def test_sin_times_square_against_its_formula(point):
    x = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    (torch.sin(x) * x**2).backward()
    assert x.grad.item() == pytest.approx(math.cos(point) * point**2 + 2 * point * math.sin(point))


@pytest.mark.parametrize("calls", [1, 2, 3, 5])
def test_gradients_accumulate_across_backward_calls(calls):
    x = torch.tensor(2.0, requires_grad=True)
    for _ in range(calls):
        (x**3 + 2 * x).backward()
    assert x.grad.item() == pytest.approx(14.0 * calls)


def test_zero_grad_sets_grad_to_none_by_default():
    layer = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.ones(1, 3)).sum().backward()
    assert layer.weight.grad is not None
    optimizer.zero_grad()
    assert layer.weight.grad is None and layer.bias.grad is None
    layer(torch.ones(1, 3)).sum().backward()
    optimizer.zero_grad(set_to_none=False)
    assert torch.equal(layer.weight.grad, torch.zeros(2, 3))


def test_non_scalar_backward_needs_a_gradient_and_computes_a_vector_jacobian_product():
    v = double([1.0, 2.0, 3.0])
    w = v**2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        w.backward(retain_graph=True)
    weights = double([0.5, -1.0, 2.0], requires_grad=False)
    w.backward(gradient=weights)
    jacobian = torch.diag(2 * v.detach())  # dw_i/dv_j
    torch.testing.assert_close(v.grad, jacobian.T @ weights)


def test_gradient_of_ones_equals_backward_of_the_sum():
    a, b = double([1.0, -2.0, 0.5]), double([1.0, -2.0, 0.5])
    (a.exp() * a).backward(gradient=torch.ones(3, dtype=torch.float64))
    (b.exp() * b).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_recording_switched_off():
    x = torch.tensor(2.0, requires_grad=True)
    with torch.no_grad():
        assert not (x * 2).requires_grad
    with torch.inference_mode():
        fast = x * 2
    assert fast.is_inference() and not fast.requires_grad
    with pytest.raises(RuntimeError, match="Inference tensors cannot be saved for backward"):
        (fast * x).backward()
    (fast + x).backward()  # an addition saves neither input: only saving fails (the docs still advise against it)
    assert x.grad.item() == 1.0
    loss = (x - 3) ** 2
    kept = loss.detach()
    assert not kept.requires_grad and kept.data_ptr() == loss.data_ptr()


def test_second_backward_fails_unless_the_graph_is_retained():
    v = double([1.0, 2.0, 3.0])
    total = (v * v).sum()
    total.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        total.backward()
    v.grad = None
    total = (v * v).sum()
    total.backward(retain_graph=True)
    total.backward()
    torch.testing.assert_close(v.grad, 4 * v.detach())


def test_show_graph_prints_the_recorded_operations(capsys):
    x = torch.tensor(2.0, requires_grad=True)
    show_graph((x**3 + 2 * x).grad_fn)
    lines = capsys.readouterr().out.splitlines()
    assert [line.strip() for line in lines] == [
        "AddBackward0",
        "PowBackward0",
        "torch::autograd::AccumulateGrad",
        "MulBackward0",
        "torch::autograd::AccumulateGrad",
    ]


@pytest.mark.parametrize("start, lr", [(0.0, 0.1), (10.0, 0.1), (-5.0, 0.3), (3.0, 0.1)])
def test_minimise_finds_the_minimum(start, lr):
    assert minimise(lambda x: (x - 3) ** 2 + 1, start=start, lr=lr) == pytest.approx(3.0, abs=1e-4)


def test_minimise_other_function():
    # f(x) = x**4 - 2x**2 + x has a global minimum near x = -1.107 (f'(x) = 4x**3 - 4x + 1 = 0)
    found = minimise(lambda x: x**4 - 2 * x**2 + x, start=-2.0, lr=0.01, steps=2000)
    assert 4 * found**3 - 4 * found + 1 == pytest.approx(0.0, abs=1e-4)
    assert found == pytest.approx(-1.107, abs=1e-3)


@pytest.mark.parametrize(
    "function",
    [
        lambda t: torch.sin(t) * t**2,
        lambda t: Cubic()(t),
        lambda t: torch.softmax(t, dim=0),
        lambda t: (t.exp() / (1 + t.exp())).prod(),
        grow,
    ],
    ids=["sin_square", "cubic", "softmax", "sigmoid_product", "grow"],
)
def test_gradcheck_accepts_autograd_gradients(function):
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand(5, dtype=torch.float64, generator=generator).requires_grad_()
    assert torch.autograd.gradcheck(function, (inputs,))
    assert torch.autograd.gradgradcheck(function, (inputs,))


def test_gradcheck_rejects_the_wrong_backward():
    generator = torch.Generator().manual_seed(0)
    inputs = (torch.rand(4, dtype=torch.float64, generator=generator) + 0.5).requires_grad_()
    assert not torch.autograd.gradcheck(BadSquare.apply, (inputs,), raise_exception=False)
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        torch.autograd.gradcheck(BadSquare.apply, (inputs,))
    BadSquare.apply(inputs).sum().backward()
    torch.testing.assert_close(inputs.grad, inputs.detach())  # x where 2x is right: off by a factor of 2


@pytest.mark.parametrize("start, doublings", [(0.5, 5), (1.0, 4), (3.0, 2), (6.0, 1), (10.0, 0), (12.0, 0)])
def test_grow_gradient_is_two_to_the_number_of_doublings(start, doublings):
    a = torch.tensor(start, requires_grad=True)
    result = grow(a)
    result.backward()
    assert result.item() == start * 2**doublings
    assert a.grad.item() == 2**doublings


def test_captured_graph_computes_what_the_module_does():
    program = capture(Cubic(), torch.tensor([2.0]))
    targets = [str(node.target) for node in program.graph.nodes if node.op == "call_function"]
    assert targets == ["aten.pow.Tensor_Scalar", "aten.mul.Tensor", "aten.add.Tensor"]
    for value in [2.0, -1.0, 0.5]:
        example = torch.tensor([value])
        torch.testing.assert_close(program.module()(example), Cubic()(example))


def test_capture_prints_the_same_graph_every_time():
    first = str(capture(Cubic(), torch.tensor([2.0])).graph)
    second = str(capture(Cubic(), torch.tensor([-7.0])).graph)
    assert first == second


def test_value_dependent_control_flow_cannot_be_traced():
    with pytest.raises(torch.fx.proxy.TraceError, match="cannot be used as inputs to control flow"):
        torch.fx.symbolic_trace(grow)


def test_export_refuses_value_dependent_control_flow_too():
    class Grow(torch.nn.Module):
        def forward(self, x):
            return grow(x)

    with pytest.raises(Exception, match="data-dependent expression"):
        torch.export.export(Grow(), (torch.tensor([1.0]),))
