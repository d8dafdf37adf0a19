"""Tests of snippets/distributed.py (docs/distributed.md) beyond what the page prints: the sampler's shares,
the data the training script learns from, a resume that ends bitwise where an uninterrupted run ends, and the
reason for the scripts' early `import torch._dynamo`.

The page itself runs every script under torchrun with two processes; the runs here that need a process group
use a world of one, in a child process, so no test process keeps gloo's threads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from torch.utils.data.distributed import DistributedSampler

from snippets.distributed import linear_data, shares

ROOT = Path(__file__).resolve().parents[1]


def indices(world_size, rank, epoch, dataset=range(10), **options):
    sampler = DistributedSampler(dataset, world_size, rank, seed=0, **options)
    sampler.set_epoch(epoch)
    return list(sampler)


def test_the_ranks_shares_split_every_epoch_between_them():
    for epoch in range(3):
        rank_0, rank_1 = indices(2, 0, epoch), indices(2, 1, epoch)
        assert not set(rank_0) & set(rank_1)
        assert sorted(rank_0 + rank_1) == list(range(10))
    assert indices(2, 0, 0) != indices(2, 0, 1), "set_epoch gives each epoch its own order"


def test_shares_prints_one_line_per_rank_with_each_epochs_indices(capsys):
    shares(range(10), world_size=2, epochs=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines == [f"rank {rank}: epoch 0 {indices(2, rank, 0)}, epoch 1 {indices(2, rank, 1)}" for rank in range(2)]


def test_uneven_shares_repeat_examples_and_drop_last_drops_them():
    padded = [indices(3, rank, 0) for rank in range(3)]
    assert sum(map(len, padded)) == 12 and len({i for share in padded for i in share}) == 10
    dropped = [indices(3, rank, 0, drop_last=True) for rank in range(3)]
    assert sum(map(len, dropped)) == 9 and len({i for share in dropped for i in share}) == 9


def test_the_training_data_are_the_weights_1_to_8_plus_noise_of_variance_0_01():
    dataset = linear_data()
    inputs, targets = dataset.tensors
    assert inputs.shape == (512, 8) and targets.shape == (512, 1)
    weights = torch.linalg.lstsq(inputs, targets).solution.flatten()
    assert torch.allclose(weights, torch.arange(1.0, 9.0), atol=0.02)
    residual = (targets - inputs @ weights.unsqueeze(1)).pow(2).mean().item()
    assert abs(residual - 0.01) < 0.002, "the page says the final loss, 0.010, is the noise's variance"
    assert torch.equal(linear_data().tensors[1], targets), "every rank must make the same data"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_child(code: str, folder: Path, **env: str) -> str:
    process = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    assert process.returncode == 0, process.stdout + process.stderr
    return process.stdout


def test_a_run_resumed_from_its_checkpoint_ends_bitwise_equal(tmp_path):
    """What the page's restart shows rounded: the resumed run ends with the very weights of the other."""
    world_of_one = {
        "RANK": "0",
        "LOCAL_RANK": "0",
        "WORLD_SIZE": "1",
        "MASTER_ADDR": "127.0.0.1",
        "MASTER_PORT": str(free_port()),
    }
    printed = run_child(
        """
        import torch
        from snippets.distributed import train
        train(["--checkpoint=whole.pt"])
        train(["--checkpoint=resumed.pt", "--epochs=2"])
        train(["--checkpoint=resumed.pt"])
        whole, resumed = (torch.load(f"{name}.pt", weights_only=True) for name in ("whole", "resumed"))
        print("equal:", all(torch.equal(whole["model"][k], resumed["model"][k]) for k in whole["model"]))
        """,
        tmp_path,
        **world_of_one,
    )
    assert "resuming after epoch 1" in printed
    assert printed.strip().endswith("equal: True"), printed


def test_making_an_optimizer_imports_dynamo_which_the_scripts_import_first(tmp_path):
    """The reason the page gives for `import torch._dynamo` before init_process_group: when that no longer
    holds, the warning "A worker that aborts at exit" is out of date."""
    printed = run_child(
        """
        import sys
        import torch
        from torch import nn
        model = nn.Linear(2, 1)
        print("before:", "torch._dynamo" in sys.modules)
        torch.optim.SGD(model.parameters(), lr=0.1)
        print("after:", "torch._dynamo" in sys.modules)
        """,
        tmp_path,
    )
    assert printed.split() == ["before:", "False", "after:", "True"]
