"""Claims of docs/data.md checked beyond what the page prints."""

import torch

from snippets.data import DigitsDataset, split_dataset


def test_digits_are_images_in_0_1_with_int64_labels():
    digits = DigitsDataset()
    image, label = digits[0]
    assert len(digits) == 1797
    assert image.shape == (1, 8, 8) and image.dtype == torch.float32
    assert label.dtype == torch.int64 and label.shape == ()
    assert digits.images.min() == 0 and digits.images.max() == 1


def test_split_is_the_same_on_every_call():
    first = [subset.indices for subset in split_dataset(DigitsDataset())]
    second = [subset.indices for subset in split_dataset(DigitsDataset())]
    assert first == second
