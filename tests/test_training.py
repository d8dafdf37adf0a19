"""Tests of snippets/training.py (docs/training.md): the training loop, the checkpoint that resumes exactly."""

from __future__ import annotations

import contextlib
import io
import re

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from snippets.models import MLP
from snippets.training import (
    EarlyStopping,
    confusion_matrix,
    digits_splits,
    evaluate,
    figure_overfitting,
    fit,
    load_checkpoint,
    overfit,
    predict,
    save_checkpoint,
    train_one_epoch,
)

EPOCHS = 6


def make_run(seed=0):
    """A small run with every kind of state a resume must restore: dropout (torch's generator), a shuffling
    DataLoader (its own generator), AdamW's moments and a OneCycleLR stepped per batch."""
    data = torch.Generator().manual_seed(seed)
    inputs = torch.randn(96, 4, generator=data)
    targets = (inputs[:, 0] + inputs[:, 1] > 0).long()
    torch.manual_seed(seed)
    model = MLP(num_inputs=4, num_classes=2, hidden=(16,), dropout=0.3)
    optimizer = torch.optim.AdamW(model.parameters())
    generator = torch.Generator().manual_seed(seed)
    loader = DataLoader(TensorDataset(inputs, targets), batch_size=16, shuffle=True, generator=generator)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, epochs=EPOCHS, steps_per_epoch=len(loader))
    return model, optimizer, scheduler, generator, loader


def train(run, first, last, log):
    model, optimizer, scheduler, _, loader = run
    for epoch in range(first, last + 1):
        loss = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, scheduler)
        log.append((epoch, optimizer.param_groups[0]["lr"], loss))


