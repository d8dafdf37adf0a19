"""Make each page start as a reader's fresh Python session would, and leave nothing behind for the next one.

Pages share a worker process. Without this, one page's `torch.set_printoptions(precision=2)` would change
what the next page prints, and a page that forgot to seed would pass or fail depending on which pages ran
before it. Random generators are re-seeded from entropy, as a new interpreter seeds them, so a page that
relies on unseeded randomness fails here instead of misleading its readers.
"""

from __future__ import annotations

import random
from collections.abc import Callable


def _torch_state() -> list[tuple[Callable, object]]:
    import torch

    print_options = torch._tensor_str.get_printoptions()  # the public setter has no public getter
    return [
        (lambda options: torch.set_printoptions(**options), print_options),
        (torch.set_rng_state, torch.get_rng_state()),
        (torch.set_default_dtype, torch.get_default_dtype()),
        (_set_default_device, torch.get_default_device()),
        (torch.set_grad_enabled, torch.is_grad_enabled()),
    ]


def _set_default_device(device) -> None:
    import torch

    # set_default_device(cpu) installs a mode that intercepts every torch call (twice as slow for small ops);
    # None is the unset default, which is the CPU.
    torch.set_default_device(None if device == torch.device("cpu") else device)


def _numpy_state() -> list[tuple[Callable, object]]:
    import numpy

    return [
        (lambda options: numpy.set_printoptions(**options), numpy.get_printoptions()),
        (numpy.random.set_state, numpy.random.get_state()),
    ]


def fresh_session() -> Callable[[], None]:
    """Reset random generators as a new interpreter would; return a function restoring the previous state."""
    import numpy
    import torch

    saved = [(random.setstate, random.getstate()), *_torch_state(), *_numpy_state()]
    random.seed()
    numpy.random.seed()
    torch.seed()

    def restore() -> None:
        for setter, value in saved:
            setter(value)

    return restore
