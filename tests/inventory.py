"""The inventory tables of the losses and optimizers pages, read back so their tests can compare them with
what the installed torch has."""

import re
from pathlib import Path


def table_names(page: Path, module: str) -> list[str]:
    """The names in the first column of the page's table: rows like | [`Name`](...generated/<module>.Name.html) |."""
    row = re.compile(
        r"^\| \[`(\w+)`\]\(https://docs\.pytorch\.org/docs/stable/generated/"
        + re.escape(module)
        + r"\.(\w+)\.html\) \|"
    )
    names = []
    for line in page.read_text(encoding="utf-8").splitlines():
        match = row.match(line)
        if match:
            assert match.group(1) == match.group(2), f"{line!r}: the link does not match the name"
            names.append(match.group(1))
    return names
