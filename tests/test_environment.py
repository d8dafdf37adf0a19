"""The environment the pages are checked in is the pinned one: outputs depend on these exact versions."""

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from packaging.requirements import Requirement

CONSTRAINTS = Path(__file__).resolve().parents[1] / "constraints.txt"


def pins() -> dict[str, str]:
    pinned = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            pinned[requirement.name] = str(requirement.specifier).removeprefix("==")
    return pinned


def test_torch_is_pinned_exactly_to_the_cpu_build():
    # A looser pin lets pip pick another (multi-GB CUDA) build; outputs were checked against this one.
    assert pins()["torch"] == "2.13.0+cpu"


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
