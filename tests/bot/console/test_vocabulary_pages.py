"""Synonyms, cue groups and out-of-scope matters: draft, impact preview, approval by another
person."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from typing import Any

import pytest

from bot import keys
from knowledge import vocabulary
from knowledge.loader import load_shipped
from knowledge.models import KbVocabularyDraft
from knowledge.store import snapshot_from_content
from tests.bot.console.conftest import Console


async def ask(console: Console, question: str) -> dict[str, object]:
    return dict(await (await console.client.post("/api/ask", json={"question": question})).json())


async def submit_and_approve(editor: Any, approver: Any, draft_url: str) -> None:
    """Submit a draft; its editor may not approve it, a second person does."""
    await editor.post(draft_url + "/submit")
    await editor.get(draft_url)
    assert (await editor.post(draft_url + "/approve")).status == 400  # not by its editor
    await approver.get(draft_url)
    assert (await approver.post(draft_url + "/approve")).status == 303


async def test_a_new_synonym_shows_its_impact_and_applies_after_approval(
    console: Console,
) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    question = "饭堂子在哪里"
    assert (await ask(console, question))["entry_id"] != "elder-meal-point"
    await console.client.app[keys.CONVERSATION].flush()  # the question log, written
    await wang.get("/admin/synonyms/edit?kind=synonym&key=助餐点")
    variants = re.search(r'<textarea id="variants"[^>]*>(.*?)</textarea>', wang.last_page, re.S)
    assert variants and "老年食堂" in variants.group(1)
    response = await wang.post(
        "/admin/synonyms/edit",
        {
            "kind": "synonym",
            "key": "助餐点",
            "revision": "0",
            "canonical": "助餐点",
            "variants": variants.group(1) + "\n饭堂子",
        },
    )
    assert response.status == 303, wang.last_page
    draft_url = response.headers["Location"]
    await wang.get(draft_url)
    # The preview lists a recently asked question whose answer would change.
    assert "影响" in wang.last_page and question in wang.last_page
    assert (await ask(console, question))["entry_id"] != "elder-meal-point"  # not yet
    await submit_and_approve(wang, li, draft_url)
    async with asyncio.timeout(10):
        while (await ask(console, question))["entry_id"] != "elder-meal-point":
            await asyncio.sleep(0.05)
    assert await console.audit_count("synonym_published") == 1
    assert await console.audit_count("synonym_draft_saved") == 1


async def test_a_variant_already_in_another_group_is_refused(console: Console) -> None:
    wang = await console.browser("小王")
    await wang.get("/admin/synonyms/edit?kind=synonym")
    response = await wang.post(
        "/admin/synonyms/edit",
        {
            "kind": "synonym",
            "key": "",
            "revision": "0",
            "canonical": "新词",
            "variants": "老年食堂",
        },
    )
    assert response.status == 400 and "已经是“助餐点”的说法" in wang.last_page
    assert "老年食堂" in wang.last_page  # what was typed is still there


async def test_an_out_of_scope_matter_from_the_console(console: Console) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    await wang.get("/admin/synonyms/edit?kind=out_of_scope")
    response = await wang.post(
        "/admin/synonyms/edit",
        {
            "kind": "out_of_scope",
            "key": "",
            "revision": "0",
            "id": "oos-fishing",
            "title": "钓鱼许可",
            "questions": "钓鱼要办证吗\n哪里可以钓鱼\n钓鱼证怎么办",
            "keywords": "钓鱼",
            "advice": "钓鱼的事不归民政部门管，请拨打12345询问。",
        },
    )
    assert response.status == 303, wang.last_page
    draft_url = response.headers["Location"]
    await wang.post(draft_url + "/submit")
    await li.get(draft_url)
    await li.post(draft_url + "/approve")
    async with asyncio.timeout(10):
        while not (await ask(console, "钓鱼证怎么办理"))["fallback"]:
            await asyncio.sleep(0.05)


def test_impact_lists_exactly_the_answers_that_change() -> None:
    snapshot = snapshot_from_content(load_shipped())
    draft = KbVocabularyDraft(
        kind="synonym",
        key="助餐点",
        value={"canonical": "助餐点", "variants": ["饭堂子"]},
        created_by="t",
        last_editor="t",
    )
    changed = vocabulary.impact(
        snapshot,
        vocabulary.with_change(snapshot, draft),
        ["饭堂子在哪里", "怎么申请低保", "老年食堂在哪里"],
        today=date(2026, 12, 1),
    )
    # 饭堂子 now means 助餐点; the others are answered as before (老年食堂 is also in the
    # meal-point entry's own questions, so dropping it as a variant changes nothing here).
    assert [c.question for c in changed] == ["饭堂子在哪里"]
    assert changed[0].after.startswith("老年助餐点")


LONELY = "一个人住孤单、想有人陪"
OLD_PARTNER = "elder-old-partner"
# A lonely resident's small talk that no entry or shipped sign answers (the shipped loneliness
# signs grow, and already answer 想找个人说说话 and 野猫又来串门), so only this draft's sign
# leads it to 老伙伴计划.
SMALL_TALK = "阳台上的月季又开花了"


async def test_a_cue_sign_shows_its_impact_and_applies_after_approval(console: Console) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    question = SMALL_TALK
    assert (await ask(console, question))["entry_id"] != OLD_PARTNER
    await console.client.app[keys.CONVERSATION].flush()  # the question log, written
    await wang.get("/admin/synonyms")
    assert "线索（" in wang.last_page and LONELY in wang.last_page
    await wang.get(f"/admin/synonyms/edit?kind=cue&key={LONELY}")
    assert "需要（名称）" in wang.last_page and "线索说法（每行一条）" in wang.last_page
    signs = re.search(r'<textarea id="signs"[^>]*>(.*?)</textarea>', wang.last_page, re.S)
    entries = re.search(r'<textarea id="entries"[^>]*>(.*?)</textarea>', wang.last_page, re.S)
    assert signs and "一个人住好孤单" in signs.group(1)
    assert entries and entries.group(1) == OLD_PARTNER
    response = await wang.post(
        "/admin/synonyms/edit",
        {
            "kind": "cue",
            "key": LONELY,
            "revision": "0",
            "need": LONELY,
            "entries": entries.group(1),
            "signs": signs.group(1) + "\n" + question,
        },
    )
    assert response.status == 303, wang.last_page
    draft_url = response.headers["Location"]
    await wang.get(draft_url)
    assert f"线索草稿：{LONELY}" in wang.last_page
    # The preview lists the recently asked question whose answer would change.
    impact = wang.last_page.split('id="impact-h"', 1)[1]
    assert re.search(rf"<th scope=\"row\">{question}</th><td>[^<]+</td><td>老伙伴计划</td>", impact)
    assert (await ask(console, question))["entry_id"] != OLD_PARTNER  # not yet
    await submit_and_approve(wang, li, draft_url)
    # The group changed in place (same count, same id): the index is rebuilt all the same.
    async with asyncio.timeout(10):
        while (await ask(console, question))["entry_id"] != OLD_PARTNER:
            await asyncio.sleep(0.05)
    for action in ("cue_draft_saved", "cue_draft_submitted", "cue_published"):
        assert await console.audit_count(action) == 1, action
    async with console.sessions() as session:
        cues = await vocabulary.current_cues(session)
    assert cues[LONELY]["signs"][-1] == question and cues[LONELY]["entries"] == [OLD_PARTNER]


async def test_a_new_cue_group_and_its_removal(console: Console) -> None:
    wang, li = await console.browser("小王"), await console.browser("小李")
    response = await wang.post(
        "/admin/synonyms/edit",
        {
            "kind": "cue",
            "key": "",
            "revision": "0",
            "need": "想找人说说心里话",
            "entries": f"{OLD_PARTNER}\n{OLD_PARTNER}\n",
            "signs": "心里话没处讲\n\n心里话没处讲",
        },
    )
    assert response.status == 303, wang.last_page
    for step in ("submit", "approve"):
        browser = wang if step == "submit" else li
        await browser.get(response.headers["Location"])
        assert (await browser.post(response.headers["Location"] + "/" + step)).status == 303
    async with console.sessions() as session:
        added = (await vocabulary.current_cues(session))["想找人说说心里话"]
    assert added == {
        "need": "想找人说说心里话",
        "entries": [OLD_PARTNER],
        "signs": ["心里话没处讲"],
    }
    await wang.get("/admin/synonyms")
    assert "想找人说说心里话" in wang.last_page
    await wang.get("/admin/synonyms/edit?kind=cue&key=想找人说说心里话")
    removal = await wang.post(
        "/admin/synonyms/edit",
        {"kind": "cue", "key": "想找人说说心里话", "revision": "0", "remove": "1"},
    )
    assert removal.status == 303, wang.last_page
    await wang.get(removal.headers["Location"])
    assert "这份草稿会删除这一条" in wang.last_page
    await wang.post(removal.headers["Location"] + "/submit")
    await li.get(removal.headers["Location"])
    assert (await li.post(removal.headers["Location"] + "/approve")).status == 303
    async with console.sessions() as session:
        assert "想找人说说心里话" not in await vocabulary.current_cues(session)
    assert await console.audit_count("cue_published") == 2


@pytest.mark.parametrize(
    ("entries", "signs", "error"),
    [
        ("", "心里话没处讲", "至少要指向一个条目。"),
        ("no-such-entry", "心里话没处讲", "没有编号为“no-such-entry”的已发布条目。"),
        ("Elder Old Partner", "心里话没处讲", "条目编号只用小写字母、数字和连字符"),
        (OLD_PARTNER, "", "至少要写一条线索说法。"),
        (OLD_PARTNER, "心里话没处讲\n话", "每条说法 2 到 40 个字：“话”不行。"),
        (OLD_PARTNER, "长" * 41, "每条说法 2 到 40 个字"),
    ],
)
async def test_a_cue_group_is_checked_in_chinese(
    console: Console, entries: str, signs: str, error: str
) -> None:
    wang = await console.browser("小王")
    await wang.get("/admin/synonyms/edit?kind=cue")
    assert "新增线索" in wang.last_page
    fields = {"kind": "cue", "key": "", "revision": "0", "need": "想找人说说心里话"}
    response = await wang.post(
        "/admin/synonyms/edit", {**fields, "entries": entries, "signs": signs}
    )
    assert response.status == 400 and error in wang.last_page
    assert "想找人说说心里话" in wang.last_page  # what was typed is still there
    assert await console.audit_count("cue_draft_saved") == 0


def test_a_cue_draft_changes_exactly_the_questions_its_signs_tell() -> None:
    snapshot = snapshot_from_content(load_shipped())
    lonely = next(cue for cue in snapshot.cues if cue.need == LONELY)
    draft = KbVocabularyDraft(
        kind="cue",
        key=LONELY,
        value={**lonely.model_dump(), "signs": [*lonely.signs, SMALL_TALK]},
        created_by="t",
        last_editor="t",
    )
    after = vocabulary.with_change(snapshot, draft)
    # Replaced in its place: the other groups are untouched.
    assert [c.need for c in after.cues] == [c.need for c in snapshot.cues]
    changed = vocabulary.impact(
        snapshot,
        after,
        [SMALL_TALK, "怎么申请低保", "一个人住好孤单"],
        today=date(2026, 12, 1),
    )
    assert [(c.question, c.after) for c in changed] == [(SMALL_TALK, "老伙伴计划")]
    removed = KbVocabularyDraft(kind="cue", key=LONELY, value=None, created_by="t", last_editor="t")
    assert LONELY not in {c.need for c in vocabulary.with_change(snapshot, removed).cues}


async def test_a_cue_group_keeps_its_need(console: Console) -> None:
    wang = await console.browser("小王")
    await wang.get(f"/admin/synonyms/edit?kind=cue&key={LONELY}")
    assert 'id="need" name="need" value="一个人住孤单、想有人陪" readonly' in wang.last_page
    fields = {"kind": "cue", "key": LONELY, "revision": "0", "need": "改个名字"}
    response = await wang.post(
        "/admin/synonyms/edit", {**fields, "entries": OLD_PARTNER, "signs": "一个人住好孤单"}
    )
    assert response.status == 400 and "需要（名称）不能修改；请新增一条。" in wang.last_page
