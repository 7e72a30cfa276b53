"""The outbox: every reminder is a row, queued once under its unique key, claimed by one
sender, and moved through pending → sending → sent | failed_temporary | failed_permanent |
cancelled.

What is guaranteed: a reminder is queued exactly once (the unique key); a row is claimed by one
sender (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a conditional update everywhere); and it is
sent at most once, except in one case Telegram's lack of an idempotency key leaves open. A row
still ``sending`` when its sender died (a crash, a lost leadership) is in doubt: the message may
or may not have reached Telegram. The rule: once such a row is older than ``IN_DOUBT_AFTER`` and
not its current owner's, it is sent again. A resident may then get that one reminder twice;
never more, and only for the few rows in flight at the moment of the crash.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from jobs.models import FINAL_STATES, OutboxRow, OutboxState, SentDigest
from jobs.rules import Due
from knowledge.models import insert_on_conflict

CHUNK = 2000
# Longer than any send may take (the HTTP timeouts and the rate limiter's waits together).
IN_DOUBT_AFTER = timedelta(seconds=30)
STALE_OWN_AFTER = timedelta(minutes=5)
MAX_ATTEMPTS = 8
TAKEABLE = (OutboxState.pending, OutboxState.failed_temporary)
_KEY = ["rule_id", "occurrence", "channel", "recipient_key"]


def digest(text: str) -> str:
    """The sent log's hash of a text, blind to the spaces a forward or a copy may change."""
    return hashlib.sha256("".join(text.split()).encode()).hexdigest()


def _insert(dialect: str) -> Any:
    return insert_on_conflict(dialect, OutboxRow).on_conflict_do_nothing(index_elements=_KEY)


async def queue(session: AsyncSession, dues: Iterable[Due], now: datetime) -> int:
    """Queue ``dues``; those already queued are left alone. How many were new."""
    dialect = session.get_bind().dialect.name
    added = 0
    batch: list[dict[str, Any]] = []
    for due in dues:
        row = dict(vars(due))
        row.update(state=OutboxState.pending.value, attempts=0, created_at=now, updated_at=now)
        batch.append(row)
        if len(batch) >= CHUNK:
            added += await _flush(session, dialect, batch)
            batch = []
    if batch:
        added += await _flush(session, dialect, batch)
    return added


async def _flush(session: AsyncSession, dialect: str, batch: list[dict[str, Any]]) -> int:
    """One statement, many rows. SQLite's executemany counts the rows it inserted; asyncpg's
    does not, so there RETURNING names the new ones (cheap on PostgreSQL)."""
    statement = _insert(dialect)
    if dialect == "postgresql":
        return len((await session.execute(statement.returning(col(OutboxRow.id)), batch)).all())
    connection = await session.connection()
    result = await connection.execute(statement, batch)
    return max(result.rowcount, 0)


async def existing(session: AsyncSession, dues: Sequence[Due]) -> set[tuple[int, str, str, str]]:
    """The keys of ``dues`` already in the outbox (a dry run says which are new)."""
    found: set[tuple[int, str, str, str]] = set()
    for rule_id in {due.rule_id for due in dues}:
        rows = await session.execute(
            select(
                col(OutboxRow.rule_id),
                col(OutboxRow.occurrence),
                col(OutboxRow.channel),
                col(OutboxRow.recipient_key),
            ).where(col(OutboxRow.rule_id) == rule_id)
        )
        found.update((r[0], r[1], r[2], r[3]) for r in rows)
    return found


