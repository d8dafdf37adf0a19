"""Code of docs/data.md: datasets, loaders, splits, transforms, collate functions, workers
and samplers, on the handwritten digits that ship inside scikit-learn."""

# --8<-- [start:imports]
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import Dataset, random_split

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
    """Training, validation and test subsets, drawn at random but the same on every run."""
    generator = torch.Generator().manual_seed(seed)  # (1)!
    return random_split(dataset, fractions, generator=generator)
# --8<-- [end:split]


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
    """Moves an image by up to `pixels` pixels along each axis, a new draw on every call;
    the pixels it uncovers are blank (zero)."""

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
