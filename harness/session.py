"""Make each page start as a reader's fresh Python session would, and leave nothing behind for the next one.

Pages share a worker process. Without this, one page's `torch.set_printoptions(precision=2)` would change
what the next page prints, and a page that forgot to seed would pass or fail depending on which pages ran
before it. Random generators are re-seeded from entropy, as a new interpreter seeds them, so a page that
relies on unseeded randomness fails here instead of misleading its readers.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path


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


class _RepositoryBlocker:
    """A meta path finder that refuses the repository's own top-level packages."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in self.names:
            raise ModuleNotFoundError(
                f"No module named {name!r}: a page runs as for a reader who has not cloned this repository, "
                f"so it cannot import the repository's own code; show what it needs on the page",
                name=name,
            )
        return None


def repository_names(root: Path) -> set[str]:
    """The top-level modules and packages a checkout of the repository makes importable."""
    return {path.stem for path in root.glob("*.py")} | {
        path.name for path in root.iterdir() if path.is_dir() and any(path.glob("*.py"))
    }


def repository_hidden(root: Path) -> Callable[[], None]:
    """Make the repository's own packages unimportable (and forget those already imported) until the
    returned function puts them back."""
    names = repository_names(root)
    hidden = {name: module for name, module in sys.modules.items() if name.partition(".")[0] in names}
    for name in hidden:
        del sys.modules[name]
    blocker = _RepositoryBlocker(names)
    sys.meta_path.insert(0, blocker)

    def restore() -> None:
        sys.meta_path.remove(blocker)
        for name in [name for name in sys.modules if name.partition(".")[0] in names]:
            del sys.modules[name]  # imported meanwhile by code outside the page (none should be)
        sys.modules.update(hidden)

    return restore
