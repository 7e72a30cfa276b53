"""Synonyms and out-of-scope matters: draft, impact preview, approval by another person."""

from __future__ import annotations

import asyncio
import re
from datetime import date

from bot import keys
from knowledge import vocabulary
from knowledge.loader import load_shipped
from knowledge.models import KbVocabularyDraft
from knowledge.store import snapshot_from_content
from tests.bot.console.conftest import Console


async def ask(console: Console, question: str) -> dict[str, object]:
    return dict(await (await console.client.post("/api/ask", json={"question": question})).json())


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
    await wang.post(draft_url + "/submit")
    await wang.get(draft_url)
    assert (await wang.post(draft_url + "/approve")).status == 400  # not by its editor
    await li.get(draft_url)
    assert (await li.post(draft_url + "/approve")).status == 303
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
