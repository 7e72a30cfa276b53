"""The resident web chat ``/chat`` in a real browser: Debian's headless Chromium, driven by
Playwright, against the module's real server on the shipped content.

What a resident sees and does: ask with the keyboard and get the answer with its source and date,
press a suggestion or a detail button, find service points in a town or near the browser's
location. And what the page promises: large text, nothing fetched from anywhere but the service,
usable on a small phone and with the keyboard alone, a resident's HTML shown as text, never run.

Without Chromium these tests skip; under CI=true they fail instead (tests/support/browser.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestServer
from playwright.async_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    expect,
)

from bot import keys
from bot.console import accounts
from bot.console.models import Role
from bot.escalations import queries
from bot.escalations.models import Author
from bot.escalations.service import Advisor
from tests.support.axe import assert_accessible
from tests.support.browser import WatchedPage, launched_chromium
from tests.support.contrast import contrast, over

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.browser]

# The server answers in milliseconds; the margin is for a busy CI machine.
expect.set_options(timeout=10_000)

SONGJIANG = {"latitude": 31.03, "longitude": 121.23}  # in 方松街道
PHONE = {"width": 360, "height": 640}
DESKTOP = {"width": 1024, "height": 768}
# A 1280×1024 window zoomed to 400% (WCAG 1.4.10 Reflow): 320×256 CSS pixels, each drawn 4×4.
ZOOMED = {"viewport": {"width": 320, "height": 256}, "device_scale_factor": 4}
# One of the entries "补贴" alone is not sure enough to answer, but suggests (the matcher decides
# which; ``minzheng ask 补贴 --json`` lists them).
SUGGESTED = "老年助餐补贴"
# One place in a list of places: "1. 示例·九亭第1老年助餐点，约503米（已休息）" (the distance
# only where it means something: from the resident's own location).
PLACE_LINE = re.compile(r"^(\d+)\. (.+?)(?:，约(\d+)米)?（(正在营业|已休息)）$", re.MULTILINE)
SOURCE = re.compile(r"来源：\S+")
CHECKED = re.compile(r"最后核对：\d{4}年\d{1,2}月\d{1,2}日")
SAMPLE_NOTE = "（示例数据，地址电话以实际公布为准）"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with launched_chromium() as launched:
        yield launched


@dataclass
class Resident(WatchedPage):
    """One resident's browser tab on /chat, and what it did behind the scenes."""

    @property
    def question_box(self) -> Locator:
        return self.page.get_by_label("您的问题")

    def message(self, *fragments: str | re.Pattern[str]) -> Locator:
        """The messages in the conversation that contain every one of ``fragments``."""
        found = self.page.get_by_role("list", name="对话记录").get_by_role("listitem")
        for fragment in fragments:
            found = found.filter(has_text=fragment)
        return found

    def button(self, label: str | re.Pattern[str], within: Locator | None = None) -> Locator:
        return (within or self.page).get_by_role("button", name=label, exact=True)

    async def ask(self, question: str) -> None:
        """Type a question and send it with Enter, as a resident with a keyboard does."""
        await self.question_box.fill(question)
        await self.question_box.press("Enter")


OpenChat = Callable[..., Awaitable[Resident]]


@pytest_asyncio.fixture(loop_scope="module")
async def open_chat(browser: Browser, module_server: TestServer) -> AsyncIterator[OpenChat]:
    """Open /chat in a new browser profile (own cookies); keyword arguments go to the context.

    Whatever a test does, the page must not open a dialog, throw a script error, break its
    Content-Security-Policy, or fetch anything from anywhere but the service itself."""
    origin = str(module_server.make_url("")).rstrip("/")
    residents: list[Resident] = []
    contexts: list[BrowserContext] = []

    async def open_(**options: Any) -> Resident:
        options.setdefault("viewport", DESKTOP)
        context = await browser.new_context(base_url=origin, locale="zh-CN", **options)
        contexts.append(context)
        page = await context.new_page()
        resident = Resident(page, origin)
        residents.append(resident)
        resident.watch()
        await page.goto("/chat")
        await expect(page).to_have_title("松江民政助手")
        # The page greets the resident and shows the menu once it has talked to the server.
        await expect(resident.message("您好！我是松江民政助手")).to_have_count(1)
        await expect(resident.button("找服务点")).to_be_visible()
        return resident

    yield open_
    for context in contexts:
        await context.close()
    for resident in residents:
        assert resident.dialogs == []
        assert resident.script_errors == []
        assert resident.outside_requests() == []