def test_a_run_resumed_from_its_checkpoint_ends_bitwise_equal(tmp_path):
    uninterrupted, log = make_run(), []
    train(uninterrupted, 1, EPOCHS, log)

    stopped, resumed_log = make_run(), []
    train(stopped, 1, 3, resumed_log)
    model, optimizer, scheduler, generator, _ = stopped
    save_checkpoint(
        tmp_path / "run.pt",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        epoch=3,
        generator=generator,
        best_loss=0.5,
    )
    resumed = make_run()  # as a new process would: seeded, so its generators are back at the start
    model, optimizer, scheduler, generator, _ = resumed
    state = load_checkpoint(
        tmp_path / "run.pt", model=model, optimizer=optimizer, scheduler=scheduler, generator=generator
    )
    assert state == {"epoch": 3, "best_loss": 0.5}
    assert optimizer.param_groups[0]["lr"] == log[2][1], "the rate the schedule had reached"
    train(resumed, state["epoch"] + 1, EPOCHS, resumed_log)

    assert resumed_log == log  # every epoch's rate and loss, exactly
    for a, b in zip(uninterrupted[0].state_dict().values(), resumed[0].state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(uninterrupted[1].state_dict()["state"].values(), resumed[1].state_dict()["state"].values()):
        assert all(torch.equal(a[key], b[key]) for key in a)
    assert uninterrupted[2].state_dict() == resumed[2].state_dict()
    assert torch.equal(uninterrupted[3].get_state(), resumed[3].get_state())


def resume_leaving_out(tmp_path, piece):
    """Stop after 3 epochs, then resume as a fresh process would, with one piece of state not restored."""
    stopped, log = make_run(), []
    train(stopped, 1, 3, log)
    model, optimizer, scheduler, generator, _ = stopped
    save_checkpoint(
        tmp_path / "run.pt",
        model=model,
        optimizer=optimizer,
        epoch=3,
        scheduler=None if piece == "scheduler" else scheduler,
        generator=None if piece == "generator" else generator,
    )
    resumed = make_run()
    model, optimizer, scheduler, generator, _ = resumed
    rng_at_start = torch.get_rng_state()
    load_checkpoint(
        tmp_path / "run.pt",
        model=model,
        optimizer=optimizer,
        scheduler=None if piece == "scheduler" else scheduler,
        generator=None if piece == "generator" else generator,
    )
    if piece == "torch":
        torch.set_rng_state(rng_at_start)  # as if the checkpoint had not restored torch's generator
    train(resumed, 4, EPOCHS, log)
    return resumed, log


@pytest.mark.parametrize("piece", ["scheduler", "generator", "torch"])
def test_each_piece_of_state_is_needed(tmp_path, piece):
    uninterrupted, log = make_run(), []
    train(uninterrupted, 1, EPOCHS, log)
    resumed, resumed_log = resume_leaving_out(tmp_path, piece)
    assert resumed_log[:3] == log[:3]
    assert resumed_log[3:] != log[3:]
    assert not torch.equal(uninterrupted[0].layers[0].weight, resumed[0].layers[0].weight)
    rates = [rate for _, rate, _ in log]
    resumed_rates = [rate for _, rate, _ in resumed_log]
    if piece == "scheduler":
        assert resumed_rates[3:] == rates[:3], "the schedule started again from its warm-up"
    else:
        assert resumed_rates == rates, "only the scheduler decides the rate"


def test_the_scheduler_state_is_resumed_or_refused(tmp_path):
    model, optimizer, scheduler, generator, _ = make_run()
    save_checkpoint(tmp_path / "with.pt", model=model, optimizer=optimizer, scheduler=scheduler, epoch=1)
    save_checkpoint(tmp_path / "without.pt", model=model, optimizer=optimizer, epoch=1)
    with pytest.raises(ValueError, match=r"with\.pt has a scheduler state: pass scheduler= to resume it"):
        load_checkpoint(tmp_path / "with.pt", model=model, optimizer=optimizer)
    with pytest.raises(ValueError, match=r"without\.pt has no scheduler state to resume"):
        load_checkpoint(tmp_path / "without.pt", model=model, optimizer=optimizer, scheduler=scheduler)
    with pytest.raises(ValueError, match=r"without\.pt has no generator state to resume"):
        load_checkpoint(tmp_path / "without.pt", model=model, generator=generator)
    assert load_checkpoint(tmp_path / "with.pt", model=model) == {"epoch": 1}, "weights only, for inference"


def test_a_refused_load_changes_nothing(tmp_path):
    model, optimizer, scheduler, _, _ = make_run()
    save_checkpoint(tmp_path / "run.pt", model=model, optimizer=optimizer, scheduler=scheduler, epoch=1)
    fresh, fresh_optimizer, _, _, _ = make_run(seed=1)
    before = [p.clone() for p in fresh.parameters()]
    rng = torch.get_rng_state()
    with pytest.raises(ValueError):
        load_checkpoint(tmp_path / "run.pt", model=fresh, optimizer=fresh_optimizer)
    assert all(torch.equal(a, b) for a, b in zip(before, fresh.parameters()))
    assert fresh_optimizer.state_dict()["state"] == {} and torch.equal(rng, torch.get_rng_state())


def test_an_interrupted_save_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    model, optimizer, _, _, _ = make_run()
    path = tmp_path / "run.pt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1)
    real_save = torch.save

    def dies_halfway(obj, file):
        real_save(obj, file)
        file.truncate(file.tell() // 2)
        raise KeyboardInterrupt  # the process is stopped in the middle of writing

    monkeypatch.setattr(torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, model=model, optimizer=optimizer, epoch=2)
    monkeypatch.undo()
    assert load_checkpoint(path, model=model)["epoch"] == 1
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=2)  # the next save replaces the leftover
    assert load_checkpoint(path, model=model)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]


