"""The environment the pages are checked in is the pinned one: outputs depend on these exact versions."""

import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"


def pins() -> dict[str, str]:
    pinned = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            pinned[requirement.name] = str(requirement.specifier).removeprefix("==")
    return pinned


def test_torch_is_pinned_exactly_and_alike_in_both_files():
    # A looser requirement lets pip pick another release or build; outputs were checked against this one.
    declared = [Requirement(line) for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    torch = next(requirement for requirement in declared if requirement.name == "torch")
    assert str(torch.specifier) == f"=={pins()['torch']}", "pyproject.toml and constraints.txt pin torch apart"


def test_installed_versions_match_the_pins():
    drifted = []
    for name, pinned in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            drifted.append(f"{name}: pinned {pinned}, installed {installed}")
    assert not drifted, "the venv differs from constraints.txt (run `make distclean test`):\n" + "\n".join(drifted)
