"""Replies as residents see them, built from what was found: pure functions, no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.conversation import texts
from bot.conversation.buttons import (
    AskAdvisor,
    ChooseCategory,
    Feedback,
    FindNearby,
    ShowDetail,
    ShowEntry,
    ShowPlace,
    ShowRelated,
)
from bot.conversation.messages import Button, Place, Reply
from directory.places import CATEGORIES, CATEGORY_BY_CODE
from directory.search import Facility, Result
from knowledge.matcher import Answer
from knowledge.store import PublishedEntry

# Entry replies kept built (a few per entry: before and after its review date).
MAX_CACHED_REPLIES = 4096
Rows = tuple[tuple[Button, ...], ...]


def entry_reply(entry: PublishedEntry, expired: bool) -> Reply:
    """An entry's answer with its buttons (the console previews it)."""
    lines = [
        entry.title,
        "",
        entry.answer.strip(),
        "",
        f"来源：{entry.source}",
        f"最后核对：{entry.reviewed:%Y年%m月%d日}",
    ]
    if expired:
        lines.append("（这条内容已过核对期，请以办理窗口的最新要求为准）")
    rows: list[tuple[Button, ...]] = [
        (
            Feedback(entry.id, True).button("有帮助"),
            Feedback(entry.id, False).button("没帮助"),
        )
    ]
    details = tuple(
        ShowDetail(entry.id, field).button(label)
        for field, label in texts.DETAIL_LABELS.items()
        if field in entry.details
    )
    if details:
        rows.append(details[:3])
        if details[3:]:
            rows.append(details[3:])
    extra = []
    if entry.related:
        extra.append(ShowRelated(entry.id).button("相关问题"))
    if entry.facility_category:
        extra.append(FindNearby(entry.facility_category).button("找附近的服务点"))
    if extra:
        rows.append(tuple(extra))
    return Reply("\n".join(lines), buttons=tuple(rows))


class EntryReplies:
    """An entry's reply is the same for every resident until the entry is replaced (entries are
    immutable) or passes its review date, so it is built once."""

    def __init__(self) -> None:
        self._built: dict[tuple[int, bool], tuple[PublishedEntry, Reply]] = {}

    def get(self, entry: PublishedEntry, today: date) -> Reply:
        expired = entry.review_by < today
        key = (id(entry), expired)
        cached = self._built.get(key)
        if cached is not None and cached[0] is entry:
            return cached[1]
        reply = entry_reply(entry, expired)
        if len(self._built) >= MAX_CACHED_REPLIES:
            self._built.clear()  # content was replaced many times over: start afresh
        self._built[key] = (entry, reply)
        return reply


def detail_reply(entry: PublishedEntry, field: str) -> Reply:
    label = texts.DETAIL_LABELS.get(field, field)
    return Reply(f"{entry.title} · {label}\n\n{entry.details[field].strip()}")


def related_reply(related: Sequence[PublishedEntry]) -> Reply:
    return Reply("相关问题：", buttons=tuple((ShowEntry(r.id).button(r.title),) for r in related))


def fallback_reply(answer: Answer, *, offer_advisor: bool = False) -> Reply:
    """No confident answer: what might be meant, and a person. ``offer_advisor`` after the
    second fallback in a row says plainly that a person can help."""
    advisor = (AskAdvisor().button(texts.ADVISOR),)
    if answer.out_of_scope is not None:
        return Reply(f"{texts.OUT_OF_SCOPE}{answer.out_of_scope.advice}", buttons=(advisor,))
    if answer.outside:
        return Reply(texts.OUTSIDE)
    lines = [texts.NOT_FOUND]
    rows: list[tuple[Button, ...]] = []
    if answer.suggestions:
        lines.append(texts.MAYBE)
        rows.extend((ShowEntry(s.entry_id).button(s.title),) for s in answer.suggestions)
        lines.append(f"都不是的话，可以联系养老顾问，或拨打 {texts.CITY_HOTLINE}。")
    else:
        lines.append(f"可以换个说法再问，也可以联系养老顾问，或拨打 {texts.CITY_HOTLINE}。")
    if offer_advisor:
        lines.append(texts.ADVISOR_OFFER)
    rows.append(advisor)
    return Reply("\n".join(lines), buttons=tuple(rows))


def category_buttons() -> Rows:
    return tuple(
        tuple(ChooseCategory(c.code).button(c.name) for c in CATEGORIES[i : i + 2])
        for i in range(0, len(CATEGORIES), 2)
    )


def choose_category() -> Reply:
    return Reply(texts.CHOOSE_CATEGORY, buttons=category_buttons())


def ask_location(category: str) -> Reply:
    name = CATEGORY_BY_CODE[category].name
    return Reply(f"找{name}：{texts.SEND_LOCATION}", request_location=True)


def _place(facility: Facility, open_now: bool, distance_m: int | None) -> Place:
    return Place(
        service_id=facility.service_id,
        name=facility.name,
        address=facility.address,
        phone=facility.phone,
        hours=facility.hours,
        open_now=open_now,
        distance_m=distance_m,
        latitude=facility.latitude,
        longitude=facility.longitude,
    )


def place_reply(facility: Facility) -> Reply:
    lines = [
        facility.name,
        f"地址：{facility.address or '暂无'}",
        f"电话：{facility.phone or '暂无'}",
        f"时间：{facility.hours or '暂无'}",
    ]
    if facility.note:
        lines.append(f"（{facility.note}）")
    return Reply("\n".join(lines), venue=_place(facility, False, None))


def places_reply(
    results: Sequence[Result],
    category: str | None,
    *,
    town: str | None = None,
    sample_data: bool = False,
    narrow: bool = False,
) -> Reply:
    """The nearest places; ``narrow`` adds the categories to choose from (any category was
    searched)."""
    if not results:
        return Reply(texts.NO_PLACES)
    what = CATEGORY_BY_CODE[category].name if category else "服务点"
    where = f"{town}的" if town else "离您最近的"
    lines = [f"{where}{what}："]
    places = []
    for n, result in enumerate(results, start=1):
        f = result.facility
        # For a town typed, distances would be from the town's centre, not the resident.
        shown = round(result.distance_m) if result.distance_m is not None and not town else None
        distance = f"，约{shown}米" if shown is not None else ""
        state = "正在营业" if result.open_now else "已休息"
        lines.append(f"{n}. {f.name}{distance}（{state}）")
        lines.append(f"   地址：{f.address or '暂无'}；电话：{f.phone or '暂无'}")
        lines.append(f"   时间：{f.hours or '暂无'}")
        places.append(_place(f, result.open_now, shown))
    if sample_data:
        lines.append(texts.SAMPLE_NOTE)
    # One button a place: pressing it shows the place on a map.
    buttons: Rows = tuple(
        (ShowPlace(place.service_id).button(f"📍 {n}. {place.name[:24]}"),)
        for n, place in enumerate(places, start=1)
        if place.latitude is not None
    )
    text = "\n".join(lines)
    if narrow:
        text += "\n可以选类别再找："
        buttons += category_buttons()
    return Reply(text, buttons=buttons, places=tuple(places))
