"""The environment the pages are checked in is the pinned one: outputs depend on these exact versions.

`make test` checks the main environment against constraints.txt; a matrix run (PRIMER_ENVIRONMENT=<name>,
set by `make test-matrix`) checks its own against its lock, matrix/<name>.txt. The matrix itself is defined
once, in matrix/environments.toml (harness/matrix.py reads it for the Makefile, CI and the footer).
"""

import os
import re
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import SimpleNamespace

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from harness import matrix

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = ROOT / "constraints.txt"
PYPROJECT = ROOT / "pyproject.toml"
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def pins(path: Path = CONSTRAINTS) -> dict[str, str]:
    pinned = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            pinned[requirement.name.lower()] = str(requirement.specifier).removeprefix("==")
    return pinned


def running_lock() -> Path:
    name = os.environ.get(matrix.VARIABLE)
    return matrix.environment(name).lock if name else CONSTRAINTS


def declared_torch() -> Requirement:
    declared = [Requirement(line) for line in tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]]
    return next(requirement for requirement in declared if requirement.name == "torch")


def test_torch_is_pinned_exactly_and_alike_in_both_files():
    # A looser requirement lets pip pick another release or build; outputs were checked against this one.
    assert str(declared_torch().specifier) == f"=={pins()['torch']}", (
        "pyproject.toml and constraints.txt pin torch apart"
    )


def test_installed_versions_match_the_pins():
    lock = running_lock()
    drifted = []
    for name, pinned in pins(lock).items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            installed = "not installed"
        if installed != pinned:
            drifted.append(f"{name}: pinned {pinned}, installed {installed}")
    name = os.environ.get(matrix.VARIABLE)
    rebuild = f"rm -r .venv-matrix/{name}; make test-matrix-{name}" if name else "make distclean test"
    assert not drifted, f"the venv differs from {lock.relative_to(ROOT)} (run `{rebuild}`):\n" + "\n".join(drifted)


# The matrix ------------------------------------------------------------------------------------------------


def locked(env: matrix.Environment) -> Path:
    assert env.lock.exists(), f"{env.lock.relative_to(ROOT)} is missing: run `make lock-matrix-{env.name}`"
    return env.lock


@pytest.mark.parametrize("env", matrix.further(), ids=lambda env: env.name)
def test_each_environment_is_locked_with_its_torch(env):
    assert pins(locked(env))["torch"] == env.torch, (
        f"matrix/environments.toml asks for torch {env.torch}, {env.lock.relative_to(ROOT)} pins "
        f"{pins(env.lock)['torch']}: run `make lock-matrix-{env.name}`"
    )


@pytest.mark.parametrize("env", matrix.further(), ids=lambda env: env.name)
def test_each_environment_pins_what_it_shares_with_the_main_one_alike(env):
    # Only torch (and what comes with its build) may differ: a page that prints differently there is then
    # torch's doing, or Python's, never another package's.
    main = pins()
    differing = [
        f"{name}: {pinned} here, {main[name]} in constraints.txt"
        for name, pinned in pins(locked(env)).items()
        if name != "torch" and main.get(name, pinned) != pinned
    ]
    assert not differing, (
        f"{env.lock.relative_to(ROOT)} pins apart from constraints.txt (run `make lock-matrix`):\n"
        + "\n".join(differing)
    )


def test_requires_python_admits_exactly_the_pythons_the_matrix_checks():
    requires = SpecifierSet(tomllib.loads(PYPROJECT.read_text())["project"]["requires-python"])
    checked = {matrix.main_python(), *(env.python for env in matrix.further())}
    admitted = {f"3.{minor}" for minor in range(50) if requires.contains(f"3.{minor}.0")}
    assert admitted == checked, (
        f"requires-python {requires} admits Python {', '.join(sorted(admitted))}; "
        f"matrix/environments.toml checks {', '.join(sorted(checked))}"
    )


def test_the_running_python_is_the_one_its_environment_names():
    name = os.environ.get(matrix.VARIABLE)
    if not name:
        pytest.skip("make test runs on the Python that made .venv; a matrix run checks its own")
    assert matrix.running_python() == matrix.environment(name).python


