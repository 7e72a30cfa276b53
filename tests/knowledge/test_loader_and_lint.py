from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from knowledge.lint import lint
from knowledge.loader import ContentError, load_file, load_shipped, load_text

ENTRY = """\
entries:
  - id: test-entry
    title: 测试条目
    category: 社会救助
    questions: [问题一, 问题二, 问题三, 问题四, 问题五]
    keywords: [测试]
    answer: 这是回答。
    source: 测试来源
    reviewed: 2026-11-01
    review_by: 2027-11-01
"""


def test_shipped_content_lints_clean() -> None:
    content = load_shipped()
    findings = lint(content, today=date(2026, 12, 1))
    assert [str(f) for f in findings if f.level == "error"] == []
    assert len(content.entries) >= 80
    assert all(len(e.questions) >= 5 for e in content.entries)


def test_shipped_content_covers_every_area() -> None:
    categories = {e.category for e in load_shipped().entries}
    assert categories >= {
        "社会救助",
        "养老",
        "婚姻",
        "康复辅具",
        "殡葬",
        "儿童",
        "残疾",
        "社区",
        "社会组织",
    }


def test_a_good_file_loads() -> None:
    content = load_text(ENTRY, "good.yaml")
    assert [e.id for e in content.entries] == ["test-entry"]


def test_malformed_yaml_names_file_and_line() -> None:
    broken = ENTRY.replace("    title: 测试条目", "    title: [测试条目")
    with pytest.raises(ContentError) as caught:
        load_text(broken, "broken.yaml")
    assert caught.value.path == "broken.yaml"
    assert caught.value.line is not None and caught.value.line >= 3
    assert "not valid YAML" in str(caught.value)


@pytest.mark.parametrize(
    ("change", "line", "field"),
    [
        (("    reviewed: 2026-11-01", "    reviewed: 2026-13-45"), 9, "reviewed"),
        (
            ("    questions: [问题一, 问题二, 问题三, 问题四, 问题五]", "    questions: [问题一]"),
            5,
            "questions",
        ),
        (("    source: 测试来源\n", ""), 2, "source"),
        (("    keywords: [测试]", "    keywords: [测试]\n    colour: red"), 7, "colour"),
        (("    category: 社会救助", "    category: 天气"), 4, "category"),
        (("  - id: test-entry", "  - id: Test Entry!"), 2, "id"),
    ],
)
def test_a_bad_field_is_named_with_its_line(change: tuple[str, str], line: int, field: str) -> None:
    with pytest.raises(ContentError) as caught:
        load_text(ENTRY.replace(*change), "bad.yaml")
    assert caught.value.line == line, str(caught.value)
    assert field in caught.value.where, str(caught.value)
    assert str(caught.value).startswith(f"bad.yaml:{line}: ")


def test_binary_and_missing_files_are_reported(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ContentError, match="not UTF-8"):
        load_file(binary)
    with pytest.raises(ContentError, match=r"missing\.yaml"):
        load_file(tmp_path / "missing.yaml")


def _lint(text: str, today: date = date(2026, 11, 28)) -> list[str]:
    return [str(f) for f in lint(load_text(text, "t.yaml"), today=today)]


def test_lint_finds_duplicate_ids_and_missing_related() -> None:
    second = ENTRY.split("entries:\n", 1)[1]
    findings = _lint(ENTRY + second)
    assert any("used more than once" in f for f in findings)
    findings = _lint(
        ENTRY.replace("    keywords: [测试]", "    keywords: [测试]\n    related: [nope]")
    )
    assert any("related id 'nope' does not exist" in f for f in findings)


def test_lint_finds_the_same_question_under_two_entries() -> None:
    other = (
        ENTRY.split("entries:\n", 1)[1]
        .replace("test-entry", "other-entry")
        .replace(
            "[问题一, 问题二, 问题三, 问题四, 问题五]", "[问题一？, 别的一, 别的二, 别的三, 别的四]"
        )
    )
    findings = _lint(ENTRY + other)
    assert any("问题一" in f and "also under" in f and f.startswith("error") for f in findings)


def test_lint_finds_near_same_questions_under_two_entries() -> None:
    first = ENTRY.replace("问题一", "老年人申请低保需要准备哪些材料")
    other = (
        ENTRY.split("entries:\n", 1)[1]
        .replace("test-entry", "other-entry")
        .replace(
            "[问题一, 问题二, 问题三, 问题四, 问题五]",
            "[老年人申请低保需要准备哪些材料啊呀, 别一, 别二, 别三, 别四]",
        )
    )
    findings = _lint(first + other)
    assert any("nearly the same" in f or "also under" in f for f in findings)


def test_lint_warns_when_past_review_and_errors_on_long_answers() -> None:
    assert any(
        f.startswith("warning") and "review date" in f for f in _lint(ENTRY, today=date(2028, 1, 1))
    )
    long_answer = ENTRY.replace("这是回答。", "很长" * 200)
    assert any("汉字" in f and f.startswith("error") for f in _lint(long_answer))
    steps = ENTRY.replace(
        "    answer: 这是回答。",
        "    answer: |\n" + "".join(f"      {i}. 一步\n" for i in range(1, 7)),
    )
    assert any("numbered steps" in f for f in _lint(steps))


def test_lint_asks_about_amounts_and_unknown_phone_numbers() -> None:
    findings = _lint(ENTRY.replace("这是回答。", "每月补贴1200元，电话57812345。热线37009999。"))
    assert any("1200元" in f for f in findings)
    assert any("57812345" in f for f in findings)
    assert not any("37009999" in f for f in findings)


CUES = """\
cues:
  - need: 测试的需要
    entries: [test-entry]
    signs: [心里有件难事, 不晓得怎么开口]
"""


def test_lint_names_the_need_and_the_unknown_entry_of_a_cue() -> None:
    assert _lint(ENTRY + CUES) == []
    findings = _lint(ENTRY + CUES.replace("[test-entry]", "[test-entry, no-such-entry]"))
    assert findings == ["error: 测试的需要: cue entry 'no-such-entry' does not exist"]
    twice = CUES + CUES.split("cues:\n", 1)[1]
    assert any("测试的需要" in f and "more than once" in f for f in _lint(ENTRY + twice))


def test_lint_warns_on_a_sign_that_is_a_sample_question() -> None:
    findings = _lint(ENTRY + CUES.replace("心里有件难事", "问题三"))
    assert findings == [
        "warning: 测试的需要: sign '问题三' is a sample question of test-entry: "
        "say a situation instead"
    ]