def test_extras_must_be_plain_data(tmp_path):
    model, optimizer, _, _, _ = make_run()
    scaler = torch.amp.GradScaler("cpu")
    save_checkpoint(
        tmp_path / "ok.pt",
        model=model,
        optimizer=optimizer,
        epoch=1,
        scaler=scaler.state_dict(),
        history=[0.5, 0.25],
        note="lr found by a sweep",
    )
    state = load_checkpoint(tmp_path / "ok.pt", model=model)
    assert state == {"epoch": 1, "scaler": scaler.state_dict(), "history": [0.5, 0.25], "note": "lr found by a sweep"}
    save_checkpoint(tmp_path / "object.pt", model=model, optimizer=optimizer, epoch=1, scaler=scaler)
    with pytest.raises(Exception, match="Weights only load failed"):  # torch.load refuses to unpickle objects
        load_checkpoint(tmp_path / "object.pt", model=model)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_run_on_a_gpu_resumes_bitwise_with_the_cuda_generator_restored(tmp_path):
    def gpu_run():
        model, _, _, generator, loader = make_run()
        model.cuda()
        optimizer = torch.optim.AdamW(model.parameters())
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=0.05, epochs=EPOCHS, steps_per_epoch=len(loader)
        )
        return model, optimizer, scheduler, generator, loader

    def train_on_gpu(run, first, last):
        model, optimizer, scheduler, _, loader = run
        return [
            train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, scheduler, device="cuda")
            for _ in range(first, last + 1)
        ]

    uninterrupted = gpu_run()
    losses = train_on_gpu(uninterrupted, 1, EPOCHS)
    stopped = gpu_run()
    resumed_losses = train_on_gpu(stopped, 1, 3)
    model, optimizer, scheduler, generator, _ = stopped
    save_checkpoint(
        tmp_path / "gpu.pt", model=model, optimizer=optimizer, scheduler=scheduler, epoch=3, generator=generator
    )
    resumed = gpu_run()  # seeded like a new process: CUDA's generator, for dropout, is back at the start
    model, optimizer, scheduler, generator, _ = resumed
    load_checkpoint(
        tmp_path / "gpu.pt",
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        generator=generator,
        map_location="cuda",
    )
    resumed_losses += train_on_gpu(resumed, 4, EPOCHS)
    assert resumed_losses == losses
    assert all(torch.equal(a, b) for a, b in zip(uninterrupted[0].parameters(), resumed[0].parameters()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_checkpoint_saved_on_a_gpu_loads_on_the_cpu_and_back(tmp_path):
    model, _, _, generator, loader = make_run()
    model.cuda()
    optimizer = torch.optim.AdamW(model.parameters())
    train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, device="cuda")
    save_checkpoint(
        tmp_path / "gpu.pt",
        model=model,
        optimizer=optimizer,
        epoch=1,
        generator=generator,
        best_weights=model.state_dict(),
    )
    cpu_model = make_run()[0]
    cpu_optimizer = torch.optim.AdamW(cpu_model.parameters())
    state = load_checkpoint(tmp_path / "gpu.pt", model=cpu_model, optimizer=cpu_optimizer, generator=generator)
    assert all(tensor.device.type == "cpu" for tensor in state["best_weights"].values())
    assert torch.equal(cpu_model.layers[0].weight, model.layers[0].weight.cpu())
    state = load_checkpoint(
        tmp_path / "gpu.pt", model=model, optimizer=optimizer, generator=generator, map_location="cuda"
    )  # the RNG states come back as CUDA tensors: moved to the CPU
    assert all(tensor.is_cuda for tensor in state["best_weights"].values())
    assert all(value.is_cuda for value in optimizer.state_dict()["state"][0].values() if value.dim())


# The training loop --------------------------------------------------------------------------------------------


def test_train_one_epoch_returns_the_mean_loss_over_examples_and_steps_a_scheduler_per_batch():
    model, optimizer, scheduler, _, loader = make_run()
    steps = scheduler.last_epoch
    loss = train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, scheduler, device="cpu")
    assert scheduler.last_epoch == steps + len(loader)
    assert model.training
    assert isinstance(loss, float) and 0 < loss < 2


def test_train_one_epoch_weights_a_short_last_batch_by_its_size():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing moves: the losses are known
    targets = torch.tensor([[1.0], [1.0], [4.0]])
    loader = DataLoader(TensorDataset(torch.ones(3, 1), targets), batch_size=2)  # batches of 2 and 1
    assert train_one_epoch(model, loader, nn.MSELoss(), optimizer) == pytest.approx((1 + 1 + 16) / 3)


