from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings


def test_defaults_match_the_design(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite+aiosqlite:///var/minzheng.db"
    assert (settings.http_host, settings.http_port) == ("127.0.0.1", 8080)
    assert settings.telegram_enabled is False
    assert settings.telegram_mode == "polling"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.tz.key == "Asia/Shanghai"
    assert settings.send_rate == 25


def test_good_values_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINZHENG_DATABASE_URL", "postgresql://app:pw@db:5432/minzheng")
    monkeypatch.setenv("MINZHENG_HTTP_HOST", "0.0.0.0")
    monkeypatch.setenv("MINZHENG_HTTP_PORT", "9000")
    monkeypatch.setenv("MINZHENG_TELEGRAM_TOKEN", "123456:ABC-def_ghi")
    monkeypatch.setenv("MINZHENG_TELEGRAM_MODE", "Webhook")
    monkeypatch.setenv("MINZHENG_WEBHOOK_URL", "https://example.org/telegram/webhook")
    monkeypatch.setenv("MINZHENG_WEBHOOK_SECRET", "s3cret_token-1")
    monkeypatch.setenv("MINZHENG_ADVISOR_CHAT_ID", "-1001234567890")
    monkeypatch.setenv("MINZHENG_SEND_RATE", "20")
    settings = load_settings()
    # Plain postgresql:// URLs get the async driver the service needs.
    assert settings.database_url == "postgresql+asyncpg://app:pw@db:5432/minzheng"
    assert settings.http_port == 9000
    assert settings.telegram_mode == "webhook"
    assert settings.advisor_chat_id == -1001234567890
    assert settings.send_rate == 20.0


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MINZHENG_HTTP_PORT", "abc", "MINZHENG_HTTP_PORT"),
        ("MINZHENG_HTTP_PORT", "70000", "MINZHENG_HTTP_PORT"),
        ("MINZHENG_TELEGRAM_MODE", "foo", "MINZHENG_TELEGRAM_MODE"),
        ("MINZHENG_DATABASE_URL", "not a url", "MINZHENG_DATABASE_URL"),
        ("MINZHENG_DATABASE_URL", "mysql://u@h/db", "MINZHENG_DATABASE_URL"),
        ("MINZHENG_DATABASE_URL", "postgresql+asyncpg://u@h", "MINZHENG_DATABASE_URL"),
        ("MINZHENG_TIMEZONE", "Mars/Olympus", "MINZHENG_TIMEZONE"),
        ("MINZHENG_SEND_RATE", "0", "MINZHENG_SEND_RATE"),
        ("MINZHENG_SEND_RATE", "31", "MINZHENG_SEND_RATE"),
        ("MINZHENG_TELEGRAM_TOKEN", "not-a-token", "MINZHENG_TELEGRAM_TOKEN"),
        ("MINZHENG_TELEGRAM_API_BASE_URL", "ftp://x/bot", "MINZHENG_TELEGRAM_API_BASE_URL"),
        ("MINZHENG_ADVISOR_CHAT_ID", "advisors", "MINZHENG_ADVISOR_CHAT_ID"),
        ("MINZHENG_SECRET_KEY", "changeme", "MINZHENG_SECRET_KEY"),
        ("MINZHENG_HTTP_PROT", "8080", "MINZHENG_HTTP_PROT"),
    ],
)
def test_bad_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, named: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_webhook_mode_requires_url_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINZHENG_TELEGRAM_TOKEN", "123456:ABC")
    monkeypatch.setenv("MINZHENG_TELEGRAM_MODE", "webhook")
    with pytest.raises(SettingsError, match=r"^MINZHENG_WEBHOOK_URL is required"):
        load_settings()
    monkeypatch.setenv("MINZHENG_WEBHOOK_URL", "https://example.org/telegram/webhook")
    with pytest.raises(SettingsError, match=r"^MINZHENG_WEBHOOK_SECRET is required"):
        load_settings()


def test_secrets_and_passwords_are_never_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINZHENG_SECRET_KEY", "hunter2")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "hunter2" not in str(caught.value)
    monkeypatch.delenv("MINZHENG_SECRET_KEY")
    monkeypatch.setenv("MINZHENG_DATABASE_URL", "mysql://app:topsecret@db/x")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert "topsecret" not in str(caught.value)


def test_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load_settings().secret()
    key_file = tmp_path / "var" / "secret_key"
    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_settings().secret() == first
    assert len(first) >= 32


def test_a_given_secret_key_is_used_and_nothing_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MINZHENG_SECRET_KEY", "x" * 40)
    assert load_settings().secret() == "x" * 40
    assert not (tmp_path / "var" / "secret_key").exists()


def test_settings_are_not_read_at_import() -> None:
    # Importing the CLI, the app factory and the models must not build settings.
    code = (
        "import os; os.environ['MINZHENG_HTTP_PORT'] = 'abc';"
        "import bot.cli, bot.web.app, bot.models, bot.server; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"MINZHENG_HTTP_PORT": "abc"}, "MINZHENG_HTTP_PORT"),
        ({"MINZHENG_TELEGRAM_MODE": "foo"}, "MINZHENG_TELEGRAM_MODE"),
        ({"MINZHENG_DATABASE_URL": "sqlite+aiosqlite://"}, "MINZHENG_DATABASE_URL"),
    ],
)
def test_cli_stops_with_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], fragment: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert fragment in lines[0]
    assert "accepts" in lines[0] or "required" in lines[0]


def test_settings_class_reads_the_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINZHENG_HTTP_PORT", "8181")
    assert Settings().http_port == 8181


def test_processes_starting_together_agree_on_one_generated_key(tmp_path: Path) -> None:
    """Replicas started at once on a fresh volume (``db upgrade`` in four processes) all
    generate a key: each must end with the same one, and none may fail."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    from bot.settings import _ensure_secret_key

    for attempt in range(20):
        folder = tmp_path / f"var{attempt}"
        start = Barrier(8)

        def generate(folder: Path = folder, start: Barrier = start) -> str:
            start.wait()
            return _ensure_secret_key(folder)

        with ThreadPoolExecutor(8) as pool:
            keys = list(pool.map(lambda _: generate(), range(8)))
        assert len(set(keys)) == 1
        assert (folder / "secret_key").read_text(encoding="utf-8").strip() == keys[0]
        assert sorted(p.name for p in folder.iterdir()) == ["secret_key"]


def test_a_damaged_key_file_is_replaced(tmp_path: Path) -> None:
    from bot.settings import _ensure_secret_key

    folder = tmp_path / "damaged"
    folder.mkdir()
    (folder / "secret_key").write_text("short\n", encoding="utf-8")
    key = _ensure_secret_key(folder)
    assert len(key) >= 32
    assert (folder / "secret_key").read_text(encoding="utf-8").strip() == key
    assert sorted(p.name for p in folder.iterdir()) == ["secret_key"]
