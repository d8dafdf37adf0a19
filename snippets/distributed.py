"""Code of docs/distributed.md: processes, ranks and collectives, DistributedDataParallel,
DistributedSampler, a torchrun training script that resumes after a fault, and FSDP.

Most sections are scripts: the page shows each as a file and runs it with torchrun, and
each ends by calling its function under `if __name__ == "__main__"`, so importing this
module runs none of them. The training script is put together from several sections (its
imports, the training chapter's train_one_epoch and checkpoint functions, its own code)."""
# ruff: noqa: E402, F811 - each section is a script of its own on the page, with its imports

# --8<-- [start:hello]
import torch
import torch.distributed as dist


def hello():
    dist.init_process_group("gloo")  # torchrun set RANK, WORLD_SIZE, MASTER_ADDR, ...
    rank, world_size = dist.get_rank(), dist.get_world_size()

    value = torch.tensor([rank + 1.0])  # 1.0 in rank 0, 2.0 in rank 1
    dist.all_reduce(value)  # summed over the ranks, and every rank receives the sum

    seed = torch.tensor([1234 if rank == 0 else 0])
    dist.broadcast(seed, src=0)  # rank 0's value, in every rank

    lines = [None] * world_size  # a line from each rank, gathered: one process prints
    dist.all_gather_object(
        lines, f"rank {rank} of {world_size}: sum {value.item()}, seed {seed.item()}"
    )
    if rank == 0:
        print("\n".join(lines))
    dist.destroy_process_group()


if __name__ == "__main__":
    hello()
# --8<-- [end:hello]


# --8<-- [start:one_step]
import copy

import torch
import torch._dynamo  # before the process group: see "A worker that aborts at exit"
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def sgd_step(model, inputs, targets):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    nn.functional.mse_loss(model(inputs), targets).backward()
    optimizer.step()


def rounded(weight):
    return [round(w, 4) for w in weight.flatten().tolist()]


def one_step():
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # the same 64 examples and starting weights in every process
    inputs, targets = torch.randn(64, 4), torch.randn(64, 1)
    model = nn.Linear(4, 1)
    alone = copy.deepcopy(model)  # trained by this process alone, on all 64 examples

    ddp = DistributedDataParallel(model)  # copies rank 0's weights to every rank
    share = slice(rank * 64 // world_size, (rank + 1) * 64 // world_size)
    sgd_step(ddp, inputs[share], targets[share])  # gradients averaged in backward
    sgd_step(alone, inputs, targets)

    weights = [None] * world_size
    dist.all_gather_object(weights, model.weight.detach())
    if rank == 0:
        for r, w in enumerate(weights):
            print(f"rank {r}, on {64 // world_size} examples:", rounded(w))
        print("one process, on 64 examples:", rounded(alone.weight))
        print("the same:", all(torch.allclose(w, alone.weight) for w in weights))
    dist.destroy_process_group()


if __name__ == "__main__":
    one_step()
# --8<-- [end:one_step]


# --8<-- [start:shares]
from torch.utils.data.distributed import DistributedSampler


def shares(dataset, world_size, epochs, set_epoch=True):
    """Print the indices each rank's DistributedSampler gives it, epoch by epoch."""
    for rank in range(world_size):  # what each process would do with its own rank
        sampler = DistributedSampler(
            dataset, num_replicas=world_size, rank=rank, seed=0
        )
        orders = []
        for epoch in range(epochs):
            if set_epoch:
                sampler.set_epoch(epoch)  # the shuffle's seed is seed + epoch
            orders.append(f"epoch {epoch} {list(sampler)}")
        print(f"rank {rank}: " + ", ".join(orders))


# --8<-- [end:shares]


# --8<-- [start:train_imports]
import argparse
from pathlib import Path

import torch
import torch._dynamo  # before the process group: see "A worker that aborts at exit"
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

# --8<-- [end:train_imports]

# isort: split
from snippets.training import load_checkpoint, save_checkpoint, train_one_epoch


# --8<-- [start:train]
def linear_data(examples=512):
    """Targets made by known weights, 1 to 8, plus noise: training should find them."""
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(examples, 8, generator=generator)
    noise = 0.1 * torch.randn(examples, 1, generator=generator)
    return TensorDataset(inputs, inputs @ torch.arange(1.0, 9.0).unsqueeze(1) + noise)


def train(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--checkpoint", default="checkpoint.pt")
    parser.add_argument("--fail-once-in-epoch", type=int)  # to see a restart
    args = parser.parse_args(argv)

    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)  # rank 0's weights, which DDP copies, the same each run
    model = nn.Linear(8, 1, bias=False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    start = 0
    if Path(args.checkpoint).exists():  # every rank loads it, before DDP is made
        saved = load_checkpoint(
            args.checkpoint, model=model, optimizer=optimizer, scheduler=scheduler
        )
        start = saved["epoch"] + 1
        if rank == 0:
            print(f"resuming after epoch {saved['epoch']}")
    ddp = DistributedDataParallel(model)

    dataset = linear_data()
    sampler = DistributedSampler(dataset, seed=0)  # rank and world from the group
    loader = DataLoader(dataset, batch_size=32, sampler=sampler)
    for epoch in range(start, args.epochs):
        sampler.set_epoch(epoch)
        fail_once = Path(f"{args.checkpoint}.failed-once")
        if epoch == args.fail_once_in_epoch and rank == 1 and not fail_once.exists():
            fail_once.touch()
            raise RuntimeError(f"rank 1 fails in epoch {epoch}")
        loss = train_one_epoch(ddp, loader, nn.functional.mse_loss, optimizer)
        scheduler.step()
        mean = torch.tensor(loss)
        dist.all_reduce(mean)  # the sum of the ranks' losses
        if rank == 0:
            print(f"epoch {epoch}: loss {mean.item() / world_size:.3f}")
            save_checkpoint(
                args.checkpoint,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                epoch=epoch,
            )
        dist.barrier()  # no rank goes on before the checkpoint is on disk
    if rank == 0:
        print("weights", [round(w, 2) for w in model.weight.flatten().tolist()])
    dist.destroy_process_group()


if __name__ == "__main__":
    train()
# --8<-- [end:train]


# --8<-- [start:fsdp]
import torch
import torch._dynamo  # before the process group: see "A worker that aborts at exit"
import torch.distributed as dist
from torch import nn
from torch.distributed.fsdp import fully_shard


def sharded():
    dist.init_process_group("gloo")
    rank, world_size = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, 1))
    for layer in model[::2]:
        fully_shard(layer)  # each Linear's parameters gathered only while it runs
    fully_shard(model)
    held = sum(p.to_local().numel() for p in model.parameters())
    total = sum(p.numel() for p in model.parameters())

    torch.manual_seed(rank)  # each rank trains on examples of its own
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, targets = torch.randn(32, 8), torch.randn(32, 1)
    nn.functional.mse_loss(model(inputs), targets).backward()  # reduce-scattered
    optimizer.step()  # each rank updates the shard it holds

    lines = [None] * world_size
    dist.all_gather_object(lines, f"rank {rank} holds {held} of the {total} numbers")
    full = model[0].weight.full_tensor()  # gathered from the shards, in every rank
    if rank == 0:
        print("\n".join(lines))
        kind = type(model[0].weight).__name__
        print("first layer's weight:", kind, tuple(full.shape))
    dist.destroy_process_group()


if __name__ == "__main__":
    sharded()
# --8<-- [end:fsdp]