@pytest.mark.parametrize("question", ["低保怎么申请", "底保怎么申请"])
async def test_a_question_sent_with_enter_gets_its_answer_with_source_and_date(
    open_chat: OpenChat, question: str
) -> None:
    resident = await open_chat()
    await resident.ask(question)
    await expect(resident.message(question)).to_have_count(1)
    answer = resident.message("怎么申请低保，要带什么材料")
    await expect(answer).to_contain_text("社区事务受理服务中心")
    await expect(answer).to_contain_text(SOURCE)
    await expect(answer).to_contain_text(CHECKED)
    # The box is empty and keeps the focus for the next question.
    await expect(resident.question_box).to_have_value("")
    await expect(resident.question_box).to_be_focused()


async def test_a_vague_question_offers_suggestions_and_a_press_answers(
    open_chat: OpenChat,
) -> None:
    resident = await open_chat()
    await resident.ask("补贴")
    offer = resident.message("您是不是想问")
    await expect(offer).to_contain_text("没找到确切答案")
    await expect(resident.button("联系养老顾问", within=offer)).to_be_visible()
    await resident.button(SUGGESTED, within=offer).click()
    answer = resident.message(SUGGESTED, CHECKED)
    await expect(answer).to_contain_text("助餐点吃饭")
    await expect(answer).to_contain_text(SOURCE)
    await expect(resident.message("您是不是想问")).to_have_count(1)


async def test_a_detail_button_under_an_answer(open_chat: OpenChat) -> None:
    resident = await open_chat()
    await resident.ask("低保怎么申请")
    answer = resident.message("怎么申请低保，要带什么材料", CHECKED)
    for label in ("所需材料", "办理地点", "费用", "有帮助", "没帮助"):
        await expect(resident.button(label, within=answer)).to_be_visible()
    await resident.button("所需材料", within=answer).click()
    detail = resident.message("怎么申请低保，要带什么材料 · 所需材料")
    await expect(detail).to_contain_text("户口簿")
    await expect(detail).to_contain_text("身份证")


async def test_finding_meal_points_in_a_town(open_chat: OpenChat) -> None:
    resident = await open_chat()
    await resident.button("找服务点").click()
    choose = resident.message("您想找哪一类服务点")
    for label in ("老年助餐点", "日间照料中心", "婚姻登记处", "康复辅具社区租赁点"):
        await expect(resident.button(label, within=choose)).to_be_visible()
    await resident.button("老年助餐点", within=choose).click()
    prompt = resident.message("找老年助餐点")
    await expect(resident.button("📍 发送我的位置", within=prompt)).to_be_visible()

    await resident.ask("九亭")
    places = resident.message("九亭镇的老年助餐点")
    await expect(places).to_contain_text(SAMPLE_NOTE)
    text = await places.inner_text()
    found = PLACE_LINE.findall(text)
    assert found, text
    assert all("九亭" in name and "助餐点" in name for _, name, _, _ in found), text
    assert [int(n) for n, *_ in found] == list(range(1, len(found) + 1))

    # Each place has a button that shows that one place.
    _, first, _, _ = found[0]
    await resident.button(f"📍 1. {first}", within=places).click()
    shown = resident.message(re.compile(rf"^{re.escape(first)}\n地址："))
    await expect(shown).to_contain_text("时间：")
    await expect(shown).to_contain_text(SAMPLE_NOTE)


