"""The deployment files name the entry point, options and settings that really exist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from pydantic import BaseModel

from bot.__main__ import build_parser
from bot.config import Settings

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DOCS = ROOT / "docs" / "deploy.md"


def setting_exists(path: list[str]) -> bool:
    model: type[BaseModel] = Settings
    for i, part in enumerate(path):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if i < len(path) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def env_names(text: str) -> set[str]:
    return set(re.findall(r"\bESSAIM_[A-Z0-9_]+", text))


def assert_env_names_exist(text: str) -> None:
    names = env_names(text)
    for name in names:
        path = name.removeprefix("ESSAIM_").lower().split("__")
        assert setting_exists(path), f"{name} is not a setting"


def bot_commands(text: str) -> list[list[str]]:
    """Every `python -m bot ...` invocation, as argv after `-m bot`."""
    found = []
    text = text.replace("\\\n", " ")
    text = re.sub(r"\$\([^)]*\)", "DATE", text)  # shell substitutions are one word
    for line in text.splitlines():
        match = re.search(r"python -m bot\b(.*)", line)
        if match is None:
            continue
        tail = re.split(r"[`']|&&", match.group(1))[0]
        found.append(shlex.split(tail))
    return found


def assert_parses(argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"python -m bot {' '.join(argv)}: rejected by the parser ({exc})")
    assert args.command in {
        "run",
        "check-config",
        "backup",
        "restore",
        "migrate-to",
        "set-webhook",
    }


def test_setting_lookup_is_strict() -> None:
    assert setting_exists(["sending", "shutdown_grace_seconds"])
    assert setting_exists(["health", "max_queue_age_seconds"])
    assert not setting_exists(["sending", "grace"])
    assert not setting_exists(["database", "path", "x"])


def test_systemd_unit_runs_the_real_entry_point() -> None:
    unit = (DEPLOY / "essaim.service").read_text(encoding="utf-8")
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    assert "python -m bot" in exec_start
    commands = bot_commands(exec_start)
    assert commands and commands[0][-1] == "run"
    assert_parses(commands[0])
    assert_env_names_exist(unit)
    for directive in (
        "User=essaim",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/essaim",
        "PrivateTmp=yes",
        "KillSignal=SIGTERM",
    ):
        assert directive in unit.splitlines()
    timeout = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))  # type: ignore[union-attr]
    grace = Settings.model_fields["sending"].default.shutdown_grace_seconds
    assert timeout > grace


def test_backup_timer_runs_the_backup_command() -> None:
    service = (DEPLOY / "essaim-backup.service").read_text(encoding="utf-8")
    commands = bot_commands(service)
    assert [c[c.index("backup") if "backup" in c else 0] for c in commands] == ["backup"]
    assert_parses([part.replace("%%", "%") for part in commands[0]])
    assert_env_names_exist(service)
    timer = (DEPLOY / "essaim-backup.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer


def test_dockerfile_entry_point_env_and_healthcheck() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    assert re.search(r"^USER essaim$", dockerfile, re.M)
    entry = json.loads(re.search(r"^ENTRYPOINT (.*)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    cmd = json.loads(re.search(r"^CMD (.*)$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    # A shell sets umask 077 first (the bot's files are for its user only), then execs the bot.
    assert entry[:2] == ["/bin/sh", "-c"] and entry[3] == "essaim"
    umask, bot = entry[2].split(" && exec ")
    assert umask == "umask 077" and bot.endswith(' "$@"')
    argv = shlex.split(bot.removesuffix(' "$@"'))
    assert argv[:3] == ["python", "-m", "bot"]
    assert_parses(argv[3:] + cmd)
    assert_env_names_exist(dockerfile)
    port = re.search(r"ESSAIM_HEALTH__PORT=(\d+)", dockerfile).group(1)  # type: ignore[union-attr]
    assert "ESSAIM_HEALTH__ENABLED=true" in dockerfile
    assert f"127.0.0.1:{port}/healthz" in dockerfile
    assert "ESSAIM_DATABASE__PATH=/data/" in dockerfile and 'VOLUME ["/data"]' in dockerfile
    for copied in re.findall(r"^COPY (\S+) ", dockerfile, re.M):
        if copied != "README.md":  # written by the project's README task
            assert (ROOT / copied).exists(), copied


def test_deploy_doc_commands_and_settings_exist() -> None:
    doc = DOCS.read_text(encoding="utf-8")
    commands = bot_commands(doc)
    used = {
        argv[argv.index(c)]
        for argv in commands
        for c in argv
        if c in {"run", "check-config", "backup", "restore"}
    }
    assert used == {"run", "check-config", "backup", "restore"}
    for argv in commands:
        assert_parses(argv)
    assert_env_names_exist(doc)
    # Keys shown in TOML blocks exist under their section.
    for block in re.findall(r"```toml\n(.*?)```", doc, re.S):
        section: list[str] = []
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith("["):
                section = [line.strip("[]")]
            elif "=" in line:
                key = line.split("=")[0].strip()
                assert setting_exists([*section, key]), f"{section}.{key}"
    assert "migrations run by themselves at start" in doc.lower().replace("database ", "")
