"""What the README tells a new user to type works on a fresh checkout: the files its CLI tour
names exist (or an earlier line of the tour writes them), and the team-mode steps define the
variables their commands use."""

from __future__ import annotations

import itertools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from string import Template

from sentimentops.config import load_settings
from tests.user import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
SCRIPT = ".venv/bin/sentimentops"
# Options whose value is a file the command reads, or one it writes.
READ_OPTIONS = frozenset({"--config", "--current", "--reference", "--data"})
WRITE_OPTIONS = frozenset({"--report", "--quarantine", "--output-dir", "--dest"})


def bash_block(heading: str) -> str:
    """The first bash block under the README's ``## heading``."""
    section = README.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match, f"no bash block under {heading}"
    return match.group(1)


def shell_lines(block: str) -> list[str]:
    """The block's command lines, continued lines joined; blank and comment lines dropped."""
    joined = block.replace("\\\n", " ")
    return [line for line in joined.splitlines() if shlex.split(line, comments=True)]


def tour_commands() -> list[list[str]]:
    """The tour's ``sentimentops`` commands (the words after the script), with the shell
    variables the tour sets substituted."""
    variables: dict[str, str] = {}
    commands = []
    for line in shell_lines(bash_block("CLI tour")):
        words = shlex.split(line, comments=True)
        assignments = [word for word in words if re.fullmatch(r"[A-Z_]+=\S*", word)]
        if assignments == words:  # NAME=value: a variable for the lines after it
            variables.update(word.split("=", 1) for word in assignments)
            continue
        words = [Template(word).safe_substitute(variables) for word in words[len(assignments) :]]
        if words[0] == SCRIPT:
            commands.append(words[1:])
    return commands


def is_local_file(word: str) -> bool:
    """A word naming a local file or folder: not an option, a URI (s3://, models:/) or a
    comma-separated list."""
    return not word.startswith("-") and ":" not in word and ("/" in word or "." in word[1:])


def files_read_and_written(command: list[str]) -> tuple[list[str], list[str]]:
    """The local files one tour command reads and those it writes."""
    read: list[str] = []
    written: list[str] = []
    for index, word in enumerate(command):
        option = command[index - 1] if index else ""
        if not is_local_file(word):
            continue
        if option in WRITE_OPTIONS:
            written.append(word)
        elif command[0] == "predict" and read and option not in READ_OPTIONS:
            written.append(word)  # predict INPUT OUTPUT
        else:
            read.append(word)
    if command[:2] == ["data", "split"]:
        written += split_outputs(command)
    return read, written


def split_outputs(command: list[str]) -> list[str]:
    """Where ``data split`` writes (docs/data.md): $SENTIMENTOPS_HOME/splits/<mode>-seed<N>/,
    home ``.sentimentops`` by default."""
    settings = load_settings()
    options = dict(itertools.pairwise(command))
    mode = options.get("--mode", settings.split.mode)
    seed = options.get("--seed", str(settings.split.seed))
    folder = Path(".sentimentops", "splits", f"{mode}-seed{seed}")
    return [str(folder / f"{name}.parquet") for name in ("train", "validation", "test")]


def test_every_file_the_cli_tour_reads_is_in_the_repository_or_written_before() -> None:
    commands = tour_commands()
    assert len(commands) > 20  # the tour was found and parsed
    written: set[str] = set()
    missing = []
    for command in commands:
        read, wrote = files_read_and_written(command)
        missing += [
            (" ".join(command), path)
            for path in read
            if path not in written and not (REPO_ROOT / path).exists()
        ]
        written.update(wrote)

    assert missing == []


def test_the_team_mode_steps_export_the_variables_its_commands_use(tmp_path: Path) -> None:
    """The curl line sends $SENTIMENTOPS_API_KEY: the steps before it, run in a shell as a
    user would (with .env as the example leaves it), must give it a value."""
    block = bash_block("Run it as a team")
    used = sorted(set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", block)))
    setup = [
        line for line in shell_lines(block) if line.split()[0] not in ("docker", "curl", "aws")
    ]
    shutil.copy(REPO_ROOT / ".env.example", tmp_path / ".env.example")
    shown = [f'printf "%s=%s\\n" {name} "${name}"' for name in used]

    completed = subprocess.run(
        ["bash", "-c", "\n".join([*setup, *shown])],
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=False,
    )

    assert "SENTIMENTOPS_API_KEY" in used
    assert completed.returncode == 0, completed.stderr
    values = dict(line.split("=", 1) for line in completed.stdout.splitlines())
    assert all(values[name] for name in used), (setup, values)
