# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Handwritten digits, end to end
#
# **What you will learn:** how a small convolutional network reads images, and how the guide's pieces make a
# training run you can trust: a split touched in the right order, a checkpoint saved after every epoch, early
# stopping, and a test accuracy measured once, then taken apart digit by digit.
#
# This page is a notebook, executed every time the site is built: the outputs and the figure below are the
# ones this code produced. If the test accuracy ever drops below 97%, an `assert` further down fails and the
# site does not build. Download it with the button at the top of the page and run it in Jupyter, or copy the
# cells in order into a Python file: it needs PyTorch, scikit-learn and Matplotlib, nothing from this guide's
# repository. The code it shares with other pages is written out in its cells.

# %% [markdown]
# ## Set-up
#
# The imports, and a seed for PyTorch's global generator: the network's initial weights and the random shifts
# of the training images come from it, so every run prints the same. The checkpoint goes into a fresh
# temporary folder, removed at the end.

# %%
import copy
import math
import shutil
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split

torch.manual_seed(0)
torch.set_num_threads(1)  # see below
workdir = Path(tempfile.mkdtemp(prefix="digits-"))
print(f"PyTorch {torch.__version__}")

# %% [markdown]
# `torch.set_num_threads(1)`: this network and its batches are so small that splitting each operation over
# several CPU threads saves little, and on a machine busy with other work the threads wait for each other.
# Leave the default for large models.
#
# ## The data
#
# scikit-learn's 1797 handwritten digits, 8 × 8 grey pixels each, as
# [Datasets and DataLoaders](../../data/) wraps them: a `Dataset` that returns each image as a `(1, 8, 8)`
# tensor (one channel, as a convolution expects) with its label.

# %%
--8<-- "snippets/data.py:digits_dataset"

# %% [markdown]
# The split into training, validation and test sets, with its own seeded generator, so it is the same on
# every run:

# %%
--8<-- "snippets/data.py:split"

# %% [markdown]
# And the transforms: `Standardize` shifts and scales pixels by statistics measured on the training images
# only (the validation and test images must not leak into training, not even through their mean),
# `RandomShift` moves each training image by up to a pixel in each direction, a new draw every epoch, so
# the network sees slightly different digits every time, and `WithTransform` applies a transform to one split.

# %%
--8<-- "snippets/data.py:standardize"

# %%
dataset = DigitsDataset()
train_set, val_set, test_set = split_dataset(dataset)
train_images = torch.stack([image for image, _ in train_set])
standardize = Standardize(train_images)

train_data = WithTransform(train_set, Compose([RandomShift(pixels=1), standardize]))
val_data = WithTransform(val_set, standardize)
test_data = WithTransform(test_set, standardize)
image, label = train_data[0]
print(f"{len(train_data)} training, {len(val_data)} validation, "
      f"{len(test_data)} test images of shape {tuple(image.shape)}")

# %% [markdown]
# ## A small convolutional network
#
# An `MLP` would flatten each image into 64 unrelated numbers; a convolutional network keeps the grid. Its
# two new layers:
#
# - [`Conv2d(in_channels, out_channels, kernel_size=3, padding=1)`](https://docs.pytorch.org/docs/stable/generated/torch.nn.Conv2d.html)
#   slides `out_channels` small 3 × 3 filters over the image. Each filter computes, at every position, a
#   weighted sum of the 3 × 3 pixels around it (over all input channels), so it responds to one local
#   pattern, a stroke or an edge, wherever it appears. `padding=1` adds a blank border so the output keeps
#   the input's height and width. Its output has one channel per filter.
# - [`MaxPool2d(2)`](https://docs.pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html) keeps the
#   largest value of each 2 × 2 square: half the height and width, and a pattern found a pixel to the left
#   still counts.
#
# Two rounds of convolution, ReLU and pooling turn the 8 × 8 image into 32 channels of 2 × 2, which
# `Flatten` makes one row of 128 numbers for a `Linear` layer with one logit per digit. The shapes, layer by
# layer, for a batch of one image:

# %%
def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 2 * 2, 10),
    )


model = make_model()
x = image.unsqueeze(0)  # a batch of one: (batch, channels, height, width)
print(f"{'input':10} {tuple(x.shape)}")
for layer in model:
    x = layer(x)
    print(f"{type(layer).__name__:10} {tuple(x.shape)}")
print(f"{sum(p.numel() for p in model.parameters())} parameters")

# %% [markdown]
# ## Training, with a checkpoint after every epoch
#
# The training loop is the guide's own, from [Training that holds up](../../training/): one epoch of
# training, one pass of evaluation, early stopping on the validation loss, and the complete checkpoint.

# %%
--8<-- "snippets/training.py:train_one_epoch"

# %%
--8<-- "snippets/training.py:evaluate"

# %%
--8<-- "snippets/training.py:early_stopping"

# %%
--8<-- "snippets/training.py:checkpoint"

# %% [markdown]
# The run: `AdamW` with a `OneCycleLR` schedule stepped per batch, early stopping with a patience of 5, and
# after every epoch a checkpoint holding everything needed to go on, early stopping included. If the
# checkpoint exists when the cell starts, it goes on from there: interrupt the kernel during training, run
# the cell again, and it picks up after the last completed epoch, exactly as the training chapter shows.
# `RandomShift` draws from PyTorch's global generator, whose state the checkpoint holds too.

# %%
epochs, patience = 20, 5
checkpoint_path = workdir / "digits.pt"

