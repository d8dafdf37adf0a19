"""Files and commands a page shows: a script written to disk, then the command that runs it.

Some code is not run in a Python session: a training script launched by `torchrun` in several processes, say.
A page shows it the way a reader uses it, and the harness does the same:

- a fence with a title that names a file (```` ```python title="train_ddp.py" ````) is that file: its text,
  `--8<--` includes expanded, is written to the page's working folder instead of being run;
- a ```` ```console ```` fence holds commands, one per `$ ` line (a line ending in `\\` continues it), run with
  bash in the page's working folder, in order; a command ending in `&` runs in the background and is waited
  for at the end; the `output` fence after it is compared with what the commands printed on stdout.

Commands run with this Python's environment first on PATH (`python`, `torchrun`), in a process group of their
own, stopped by its id when they end, fail or overrun COMMAND_SECONDS. Fences in ```` ```bash ```` are shown,
never run: use them for commands that install or serve.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass

TITLE = re.compile(r'\btitle="(?P<title>[^"]*)"')
FILE_NAME = re.compile(r"[\w.-]+(?:/[\w.-]+)*\.\w+")  # train_ddp.py, conf/settings.yaml
CONSOLE_LANGUAGE = "console"
PROMPT = "$ "
COMMAND_SECONDS = 300  # a bound, not a budget: commands that hang fail here instead of hanging the suite


class CommandError(Exception):
    """A console block that cannot run or whose commands failed; the message says why."""


def file_title(info: str) -> str | None:
    """The file a fence stands for, from its info string (`python title="train.py"`), or None."""
    match = TITLE.search(info)
    if match and FILE_NAME.fullmatch(match["title"]):
        return match["title"]
    return None


@dataclass
class Commands:
    commands: list[str]

    @classmethod
    def parse(cls, lines: list[str], page: str, first_line: int) -> Commands:
        commands: list[str] = []
        continued = False
        for offset, line in enumerate(lines):
            if continued:
                commands[-1] += "\n" + line
            elif line.startswith(PROMPT):
                commands.append(line[len(PROMPT) :])
            elif line.strip():
                raise CommandError(
                    f"{page}, line {first_line + offset}: a console block holds commands, each on a `$ ` line; "
                    f"show what they print in an ```output fence after it"
                )
            continued = line.endswith("\\")
        if not commands:
            raise CommandError(f"{page}, line {first_line}: a console block without a `$ ` command")
        return cls(commands)

    def script(self) -> str:
        """The commands as one bash script: stop at the first failure, wait for the background ones."""
        lines = ["set -e", "background=()"]
        for command in self.commands:
            lines.append(command)
            if command.rstrip().endswith("&"):
                lines.append('background+=("$!")')
        lines.append('for pid in "${background[@]}"; do wait "$pid"; done')
        return "\n".join(lines) + "\n"

    def run(self, folder: str) -> str:
        """Run in `folder`; return stdout. Raises CommandError with both streams when a command fails."""
        environment = {
            **os.environ,
            "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")]),
        }
        process = subprocess.Popen(
            ["bash", "-c", self.script()],
            cwd=folder,
            env=environment,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        try:
            stdout, stderr = process.communicate(timeout=COMMAND_SECONDS)
        except subprocess.TimeoutExpired:
            _stop(process)
            stdout, stderr = process.communicate()
            raise CommandError(
                f"the commands did not finish within {COMMAND_SECONDS} s\n{_streams(stdout, stderr)}"
            ) from None
        finally:
            _stop(process)  # whatever they started in the background and left running
        if process.returncode != 0:
            raise CommandError(f"the commands exited with status {process.returncode}\n{_streams(stdout, stderr)}")
        return stdout


def _stop(process: subprocess.Popen) -> None:
    """Stop the process group the commands ran in (their background children included)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            continue
        try:  # the leader is gone; children it left in the group may not be
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return


def _streams(stdout: str, stderr: str) -> str:
    def tail(text: str) -> str:
        return "\n".join(text.rstrip().splitlines()[-40:]) or "(nothing)"

    return f"stdout:\n{tail(stdout)}\nstderr:\n{tail(stderr)}"