def fake_python(path: Path, prints: str, works: bool = True) -> None:
    """An executable that answers harness.matrix's probe as a Python of that version would, or fails as a
    pyenv shim for a version that is not selected does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {prints}\n" if works else "#!/bin/sh\necho 'pyenv: not selected' >&2\nexit 127\n")
    path.chmod(0o755)


def test_an_interpreter_is_found_on_path_first_then_in_pyenv(tmp_path, monkeypatch):
    fake_python(tmp_path / "bin" / "python9.8", "9.8")
    fake_python(tmp_path / "shims" / "python9.9", "9.9", works=False)
    for release in ("9.9.1", "9.9.10", "9.9.2"):
        fake_python(tmp_path / "pyenv" / "versions" / release / "bin" / "python9.9", "9.9")
    monkeypatch.setenv("PATH", f"{tmp_path / 'shims'}:{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    assert matrix.find_python("9.8") == str(tmp_path / "bin" / "python9.8")
    assert matrix.find_python("9.9") == str(tmp_path / "pyenv" / "versions" / "9.9.10" / "bin" / "python9.9")
    assert matrix.find_python("9.7") is None


def test_a_missing_python_is_named_with_what_to_install(tmp_path, capsys, monkeypatch):
    definition = tmp_path / "environments.toml"
    definition.write_text('[main]\npython = "3.11"\n[[further]]\nname = "old"\npython = "9.7"\ntorch = "2.13.0"\n')
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    assert matrix._command(["python", "old"], definition) == 1
    message = capsys.readouterr().err
    assert "The environment old needs Python 9.7" in message and "pyenv install 9.7" in message


def test_the_footer_names_each_further_environment(tmp_path):
    definition = tmp_path / "environments.toml"
    definition.write_text(
        '[main]\npython = "3.11"\n'
        '[[further]]\nname = "a"\npython = "3.11"\ntorch = "2.13.0+cpu"\ntorch-index = "https://example.invalid/cpu"\n'
        '[[further]]\nname = "b"\npython = "3.13"\ntorch = "2.15.0"\n'
    )
    assert matrix.checked_with(definition) == [
        {"torch": "2.13.0", "build": "CPU-only build", "python": "3.11"},
        {"torch": "2.15.0", "build": "", "python": "3.13"},
    ]


def test_ci_runs_one_job_per_environment_and_publishes_only_after_all_of_them():
    outputs = dict(line.split("=", 1) for line in matrix.github_outputs().splitlines())
    assert outputs["main-python"] == matrix.main_python()
    assert f'"name": "{matrix.further()[0].name}"' in outputs["further"]
    workflow = WORKFLOW.read_text()
    assert "python3 harness/matrix.py github" in workflow
    assert "fromJSON(needs.environments.outputs.further)" in workflow
    assert "bash .ci/run test-matrix-${{ matrix.name }}" in workflow
    deploy = workflow[workflow.index("\n  deploy:") :]
    assert re.search(r"needs: \[test, matrix\]", deploy), "publishing must wait for make test and every matrix job"


def test_a_matrix_run_leaves_out_exactly_the_tests_that_need_the_site_or_a_browser_or_the_main_environment():
    class Item:  # what the plugin reads of a pytest item
        def __init__(self, name: str, fixturenames: list[str], markers: tuple[str, ...] = ()) -> None:
            self.name, self.fixturenames, self.markers = name, fixturenames, markers

        def get_closest_marker(self, name: str):
            return name if name in self.markers else None

    items = [
        Item("page", ["request"]),
        Item("built", ["built_site", "request"]),
        Item("browser", ["browser"]),
        Item("notebook", ["tmp_path"], ("main_environment",)),
        Item("unit", [], ("xdist_group",)),
    ]
    deselected = []
    config = SimpleNamespace(hook=SimpleNamespace(pytest_deselected=lambda items: deselected.extend(items)))
    matrix.pytest_collection_modifyitems(config, items)
    assert [item.name for item in items] == ["page", "unit"]
    assert [item.name for item in deselected] == ["built", "browser", "notebook"]


def test_a_matrix_run_on_another_python_stops_at_once(monkeypatch):
    other = next((env for env in matrix.further() if env.python != matrix.running_python()), None)
    if other is None:
        pytest.skip("every environment of the matrix uses this Python")
    monkeypatch.setenv(matrix.VARIABLE, other.name)
    with pytest.raises(pytest.UsageError, match=f"checked on Python {re.escape(other.python)}"):
        matrix.pytest_configure(None)
