"""Code of docs/data.md: datasets, loaders, splits, transforms, collate functions,
workers and samplers, on the handwritten digits that ship inside scikit-learn."""

# --8<-- [start:imports]
import itertools
import os

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import (
    DataLoader,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    WeightedRandomSampler,
    get_worker_info,
    random_split,
)

torch.manual_seed(0)
# --8<-- [end:imports]


# --8<-- [start:digits_dataset]
class DigitsDataset(Dataset):
    """The 1,797 handwritten digits of scikit-learn: (1, 8, 8) images, int64 labels."""

    def __init__(self, transform=None):
        digits = load_digits()  # (1)!
        images = torch.tensor(digits.images, dtype=torch.float32)  # (2)!
        self.images = images.unsqueeze(1) / 16  # (3)!
        self.labels = torch.tensor(digits.target, dtype=torch.int64)  # (4)!
        self.transform = transform

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]


# --8<-- [end:digits_dataset]


# --8<-- [start:split]
def split_dataset(dataset, fractions=(0.7, 0.15, 0.15), seed=0):
    """Training, validation and test subsets: drawn at random, the same on every run."""
    generator = torch.Generator().manual_seed(seed)  # (1)!
    return random_split(dataset, fractions, generator=generator)


# --8<-- [end:split]


# --8<-- [start:stratified_split]
def stratified_split(dataset, labels, fractions=(0.7, 0.15, 0.15), seed=0):
    """Like split_dataset, but each split keeps every class in its share of `labels`."""
    indices = list(range(len(labels)))
    train, rest = train_test_split(
        indices, train_size=fractions[0], stratify=labels, random_state=seed
    )
    validation, test = train_test_split(
        rest,
        train_size=fractions[1] / (fractions[1] + fractions[2]),
        stratify=labels[rest],
        random_state=seed,
    )
    return Subset(dataset, train), Subset(dataset, validation), Subset(dataset, test)


# --8<-- [end:stratified_split]


# --8<-- [start:standardize]
class Standardize:
    """Shifts and scales images to mean 0 and standard deviation 1, by the statistics
    of the images it is built from: give it the training images only."""

    def __init__(self, images):
        self.mean = images.mean().item()
        self.std = images.std().item()

    def __call__(self, image):
        return (image - self.mean) / self.std


class WithTransform(Dataset):
    """`dataset` with `transform` applied to each image: each split gets its own."""

    def __init__(self, dataset, transform):
        self.dataset = dataset
        self.transform = transform

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        image, label = self.dataset[index]
        return self.transform(image), label


class RandomShift:
    """Moves an image by up to `pixels` pixels along each axis, a new draw on every
    call; the pixels it uncovers are blank (zero)."""

    def __init__(self, pixels=1, generator=None):
        self.pixels = pixels
        self.generator = generator  # (1)!

    def __call__(self, image):
        p = self.pixels
        dy, dx = torch.randint(-p, p + 1, (2,), generator=self.generator).tolist()
        padded = nn.functional.pad(image, (p, p, p, p))  # a blank border all round
        height, width = image.shape[-2:]
        return padded[..., p - dy : p - dy + height, p - dx : p - dx + width]


class Compose:
    """Applies transforms one after the other, like torchvision's `v2.Compose`."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, image):
        for transform in self.transforms:
            image = transform(image)
        return image


# --8<-- [end:standardize]


# --8<-- [start:pad_collate]
class InkPoints(Dataset):
    """Each digit as a point cloud: (row, column, darkness) of every inked pixel, in
    reading order. A digit with more ink has more points."""

    def __init__(self, digits):
        self.digits = digits

    def __len__(self):
        return len(self.digits)

    def __getitem__(self, index):
        image, label = self.digits[index]
        rows, columns = torch.nonzero(image[0], as_tuple=True)
        darkness = image[0, rows, columns]
        return torch.stack([rows / 7, columns / 7, darkness], dim=1), label


def pad_collate(examples):
    """Batches sequences of different lengths: pads them with zeros to the longest
    and marks the real steps in a mask."""
    sequences, labels = zip(*examples)  # (1)!
    padded = pad_sequence(sequences, batch_first=True)  # (2)!
    lengths = torch.tensor([len(sequence) for sequence in sequences])
    mask = torch.arange(padded.shape[1]) < lengths[:, None]  # (3)!
    return padded, mask, torch.stack(labels)


# --8<-- [end:pad_collate]


# --8<-- [start:loaded_by]
class LoadedBy(Dataset):
    """`dataset`'s examples, each followed by the id of the worker that loaded it (-1
    for the main process) and the id of that worker's process."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        worker = get_worker_info()  # (1)!
        worker_id = -1 if worker is None else worker.id
        return *self.dataset[index], worker_id, os.getpid()


