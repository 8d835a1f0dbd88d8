"""Every command and every option of `orgledger` explains itself in --help."""

from __future__ import annotations

import click

from node.cli import cli


def _walk(cmd: click.Command, path: str) -> list[tuple[str, click.Command]]:
    out = [(path, cmd)]
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            out += _walk(sub, f"{path} {name}")
    return out


def test_every_command_and_option_has_help_text() -> None:
    missing = []
    for path, cmd in _walk(cli, "orgledger"):
        if not (cmd.help or cmd.short_help):
            missing.append(f"{path}: the command")
        for param in cmd.params:
            if isinstance(param, click.Option) and not param.hidden and not (param.help or "").strip():
                missing.append(f"{path} {param.opts[0]}")
    assert not missing, "options without help:\n" + "\n".join(missing)


def test_the_walk_sees_every_group() -> None:
    paths = {p for p, _ in _walk(cli, "orgledger")}
    assert {
        "orgledger node run",
        "orgledger node backup",
        "orgledger node config check",
        "orgledger tx types",
    } <= paths