async def test_nearest_places_from_the_browsers_location(open_chat: OpenChat) -> None:
    resident = await open_chat(geolocation=SONGJIANG, permissions=["geolocation"])
    await resident.button("找服务点").click()
    await resident.button("老年助餐点", within=resident.message("您想找哪一类服务点")).click()
    await resident.button("📍 发送我的位置", within=resident.message("找老年助餐点")).click()
    await expect(resident.message("📍 我的位置")).to_have_count(1)
    nearest = resident.message("离您最近的老年助餐点")
    await expect(nearest).to_contain_text(SAMPLE_NOTE)
    found = PLACE_LINE.findall(await nearest.inner_text())
    assert 1 <= len(found) <= 5
    assert all(metres for _, _, metres, _ in found), found
    distances = [int(metres) for _, _, metres, _ in found]
    assert distances == sorted(distances) and distances[0] < 2000, found
    assert all("助餐点" in name for _, name, _, _ in found), found


async def test_without_location_permission_the_page_asks_for_a_town(
    open_chat: OpenChat,
) -> None:
    resident = await open_chat()  # no permission granted
    await resident.button("找服务点").click()
    await resident.button("老年助餐点", within=resident.message("您想找哪一类服务点")).click()
    await resident.button("📍 发送我的位置", within=resident.message("找老年助餐点")).click()
    await expect(resident.message("没能取得位置")).to_contain_text("九亭")


async def test_typed_stop_deletes_the_residents_data(open_chat: OpenChat) -> None:
    """The help text tells residents to type /stop; in the page it works as on Telegram."""
    resident = await open_chat()
    await resident.button("帮助").click()
    await expect(resident.message("您可以这样用我")).to_contain_text("/stop")
    await resident.ask("/stop")
    await expect(resident.message("已删除您在本助手的对话记录")).to_have_count(1)


async def test_text_and_controls_are_large(open_chat: OpenChat) -> None:
    resident = await open_chat()
    await resident.ask("低保怎么申请")
    answer = resident.message("怎么申请低保，要带什么材料", CHECKED)
    await expect(answer).to_be_visible()
    sizes = await resident.page.evaluate(
        """() => [...document.querySelectorAll("#log li, input, button")].map((e) => ({
            what: e.tagName + " " + (e.textContent || e.placeholder).slice(0, 12),
            font: parseFloat(getComputedStyle(e).fontSize),
            height: e.getBoundingClientRect().height,
        }))"""
    )
    kinds = {s["what"].split()[0] for s in sizes}
    assert kinds == {"LI", "INPUT", "BUTTON"}, sizes
    assert [s for s in sizes if s["font"] < 20] == []
    # Big enough to hit with an unsteady finger (WCAG's 44 CSS pixels).
    small = [s for s in sizes if s["what"].startswith(("BUTTON", "INPUT")) and s["height"] < 44]
    assert small == []


async def test_nothing_is_fetched_from_outside_the_service(open_chat: OpenChat) -> None:
    resident = await open_chat(geolocation=SONGJIANG, permissions=["geolocation"])
    await resident.ask("老年食堂在哪里")
    await expect(resident.message(CHECKED)).to_have_count(1)
    await resident.button("找服务点").click()
    await resident.button("老年助餐点").click()
    await resident.button("📍 发送我的位置").click()
    await expect(resident.message("离您最近的老年助餐点")).to_have_count(1)
    paths = {url.removeprefix(resident.origin) for url in resident.requests}
    assert {"/chat", "/api/chat"} <= paths
    assert resident.outside_requests() == []


async def _overflowing(page: Page) -> list[str]:
    """Everything on the page that sticks out past the right edge of the screen."""
    result: list[str] = await page.evaluate(
        """() => [...document.querySelectorAll("body *")]
            .filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5)
            .map((e) => e.tagName + " " + e.textContent.slice(0, 20))"""
    )
    return result


async def _in_sight(page: Page, target: Locator) -> bool:
    """Whether the middle of ``target`` is on screen and not covered by the question bar."""
    box = await target.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    seen: bool = await target.evaluate(
        "(e, [x, y]) => { const hit = document.elementFromPoint(x, y);"
        " return hit !== null && (hit === e || e.contains(hit)); }",
        [x, y],
    )
    return seen