def processes(loader):
    """The ids of the processes that loaded one epoch of a loader over `LoadedBy`."""
    return {pid for *_, pids in loader for pid in pids.tolist()}


# --8<-- [end:loaded_by]


# --8<-- [start:main]
def main():
    digits = DigitsDataset()
    train = split_dataset(digits)[0]
    standardize = Standardize(digits.images[train.indices])
    loader = DataLoader(
        WithTransform(train, Compose([RandomShift(), standardize])),
        batch_size=64,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        num_workers=2,  # (1)!
        persistent_workers=True,  # (2)!
        pin_memory=torch.accelerator.is_available(),  # (3)!
    )
    for epoch in range(2):
        seen = 0
        for images, labels in loader:
            seen += len(labels)  # a training step goes here
        print(f"epoch {epoch}: {seen} examples in {len(loader)} batches")


if __name__ == "__main__":  # (4)!
    main()
# --8<-- [end:main]


# --8<-- [start:same_shift]
def dots(count):
    """`count` blank images with one dot, at row 3 and column 3: where a shift moves
    the dot shows the shift."""
    images = torch.zeros(count, 1, 8, 8)
    images[:, 0, 3, 3] = 1
    return TensorDataset(images, torch.arange(count))


def shifts(images):
    """The (down, right) shift that moved each dot of a batch from (3, 3)."""
    where = images.flatten(1).argmax(dim=1)
    rows, columns = (where // 8 - 3).tolist(), (where % 8 - 3).tolist()
    return list(zip(rows, columns))


# --8<-- [end:same_shift]


# --8<-- [start:seed_worker]
def seed_worker(worker_id):
    """Reseeds this worker's copy of the shift's generator with this worker's seed."""
    dataset = get_worker_info().dataset  # (1)!
    dataset.transform.generator.manual_seed(torch.initial_seed())  # (2)!


# --8<-- [end:seed_worker]


# --8<-- [start:balanced_sampler]
def imbalanced_subset(digits, counts):
    """The first `counts[d]` examples of each digit d: a dataset with a rare class."""
    indices = [
        index
        for digit, count in counts.items()
        for index in torch.nonzero(digits.labels == digit).flatten()[:count].tolist()
    ]
    return Subset(digits, indices)


def balanced_sampler(labels, generator=None):
    """Draws len(labels) examples with replacement, each class as often on average."""
    weights = 1.0 / torch.bincount(labels)[labels]  # (1)!
    return WeightedRandomSampler(weights, len(labels), generator=generator)  # (2)!


# --8<-- [end:balanced_sampler]


# --8<-- [start:digits_file]
def write_digits_csv(path):
    """The digits as a text file, one example per line: the label, then 64 pixels."""
    digits = load_digits()
    pixels = digits.data.astype(int)  # whole numbers 0-16, stored as floats
    with open(path, "w") as file:
        for label, row in zip(digits.target, pixels):
            print(label, *row, sep=",", file=file)


class DigitsFile(IterableDataset):
    """Streams the examples of such a file one line at a time: memory use stays the
    same however long the file is."""

    def __init__(self, path):
        self.path = path

    def lines(self, file):
        return file  # every line

    def __iter__(self):
        with open(self.path) as file:
            for line in self.lines(file):
                label, *pixels = (int(value) for value in line.split(","))
                image = torch.tensor(pixels, dtype=torch.float32).view(1, 8, 8) / 16
                yield image, torch.tensor(label)


class ShardedDigitsFile(DigitsFile):
    """The same stream, shared out between the loader's workers."""

    def lines(self, file):
        worker = get_worker_info()
        if worker is None:  # (1)!
            return file
        return itertools.islice(file, worker.id, None, worker.num_workers)  # (2)!


# --8<-- [end:digits_file]


def figure_digits():
    """The first twenty digits and their labels (drawn at build time)."""
    import matplotlib.pyplot as plt

    digits = DigitsDataset()
    figure, axes = plt.subplots(2, 10, figsize=(9, 2.2), layout="constrained")
    for index, ax in enumerate(axes.flat):
        image, label = digits[index]
        ax.imshow(image[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(str(label.item()))
        ax.set_axis_off()
    return figure


def figure_shifts():
    """The first digit, then eight random shifts of it (drawn at build time)."""
    import matplotlib.pyplot as plt

    image = DigitsDataset()[0][0]
    shift = RandomShift(generator=torch.Generator().manual_seed(0))
    figure, axes = plt.subplots(1, 9, figsize=(9, 1.4), layout="constrained")
    for index, ax in enumerate(axes):
        shown = image if index == 0 else shift(image)
        ax.imshow(shown[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title("original" if index == 0 else f"shift {index}")
        ax.set_xticks(
            []
        )  # no ticks, but the frame stays: it shows where the image moved
        ax.set_yticks([])
    return figure
