"""The README is the contract people read: it must not forget a setting or a command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.settings import Settings, env_name

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_in_the_configuration_table(field: str) -> None:
    assert re.search(rf"^\| `{env_name(field)}` \|", README, re.MULTILINE), env_name(field)


def _commands() -> list[str]:
    found: list[str] = []

    def walk(parser: object, prefix: str) -> None:
        for action in getattr(parser, "_actions", []):
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                for name, sub in choices.items():
                    if hasattr(sub, "_actions"):
                        full = f"{prefix} {name}".strip()
                        nested = any(
                            isinstance(getattr(a, "choices", None), dict) for a in sub._actions
                        )
                        if nested:
                            walk(sub, full)
                        else:
                            found.append(full)

    walk(build_parser(), "")
    return found


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented(command: str) -> None:
    assert f"`minzheng {command}" in README, command


def test_quick_start_has_exactly_the_two_commands() -> None:
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    block = quick.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["python3 dev.py serve", "python3 dev.py test"]
