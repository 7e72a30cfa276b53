from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.migrate import head_revision

MINZHENG = str(Path(sys.executable).with_name("minzheng"))


def _run(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "MINZHENG_DATABASE_URL": database_url}
    return subprocess.run(
        [MINZHENG, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_db_upgrade_and_current_report_json(database_url: str, tmp_path: Path) -> None:
    before = _run("db", "current", "--json", database_url=database_url, cwd=tmp_path)
    assert before.returncode == 0, before.stderr
    assert json.loads(before.stdout) == {
        "revision": None,
        "head": head_revision(),
        "up_to_date": False,
    }
    upgraded = _run("db", "upgrade", "--json", database_url=database_url, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout) == {"revision": head_revision()}
    after = _run("db", "current", "--json", database_url=database_url, cwd=tmp_path)
    assert json.loads(after.stdout)["up_to_date"] is True


def test_db_upgrade_against_an_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    result = _run(
        "db", "upgrade", database_url="postgresql+asyncpg://u:secret@127.0.0.1:1/x", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.startswith("minzheng: database upgrade failed:")
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_bot_is_the_same_cli(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--help"], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0
    assert "serve" in result.stdout and "db" in result.stdout


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([MINZHENG, "frobnicate"], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
