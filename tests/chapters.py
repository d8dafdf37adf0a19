"""The chapters the reference pages (changes.md, errors.md) send a reader to, for the lesson or the fix."""

TEACHING_CHAPTERS = {
    "tensors.md",
    "gradients.md",
    "building-blocks.md",
    "custom-modules.md",
    "losses.md",
    "optimizers.md",
    "tensorboard.md",
}
