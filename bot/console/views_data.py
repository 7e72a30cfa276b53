"""数据: questions per day (answered or not), the answer rate, the entries most asked for, the
largest clusters of unanswered questions and residents' feedback, with charts drawn on the
server."""

from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.console import stats
from bot.console.charts import Bar, stacked_bars
from bot.console.views_unanswered import clusters_for
from bot.console.web import CONTENT, now, render, route, whole_number


async def data_page(request: web.Request) -> web.StreamResponse:
    days = whole_number(request.query.get("days"), 30, digits=3)
    days = days if days in stats.PERIODS else 30
    async with request.config_dict[keys.SESSIONS]() as session:
        numbers = await stats.gather(session, days=days, now=now(request))
    clusters = (await clusters_for(request, days))[:10]
    rate = numbers.answer_rate
    chart = stacked_bars(
        [Bar(f"{d.day:%m-%d}", d.answered, d.fallback) for d in numbers.days],
        title=f"{stats.PERIODS[days]}每天的提问",
        description=(
            f"共 {numbers.total} 个问题，答上 {numbers.answered} 个，没答上 {numbers.fallback} 个"
            + (f"，答复率 {rate:.0%}。" if rate is not None else "。")
            + "蓝色是答上的，橙色是没答上的；每天的数字见下表。"
        ),
    )
    return render(
        request,
        "data.html",
        {
            "numbers": numbers,
            "chart": chart,
            "clusters": clusters,
            "days": days,
            "periods": stats.PERIODS,
        },
    )


def add_routes(app: web.Application) -> None:
    route(app, "GET", "/data", data_page, roles=CONTENT)