async def test_a_small_phone_screen(open_chat: OpenChat) -> None:
    resident = await open_chat(viewport=PHONE, is_mobile=True, has_touch=True)
    page = resident.page
    await resident.ask("补贴")
    offer = resident.message("您是不是想问")
    await expect(offer).to_be_visible()
    # A new message is brought into view above the question bar, not behind it.
    assert await _in_sight(page, offer.get_by_text("没找到确切答案")), "suggestions hidden"
    await resident.ask("低保怎么申请")
    answer = resident.message("怎么申请低保，要带什么材料", CHECKED)
    await expect(answer).to_be_visible()
    await resident.button("所需材料", within=answer).click()
    detail = resident.message("怎么申请低保，要带什么材料 · 所需材料")
    await expect(detail).to_be_visible()
    assert await _in_sight(page, detail), "the newest answer is covered by the question bar"
    await resident.button("找服务点").click()
    await resident.button("老年助餐点").click()
    await resident.ask("九亭")
    places = resident.message("九亭镇的老年助餐点")
    await expect(places).to_be_visible()

    # No sideways scrolling, and nothing cut off at the right edge.
    width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1] == PHONE["width"]
    assert await _overflowing(page) == []
    # The question box and the send button stay whole and usable.
    for control in (resident.question_box, resident.button("发送")):
        assert await _in_sight(page, control)
    send = await resident.button("发送").bounding_box()
    assert send is not None and send["width"] >= 44
    await resident.question_box.fill("婚姻登记在哪里办")
    await resident.button("发送").tap()
    await expect(resident.message("婚姻登记在哪里办")).to_have_count(1)


async def test_every_control_is_reachable_with_tab_and_shows_its_focus(
    open_chat: OpenChat,
) -> None:
    resident = await open_chat()
    page = resident.page
    await resident.ask("低保怎么申请")
    await expect(resident.message(CHECKED)).to_have_count(1)
    await page.evaluate(
        """() => {
            window.tabbed = [];
            document.addEventListener("focusin", (event) => {
                const style = getComputedStyle(event.target);
                window.tabbed.push({
                    element: event.target,
                    outline: style.outlineStyle === "none" ? 0 : parseFloat(style.outlineWidth),
                });
            });
            document.activeElement.blur();
        }"""
    )
    controls: int = await page.evaluate(
        "document.querySelectorAll('button, input, select, textarea, a[href]').length"
    )
    assert controls >= 10  # question box, send, 4 menu buttons, 8 under the answer
    for _ in range(controls):
        await page.keyboard.press("Tab")
    report = await page.evaluate(
        """() => {
            const controls = [...document.querySelectorAll("button, input, select, textarea, a")];
            const reached = new Set(window.tabbed.map((t) => t.element));
            const name = (e) => e.tagName + " " + (e.textContent || e.id);
            return {
                missed: controls.filter((e) => !reached.has(e)).map(name),
                unmarked: window.tabbed.filter((t) => t.outline < 3).map((t) => name(t.element)),
            };
        }"""
    )
    assert report == {"missed": [], "unmarked": []}
    # And a suggestion can be pressed from the keyboard.
    await resident.button("所需材料").focus()
    await page.keyboard.press("Enter")
    await expect(resident.message("怎么申请低保，要带什么材料 · 所需材料")).to_have_count(1)


async def test_html_in_a_question_is_shown_as_text_and_never_run(open_chat: OpenChat) -> None:
    resident = await open_chat()
    question = "<img src=x onerror=alert(1)>低保怎么申请"
    await resident.ask(question)
    mine = resident.message(question)
    await expect(mine).to_have_text(question)
    await expect(resident.message("怎么申请低保，要带什么材料", CHECKED)).to_have_count(1)
    await expect(resident.page.locator("#log img")).to_have_count(0)
    assert resident.dialogs == []
    assert not any(url.endswith("/x") for url in resident.requests)


