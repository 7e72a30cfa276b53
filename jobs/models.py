"""Reminder tables: what residents chose (after consenting), the facts staff gave them codes
for, family members receiving copies, the rules staff keep, and the outbox every reminder
passes through until it is delivered.

A resident appears here only by channel and pseudonymous key; the chat id a reminder needs is
the bot's to keep (``bot.residents``). Every table with a ``user_key`` or ``recipient_key`` is
in ``bot.residents.registry``: /stop deletes from it and retention ages it out.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime

from sqlalchemy import Column, Date, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from knowledge.models import UtcDateTime


def utcnow() -> datetime:
    return datetime.now(UTC)


def _moment(nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable)


class ReminderProfile(SQLModel, table=True):
    """A resident who consented to reminders, and what they told us for the rules that need it
    (town; birth year and month, never the day). Nothing is kept before consent."""

    __tablename__ = "reminder_profile"
    __table_args__ = (UniqueConstraint("channel", "user_key", name="uq_reminder_profile"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    consented_at: datetime = Field(sa_column=_moment())
    # The separate consent (PIPL art. 29) for topics that reveal hardship, e.g. 低保.
    sensitive_consented_at: datetime | None = Field(default=None, sa_column=_moment(True))
    town: str | None = Field(default=None, max_length=16)
    birth_year: int | None = None
    birth_month: int | None = None
    # Minutes after midnight, Asia/Shanghai: no reminder between start and end.
    quiet_start: int = 21 * 60
    quiet_end: int = 8 * 60
    # Telegram answered 403: nothing is sent until the resident writes again.
    inactive_since: datetime | None = Field(default=None, sa_column=_moment(True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class ReminderSubscription(SQLModel, table=True):
    """One topic switched on or off; a row stays off after 退订 so staff see the opt-outs."""

    __tablename__ = "reminder_subscription"
    __table_args__ = (
        UniqueConstraint("channel", "user_key", "topic", name="uq_reminder_subscription"),
        Index("ix_reminder_subscription_topic", "topic", "subscribed"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    topic: str = Field(max_length=32)
    subscribed: bool
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class ReminderChange(SQLModel, table=True):
    """Every change a resident made to their reminders, with its time (consent is provable)."""

    __tablename__ = "reminder_change"
    __table_args__ = (Index("ix_reminder_change_user", "user_key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    # consent, sensitive_consent, topic_on, topic_off, town, birth, quiet, bind, caregiver…
    change: str = Field(max_length=32)
    detail: str = Field(default="", max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class FactKind(enum.StrEnum):
    """What a staff code tells the bot about a resident, without saying who they are."""

    rental_due = "rental_due"
    review_due = "review_due"


FACT_KIND_NAMES = {FactKind.rental_due: "辅具租赁到期", FactKind.review_due: "复核月份"}


class BindCode(SQLModel, table=True):
    """A one-time code staff give a resident for a fact of their case (a rental due back on a
    date, the month of a 低保 review). It names no one; it is stored hashed."""

    __tablename__ = "reminder_bind_code"

    id: str = Field(primary_key=True, max_length=64)  # sha256 of the code
    kind: str = Field(max_length=16)
    topic: str = Field(max_length=32)
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    # What the fact is about, in staff's words: 轮椅, 2026年低保复核.
    label: str = Field(max_length=40)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    expires_at: datetime = Field(sa_column=_moment())
    used_at: datetime | None = Field(default=None, sa_column=_moment(True))


class ReminderFact(SQLModel, table=True):
    """A fact bound to a resident with ``/bind CODE``: due-date rules read it."""

    __tablename__ = "reminder_fact"
    __table_args__ = (Index("ix_reminder_fact_user", "channel", "user_key"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    kind: str = Field(max_length=16)
    topic: str = Field(max_length=32)
    due_on: date = Field(sa_column=Column(Date, nullable=False))
    label: str = Field(max_length=40)
    code_id: str = Field(max_length=64)
    bound_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class CodeAttempt(SQLModel, table=True):
    """A code a resident typed that was no code: tries are limited per hour."""

    __tablename__ = "reminder_code_attempt"
    __table_args__ = (Index("ix_reminder_code_attempt_user", "user_key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    user_key: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class CareState(enum.StrEnum):
    invited = "invited"
    active = "active"
    ended = "ended"


class CaregiverLink(SQLModel, table=True):
    """A family member (照护人) receiving copies of a resident's reminders: invited by the
    resident with a one-time code, confirmed by the family member in their own chat."""

    __tablename__ = "reminder_caregiver"
    __table_args__ = (
        Index("ix_reminder_caregiver_resident", "resident_key"),
        Index("ix_reminder_caregiver_caregiver", "caregiver_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    resident_channel: str = Field(max_length=16)
    resident_key: str = Field(max_length=64)
    caregiver_channel: str | None = Field(default=None, max_length=16)
    caregiver_key: str | None = Field(default=None, max_length=64)
    # sha256 of the invitation code, until it is used or expires.
    code_id: str | None = Field(default=None, max_length=64, unique=True)
    # How the family member knows the resident, as the resident wrote it (e.g. 妈妈).
    label: str = Field(max_length=20)
    state: str = Field(default=CareState.invited, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    expires_at: datetime = Field(sa_column=_moment())
    confirmed_at: datetime | None = Field(default=None, sa_column=_moment(True))
    ended_at: datetime | None = Field(default=None, sa_column=_moment(True))


class RuleKind(enum.StrEnum):
    calendar = "calendar"  # a date, or a cron expression
    due = "due"  # N days before a bound fact's date
    age = "age"  # the month a resident reaches an age
    change = "change"  # an entry republished with "notify subscribers"


RULE_KIND_NAMES = {
    RuleKind.calendar: "日历活动",
    RuleKind.due: "个人到期",
    RuleKind.age: "年龄节点",
    RuleKind.change: "内容变化",
}


class RuleState(enum.StrEnum):
    draft = "draft"
    in_review = "in_review"
    active = "active"
    paused = "paused"
    archived = "archived"


RULE_STATE_NAMES = {
    RuleState.draft: "草稿",
    RuleState.in_review: "待审核",
    RuleState.active: "生效中",
    RuleState.paused: "已暂停",
    RuleState.archived: "已归档",
}


class ReminderRule(SQLModel, table=True):
    """A rule staff keep: who gets which message when. Sends only once a second person
    approved it (``state == active``)."""

    __tablename__ = "reminder_rule"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=60)
    kind: str = Field(max_length=16)
    topic: str = Field(max_length=32)
    message: str = Field(sa_column=Column(Text, nullable=False))
    # The knowledge-base entry the reminder points to (a 查看详细说明 button).
    entry_id: str | None = Field(default=None, max_length=64)
    # calendar: one date, or a cron expression ("0 10 21 12 *").
    on_date: date | None = Field(default=None, sa_column=Column(Date))
    cron: str | None = Field(default=None, max_length=60)
    # Minutes after midnight the reminder is due on its day.
    send_at: int = 10 * 60
    # due: this many days before the fact's date, for facts of this kind.
    days_before: int | None = None
    fact_kind: str | None = Field(default=None, max_length=16)
    # age: the age reached.
    age: int | None = None
    # Audience: space-separated towns (none: all), and an age band.
    towns: str = Field(default="", max_length=400)
    age_min: int | None = None
    age_max: int | None = None
    state: str = Field(default=RuleState.draft, max_length=16)
    version: int = 1
    created_by: str = Field(max_length=64)
    updated_by: str = Field(max_length=64)
    submitted_by: str | None = Field(default=None, max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    approved_at: datetime | None = Field(default=None, sa_column=_moment(True))


class ChangeNotice(SQLModel, table=True):
    """Something changed that subscribers asked to hear about: an entry republished with
    "notify subscribers" ticked. Change rules pointing at the entry turn it into reminders."""

    __tablename__ = "reminder_change_notice"

    id: int | None = Field(default=None, primary_key=True)
    subject: str = Field(max_length=16)  # "entry"
    ref: str = Field(max_length=64)
    version: int = 0
    town: str | None = Field(default=None, max_length=16)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class RuleRun(SQLModel, table=True):
    """A rule evaluated for one occurrence (a campaign's date) or one day (due dates and
    ages): the scheduler does each once, however often it ticks."""

    __tablename__ = "reminder_rule_run"
    __table_args__ = (UniqueConstraint("rule_id", "run_key", name="uq_reminder_rule_run"),)

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(index=True)
    run_key: str = Field(max_length=40)
    queued: int = 0
    ran_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class OutboxState(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed_temporary = "failed_temporary"
    failed_permanent = "failed_permanent"
    cancelled = "cancelled"


OUTBOX_STATE_NAMES = {
    OutboxState.pending: "待发送",
    OutboxState.sending: "发送中",
    OutboxState.sent: "已送达",
    OutboxState.failed_temporary: "稍后重试",
    OutboxState.failed_permanent: "发送失败",
    OutboxState.cancelled: "已取消",
}
FINAL_STATES = (OutboxState.sent, OutboxState.failed_permanent, OutboxState.cancelled)


class OutboxRow(SQLModel, table=True):
    """One reminder to one recipient for one occurrence of a rule; the unique key makes
    queueing it twice impossible."""

    __tablename__ = "reminder_outbox"
    __table_args__ = (
        UniqueConstraint(
            "rule_id", "occurrence", "channel", "recipient_key", name="uq_reminder_outbox"
        ),
        Index("ix_reminder_outbox_due", "state", "not_before"),
        Index("ix_reminder_outbox_recipient", "recipient_key", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int
    occurrence: str = Field(max_length=40)
    channel: str = Field(max_length=16)
    recipient_key: str = Field(max_length=64)
    # A caregiver's copy: the resident whose reminder it is, and how the caregiver knows them.
    for_key: str | None = Field(default=None, max_length=64)
    for_label: str | None = Field(default=None, max_length=20)
    caregiver_link_id: int | None = None
    topic: str = Field(max_length=32)
    sensitive: bool = False
    entry_id: str | None = Field(default=None, max_length=64)
    text: str = Field(sa_column=Column(Text, nullable=False))
    # Lower goes first: personal due dates before campaigns.
    priority: int = 1
    state: str = Field(default=OutboxState.pending, max_length=20)
    attempts: int = 0
    not_before: datetime = Field(sa_column=_moment())
    expires_at: datetime = Field(sa_column=_moment())
    claimed_at: datetime | None = Field(default=None, sa_column=_moment(True))
    claimed_by: str | None = Field(default=None, max_length=80)
    sent_at: datetime | None = Field(default=None, sa_column=_moment(True))
    message_id: int | None = None
    error: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_moment())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_moment())


class SentDigest(SQLModel, table=True):
    """What the bot sent, as a hash of the text and the time, without the recipient: a
    resident who forwards a message "from the bureau" can be told whether it came from us."""

    __tablename__ = "reminder_sent_digest"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, index=True)
    sent_at: datetime = Field(sa_column=_moment())


class SchedulerLease(SQLModel, table=True):
    """Which process leads the scheduler, and what it did last (``minzheng jobs status``)."""

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=120)
    since: datetime = Field(sa_column=_moment())
    heartbeat_at: datetime = Field(sa_column=_moment())
    next_tick_at: datetime | None = Field(default=None, sa_column=_moment(True))
    next_purge_at: datetime | None = Field(default=None, sa_column=_moment(True))
    last_evaluated_at: datetime | None = Field(default=None, sa_column=_moment(True))
    last_drained_at: datetime | None = Field(default=None, sa_column=_moment(True))
