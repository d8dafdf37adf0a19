"""Claims of docs/data.md checked beyond what the page prints: every example once per epoch with and
without workers, seeded orders, splits, transforms, the padding mask, worker seeding, samplers, streams
split between workers, and the messages the page quotes from other start methods."""

import gc
import os
import re
import subprocess
import sys
import textwrap
import warnings
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, Dataset

from snippets.data import (
    Compose,
    DigitsDataset,
    DigitsFile,
    InkPoints,
    LoadedBy,
    RandomShift,
    ShardedDigitsFile,
    Standardize,
    WithTransform,
    balanced_sampler,
    dots,
    figure_digits,
    figure_shifts,
    imbalanced_subset,
    main,
    pad_collate,
    processes,
    seed_worker,
    shifts,
    split_dataset,
    stratified_split,
    write_digits_csv,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "data.md"


@pytest.fixture(scope="module")
def digits():
    return DigitsDataset()


class Indexed(Dataset):
    """The index of each example, with the example: what a loader visited, in which order."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        return index, *self.dataset[index]


def visited(loader):
    """The indices of one epoch of a loader over `Indexed`, in the order they came."""
    return torch.cat([indices for indices, *_ in loader]).tolist()


def page_text():
    """The page as one line per paragraph, so quoted messages can be found whatever the wrapping."""
    return re.sub(r"\s+", " ", PAGE.read_text(encoding="utf-8"))


# The dataset


def test_digits_are_the_scaled_images_and_labels_of_load_digits(digits):
    arrays = load_digits()
    assert len(digits) == 1797
    assert digits.images.shape == (1797, 1, 8, 8) and digits.images.dtype == torch.float32
    torch.testing.assert_close(digits.images, torch.tensor(arrays.images, dtype=torch.float32)[:, None] / 16)
    assert digits.labels.dtype == torch.int64 and digits.labels.tolist() == arrays.target.tolist()
    assert digits.images.min() == 0 and digits.images.max() == 1


def test_an_example_is_an_image_and_a_0d_int64_label(digits):
    image, label = digits[5]
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32
    assert label.shape == () and label.dtype == torch.int64 and label.item() == 5


def test_the_transform_applies_to_the_image_only():
    flipped = DigitsDataset(transform=lambda image: image.flip(-1))
    plain = DigitsDataset()
    image, label = flipped[3]
    assert torch.equal(image, plain[3][0].flip(-1)) and label == plain[3][1]


# Loaders: order, epochs, last batch


@pytest.mark.parametrize("num_workers", [0, 2])
def test_every_example_is_visited_exactly_once_per_epoch(digits, num_workers):
    loader = DataLoader(
        Indexed(digits),
        batch_size=64,
        shuffle=True,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        generator=torch.Generator().manual_seed(1),
    )
    epochs = [visited(loader) for _ in range(3)]
    for order in epochs:
        assert sorted(order) == list(range(len(digits)))
    assert len({tuple(order) for order in epochs}) == 3  # a new order each epoch


def test_the_seeded_order_is_the_same_on_every_run_whatever_else_was_drawn(digits):
    def two_epochs():
        loader = DataLoader(Indexed(digits), batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
        return [visited(loader) for _ in range(2)]

    torch.manual_seed(1)
    first = two_epochs()
    torch.randn(100)  # other random calls in between change nothing
    second = two_epochs()
    assert first == second


def test_workers_keep_the_order_the_sampler_chose(digits):
    def order(num_workers):
        loader = DataLoader(
            Indexed(digits),
            batch_size=100,
            shuffle=True,
            num_workers=num_workers,
            generator=torch.Generator().manual_seed(3),
        )
        return visited(loader)

    assert order(0) == order(2)


def test_without_a_generator_the_order_follows_the_global_generator(digits):
    loader = DataLoader(Indexed(digits), batch_size=64, shuffle=True)
    torch.manual_seed(0)
    first = visited(loader)
    torch.manual_seed(0)
    torch.randn(1)  # one other random call
    assert visited(loader) != first


def test_drop_last_keeps_full_batches_and_drops_different_examples_each_epoch(digits):
    loader = DataLoader(
        Indexed(digits), batch_size=64, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0)
    )
    epochs = [visited(loader) for _ in range(5)]
    assert all(len(order) == 28 * 64 for order in epochs)
    assert len({frozenset(range(1797)) - set(order) for order in epochs}) == 5
    assert set().union(*epochs) == set(range(1797))


def test_unshuffled_loaders_give_the_dataset_order(digits):
    assert visited(DataLoader(Indexed(digits), batch_size=256)) == list(range(1797))


# Splits


def test_split_is_disjoint_complete_and_the_same_for_the_same_seed(digits):
    parts = split_dataset(digits)
    assert [len(part) for part in parts] == [1258, 270, 269]
    indices = [set(part.indices) for part in parts]
    assert set().union(*indices) == set(range(1797)) and sum(map(len, indices)) == 1797
    torch.randn(10)  # the global generator does not matter
    assert [part.indices for part in split_dataset(digits)] == [part.indices for part in parts]
    assert split_dataset(digits, seed=1)[0].indices != parts[0].indices
    assert all(part.dataset is digits for part in parts)


def test_stratified_split_keeps_each_class_within_one_of_its_share(digits):
    parts = stratified_split(digits, digits.labels)
    indices = [set(part.indices) for part in parts]
    assert set().union(*indices) == set(range(1797)) and sum(map(len, indices)) == 1797
    totals = torch.bincount(digits.labels)
    for part, fraction in zip(parts, (0.7, 0.15, 0.15)):
        counts = torch.bincount(digits.labels[part.indices], minlength=10)
        assert ((counts - fraction * totals).abs() <= 1).all(), counts


def test_a_random_split_is_further_from_the_shares_than_a_stratified_one(digits):
    totals = torch.bincount(digits.labels)

    def worst(parts):
        return max(
            (torch.bincount(digits.labels[part.indices], minlength=10) - fraction * totals).abs().max().item()
            for part, fraction in zip(parts, (0.7, 0.15, 0.15))
        )

    assert worst(split_dataset(digits)) > 5 * worst(stratified_split(digits, digits.labels))


# Transforms


def test_standardize_uses_the_statistics_it_was_built_from(digits):
    train = split_dataset(digits)[0]
    standardize = Standardize(digits.images[train.indices])
    assert standardize.mean == pytest.approx(digits.images[train.indices].mean().item())
    standardized = standardize(digits.images[train.indices])
    assert standardized.mean().item() == pytest.approx(0, abs=1e-5)
    assert standardized.std().item() == pytest.approx(1, abs=1e-5)


def test_with_transform_changes_the_image_not_the_label(digits):
    wrapped = WithTransform(digits, lambda image: image + 1)
    assert len(wrapped) == len(digits)
    image, label = wrapped[7]
    assert torch.equal(image, digits[7][0] + 1) and label == digits[7][1]


def test_compose_applies_transforms_in_order():
    assert Compose([lambda x: x + 1, lambda x: x * 10])(torch.tensor(1.0)) == 20


def expected_shift(image, dy, dx):
    """`image` moved dy pixels down and dx right, blank where nothing moved in."""
    shifted = torch.zeros_like(image)
    height, width = image.shape[-2:]
    for row in range(height):
        for column in range(width):
            if 0 <= row - dy < height and 0 <= column - dx < width:
                shifted[..., row, column] = image[..., row - dy, column - dx]
    return shifted


def test_random_shift_moves_by_at_most_one_pixel_with_every_shift_drawn(digits):
    image = digits[0][0]
    shift = RandomShift(generator=torch.Generator().manual_seed(0))
    moves = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    seen = Counter()
    for _ in range(200):
        shifted = shift(image)
        assert shifted.shape == image.shape
        matches = [move for move in moves if torch.equal(shifted, expected_shift(image, *move))]
        assert matches, "not a shift of at most one pixel"
        seen[matches[0]] += 1
    assert set(seen) == set(moves)


def test_random_shift_by_zero_pixels_is_the_identity(digits):
    image = digits[9][0]
    assert torch.equal(RandomShift(pixels=0)(image), image)


def test_shifts_reads_back_the_shift_of_each_dot():
    images = torch.stack([expected_shift(dots(1)[0][0], dy, dx) for dy, dx in [(1, -1), (0, 0), (-1, 1)]])
    assert shifts(images) == [(1, -1), (0, 0), (-1, 1)]


# collate_fn: padding and its mask


def test_ink_points_are_the_inked_pixels_in_reading_order(digits):
    points, label = InkPoints(digits)[0]
    image = digits[0][0][0]
    assert len(points) == int((image > 0).sum()) and label == 0
    rows, columns = (points[:, 0] * 7).round().long(), (points[:, 1] * 7).round().long()
    assert (rows * 8 + columns).tolist() == sorted((rows * 8 + columns).tolist())
    torch.testing.assert_close(points[:, 2], image[rows, columns])


def test_the_padding_mask_marks_exactly_the_real_steps(digits):
    points = InkPoints(digits)
    order = torch.randperm(len(points), generator=torch.Generator().manual_seed(0)).tolist()
    loader = DataLoader(points, batch_size=50, sampler=order, collate_fn=pad_collate)
    lengths_seen = set()
    for start, (padded, mask, labels) in zip(range(0, len(order), 50), loader):
        indices = order[start : start + 50]
        lengths = torch.tensor([len(points[index][0]) for index in indices])
        assert padded.shape == (len(indices), lengths.max(), 3) and mask.shape == padded.shape[:2]
        assert mask.dtype == torch.bool and torch.equal(mask.sum(dim=1), lengths)
        assert (padded[~mask] == 0).all()
        for row, index in enumerate(indices):
            sequence, label = points[index]
            assert mask[row, : len(sequence)].all() and not mask[row, len(sequence) :].any()
            assert torch.equal(padded[row, : len(sequence)], sequence) and labels[row] == label
        lengths_seen.update(lengths.tolist())
    assert len(lengths_seen) > 10  # the lengths really differ


def test_the_masked_mean_is_each_sequence_s_own_mean(digits):
    points = InkPoints(digits)
    padded, mask, _ = pad_collate([points[index] for index in range(20)])
    means = (padded * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)
    for index in range(20):
        torch.testing.assert_close(means[index], points[index][0].mean(dim=0))


# Workers


@contextmanager
def three_workers():
    """Three workers on a machine with fewer cores: the loader warns, which is fine here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create", category=UserWarning)
        yield


def test_batches_alternate_between_the_workers_and_the_main_process_loads_none(digits):
    with three_workers():
        loader = DataLoader(LoadedBy(digits), batch_size=100, num_workers=3)
        workers = [ids.unique().tolist() for _, _, ids, _ in loader]
        assert workers == [[batch % 3] for batch in range(len(loader))]
        assert os.getpid() not in processes(loader)
    assert processes(DataLoader(LoadedBy(digits), batch_size=500)) == {os.getpid()}
    assert {worker for _, _, ids, _ in DataLoader(LoadedBy(digits), batch_size=600) for worker in ids.tolist()} == {-1}


def alive(pid):
    return Path(f"/proc/{pid}").exists()


def test_persistent_workers_serve_every_epoch_and_stop_with_their_loader(digits):
    kept = DataLoader(LoadedBy(digits), batch_size=300, num_workers=2, persistent_workers=True)
    epochs = [processes(kept) for _ in range(3)]
    assert epochs[0] == epochs[1] == epochs[2] and len(epochs[0]) == 2
    assert all(alive(pid) for pid in epochs[0])
    del kept
    gc.collect()
    assert not any(alive(pid) for pid in epochs[0])


def test_workers_that_are_not_persistent_are_new_each_epoch_and_stop_after_it(digits):
    loader = DataLoader(LoadedBy(digits), batch_size=300, num_workers=2)
    first, second = processes(loader), processes(loader)
    assert first.isdisjoint(second) and len(first) == len(second) == 2
    assert not any(alive(pid) for pid in first | second)


def test_main_loads_two_epochs_of_the_training_set(capsys):
    main()
    assert capsys.readouterr().out == ("epoch 0: 1258 examples in 20 batches\nepoch 1: 1258 examples in 20 batches\n")


def test_the_default_start_method_on_linux_before_python_3_14_is_fork():
    if sys.platform == "linux" and sys.version_info < (3, 14):
        import multiprocessing

        assert multiprocessing.get_start_method() == "fork"


def test_pin_memory_is_used_only_with_an_accelerator_and_the_page_quotes_the_warning(digits):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, _ = next(iter(DataLoader(digits, batch_size=8, pin_memory=True)))
    if torch.accelerator.is_available():
        assert images.is_pinned() and not caught
    else:
        assert not images.is_pinned()
        [warning] = caught
        assert str(warning.message) in page_text()


def run_python(*args, cwd=None):
    command = [sys.executable, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=cwd, check=False)


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_class_defined_at_the_prompt_cannot_reach_a_fresh_worker(method):
    # Everything outside the script's own file: __main__ of `python -c`, as of a prompt or a notebook.
    code = textwrap.dedent(f"""
        import multiprocessing

        class DigitsDataset:
            pass

        process = multiprocessing.get_context("{method}").Process(target=print, args=(DigitsDataset(),))
        process.start()
        process.join()
        print("exit code", process.exitcode)
    """)
    result = run_python("-c", code)
    assert "exit code 1" in result.stdout
    error = result.stderr.strip().splitlines()[-1]
    assert error.startswith("AttributeError: Can't get attribute 'DigitsDataset' on <module '__main__' ")
    assert "`AttributeError: Can't get attribute 'DigitsDataset' on <module '__main__' ...>`" in page_text()


@pytest.mark.parametrize("method", ["spawn", "forkserver"])
def test_a_script_without_the_guard_fails_in_its_workers(method, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import multiprocessing

        def work():
            pass

        process = multiprocessing.get_context("{method}").Process(target=work)
        process.start()
        process.join()
        print("exit code", process.exitcode)
    """)
    )
    result = run_python(str(script), cwd=tmp_path)
    assert "exit code 1" in result.stdout
    message = re.search(r"RuntimeError:\s+(An attempt .*? phase\.)", result.stderr, re.DOTALL)
    assert message, result.stderr
    assert f"`RuntimeError: {' '.join(message.group(1).split())}`" in page_text()


# Random augmentation in workers


def worker_shifts(transform, **options):
    """The shifts each of two workers applied to its batch of four dots: [worker 0's, worker 1's]
    (batches alternate between the workers, as a test above checks)."""
    loader = DataLoader(WithTransform(dots(8), transform), batch_size=4, num_workers=2, **options)
    return [shifts(images) for images, _ in loader]


def test_a_transform_with_its_own_generator_repeats_itself_in_every_worker():
    by_worker = worker_shifts(RandomShift(generator=torch.Generator().manual_seed(0)))
    assert by_worker[0] == by_worker[1]


def test_seed_worker_and_the_global_generator_give_each_worker_its_own_draws():
    seeded = worker_shifts(
        RandomShift(generator=torch.Generator().manual_seed(0)),
        worker_init_fn=seed_worker,
        generator=torch.Generator().manual_seed(0),
    )
    default = worker_shifts(RandomShift(), generator=torch.Generator().manual_seed(0))
    assert seeded[0] != seeded[1] and default[0] != default[1]
    assert seeded == default


def test_seeded_augmentation_in_workers_is_the_same_on_every_run():
    def run():
        return worker_shifts(RandomShift(), generator=torch.Generator().manual_seed(5))

    first = run()
    assert run() == first
    assert worker_shifts(RandomShift(), generator=torch.Generator().manual_seed(6)) != first


class Draws(Dataset):
    """One draw from each of Python's, NumPy's and PyTorch's global generators per example."""

    def __len__(self):
        return 4

    def __getitem__(self, index):
        import random

        import numpy

        return random.random(), numpy.random.random(), torch.rand(()).item()


def test_the_loader_seeds_python_numpy_and_torch_differently_in_each_worker():
    loader = DataLoader(Draws(), batch_size=2, num_workers=2)
    first, second = [[column.tolist() for column in batch] for batch in loader]
    assert all(a != b for a, b in zip(first, second))  # worker 0's draws differ from worker 1's


# Samplers


def test_the_imbalanced_subset_holds_the_first_examples_of_each_digit(digits):
    rare = imbalanced_subset(digits, {0: 150, 1: 50, 2: 10})
    labels = digits.labels[rare.indices]
    assert torch.bincount(labels).tolist() == [150, 50, 10]
    assert rare.indices[:3] == torch.nonzero(digits.labels == 0).flatten()[:3].tolist()


def test_weighted_random_sampler_balances_the_classes(digits):
    rare = imbalanced_subset(digits, {0: 150, 1: 50, 2: 10})
    labels = digits.labels[rare.indices]
    sampler = balanced_sampler(labels, generator=torch.Generator().manual_seed(0))
    draws = torch.cat([labels[torch.tensor(list(sampler))] for _ in range(30)])
    assert len(draws) == 30 * 210
    shares = torch.bincount(draws) / len(draws)
    assert ((shares - 1 / 3).abs() < 0.03).all(), shares
    unbalanced = DataLoader(rare, batch_size=30, shuffle=True)
    assert torch.bincount(torch.cat([batch for _, batch in unbalanced])).tolist() == [150, 50, 10]


def test_the_balanced_sampler_draws_the_rare_examples_again_and_again(digits):
    rare = imbalanced_subset(digits, {0: 150, 1: 50, 2: 10})
    labels = digits.labels[rare.indices]
    sampler = balanced_sampler(labels, generator=torch.Generator().manual_seed(0))
    drawn = Counter(sampler)
    twos = [index for index in range(210) if labels[index] == 2]
    assert sum(drawn[index] for index in twos) > 40 and max(drawn[index] for index in twos) > 3
    assert len(drawn) < 210  # some examples are not drawn in an epoch...
    many = Counter(index for _ in range(20) for index in sampler)
    assert set(many) == set(range(210))  # ...but every one is, over many epochs


# IterableDataset


@pytest.fixture(scope="module")
def digits_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "digits.csv"
    write_digits_csv(path)
    return path


def examples(loader):
    """A multiset of the examples of one epoch, each as (label, 64 pixel values 0-16)."""
    found = Counter()
    for images, labels in loader:
        for image, label in zip(images, labels):
            found[(label.item(), *(image.flatten() * 16).round().int().tolist())] += 1
    return found


@pytest.fixture(scope="module")
def every_example_once(digits_csv):
    return examples(DataLoader(DigitsFile(digits_csv), batch_size=64))


def test_the_file_holds_the_digits_and_writing_it_again_gives_the_same_file(digits_csv, tmp_path):
    arrays = load_digits()
    lines = digits_csv.read_text().splitlines()
    assert len(lines) == 1797
    assert [int(value) for value in lines[5].split(",")] == [arrays.target[5], *arrays.data[5].astype(int)]
    again = tmp_path / "digits.csv"
    write_digits_csv(again)
    write_digits_csv(again)  # a second run in the same folder
    assert again.read_bytes() == digits_csv.read_bytes()


def test_the_stream_yields_what_the_dataset_holds(digits, digits_csv):
    streamed = list(DigitsFile(digits_csv))
    assert len(streamed) == 1797
    for index in (0, 100, 1796):
        image, label = streamed[index]
        assert torch.equal(image, digits[index][0]) and label == digits[index][1] and label.dtype == torch.int64


def test_a_stream_that_ignores_the_workers_gives_every_example_once_per_worker(digits_csv, every_example_once):
    twice = examples(DataLoader(DigitsFile(digits_csv), batch_size=64, num_workers=2))
    assert twice == Counter({example: 2 * count for example, count in every_example_once.items()})


@pytest.mark.parametrize("num_workers", [0, 2, 3])
def test_the_sharded_stream_gives_every_example_exactly_once(digits_csv, every_example_once, num_workers):
    assert sum(every_example_once.values()) == 1797
    with three_workers():
        sharded = examples(DataLoader(ShardedDigitsFile(digits_csv), batch_size=64, num_workers=num_workers))
    assert sharded == every_example_once


def test_a_stream_cannot_be_shuffled_and_has_no_length(digits_csv):
    with pytest.raises(ValueError, match="expected unspecified shuffle option"):
        DataLoader(DigitsFile(digits_csv), shuffle=True)
    with pytest.raises(TypeError, match="has no len"):
        len(DataLoader(DigitsFile(digits_csv)))


# Figures


def test_figures_draw_twenty_digits_and_nine_shifts():
    import matplotlib.pyplot as plt

    digits, shifted = figure_digits(), figure_shifts()
    try:
        assert len(digits.axes) == 20 and all(ax.images for ax in digits.axes)
        assert [digits.axes[index].get_title() for index in (0, 9, 10)] == ["0", "9", "0"]
        assert len(shifted.axes) == 9 and all(ax.images for ax in shifted.axes)
    finally:
        plt.close(digits)
        plt.close(shifted)
