"""Build hook: record the versions the pages were checked against, read from the installed packages.

The footer (overrides/partials/copyright.html) shows them, so the site never states a version by hand.
"""

import platform
from importlib.metadata import version

from harness.matrix import checked_with


def on_config(config):
    config.extra["checked_with"] = {
        "torch": version("torch"),
        "python": platform.python_version(),
        "matrix": checked_with(),  # the further environments `make test-matrix` checks
    }
    return config
