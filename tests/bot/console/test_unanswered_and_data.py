"""未解答问题 and 数据, over real HTTP, from questions residents really sent."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from bot import keys
from tests.bot.console.conftest import Console

YELLOW_LEAVES = [
    "阳台的月季叶子发黄怎么办",
    "阳台的月季叶子发黄怎么办",
    "阳台月季叶子发黄怎么办？",
    "阳台的月季叶子发黄咋办啊",
]


async def residents_ask(console: Console, *questions: str) -> None:
    for question in questions:
        await console.client.post("/api/ask", json={"question": question})
    await console.client.app[keys.CONVERSATION].flush()


async def test_unanswered_questions_are_clustered_and_become_a_new_entry_draft(
    console: Console,
) -> None:
    await residents_ask(console, *YELLOW_LEAVES, "老年食堂在哪里", "低保怎么申请")
    wang = await console.browser("小王")
    await wang.get("/admin/unanswered?days=7")
    page = wang.last_page
    assert "阳台的月季叶子发黄怎么办" in page and "4 次" in page
    assert "老年食堂在哪里" not in page  # answered questions are not listed
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key
    response = await wang.post("/admin/unanswered/new-entry", {"key": key.group(1), "days": "7"})
    assert response.status == 303
    location = response.headers["Location"]
    assert location.startswith("/admin/kb/new?")
    prefilled = parse_qs(urlsplit(location).query)
    assert prefilled["title"] == ["阳台的月季叶子发黄怎么办"]
    await wang.get(location)
    textarea = re.search(r'<textarea id="f-questions"[^>]*>(.*?)</textarea>', wang.last_page, re.S)
    assert textarea and "阳台月季叶子发黄怎么办" in textarea.group(1)


async def test_a_cluster_added_to_an_entry_and_one_set_aside(console: Console) -> None:
    await residents_ask(
        console, *YELLOW_LEAVES, "轮椅放在楼道里邻居有意见", "轮椅放在楼道里邻居有意见呢"
    )
    wang = await console.browser("小王")
    await wang.get("/admin/unanswered?days=30")
    keys_on_page = dict(
        re.findall(
            r'<h2 id="c-\d+">([^<]+)</h2>.*?name="key" value="([^"]+)"', wang.last_page, re.S
        )
    )
    wheelchair = next(k for label, k in keys_on_page.items() if "轮椅" in label)
    leaves = next(k for label, k in keys_on_page.items() if "月季" in label)
    response = await wang.post(
        "/admin/unanswered/add-to-entry",
        {"key": wheelchair, "days": "30", "entry_id": "device-rental-how"},
    )
    assert response.status in (303, 400), wang.last_page
    if response.status == 303:
        await wang.get("/admin/kb/device-rental-how")
        assert "草稿" in wang.last_page
        assert await console.audit_count("draft_saved") == 1
    await wang.get("/admin/unanswered?days=30")
    response = await wang.post("/admin/unanswered/dismiss", {"key": leaves, "days": "30"})
    assert response.status == 303
    await wang.get(response.headers["Location"])
    assert "已放到一边" in wang.last_page
    assert "月季叶子" not in wang.last_page, re.findall(
        r'<h2 id="c-\d+">[^<]+</h2>', wang.last_page
    )
    assert await console.audit_count("questions_dismissed") == 1


async def test_the_data_page_and_metrics_show_the_same_numbers(console: Console) -> None:
    await residents_ask(console, "老年食堂在哪里", "低保怎么申请", *YELLOW_LEAVES[:2])
    wang = await console.browser("小王")
    response = await wang.get("/admin/data?days=7")
    assert response.status == 200
    page = wang.last_page
    assert "<strong>4</strong> 个问题" in page and "<strong>2</strong> 个答上" in page
    assert "答复率 <strong>50%</strong>" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert "问得最多的内容" in page
    metrics = await (await console.client.get("/metrics")).text()
    assert 'minzheng_questions_24h{outcome="answered"} 2.0' in metrics
    assert 'minzheng_questions_24h{outcome="fallback"} 2.0' in metrics
    assert "minzheng_answer_rate_24h 0.5" in metrics
    assert 'minzheng_kb_entries{state="awaiting_first_review"}' in metrics