torch.manual_seed(0)
model = make_model()
generator = torch.Generator().manual_seed(0)
train_loader = DataLoader(train_data, batch_size=64, shuffle=True, generator=generator)
val_loader = DataLoader(val_data, batch_size=len(val_data))
optimizer = torch.optim.AdamW(model.parameters())
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=0.01, epochs=epochs, steps_per_epoch=len(train_loader))
loss_fn = nn.CrossEntropyLoss()
early_stopping = EarlyStopping(patience)
epoch = 0
if checkpoint_path.exists():
    state = load_checkpoint(checkpoint_path, model=model, optimizer=optimizer,
                            scheduler=scheduler, generator=generator)
    early_stopping.load_state_dict(state["early_stopping"])
    epoch = state["epoch"]
    print(f"resuming after epoch {epoch}")

started = time.process_time()
while epoch < epochs and not early_stopping.stopped:
    epoch += 1
    train_loss = train_one_epoch(model, train_loader, loss_fn, optimizer, scheduler)
    val_loss, val_accuracy = evaluate(model, val_loader, loss_fn)
    early_stopping.step(val_loss, model, epoch)
    save_checkpoint(checkpoint_path, model=model, optimizer=optimizer,
                    scheduler=scheduler, epoch=epoch, generator=generator,
                    early_stopping=early_stopping.state_dict())
    print(f"epoch {epoch:2}  training loss {train_loss:.3f}  "
          f"validation loss {val_loss:.3f}  accuracy {val_accuracy:.3f}")
print(f"{time.process_time() - started:.1f} s of CPU time; "
      f"best epoch {early_stopping.best_epoch}")

# %% [markdown]
# The validation loss falls fast while the learning rate warms up, then more slowly as it anneals. The
# epoch with the lowest validation loss is the model to keep, and the checkpoint holds its weights.
#
# ## The best model, from the checkpoint
#
# A later session would have nothing but the checkpoint file. Build a fresh network, load the checkpoint
# into it with `weights_only=True` (only tensors and plain data are unpickled), then put in the best epoch's
# weights that early stopping kept:

# %%
best_model = make_model()
state = load_checkpoint(checkpoint_path, model=best_model)
best_model.load_state_dict(state["early_stopping"]["best_weights"])
print(f"checkpoint of epoch {state['epoch']}, best weights from epoch "
      f"{state['early_stopping']['best_epoch']}")

# %% [markdown]
# ## The test set, once
#
# Every choice is made: the network, its training, the epoch to keep. Only now is the test set used, once,
# for the number to report. The [metrics](../../training/#the-test-set-once-beyond-accuracy) are the
# training chapter's:

# %%
--8<-- "snippets/training.py:metrics"

# %%
test_loader = DataLoader(test_data, batch_size=len(test_data))
predictions, labels = predict(best_model, test_loader)
accuracy = (predictions == labels).float().mean().item()
wrong = (predictions != labels).nonzero().flatten()
assert accuracy >= 0.97, f"test accuracy {accuracy:.3f} is below 0.97"
print(f"test accuracy {accuracy:.3f}: {len(wrong)} of {len(labels)} test images wrong")

# %% [markdown]
# The confusion matrix: row *i* counts the test images of digit *i*, column *j* the ones taken for a *j*.
# Everything off the diagonal is a mistake, and the recall of each digit is the share of its images found:

# %%
matrix = confusion_matrix(predictions, labels, num_classes=10)
print(matrix)
recall = matrix.diag() / matrix.sum(dim=1)
print("recall by digit:")
print(" ".join(f"{digit}: {value:.2f}" for digit, value in enumerate(recall.tolist())))

# %% [markdown]
# ## The digits it got wrong
#
# Each mistake, with the true label and the prediction. The images are the test images as the network saw
# them, standardised, in grey levels from white (no ink) to black.

# %% alt="The test images the network misclassified, each an 8 by 8 grid of grey pixels, titled with its true digit and the digit the network predicted."
columns = max(len(wrong), 2)
figure, axes = plt.subplots(1, columns, figsize=(1.6 * columns, 2), dpi=100,
                            squeeze=False)
for ax in axes[0]:
    ax.axis("off")
for ax, index in zip(axes[0], wrong.tolist()):
    image, label = test_data[index]
    ax.imshow(image[0], cmap="gray_r")
    predicted = predictions[index].item()
    ax.set_title(f"true {label.item()}\npredicted {predicted}", fontsize=10)
figure.tight_layout()
plt.show()

# %% [markdown]
# ## Clean up
#
# The checkpoint was written in a temporary folder; remove it.

# %%
shutil.rmtree(workdir)

# %% [markdown]
# ## Where to go next
#
# - [Training that holds up](../../training/) explains each piece used here: the three sets, early stopping,
#   the checkpoint that resumes exactly, reproducibility, metrics beyond accuracy.
# - [Datasets and DataLoaders](../../data/) builds the dataset, the split and the transforms used above.
# - The [walkthrough](../walkthrough/) runs the same kind of training on data made in code, watched with
#   TensorBoard.
# - Reference: [`torch.nn.Conv2d`](https://docs.pytorch.org/docs/stable/generated/torch.nn.Conv2d.html),
#   [`torch.nn.MaxPool2d`](https://docs.pytorch.org/docs/stable/generated/torch.nn.MaxPool2d.html),
#   [`torch.nn.Flatten`](https://docs.pytorch.org/docs/stable/generated/torch.nn.Flatten.html),
#   [`torch.utils.data`](https://docs.pytorch.org/docs/stable/data.html).
