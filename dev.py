#!/usr/bin/env python3
"""The README's two commands, each doing all its own set-up on a machine with only Python 3.11.

    python3 dev.py serve   # virtual environment, install, migrations and seed, then serve
    python3 dev.py test    # virtual environment, install, ruff, mypy, kb lint, pytest on SQLite,
                           # then the database tests again on PostgreSQL

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"
STAMP = VENV / ".minzheng-install"


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=False).returncode


def ensure_environment() -> None:
    """Create .venv and install the project with its dev extra, again only when it changed."""
    if sys.version_info < (3, 11):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit(f"minzheng needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        say(f"creating virtual environment in {VENV}")
        venv.create(VENV, with_pip=True)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text().strip() == wanted:
        return
    say("installing minzheng and its development tools (first run takes a minute)")
    code = run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    if code != 0:
        sys.exit("installing dependencies failed; see the pip output above")
    STAMP.write_text(wanted + "\n")


def serve() -> int:
    ensure_environment()
    say("applying database migrations; loading the knowledge base and the sample directory")
    if run(BIN / "minzheng", "seed") != 0:
        return 1
    say("starting: web chat at http://127.0.0.1:8080/chat (health: /healthz; Ctrl-C stops)")
    os.execv(BIN / "minzheng", [str(BIN / "minzheng"), "serve"])


def _postgres_bindir() -> Path | None:
    spec = importlib.util.spec_from_file_location(
        "minzheng_test_postgres", ROOT / "tests" / "support" / "postgres.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bindir: Path | None = module.find_bindir()
    return bindir


def test(pytest_args: list[str]) -> int:
    ensure_environment()
    results: list[tuple[str, str]] = []

    def step(name: str, *args: str | Path, env: dict[str, str] | None = None) -> None:
        say(name)
        started = time.monotonic()
        code = run(*args, env=env)
        took = time.monotonic() - started
        results.append((name, f"{'ok' if code == 0 else f'FAILED (exit {code})'} in {took:.1f}s"))

    step("ruff check", BIN / "ruff", "check", ".")
    step("ruff format --check", BIN / "ruff", "format", "--check", ".")
    step("mypy", BIN / "mypy")
    step("minzheng kb lint", BIN / "minzheng", "kb", "lint")
    step("pytest on SQLite", BIN / "pytest", *pytest_args)

    pg_url = os.environ.get("MINZHENG_TEST_POSTGRES_URL")
    bindir = None if pg_url else _postgres_bindir()
    if pg_url or bindir:
        where = "MINZHENG_TEST_POSTGRES_URL" if pg_url else f"a throwaway cluster from {bindir}"
        env = {**os.environ, "MINZHENG_TEST_BACKEND": "postgresql"}
        step(
            f"pytest -m db on PostgreSQL ({where})",
            BIN / "pytest",
            "-m",
            "db",
            *pytest_args,
            env=env,
        )
    else:
        reason = (
            "PostgreSQL leg SKIPPED: MINZHENG_TEST_POSTGRES_URL is unset and no PostgreSQL server "
            "binaries (initdb, pg_ctl) were found; install Debian's `postgresql` package to run it"
        )
        say(reason)
        ci = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
        results.append(("PostgreSQL leg", "FAILED (skipped under CI)" if ci else "SKIPPED"))

    print("\nsummary:")
    for name, outcome in results:
        print(f"  {name}: {outcome}")
    return 1 if any("FAILED" in outcome for _, outcome in results) else 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test"}:
        print(__doc__)
        return 2
    if argv[0] == "serve":
        return serve()
    return test(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