async def claim(session: AsyncSession, *, now: datetime, owner: str, limit: int) -> list[OutboxRow]:
    """Take up to ``limit`` rows due at ``now`` for ``owner``: pending → sending."""
    due = (
        select(col(OutboxRow.id))
        .where(
            col(OutboxRow.state).in_(TAKEABLE),
            col(OutboxRow.not_before) <= now,
            # Past its use (a campaign's days, a due date): never sent late, cancelled instead.
            col(OutboxRow.expires_at) > now,
        )
        .order_by(col(OutboxRow.priority), col(OutboxRow.not_before), col(OutboxRow.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(due))
    if not ids:
        return []
    taken = await session.scalars(
        update(OutboxRow)
        .where(col(OutboxRow.id).in_(ids), col(OutboxRow.state).in_(TAKEABLE))
        .values(
            state=OutboxState.sending,
            claimed_at=now,
            claimed_by=owner,
            attempts=col(OutboxRow.attempts) + 1,
            updated_at=now,
        )
        .returning(OutboxRow)
        .execution_options(synchronize_session=False)
    )
    return sorted(taken, key=lambda row: (row.priority, row.not_before, row.id or 0))


async def _finish(
    session: AsyncSession, row_id: int, owner: str, now: datetime, **values: Any
) -> bool:
    result = await session.execute(
        update(OutboxRow)
        .where(
            col(OutboxRow.id) == row_id,
            col(OutboxRow.state) == OutboxState.sending,
            col(OutboxRow.claimed_by) == owner,
        )
        .values(updated_at=now, **values)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount == 1


async def mark_sent(
    session: AsyncSession,
    row: OutboxRow,
    owner: str,
    now: datetime,
    message_id: int | None,
    *,
    text: str | None = None,
) -> bool:
    """Sent; the sent log keeps the hash of ``text``, the words as they went (default: the
    row's)."""
    assert row.id is not None
    done = await _finish(
        session,
        row.id,
        owner,
        now,
        state=OutboxState.sent,
        sent_at=now,
        message_id=message_id,
        error=None,
    )
    if done:
        session.add(SentDigest(digest=digest(text or row.text), sent_at=now))
    return done


async def mark_retry(
    session: AsyncSession, row: OutboxRow, owner: str, now: datetime, after: float, error: str
) -> bool:
    """A temporary failure: tried again after ``after`` seconds, unless tries or time ran out."""
    assert row.id is not None
    again = now + timedelta(seconds=after)
    if row.attempts >= MAX_ATTEMPTS or again >= row.expires_at:
        return await mark_failed(session, row, owner, now, f"多次重试仍未送达：{error}")
    return await _finish(
        session,
        row.id,
        owner,
        now,
        state=OutboxState.failed_temporary,
        not_before=again,
        error=error[:200],
    )


async def mark_failed(
    session: AsyncSession, row: OutboxRow, owner: str, now: datetime, error: str
) -> bool:
    assert row.id is not None
    return await _finish(
        session, row.id, owner, now, state=OutboxState.failed_permanent, error=error[:200]
    )


async def defer(
    session: AsyncSession, row: OutboxRow, owner: str, now: datetime, until: datetime, why: str
) -> bool:
    """Not now (quiet hours, the weekly cap): back to pending until ``until``, or cancelled if
    that is too late to be of use. A deferral is not a try."""
    assert row.id is not None
    if until >= row.expires_at:
        return await _finish(
            session, row.id, owner, now, state=OutboxState.cancelled, error=f"{why}，过期未发"
        )
    return await _finish(
        session,
        row.id,
        owner,
        now,
        state=OutboxState.pending,
        not_before=until,
        attempts=col(OutboxRow.attempts) - 1,
        error=why,
    )


async def drop(session: AsyncSession, row: OutboxRow, owner: str, now: datetime, why: str) -> bool:
    """A taken row that must not go at all (the recipient blocked the bot)."""
    assert row.id is not None
    return await _finish(session, row.id, owner, now, state=OutboxState.cancelled, error=why)


async def cancel(
    session: AsyncSession,
    *,
    now: datetime,
    why: str,
    channel: str | None = None,
    recipient_key: str | None = None,
    for_key: str | None = None,
    topic: str | None = None,
    caregiver_link_id: int | None = None,
) -> int:
    """Cancel what waits for a recipient (or copies of one resident's reminders)."""
    where: list[ColumnElement[bool]] = [col(OutboxRow.state).in_(TAKEABLE)]
    if channel is not None:
        where.append(col(OutboxRow.channel) == channel)
    if recipient_key is not None:
        where.append(col(OutboxRow.recipient_key) == recipient_key)
    if for_key is not None:
        where.append(col(OutboxRow.for_key) == for_key)
    if topic is not None:
        where.append(col(OutboxRow.topic) == topic)
    if caregiver_link_id is not None:
        where.append(col(OutboxRow.caregiver_link_id) == caregiver_link_id)
    result = await session.execute(
        update(OutboxRow)
        .where(*where)
        .values(state=OutboxState.cancelled, error=why, updated_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount


async def cancel_expired(session: AsyncSession, *, now: datetime) -> int:
    """What waited past its use (Telegram away for days) is cancelled, not sent late."""
    result = await session.execute(
        update(OutboxRow)
        .where(col(OutboxRow.state).in_(TAKEABLE), col(OutboxRow.expires_at) <= now)
        .values(state=OutboxState.cancelled, error="过期未发", updated_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount


async def release_in_doubt(session: AsyncSession, *, now: datetime, owner: str) -> int:
    """Rows a dead sender left ``sending`` go back to pending (see the module's rule)."""
    result = await session.execute(
        update(OutboxRow)
        .where(
            col(OutboxRow.state) == OutboxState.sending,
            or_(
                and_(
                    col(OutboxRow.claimed_by) != owner,
                    col(OutboxRow.claimed_at) < now - IN_DOUBT_AFTER,
                ),
                col(OutboxRow.claimed_at) < now - STALE_OWN_AFTER,
            ),
        )
        .values(state=OutboxState.pending, error="发送中断，再发一次", updated_at=now)
    )
    assert isinstance(result, CursorResult)
    return result.rowcount


async def sent_within(
    session: AsyncSession,
    keys: Iterable[tuple[str, str]],
    since: datetime,
    *,
    besides: int | None = None,
) -> dict[tuple[str, str], list[datetime]]:
    """What each (channel, recipient) was sent since ``since``, oldest first (the weekly cap),
    counting what another sender is sending right now (all but row ``besides``)."""
    wanted = set(keys)
    if not wanted:
        return {}
    at = func.coalesce(col(OutboxRow.sent_at), col(OutboxRow.claimed_at))
    rows = await session.execute(
        select(col(OutboxRow.channel), col(OutboxRow.recipient_key), at)
        .where(
            col(OutboxRow.recipient_key).in_({key for _, key in wanted}),
            col(OutboxRow.state).in_((OutboxState.sent, OutboxState.sending)),
            at >= since,
            col(OutboxRow.id) != (besides or 0),
        )
        .order_by(at)
    )
    found: dict[tuple[str, str], list[datetime]] = {key: [] for key in wanted}
    for channel, key, moment in rows:
        if (channel, key) in found and moment is not None:
            found[(channel, key)].append(moment)
    return found


async def counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(col(OutboxRow.state), func.count()).group_by(col(OutboxRow.state))
    )
    found = {state.value: 0 for state in OutboxState}
    found.update({state: int(n) for state, n in rows})
    return found


async def oldest_due(session: AsyncSession, now: datetime) -> datetime | None:
    """When the longest-waiting row became due (the outbox's lag)."""
    return await session.scalar(
        select(func.min(col(OutboxRow.not_before))).where(
            col(OutboxRow.state).in_(TAKEABLE), col(OutboxRow.not_before) <= now
        )
    )


async def purge_digests(session: AsyncSession, cutoff: datetime) -> int:
    result = await session.execute(delete(SentDigest).where(col(SentDigest.sent_at) < cutoff))
    assert isinstance(result, CursorResult)
    return result.rowcount


__all__ = ["FINAL_STATES", "IN_DOUBT_AFTER", "claim", "queue"]
