"""How long what residents leave behind is kept (``MINZHENG_QUESTION_LOG_DAYS``).

Past the period, every table of ``bot.residents.registry`` is aged out: logged questions,
feedback, conversation steps untouched for that long, residents no purpose keeps reachable,
the transcripts of cases closed that long ago (the cases themselves keep their numbers and
timings, without the resident's words or number), and the question texts staff set aside.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.residents.registry import purge
from jobs import sentlog
from jobs.outbox import purge_digests

# Once a day is enough for a period counted in days.
PURGE_EVERY_S = 24 * 3600


@dataclass(frozen=True)
class Purged:
    cutoff: datetime
    # Rows deleted or scrubbed, per table.
    tables: dict[str, int]

    @property
    def questions(self) -> int:
        return self.tables["question_log"]

    @property
    def feedback(self) -> int:
        return self.tables["answer_feedback"]

    @property
    def steps(self) -> int:
        return self.tables["conversation_state"]

    def as_dict(self) -> dict[str, object]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "questions": self.questions,
            "feedback": self.feedback,
            "steps": self.steps,
            "tables": dict(self.tables),
        }


async def purge_expired(
    sessions: async_sessionmaker[AsyncSession], *, keep_days: int, now: datetime
) -> Purged:
    """Age out what is older than ``keep_days`` before ``now`` (tz-aware), in one transaction."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # Compared in UTC: SQLite keeps these columns as UTC text without an offset.
    cutoff = (now - timedelta(days=keep_days)).astimezone(UTC)
    async with sessions() as session, session.begin():
        tables = await purge(session, cutoff)
        # The sent log holds no one's data, only hashes and times: kept longer, for the
        # anti-fraud check of an old reminder forwarded.
        tables["reminder_sent_digest"] = await purge_digests(
            session, (now - sentlog.KEEP).astimezone(UTC)
        )
    return Purged(cutoff=cutoff.astimezone(now.tzinfo), tables=tables)