@pytest.mark.parametrize("screen", [{}, ZOOMED], ids=["desktop", "zoomed-400%"])
async def test_axe_finds_nothing_fresh_or_after_a_conversation(
    open_chat: OpenChat, screen: dict[str, Any]
) -> None:
    """WCAG 2.1 A and AA, as axe-core checks them, in every state the page gets into: its
    buttons are made as the answers come, so each state is checked when it is on the page."""
    resident = await open_chat(**screen)
    page = resident.page
    await assert_accessible(page, "fresh: greeting and menu", strict=True)
    await resident.ask("低保怎么申请")
    answer = resident.message("怎么申请低保，要带什么材料", CHECKED)
    await expect(resident.button("所需材料", within=answer)).to_be_visible()
    await assert_accessible(page, "after an answer with its buttons", strict=True)
    await resident.ask("补贴")
    await expect(
        resident.button("联系养老顾问", within=resident.message("您是不是想问"))
    ).to_be_visible()
    await assert_accessible(page, "after suggestions for a vague question", strict=True)
    await resident.ask("今天天气怎么样")
    await expect(resident.message("这件事不归民政部门管")).to_be_visible()
    await assert_accessible(page, "after a question outside civil affairs", strict=True)
    await resident.button("找服务点").click()
    await resident.button("老年助餐点").click()
    await resident.ask("九亭")
    await expect(resident.message("九亭镇的老年助餐点")).to_be_visible()
    await assert_accessible(page, "after a list of places with their buttons", strict=True)


async def _pressable(page: Page, target: Locator) -> bool:
    """Whether ``target`` can be scrolled to where it is on screen and on top (not under the
    question bar): tried at the top, the middle and the bottom of the screen."""
    for block in ("start", "center", "end"):
        await target.evaluate("(e, block) => e.scrollIntoView({block})", block)
        if await _in_sight(page, target):
            return True
    return False


async def _share_on_screen(page: Page, item: Locator) -> float:
    """How much of the screen's height shows ``item`` (a message taller than the screen)
    scrolled to its middle, not covered by anything on top of it."""
    await item.evaluate("(e) => e.scrollIntoView({block: 'center'})")
    share: float = await item.evaluate(
        """(e) => {
            const box = e.getBoundingClientRect(), x = box.left + box.width / 2;
            let rows = 0, seen = 0;
            for (let y = Math.max(box.top, 0) + 0.5; y < Math.min(box.bottom, innerHeight); y++) {
                const hit = document.elementFromPoint(x, y);
                rows += 1;
                if (hit !== null && e.contains(hit)) seen += 1;
            }
            return rows < innerHeight - 1 ? -1 : seen / rows;
        }"""
    )
    assert share >= 0, "the message does not fill the screen: no measure of what covers it"
    return share


async def test_at_400_percent_zoom_the_question_bar_leaves_the_answer_pressable(
    open_chat: OpenChat,
) -> None:
    """WCAG 1.4.10 Reflow: zoomed to 400% the page is 256 CSS pixels high, and a question bar
    fixed to the bottom would cover all of it; the conversation must stay readable and its
    buttons pressable."""
    resident = await open_chat(**ZOOMED)
    page = resident.page
    await resident.ask("低保怎么申请")
    answer = resident.message("怎么申请低保，要带什么材料", CHECKED)
    await expect(answer).to_be_visible()
    # The answer (with its buttons, taller than the screen) fills the screen when scrolled to:
    # the question bar may take a little of the height, not most of it.
    share = await _share_on_screen(page, answer)
    assert share >= 0.75, f"the question bar covers {1 - share:.0%} of the answer"
    details = resident.button("所需材料", within=answer)
    assert await _pressable(page, details), "the answer's buttons stay under the question bar"
    await details.click(timeout=5_000)
    detail = resident.message("怎么申请低保，要带什么材料 · 所需材料")
    await expect(detail).to_contain_text("户口簿")
    await expect(detail).to_be_in_viewport()
    # A suggestion too, and the box for the next question can still be reached and used.
    await resident.ask("补贴")
    offer = resident.message("您是不是想问")
    suggestion = resident.button(SUGGESTED, within=offer)
    assert await _pressable(page, suggestion), "a suggestion stays under the question bar"
    await suggestion.click(timeout=5_000)
    await expect(resident.message(SUGGESTED, CHECKED)).to_be_in_viewport()
    for name, control in [
        ("question box", resident.question_box),
        ("send", resident.button("发送")),
        ("help in the menu", resident.button("帮助")),
    ]:
        assert await _pressable(page, control), f"{name} cannot be brought into sight"


