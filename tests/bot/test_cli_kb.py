"""The knowledge commands as staff and checks outside the project run them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect

from bot.database import engine_context
from knowledge.loader import (
    CONTENT_DIR,
    Content,
    content_files,
    load_file,
    load_paths,
    load_shipped,
)
from tests.conftest import fresh_database
from tests.knowledge.test_loader_and_lint import ENTRY
from tests.support.contract import CONTRACT_KEYS

MINZHENG = str(Path(sys.executable).with_name("minzheng"))


def run(
    *args: str, database_url: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "MINZHENG_DATABASE_URL": database_url}
    return subprocess.run(
        [MINZHENG, *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ask_json_prints_the_contract_object(database_url: str, tmp_path: Path) -> None:
    result = run("ask", "底保怎么申请", "--json", database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == CONTRACT_KEYS
    assert answer["fallback"] is False
    assert answer["entry_id"].startswith("assist-dibao")
    assert "低保" in answer["title"] + answer["answer"]


def test_ask_in_plain_text_says_what_residents_are_told(database_url: str, tmp_path: Path) -> None:
    outside = run("ask", "红烧肉怎么烧才好吃", database_url=database_url, cwd=tmp_path)
    assert outside.returncode == 0, outside.stderr
    # The everyday matter's advice, or the "not civil affairs" text: never "no exact answer".
    assert "没找到确切答案" not in outside.stdout and "12345" in outside.stdout
    elsewhere = run("ask", "护照过期了怎么换", database_url=database_url, cwd=tmp_path)
    assert "没找到确切答案" not in elsewhere.stdout and "出入境" in elsewhere.stdout


def test_ask_jsonl_answers_one_line_per_question(database_url: str, tmp_path: Path) -> None:
    questions = "助餐点在哪\n\n护照怎么办\n" + "长" * 100_000 + "\n結婚證遺失\n"
    result = run("ask", "--jsonl", database_url=database_url, cwd=tmp_path, stdin=questions)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 5
    assert all(set(line) == CONTRACT_KEYS for line in lines)
    assert lines[0]["entry_id"] == "elder-meal-point"
    assert lines[1]["fallback"] is True and lines[1]["question"] == ""
    assert lines[2]["fallback"] is True and lines[2]["suggestions"] == []
    assert lines[4]["entry_id"] == "marriage-certificate-replace"


def test_seed_twice_changes_nothing(database_url: str, tmp_path: Path) -> None:
    first = run("seed", "--json", database_url=database_url, cwd=tmp_path)
    second = run("seed", "--json", database_url=database_url, cwd=tmp_path)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert len(json.loads(first.stdout)["knowledge"]["created"]) >= 80
    knowledge = json.loads(second.stdout)["knowledge"]
    assert knowledge["created"] == [] and knowledge["updated"] == []


def test_import_of_a_malformed_file_names_it_and_imports_nothing(
    database_url: str, tmp_path: Path
) -> None:
    good = ENTRY
    bad = ENTRY.replace("test-entry", "second-entry").replace(
        "    reviewed: 2026-11-01", "    reviewed: yesterday"
    )
    path = tmp_path / "mixed.yaml"
    path.write_text(good + bad.split("entries:\n", 1)[1], encoding="utf-8")
    # Export only reads: the schema has to be there for it to report an empty knowledge base.
    assert run("db", "upgrade", database_url=database_url, cwd=tmp_path).returncode == 0
    result = run("kb", "import", str(path), database_url=database_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "nothing imported" in result.stderr
    assert f"{path}:18:" in result.stderr and "reviewed" in result.stderr
    exported = run("kb", "export", "--format", "json", database_url=database_url, cwd=tmp_path)
    assert json.loads(exported.stdout) == []


def test_import_then_export(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(ENTRY, encoding="utf-8")
    imported = run("kb", "import", str(path), "--json", database_url=database_url, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["created"] == ["test-entry"]
    again = run("kb", "import", str(path), "--json", database_url=database_url, cwd=tmp_path)
    assert json.loads(again.stdout)["created"] == [] and json.loads(again.stdout)["unchanged"] == 1
    exported = run("kb", "export", "--format", "json", database_url=database_url, cwd=tmp_path)
    [entry] = json.loads(exported.stdout)
    assert entry["id"] == "test-entry" and entry["version"] == 1
    assert entry["questions"][0] == "问题一"
    assert entry["reviewed"] == "2026-11-01"


def test_lint_is_clean_and_eval_prints_the_figures(database_url: str, tmp_path: Path) -> None:
    lint = run("kb", "lint", database_url=database_url, cwd=tmp_path)
    assert lint.returncode == 0, lint.stdout
    assert "0 errors" in lint.stdout.splitlines()[-1]
    cases = tmp_path / "cases.jsonl"
    cases.write_text(
        '{"q": "低保怎么申请", "expect": ["低保"]}\n'
        '{"q": "zhucan", "expect": ["助餐"], "tag": "pinyin"}\n'
        '{"q": "明天下雨吗", "oos": true}\n',
        encoding="utf-8",
    )
    result = run("kb", "eval", str(cases), "--json", database_url=database_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["in_scope_accuracy"] == 1.0
    assert summary["out_of_scope_rejection"] == 1.0
    assert summary["by_tag"]["pinyin"]["accuracy"] == 1.0
    assert set(summary["bm25_baseline"]) >= {"in_scope_accuracy", "out_of_scope_rejection"}
    text = run("kb", "eval", str(cases), database_url=database_url, cwd=tmp_path)
    assert "in-scope top-1 accuracy: 100.0%" in text.stdout
    # One row per part of the set, the matcher's figure beside the baseline's.
    assert re.search(r"^cases\s+right answers\s+2\s+100\.0%\s+\d+\.\d%$", text.stdout, re.M)
    assert re.search(r"^cases\s+rejected \(fell back\)\s+1\s+100\.0%", text.stdout, re.M)


def test_eval_without_a_file_measures_every_kind(database_url: str, tmp_path: Path) -> None:
    text = run("kb", "eval", database_url=database_url, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    for kind in ("story", "caregiver", "wu", "speech", "homophone", "plain", "oos_unrelated"):
        assert re.search(rf"^{kind}\s+(right answers|rejected)", text.stdout, re.M), kind
    assert "BM25 baseline" in text.stdout


def test_eval_reports_a_bad_case_file(database_url: str, tmp_path: Path) -> None:
    cases = tmp_path / "bad.jsonl"
    cases.write_text('{"q": "x"}\nnot json\n', encoding="utf-8")
    result = run("kb", "eval", str(cases), database_url=database_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.jsonl:1" in result.stderr


@pytest.fixture
async def second_database_url(tmp_path: Path, postgres_server: str | None) -> AsyncIterator[str]:
    """Another fresh, empty database, to import an export into."""
    async with fresh_database(tmp_path / "second", postgres_server) as url:
        yield url


def _same_content(loaded: Content, expected: Content) -> None:
    assert loaded.entries == expected.entries
    assert loaded.synonyms == expected.synonyms
    assert loaded.out_of_scope == expected.out_of_scope
    assert loaded.cues == expected.cues


def _entries_json(stdout: str) -> list[dict[str, object]]:
    """The JSON export without the time of the import."""
    return [{k: v for k, v in entry.items() if k != "updated_at"} for entry in json.loads(stdout)]


def test_yaml_export_imports_back_into_a_fresh_database(
    database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    assert run("seed", database_url=database_url, cwd=tmp_path).returncode == 0
    exported = run("kb", "export", "--format", "yaml", database_url=database_url, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    path = tmp_path / "export.yaml"
    path.write_text(exported.stdout, encoding="utf-8")
    # Right after seeding, the export is the shipped content: nothing lost, nothing reordered.
    _same_content(load_file(path), load_shipped())
    lint = run("kb", "lint", str(path), database_url=database_url, cwd=tmp_path)
    assert lint.returncode == 0 and "0 errors" in lint.stdout.splitlines()[-1], lint.stdout

    imported = run(
        "kb", "import", str(path), "--json", database_url=second_database_url, cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    assert len(json.loads(imported.stdout)["created"]) == len(load_shipped().entries)
    first, second = (
        run("kb", "export", "--format", "json", database_url=url, cwd=tmp_path)
        for url in (database_url, second_database_url)
    )
    assert _entries_json(first.stdout) == _entries_json(second.stdout)
    # Synonyms, cue groups and out-of-scope matters came across too: the second database
    # exports the same.
    again = run("kb", "export", "--format", "yaml", database_url=second_database_url, cwd=tmp_path)
    assert again.stdout == exported.stdout


def test_yaml_export_to_a_folder_lays_it_out_like_the_shipped_one(
    database_url: str, tmp_path: Path
) -> None:
    assert run("seed", database_url=database_url, cwd=tmp_path).returncode == 0
    shipped = load_shipped()
    names = sorted(path.name for path in content_files(CONTENT_DIR))
    folder = tmp_path / "new" / "content"
    export = ("kb", "export", "--format", "yaml", "--out", str(folder))
    written = run(*export, database_url=database_url, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    assert written.stdout.startswith(
        f"wrote {len(names)} files to {folder}: {len(shipped.entries)} entries"
    )
    assert sorted(path.name for path in folder.iterdir()) == names
    loaded = load_paths([folder])
    _same_content(loaded, shipped)
    assert {k: Path(v).name for k, v in loaded.origin.items()} == {
        k: Path(v).name for k, v in shipped.origin.items()
    }
    # The header comments of the shipped files stay; the text reads like them.
    shipped_text = (CONTENT_DIR / "assistance.yaml").read_text(encoding="utf-8")
    text = (folder / "assistance.yaml").read_text(encoding="utf-8")
    assert text.split("entries:\n")[0] == shipped_text.split("entries:\n")[0]
    assert "\n  - id: assist-overview\n    title: 家里困难" in text
    assert "\n    answer: |\n      家里生活困难" in text and "\n\n  - id: " in text
    assert "null" not in text and "\\u" not in text
    assert '"37009999"' in (folder / "eldercare.yaml").read_text(encoding="utf-8")
    cues = (folder / "cues.yaml").read_text(encoding="utf-8")
    shipped_cues = (CONTENT_DIR / "cues.yaml").read_text(encoding="utf-8")
    assert cues.split("cues:\n")[0] == shipped_cues.split("cues:\n")[0]
    assert cues.startswith("#") and "\n  - need: " in cues and "\n    signs: [" in cues

    # An entry new in the database goes to the file holding its category (社会救助).
    new = tmp_path / "new.yaml"
    new.write_text(ENTRY, encoding="utf-8")
    assert run("kb", "import", str(new), database_url=database_url, cwd=tmp_path).returncode == 0
    summary = run(*export, "--json", database_url=database_url, cwd=tmp_path)
    assert summary.returncode == 0, summary.stderr
    assert json.loads(summary.stdout) == {
        "out": str(folder),
        "files": names,
        "entries": len(shipped.entries) + 1,
        "synonym_groups": len(shipped.synonyms),
        "cue_groups": len(shipped.cues),
        "out_of_scope": len(shipped.out_of_scope),
    }
    assert "  - id: test-entry\n" in (folder / "assistance.yaml").read_text(encoding="utf-8")
    assert sorted(path.name for path in folder.iterdir()) == names
    lint = run("kb", "lint", str(folder), database_url=database_url, cwd=tmp_path)
    last = lint.stdout.splitlines()[-1]
    assert lint.returncode == 0 and last.startswith(f"{len(shipped.entries) + 1} entries"), last
    assert "0 errors" in last


def test_export_never_migrates(database_url: str, tmp_path: Path) -> None:
    for form in ("yaml", "json"):
        result = run("kb", "export", "--format", form, database_url=database_url, cwd=tmp_path)
        assert result.returncode == 1
        [line] = result.stderr.splitlines()
        assert "minzheng db upgrade" in line
        assert result.stdout == ""

    async def tables() -> list[str]:
        def names(connection: Connection) -> list[str]:
            return inspect(connection).get_table_names()

        async with engine_context(database_url) as engine, engine.connect() as connection:
            return await connection.run_sync(names)

    assert asyncio.run(tables()) == []


def test_export_options_that_do_not_go_together(tmp_path: Path) -> None:
    database = tmp_path / "unused.db"
    out = tmp_path / "out"
    for args in (("--format", "json", "--out", str(out)), ("--format", "yaml", "--json")):
        result = run("kb", "export", *args, database_url=f"sqlite:///{database}", cwd=tmp_path)
        assert result.returncode == 2 and result.stderr.startswith("minzheng: ")
    assert not out.exists() and not database.exists()
