"""The knowledge commands as staff and checks outside the project run them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

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
    text = run("kb", "eval", str(cases), database_url=database_url, cwd=tmp_path)
    assert "in-scope top-1 accuracy: 100.0%" in text.stdout


def test_eval_reports_a_bad_case_file(database_url: str, tmp_path: Path) -> None:
    cases = tmp_path / "bad.jsonl"
    cases.write_text('{"q": "x"}\nnot json\n', encoding="utf-8")
    result = run("kb", "eval", str(cases), database_url=database_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "bad.jsonl:1" in result.stderr