def test_evaluate_counts_accuracy_learns_nothing_and_restores_the_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(2))
        model[0].bias.zero_()
    inputs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    loader = DataLoader(TensorDataset(inputs, torch.tensor([0, 1, 1, 1])), batch_size=3)
    before = [p.clone() for p in model.parameters()]
    for mode in (True, False):
        model.train(mode)
        loss, accuracy = evaluate(model, loader, nn.CrossEntropyLoss(), device="cpu")
        assert accuracy == 0.75, "dropout is off in eval mode: the logits are the inputs"
        assert model.training is mode
    expected = nn.CrossEntropyLoss()(inputs, torch.tensor([0, 1, 1, 1])).item()
    assert loss == pytest.approx(expected)
    assert all(torch.equal(a, b) and a.grad is None for a, b in zip(model.parameters(), before))


# The page's pieces --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return digits_splits()


def test_the_digits_split_into_three_disjoint_sets_covering_all_images(digits):
    train_set = digits[0]
    indices = [set(subset.indices) for subset in digits]
    assert [len(s) for s in indices] == [1258, 270, 269]
    assert set.union(*indices) == set(range(1797)) and sum(map(len, indices)) == 1797
    assert [subset.indices for subset in digits_splits()] == [subset.indices for subset in digits], "seeded"
    assert [subset.indices for subset in digits_splits(seed=1)] != [subset.indices for subset in digits]
    images, labels = train_set.dataset.tensors
    assert images.shape == (1797, 64) and images.dtype == torch.float32
    assert images.min() == 0 and images.max() == 1
    assert labels.dtype == torch.int64 and labels.unique().tolist() == list(range(10))


def test_the_overfitting_run_overfits(digits):
    train_set, val_set, _ = digits
    model, history = overfit(train_set, val_set)
    training, validation = history["training"], history["validation"]
    assert len(training) == len(validation) == 40
    best = min(range(40), key=validation.__getitem__)
    assert 2 <= best < 20, "the validation loss turns up early in the run"
    assert validation[-1] > 1.3 * validation[best], "and ends well above its lowest"
    assert training[-1] < 1e-3 < training[best], "while the training loss keeps falling"
    assert sum(p.numel() for p in model.parameters()) > 1000 * 60


def test_early_stopping_stops_after_patience_epochs_without_a_better_loss_and_keeps_a_copy():
    model = nn.Linear(1, 1)
    stopper = EarlyStopping(patience=2)
    decisions = []
    for epoch, loss in enumerate([3.0, 2.0, 2.5, 1.5, 1.5, 1.6], start=1):
        with torch.no_grad():
            model.weight.fill_(epoch)
        decisions.append(stopper.step(loss, model, epoch))
    assert decisions == [False, False, False, False, False, True], "an equal loss is no improvement"
    assert (stopper.best_epoch, stopper.best_loss, stopper.stopped) == (4, 1.5, True)
    assert stopper.best_weights["weight"].item() == 4.0, "the weights of epoch 4, not the live ones (6)"


def test_early_stopping_state_goes_through_a_checkpoint(tmp_path):
    model, optimizer, _, _, _ = make_run()
    stopper = EarlyStopping(patience=3)
    stopper.step(0.7, model, 1)
    save_checkpoint(tmp_path / "run.pt", model=model, optimizer=optimizer, epoch=1, early_stopping=stopper.state_dict())
    restored = EarlyStopping(patience=99)
    restored.load_state_dict(load_checkpoint(tmp_path / "run.pt", model=model)["early_stopping"])
    assert (restored.patience, restored.best_loss, restored.best_epoch, restored.stopped) == (3, 0.7, 1, False)
    assert all(torch.equal(a, b) for a, b in zip(restored.best_weights.values(), model.state_dict().values()))


def run_fit(path, digits, **options):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model = fit(path, digits[0], digits[1], **options)
    return model, out.getvalue().splitlines()