async def test_no_sideways_scrolling_at_400_percent_zoom(open_chat: OpenChat) -> None:
    """WCAG 1.4.10 Reflow: at 320 CSS pixels wide everything fits the width, long place names
    on buttons included."""
    resident = await open_chat(**ZOOMED)
    page = resident.page
    await resident.ask("低保怎么申请")
    await expect(resident.message("怎么申请低保，要带什么材料", CHECKED)).to_be_visible()
    await resident.button("找服务点").click()
    await resident.button("老年助餐点").click()
    await resident.ask("九亭")
    await expect(resident.message("九亭镇的老年助餐点")).to_be_visible()
    width = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1] + 1 and width[1] == 320, width
    assert await _overflowing(page) == []


async def test_the_contrast_formula() -> None:
    white, black = (255.0, 255.0, 255.0), (0.0, 0.0, 0.0)
    assert contrast(white, black) == pytest.approx(21)
    assert contrast(over("rgb(11, 83, 148)", white), white) == pytest.approx(7.84, abs=0.01)
    assert over("rgba(0, 0, 0, 0)", white) == white


async def test_focus_rings_contrast_with_the_page_and_the_control(open_chat: OpenChat) -> None:
    """WCAG 1.4.11 and 2.4.11: what shows the keyboard focus is at least 2px wide and has a
    contrast of at least 3:1 with the page around the control and with the control itself."""
    resident = await open_chat()
    page = resident.page
    await resident.ask("低保怎么申请")
    await expect(resident.message(CHECKED)).to_have_count(1)
    await page.evaluate(
        """() => {
            window.rings = [];
            const kind = (e) => e.tagName === "A" ? "link" : e.tagName === "INPUT" ? "input"
                : e.classList.contains("send") ? "send" : e.closest("#log") ? "answer button"
                : "menu button";
            // Each background from the element itself up to <html>, nearest first.
            const backgrounds = (e) => {
                const found = [];
                for (let at = e; at; at = at.parentElement) {
                    found.push(getComputedStyle(at).backgroundColor);
                }
                return found;
            };
            document.addEventListener("focusin", (event) => {
                const e = event.target, style = getComputedStyle(e);
                window.rings.push({
                    kind: kind(e), name: (e.textContent || e.id).slice(0, 12),
                    style: style.outlineStyle, width: parseFloat(style.outlineWidth),
                    colour: style.outlineColor, backgrounds: backgrounds(e),
                });
            });
            document.activeElement.blur();
        }"""
    )
    controls: int = await page.evaluate(
        "document.querySelectorAll('button, input, select, textarea, a[href]').length"
    )
    for _ in range(controls):
        await page.keyboard.press("Tab")
    rings: list[dict[str, Any]] = await page.evaluate("window.rings")
    assert {"input", "send", "answer button", "menu button"} <= {r["kind"] for r in rings}
    canvas = (255.0, 255.0, 255.0)  # what the browser paints under a see-through <html>
    weak = []
    for ring in rings:
        behind = canvas
        for background in reversed(ring["backgrounds"][1:]):
            behind = over(background, behind)
        itself = over(ring["backgrounds"][0], behind)
        colour = over(ring["colour"], behind)
        page_ratio, control_ratio = contrast(colour, behind), contrast(colour, itself)
        if ring["style"] == "none" or ring["width"] < 2 or min(page_ratio, control_ratio) < 3:
            weak.append(
                f"{ring['kind']} {ring['name']!r}: outline {ring['style']} {ring['width']}px "
                f"{ring['colour']}, {page_ratio:.2f}:1 against the page, "
                f"{control_ratio:.2f}:1 against the control"
            )
    assert weak == [], "\n".join(weak)


