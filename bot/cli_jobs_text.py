"""How ``minzheng jobs`` prints for people: lines in Chinese, times in the service's zone."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.cli_escalations_text import NO_VALUE, channel, shown_width

if TYPE_CHECKING:
    from bot.cli_jobs_results import RuleOutcome, RunDue, Status

# Residents are shown by this much of their pseudonymous key: enough to tell them apart.
SHORT_KEY = 8
NEXT_TICK = (
    "运行中的服务（minzheng serve）的调度器会在下次轮询时发送（每分钟一次）；"
    "用 `minzheng jobs status` 查看下次轮询的时间。"
)
NO_LEADER = "无人领导/可能已停止"


def short(key: str | None) -> str | None:
    return key[:SHORT_KEY] if key is not None else None


def moment(at: datetime | None, tz: ZoneInfo, seconds: bool = False) -> str:
    if at is None:
        return NO_VALUE
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def duration(seconds: float) -> str:
    whole = int(seconds)
    if whole < 60:
        return f"{whole} 秒"
    minutes, hours, days = whole // 60, whole // 3600, whole // 86400
    if whole < 3600:
        return f"{minutes} 分钟"
    if whole < 86400:
        rest = minutes % 60
        return f"{hours} 小时" + (f" {rest} 分钟" if rest else "")
    rest = hours % 24
    return f"{days} 天" + (f" {rest} 小时" if rest else "")


# jobs' names are imported where they are used: `minzheng --help` loads no jobs module.


def _topic(code: str) -> str:
    from jobs.topics import label

    return label(code)


def _kind(code: str) -> str:
    from jobs.models import RULE_KIND_NAMES

    return _name(RULE_KIND_NAMES, code)


def _name(names: Mapping[Any, str], code: str) -> str:
    """A name from one of jobs' tables (keyed by StrEnum members, which equal their codes)."""
    return names.get(code, code)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - shown_width(text))


# run-due ---------------------------------------------------------------------------------------


def _rule_head(rule: RuleOutcome) -> str:
    kind = _kind(rule.kind)
    occurrences = "、".join(rule.occurrences)
    counts = f"{len(rule.due)} 条（新 {len(rule.due) - rule.already}，已排队 {rule.already}）"
    return (
        f"规则 #{rule.rule_id} {rule.name or NO_VALUE}（{kind}，话题：{_topic(rule.topic)}）"
        f"  场次：{occurrences}  {counts}"
    )


def _rule_lines(result: RunDue, rule: RuleOutcome, tz: ZoneInfo) -> Iterator[str]:
    yield _rule_head(rule)
    for due in rule.due:
        mark = "已排队" if result.was_queued(due) else "新"
        notes = [f"场次 {due.occurrence}", f"{moment(due.not_before, tz)} 起可发"]
        if due.for_key is not None:
            notes.append(f"{short(due.for_key)} 的家人副本")
        if due.sensitive:
            notes.append("敏感：通知里不写明事由")
        who = f"{_pad(channel(due.channel), 8)}  {short(due.recipient_key)}"
        yield f"  {_pad(mark, 6)}  {who}  （{'；'.join(notes)}）"
        for line in due.text.splitlines() or [""]:
            yield f"      {line}"


def run_due_lines(result: RunDue, tz: ZoneInfo, zone_name: str) -> Iterator[str]:
    how = "试运行，不写入数据库" if result.dry_run else "到期的提醒会排进发件箱"
    yield f"评估时间：{moment(result.now, tz)}（{zone_name}）；{how}。"
    if result.recipients:
        yield (
            f"生效中的规则 {result.active_rules} 条；"
            f"评估了 {result.recipients} 位同意接收提醒的居民。"
        )
    else:
        # Nothing had an occurrence left to run, so no resident was read.
        yield f"生效中的规则 {result.active_rules} 条。"
    if not result.rules:
        yield "现在没有到期的提醒。"
        return
    for rule in result.rules:
        yield ""
        yield from _rule_lines(result, rule, tz)
    yield ""
    if result.dry_run:
        new = result.total - result.already
        yield (
            f"试运行：共 {result.total} 条提醒（新 {new} 条，已排队 {result.already} 条），"
            "没有写入数据库。去掉 --dry-run 才会排队。"
        )
    elif result.queued:
        yield f"已排队 {result.queued} 条新提醒（另有 {result.already} 条此前已排队）。{NEXT_TICK}"
    else:
        yield f"没有新的提醒排队（{result.already} 条此前已排队）。"


# status ----------------------------------------------------------------------------------------


def _scheduler_lines(result: Status, tz: ZoneInfo) -> Iterator[str]:
    lease = result.lease
    if lease is None:
        yield f"调度器：{NO_LEADER}（没有领导记录：`minzheng serve` 运行时由它的调度器写入）"
        return
    age = result.heartbeat_age_s or 0.0
    if result.leader_alive:
        yield f"调度器：由 {lease.holder} 领导（自 {moment(lease.since, tz, True)} 起）"
    else:
        yield f"调度器：{NO_LEADER}（已 {duration(age)}没有心跳；最后领导的是 {lease.holder}）"
    yield f"  最近心跳：{moment(lease.heartbeat_at, tz, True)}（{duration(age)}前）"
    yield (
        f"  下次轮询：{moment(lease.next_tick_at, tz, True)}    "
        f"下次清理：{moment(lease.next_purge_at, tz, True)}"
    )
    yield (
        f"  最近评估规则：{moment(lease.last_evaluated_at, tz, True)}    "
        f"最近发送：{moment(lease.last_drained_at, tz, True)}"
    )


def status_lines(result: Status, tz: ZoneInfo) -> Iterator[str]:
    from jobs.models import OUTBOX_STATE_NAMES, RULE_STATE_NAMES

    yield f"现在：{moment(result.now, tz, True)}"
    yield f"发件箱（共 {sum(result.outbox.values())} 条）："
    width = max(shown_width(name) for name in OUTBOX_STATE_NAMES.values())
    for state, name in OUTBOX_STATE_NAMES.items():
        yield f"  {_pad(name, width)}  {result.outbox.get(state, 0)}"
    for code, n in result.outbox.items():
        if code not in OUTBOX_STATE_NAMES:
            yield f"  {_pad(code, width)}  {n}"
    lag = result.lag_s
    if lag is None:
        yield "延迟：没有到期未发的提醒。"
    else:
        since = moment(result.oldest_due, tz, True)
        yield f"延迟：最久的一条已到期 {duration(lag)}（{round(lag)} 秒，自 {since} 起）。"
    rules = "，".join(f"{_name(RULE_STATE_NAMES, state)} {n}" for state, n in result.rules.items())
    yield f"规则：{rules}"
    yield from _scheduler_lines(result, tz)