@pytest.fixture(scope="module")
def uninterrupted(digits, tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "run.pt"
    model, lines = run_fit(path, digits)
    return path, model, lines


def test_fit_stops_early_and_returns_its_best_epoch(digits, uninterrupted):
    path, model, lines = uninterrupted
    losses = [float(re.search(r"validation loss (\S+)", line)[1]) for line in lines]
    state = torch.load(path, weights_only=True)
    stopper = state["extra"]["early_stopping"]
    assert stopper["stopped"] and len(lines) == state["epoch"] < 15
    assert stopper["best_epoch"] == 1 + losses.index(min(losses)) == state["epoch"] - stopper["patience"]
    val_loss, _ = evaluate(model, DataLoader(digits[1], batch_size=512), nn.CrossEntropyLoss())
    assert val_loss == pytest.approx(stopper["best_loss"], abs=1e-6)
    assert state["extra"]["versions"] == {"torch": torch.__version__, "cuda": torch.version.cuda}


@pytest.mark.parametrize("stop_after", [1, 9])
def test_fit_killed_after_any_epoch_resumes_to_the_same_lines_and_weights(digits, uninterrupted, tmp_path, stop_after):
    _, model, lines = uninterrupted
    assert run_fit(tmp_path / "run.pt", digits, stop_after=stop_after) == (None, lines[:stop_after])
    resumed, resumed_lines = run_fit(tmp_path / "run.pt", digits)
    assert resumed_lines == [f"resuming after epoch {stop_after}", *lines[stop_after:]]
    for a, b in zip(model.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def test_fit_given_a_finished_run_trains_no_further(digits, uninterrupted, tmp_path):
    path, model, lines = uninterrupted
    copy = tmp_path / "finished.pt"
    copy.write_bytes(path.read_bytes())
    again, again_lines = run_fit(copy, digits)
    assert again_lines == [f"resuming after epoch {len(lines)}"]
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))


def test_the_figure_draws_both_curves_and_marks_the_best_epoch():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure = figure_overfitting()
    try:
        (ax,) = figure.axes
        curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 40]
        assert [line.get_label() for line in curves] == ["training loss (60 images)", "validation loss (270 images)"]
        marker = [line for line in ax.get_lines() if line not in curves]
        assert len(marker) == 1 and list(marker[0].get_xdata()) == [6, 6]
        assert "epoch 6" in ax.texts[0].get_text()
    finally:
        plt.close(figure)


# Metrics and workers -------------------------------------------------------------------------------------------


def test_confusion_matrix_and_recall_agree_with_scikit_learn():
    from sklearn import metrics

    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (500,), generator=generator)
    predictions = torch.where(
        torch.rand(500, generator=generator) < 0.7, labels, torch.randint(0, 4, (500,), generator=generator)
    )
    predictions[predictions == 3] = 2  # class 3 is never predicted: a column of zeros
    matrix = confusion_matrix(predictions, labels, num_classes=4)
    assert matrix.tolist() == metrics.confusion_matrix(labels, predictions, labels=range(4)).tolist()
    recall = (matrix.diag() / matrix.sum(dim=1)).tolist()
    assert recall == pytest.approx(metrics.recall_score(labels, predictions, average=None).tolist())


def test_predict_returns_every_prediction_in_order_and_restores_the_mode(digits):
    model = MLP(num_inputs=64, num_classes=10, dropout=0.5)
    loader = DataLoader(digits[2], batch_size=100)
    predictions, labels = predict(model, loader)
    assert model.training
    images = torch.stack([image for image, _ in digits[2]])
    model.eval()
    assert torch.equal(predictions, model(images).argmax(dim=1))
    assert torch.equal(labels, torch.stack([label for _, label in digits[2]]))


class GlobalDraws(torch.utils.data.Dataset):
    """Draws from the global generators of torch, Python and NumPy, as most augmentations do."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        import random

        import numpy

        return torch.tensor([torch.rand(()).item(), random.random(), numpy.random.rand()])


def test_each_worker_gets_its_own_seed_for_the_global_generators_from_the_loader_generator():
    def load(seed):
        loader = DataLoader(GlobalDraws(), batch_size=2, num_workers=2, generator=torch.Generator().manual_seed(seed))
        return torch.cat(list(loader))

    draws = load(seed=0)
    assert all(len(set(column.tolist())) == 4 for column in draws.T), "torch's, Python's and NumPy's differ per worker"
    assert torch.equal(draws, load(seed=0)) and not torch.equal(draws, load(seed=1))