async def test_an_advisors_reply_appears_and_the_residents_answer_reaches_the_case(
    open_chat: OpenChat, module_server: TestServer
) -> None:
    """The page has no push: while the resident talks with an advisor it fetches what the
    advisor said, shows it like the other replies, and what the resident types goes to the
    case, not to the automatic answers."""
    app = module_server.app
    sessions, cases, tz = app[keys.SESSIONS], app[keys.CASES], app[keys.SETTINGS].tz
    async with sessions() as session, session.begin():
        user = await accounts.add_user(
            session, name="顾问李", role=Role.advisor, password="advisor-password-1", actor="test"
        )
    assert user.id is not None
    advisor = Advisor(user.id, user.name)

    resident = await open_chat()
    page = resident.page
    await resident.button("联系养老顾问").click()
    await expect(resident.message("请先用一两句话说说您遇到了什么事")).to_have_count(1)
    await resident.ask("我腿脚不好，想请人上门帮忙洗澡")
    opened = resident.message("已为您转给养老顾问")
    await expect(opened).to_contain_text("这个页面")
    number = re.search(r"案件号 #(\d+)", await opened.inner_text())
    assert number, await opened.inner_text()
    case_id = int(number.group(1))

    async with sessions() as session, session.begin():
        await cases.from_advisor(
            session,
            case_id,
            advisor,
            text="您好，可以安排助浴上门。请问您住在哪个街镇？",
            via="console",
            now=datetime.now(tz),
        )
    # Polled every 3 seconds: it is on the page within a few.
    reply = resident.message(f"养老顾问（工号 {advisor.staff_id}）：您好，可以安排助浴上门")
    await expect(reply).to_have_count(1, timeout=8_000)
    taken = resident.message("已接手您的问题")
    await expect(resident.button("结束人工服务", within=taken)).to_be_visible()
    await expect(resident.button("请顾问打电话给我", within=taken)).to_be_visible()
    # In the conversation's log, which screen readers read out as it grows (aria-live).
    log = page.get_by_role("list", name="对话记录")
    await expect(log).to_have_attribute("aria-live", "polite")
    await expect(log.get_by_role("listitem").last).to_contain_text("可以安排助浴上门")
    await assert_accessible(page, "with an advisor's reply and the case's buttons", strict=True)

    # The resident answers: no automatic answer, the words are in the case's transcript.
    async with page.expect_response(lambda r: r.url.endswith("/api/chat")) as posted:
        await resident.ask("九亭镇，谢谢您")
    body = await (await posted.value).json()
    assert body == {"replies": [], "with_advisor": True}
    async with sessions() as session:
        messages = await queries.transcript(session, case_id)
    said = [m.text for m in messages if m.author == Author.resident]
    assert said == ["我腿脚不好，想请人上门帮忙洗澡", "九亭镇，谢谢您"]

    # Opened again, the page shows what the advisor said, once, and that the case goes on.
    await page.reload()
    await expect(reply).to_have_count(1)
    await expect(resident.message("您正在和养老顾问对话")).to_have_count(1)
    await expect(resident.message("您好！我是松江民政助手")).to_have_count(0)

    # The advisor closes the case: the question after it arrives, its buttons work, and the
    # page stops asking.
    async with sessions() as session, session.begin():
        await cases.close(session, case_id, by="advisor", actor=advisor.name, now=datetime.now(tz))
    closing = resident.message("养老顾问已结束本次服务", "问题解决了吗？")
    await expect(closing).to_have_count(1, timeout=8_000)
    await resident.button("解决了", within=closing).click()
    await expect(resident.message("太好了，谢谢您")).to_have_count(1)
    polls = [u for u in resident.requests if "/api/chat/updates" in u]
    await asyncio.sleep(3.5)
    assert [u for u in resident.requests if "/api/chat/updates" in u] == polls
    await expect(reply).to_have_count(1)
