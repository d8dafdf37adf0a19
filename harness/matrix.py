"""The environments the suite checks every page in, as matrix/environments.toml defines them.

One definition, four readers:

- the Makefile runs this file as a script, before any venv exists (so it needs the standard library alone):
  `python3 harness/matrix.py names`, `python NAME` (a working interpreter of that environment's Python, or a
  message saying what to install), `torch NAME`, `torch-index NAME`, `lock-inputs NAME FOLDER`;
- CI: `python3 harness/matrix.py github` writes the job matrix of .github/workflows/publish.yml;
- the site build: `checked_with()` lists the further environments for the footer;
- each matrix run loads it as a pytest plugin, `-p harness.matrix` with PRIMER_ENVIRONMENT=<name>: it stops
  at once if pytest runs on another Python than that environment's, and leaves out the tests that need the
  built site or a browser (those using the `site_build`, `built_site` or `browser` fixtures) and those marked
  `main_environment`: the page notebooks, which the site publishes from the main environment, and the reruns
  of every page on the plainest CPU kernels and in the folder a first run left, which check the pages against
  a reader's processor and a reader's second run, not against a version. `make test` runs those once.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFINITION = ROOT / "matrix" / "environments.toml"
VARIABLE = "PRIMER_ENVIRONMENT"  # set by the Makefile to the name of the environment a run checks
SITE_FIXTURES = ("site_build", "built_site", "browser")


@dataclass(frozen=True)
class Environment:
    name: str
    python: str  # X.Y
    torch: str  # the exact version, with its local label where it has one: 2.13.0+cpu
    torch_index: str | None = None  # where torch comes from, when PyPI does not serve that build

    @property
    def lock(self) -> Path:
        return DEFINITION.parent / f"{self.name}.txt"

    @property
    def build(self) -> str:
        """The kind of build, where the version says it (PyPI's builds differ by platform)."""
        return "CPU-only build" if self.torch.endswith("+cpu") else ""


def _definition(path: Path = DEFINITION) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def further(path: Path = DEFINITION) -> list[Environment]:
    """The environments `make test-matrix` checks, besides the main one."""
    return [
        Environment(entry["name"], entry["python"], entry["torch"], entry.get("torch-index"))
        for entry in _definition(path).get("further", [])
    ]


def main_python(path: Path = DEFINITION) -> str:
    return _definition(path)["main"]["python"]


def environment(name: str, path: Path = DEFINITION) -> Environment:
    environments = further(path)
    for candidate in environments:
        if candidate.name == name:
            return candidate
    known = ", ".join(candidate.name for candidate in environments)
    raise LookupError(f"no environment {name!r} in {path} (it defines {known})")


def checked_with(path: Path = DEFINITION) -> list[dict[str, str]]:
    """What the footer states of each further environment: torch's version, its kind of build, Python X.Y."""
    return [{"torch": env.torch.split("+")[0], "build": env.build, "python": env.python} for env in further(path)]


def find_python(version: str) -> str | None:
    """A working `pythonX.Y` with venv and ensurepip: on PATH first, then any pyenv has installed."""
    candidates = [shutil.which(f"python{version}")]
    pyenv = shutil.which("pyenv")
    root = os.environ.get("PYENV_ROOT") or (
        subprocess.run([pyenv, "root"], capture_output=True, text=True, check=False).stdout.strip() if pyenv else ""
    )
    if root:
        installed = Path(root, "versions").glob(f"{version}.*/bin/python{version}")
        candidates += sorted(installed, key=lambda path: _numbers(path.parents[1].name), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run(  # a pyenv shim on PATH exists but fails when that version is not selected
            [str(candidate), "-c", "import sys, venv, ensurepip; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return str(candidate)
    return None


def running_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version))


def lock_inputs(env: Environment, folder: Path) -> None:
    """What `make lock-matrix` installs an environment from before it freezes it: the requirements of
    pyproject.toml (the project's and its `dev` extra) with this environment's torch, under constraints.txt's
    pins less torch's, so every package the two environments share gets the same version where it can."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    lines = [f"torch=={env.torch}" if _name(line) == "torch" else line for line in requirements]
    pins = [
        line
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#") and _name(line) != "torch"
    ]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "requirements.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "constraints.txt").write_text("\n".join(pins) + "\n", encoding="utf-8")


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement.strip(), maxsplit=1)[0].lower()


def github_outputs() -> str:
    """The lines CI appends to $GITHUB_OUTPUT: the main environment's Python, and the job matrix."""
    jobs = [{"name": env.name, "python": env.python} for env in further()]
    return f"main-python={main_python()}\nfurther={json.dumps(jobs)}\n"


def _command(arguments: list[str], path: Path = DEFINITION) -> int:
    usage = (
        "usage: harness/matrix.py names | github | python NAME | torch NAME | torch-index NAME | "
        "lock-inputs NAME FOLDER"
    )
    if arguments == ["names"]:
        print(" ".join(env.name for env in further(path)))
        return 0
    if arguments == ["github"]:
        print(github_outputs(), end="")
        return 0
    if len(arguments) < 2:
        print(usage, file=sys.stderr)
        return 2
    command, name, *rest = arguments
    try:
        env = environment(name, path)
    except LookupError as error:
        print(error, file=sys.stderr)
        return 2
    if command == "python":
        python = find_python(env.python)
        if python is None:
            print(
                f"The environment {env.name} needs Python {env.python}, and there is no working python"
                f"{env.python} (with its venv module) on PATH or in pyenv. Install one: `pyenv install "
                f"{env.python}`, or your system's package (on Debian and Ubuntu: python{env.python} and "
                f"python{env.python}-venv), then run make again.",
                file=sys.stderr,
            )
            return 1
        print(python)
    elif command == "torch":
        print(f"torch=={env.torch}")
    elif command == "torch-index":
        print(env.torch_index or "")
    elif command == "lock-inputs" and len(rest) == 1:
        lock_inputs(env, Path(rest[0]))
    else:
        print(usage, file=sys.stderr)
        return 2
    return 0


# --- As a pytest plugin: a matrix run (-p harness.matrix) -----------------------------------------------------


def _running() -> Environment:
    import pytest

    name = os.environ.get(VARIABLE)
    if not name:
        raise pytest.UsageError(
            f"-p harness.matrix checks one environment of {DEFINITION.relative_to(ROOT)}: "
            f"set {VARIABLE} to its name (make test-matrix does)"
        )
    try:
        env = environment(name)
    except LookupError as error:
        raise pytest.UsageError(str(error)) from None
    running = running_python()
    if running != env.python:
        raise pytest.UsageError(
            f"{env.name} is checked on Python {env.python}, but this is Python {running} ({sys.executable})"
        )
    return env


def pytest_configure(config) -> None:
    _running()


def pytest_report_header(config) -> str:
    env = _running()
    return (
        f"matrix environment {env.name} (torch {env.torch}, Python {env.python}): the tests that need the "
        f"built site or a browser are left to `make test`"
    )


def pytest_collection_modifyitems(config, items) -> None:
    needs_site = [
        item
        for item in items
        if set(SITE_FIXTURES) & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("main_environment")
    ]
    if needs_site:
        config.hook.pytest_deselected(items=needs_site)
        left_out = set(needs_site)
        items[:] = [item for item in items if item not in left_out]


if __name__ == "__main__":
    sys.exit(_command(sys.argv[1:]))
