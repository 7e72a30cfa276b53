"""The one settings class: every ``MINZHENG_*`` variable of DESIGN.md, validated in one place.

Settings are built by the entrypoint (``load_settings``) and handed down; nothing reads the
environment at import time.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import stat
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from bot.escalations.office_hours import OfficeHours
from bot.keyring import KeyRing, parse_versions

ENV_PREFIX = "MINZHENG_"
# Variables read by the test harness and benchmarks, not by the service.
_RESERVED_PREFIXES = ("MINZHENG_TEST_", "MINZHENG_BENCH_")

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}
# Telegram accepts 1-256 characters from this set for X-Telegram-Bot-Api-Secret-Token.
_WEBHOOK_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "default", "dev", "test"}
_SECRET_FILE = "secret_key"
_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^@]*@")
_SECRET_FIELDS = {"telegram_token", "webhook_secret", "secret_key"}

# What each variable accepts, used in the one-line error message.
ACCEPTS: dict[str, str] = {
    "database_url": "an async SQLAlchemy URL: sqlite+aiosqlite:///PATH or "
    "postgresql+asyncpg://USER:PASSWORD@HOST:PORT/DB",
    "http_host": "a host name or IP address to listen on, e.g. 127.0.0.1 or 0.0.0.0",
    "http_port": "a whole number from 0 to 65535 (0 picks a free port)",
    "telegram_token": "the bot token from @BotFather, like 123456:ABC-DEF...",
    "telegram_api_base_url": "an http(s) URL ending before the token, e.g. http://127.0.0.1:8081/bot",
    "telegram_mode": "'polling' or 'webhook'",
    "webhook_url": "the public https URL Telegram posts updates to, ending in /telegram/webhook",
    "webhook_secret": "1-256 characters of A-Z, a-z, 0-9, _ and -",
    "advisor_chat_id": "a Telegram chat id, a whole number such as -1001234567890",
    "advisor_hours": "periods on China's working days, e.g. 08:30-11:30,13:00-17:00",
    "key_versions": "purpose=version pairs, e.g. chat-cookie=2,sealed=2 "
    "(purposes: pseudonym, chat-cookie, csrf, sealed)",
    "timezone": "an IANA time zone name such as Asia/Shanghai",
    "send_rate": "messages per second, a number above 0 and at most 30",
    "reminders_per_week": "a whole number from 1 to 14",
    "question_log_days": "a whole number of days from 1 to 3650",
    "secret_key": "at least 32 characters that are not a placeholder; unset to generate one",
    "public_url": "the https URL residents and staff reach the service at, e.g. "
    "https://minzheng.example.org/ (cookies are then sent over https only)",
    "var_dir": "a folder the service may write to (default: var)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
    "log_format": "'auto' (text on a terminal, else JSON), 'json' or 'text'",
}


class SettingsError(Exception):
    """A setting is missing, unknown or malformed; ``str()`` is one line for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, case_sensitive=False, extra="ignore", validate_default=True
    )

    database_url: str = "sqlite+aiosqlite:///var/minzheng.db"
    http_host: str = "127.0.0.1"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 8080
    telegram_token: SecretStr | None = None
    telegram_api_base_url: str | None = None
    telegram_mode: Literal["polling", "webhook"] = "polling"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    advisor_chat_id: int | None = None
    # When eldercare advisors answer: periods on China's working days (holidays and 调休 known).
    advisor_hours: str = "08:30-11:30,13:00-17:00"
    timezone: str = "Asia/Shanghai"
    send_rate: Annotated[float, Field(gt=0, le=30)] = 25.0
    # The most reminders one resident gets in any seven days; more wait (or lapse).
    reminders_per_week: Annotated[int, Field(ge=1, le=14)] = 3
    # How long residents' questions, feedback and conversation steps are kept.
    question_log_days: Annotated[int, Field(ge=1, le=3650)] = 180
    secret_key: SecretStr | None = None
    # Rotate one derived key without the others (bot.keyring).
    key_versions: str = ""
    # Where people reach the service when it sits behind a proxy: the origin forms may come
    # from, and whether cookies are marked Secure.
    public_url: str | None = None
    var_dir: Path = Path("var")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["auto", "json", "text"] = "auto"

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL") from exc
        driver = _ASYNC_DRIVERS.get(url.drivername)
        if driver is None:
            raise ValueError(f"unsupported driver {url.drivername!r}")
        url = url.set(drivername=driver)
        if driver.startswith("postgresql") and not url.database:
            raise ValueError("the PostgreSQL URL names no database")
        if driver.startswith("sqlite") and not url.database:
            raise ValueError("the SQLite URL names no file (use sqlite+aiosqlite:///PATH)")
        return url.render_as_string(hide_password=False)

    @field_validator("telegram_api_base_url", "webhook_url", "public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("not an http(s) URL")
        return value

    @field_validator("telegram_token", "webhook_secret", "secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("telegram_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.match(r"^\d+:[A-Za-z0-9_-]+$", value.get_secret_value()):
            raise ValueError("not a bot token")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _WEBHOOK_SECRET_RE.match(value.get_secret_value()):
            raise ValueError("characters Telegram does not accept")
        return value

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        raw = value.get_secret_value()
        if raw.lower() in _PLACEHOLDER_SECRETS or len(raw) < 32:
            raise ValueError("too short or a placeholder")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("advisor_hours")
    @classmethod
    def _office_hours(cls, value: str) -> str:
        OfficeHours.parse(value, ZoneInfo("Asia/Shanghai"))
        return value

    @field_validator("key_versions")
    @classmethod
    def _key_versions(cls, value: str) -> str:
        parse_versions(value)
        return value

    @field_validator("log_level", "log_format", "telegram_mode", mode="before")
    @classmethod
    def _forgiving_choice(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        value = value.strip()
        return value.upper() if info.field_name == "log_level" else value.lower()

    @model_validator(mode="after")
    def _webhook_needs_url_and_secret(self) -> Settings:
        if self.telegram_token is not None and self.telegram_mode == "webhook":
            if self.webhook_url is None:
                raise _FieldProblem(
                    "webhook_url", "is required when MINZHENG_TELEGRAM_MODE=webhook"
                )
            if self.webhook_secret is None:
                raise _FieldProblem(
                    "webhook_secret", "is required when MINZHENG_TELEGRAM_MODE=webhook"
                )
        return self

    # Derived values -------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def database(self) -> URL:
        return make_url(self.database_url)

    @property
    def is_sqlite(self) -> bool:
        return self.database.get_backend_name() == "sqlite"

    @property
    def served_over_https(self) -> bool:
        return self.public_url is not None and self.public_url.lower().startswith("https://")

    @property
    def telegram_enabled(self) -> bool:
        return self.telegram_token is not None

    def secret(self) -> str:
        if self.secret_key is None:
            raise RuntimeError("load_settings() fills secret_key; build Settings through it")
        return self.secret_key.get_secret_value()

    def keyring(self) -> KeyRing:
        return KeyRing(self.secret(), parse_versions(self.key_versions))

    @property
    def office_hours(self) -> OfficeHours:
        return OfficeHours.parse(self.advisor_hours, self.tz)


class _FieldProblem(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _unknown_variables(environ: dict[str, str]) -> list[str]:
    known = {env_name(name) for name in Settings.model_fields}
    return sorted(
        key
        for key in environ
        if key.upper().startswith(ENV_PREFIX)
        and key.upper() not in known
        and not key.upper().startswith(_RESERVED_PREFIXES)
    )


def _describe(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    ctx_error = (error.get("ctx") or {}).get("error")
    if isinstance(ctx_error, _FieldProblem):
        return f"{env_name(ctx_error.field)} {ctx_error}"
    given = error.get("input")
    if isinstance(given, dict) or given is None or field in _SECRET_FIELDS:
        shown = ""
    else:
        # Never echo a password that sits inside a database URL.
        masked = _PASSWORD_IN_URL.sub(r"\1***@", str(given))
        shown = f" (got {masked[:80]!r})"
    accepts = ACCEPTS.get(field, "a valid value")
    return f"{env_name(field)} is invalid{shown}: it accepts {accepts}"


def _ensure_secret_key(var_dir: Path) -> str:
    """Read the generated key from ``var/``, creating it (mode 0600) on first run.

    Replicas may start together on a fresh volume: each writes its candidate to a file of its
    own, and a hard link puts the first one in place (a link never overwrites), so every process
    ends with the same key."""
    path = var_dir / _SECRET_FILE
    found = _read_key(path)
    if found:
        return found
    # There, but too short to be a key: a damaged file, to be replaced rather than kept.
    damaged = found == ""
    var_dir.mkdir(parents=True, exist_ok=True)
    tmp = var_dir / f".{_SECRET_FILE}.{os.getpid()}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(tmp, flags, stat.S_IRUSR | stat.S_IWUSR)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        if damaged:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass  # another process was first: its key stands
            except OSError:
                # A file system without hard links: a rename, atomic but last-writer-wins.
                os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    key = _read_key(path)
    if not key:
        raise OSError(errno.EIO, "the generated key could not be read back", str(path))
    return key


def _read_key(path: Path) -> str | None:
    """The key; "" for a file too short to be one; None for no file."""
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return key if len(key) >= 32 else ""


def load_settings() -> Settings:
    """Build settings from the environment; raise ``SettingsError`` with one readable line."""
    unknown = _unknown_variables(dict(os.environ))
    if unknown:
        raise SettingsError(
            f"{unknown[0]} is not a known setting; known: "
            + ", ".join(env_name(name) for name in Settings.model_fields)
        )
    try:
        settings = Settings()
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None
    if settings.secret_key is None:
        try:
            generated = _ensure_secret_key(settings.var_dir)
        except OSError as exc:
            raise SettingsError(
                f"MINZHENG_VAR_DIR {str(settings.var_dir)!r} is not writable ({exc.strerror}); "
                f"it accepts {ACCEPTS['var_dir']}"
            ) from None
        settings = settings.model_copy(update={"secret_key": SecretStr(generated)})
    return settings
