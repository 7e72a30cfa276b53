"""escalations: residents reachable for a purpose, cases and their transcripts, advisors'
link codes; one step store for Telegram and the web chat

Telegram steps (``telegram_data``, python-telegram-bot's persisted user_data) move into
``conversation_state``. ``advisor_request`` goes: its rows kept no way to reach the resident, so
no advisor could ever answer them.

Revision ID: 0010_escalations
Revises: 0009_dismissed_questions
Create Date: 2026-12-01 12:10:26.453818
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0010_escalations"
down_revision: str | None = "0009_dismissed_questions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "resident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("chat_sealed", sa.Text(), nullable=True),
        sa.Column(
            "reachable_for",
            sqlmodel.sql.sqltypes.AutoString(length=200),
            nullable=False,
            server_default="",
        ),
        sa.Column("inactive_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel", "user_key", name="uq_resident_identity"),
    )
    op.create_table(
        "advisor_link_code",
        sa.Column("id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "escalation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("need", sa.Text(), nullable=True),
        sa.Column("topic", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("town", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("context", sa.Text(), nullable=True),
        sa.Column("advisor_id", sa.Integer(), nullable=True),
        sa.Column("desk_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("desk_thread_id", sa.Integer(), nullable=True),
        sa.Column("card_message_id", sa.Integer(), nullable=True),
        sa.Column("card_digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("topic_closed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("desk_claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_reply_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("waiting_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resident_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("advisor_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("close_note", sa.Text(), nullable=True),
        sa.Column("solved", sa.Boolean(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("phone_sealed", sa.Text(), nullable=True),
        sa.Column("callback_day", sa.Date(), nullable=True),
        sa.Column("callback_afternoon", sa.Boolean(), nullable=True),
        sa.Column("callback_requested_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("called_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("call_result", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.ForeignKeyConstraint(["advisor_id"], ["staff_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_state", ["state", "opened_at"], unique=False)
        batch_op.create_index(
            "uq_escalation_one_open",
            ["channel", "user_key"],
            unique=True,
            sqlite_where=sa.text("state != 'closed'"),
            postgresql_where=sa.text("state != 'closed'"),
        )

    op.create_table(
        "escalation_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("escalation_id", sa.Integer(), nullable=False),
        sa.Column("user_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("author", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("source_message_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("to_desk", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("to_resident", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("desk_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.ForeignKeyConstraint(["escalation_id"], ["escalation.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["staff_id"], ["staff_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_chat_id", "source_message_id", name="uq_escalation_source"),
    )
    with op.batch_alter_table("escalation_message", schema=None) as batch_op:
        batch_op.create_index("ix_escalation_message_case", ["escalation_id", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_escalation_message_user_key"), ["user_key"], unique=False
        )

    with op.batch_alter_table("advisor_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_advisor_request_user_key"))
    op.drop_table("advisor_request")

    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("town", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(sa.Column("escalation_id", sa.Integer(), nullable=True))
    op.execute("UPDATE conversation_state SET state = pending")
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.drop_column("last_entry_id")
        batch_op.drop_column("pending")
    _move_telegram_steps()
    op.drop_table("telegram_data")


def _move_telegram_steps() -> None:
    """Each Telegram resident's step (a category chosen, a location awaited) into the one store."""
    connection = op.get_bind()
    state = sa.table(
        "conversation_state",
        sa.column("id", sa.String),
        sa.column("state", sa.String),
        sa.column("category", sa.String),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.text("SELECT key, data, updated_at FROM telegram_data WHERE kind = 'user'")
    )
    moved = []
    for key, data, updated_at in rows:
        try:
            step = json.loads(data).get("step") or {}
        except (ValueError, AttributeError):
            continue
        if not isinstance(step, dict) or not (step.get("pending") or step.get("category")):
            continue
        moved.append(
            {
                "id": f"telegram:{key}",
                "state": step.get("pending") if isinstance(step.get("pending"), str) else None,
                "category": step.get("category") if isinstance(step.get("category"), str) else None,
                "updated_at": updated_at,
            }
        )
    if moved:
        op.bulk_insert(state, moved)


def downgrade() -> None:
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending", sa.VARCHAR(length=32), nullable=True))
        batch_op.add_column(sa.Column("last_entry_id", sa.VARCHAR(length=64), nullable=True))
    op.execute("UPDATE conversation_state SET pending = state")
    with op.batch_alter_table("conversation_state", schema=None) as batch_op:
        batch_op.drop_column("escalation_id")
        batch_op.drop_column("town")
        batch_op.drop_column("state")

    op.create_table(
        "telegram_data",
        sa.Column("kind", sa.VARCHAR(length=16), nullable=False),
        sa.Column("key", sa.VARCHAR(length=64), nullable=False),
        sa.Column("data", sa.TEXT(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key"),
    )
    op.create_table(
        "advisor_request",
        sa.Column("id", sa.INTEGER(), nullable=False),
        sa.Column("user_key", sa.VARCHAR(length=64), nullable=False),
        sa.Column("channel", sa.VARCHAR(length=16), nullable=False),
        sa.Column("last_question", sa.TEXT(), nullable=True),
        sa.Column("status", sa.VARCHAR(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("advisor_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_advisor_request_user_key"), ["user_key"], unique=False)

    with op.batch_alter_table("escalation_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalation_message_user_key"))
        batch_op.drop_index("ix_escalation_message_case")

    op.drop_table("escalation_message")
    with op.batch_alter_table("escalation", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_escalation_one_open",
            sqlite_where=sa.text("state != 'closed'"),
            postgresql_where=sa.text("state != 'closed'"),
        )
        batch_op.drop_index("ix_escalation_state")

    op.drop_table("escalation")
    op.drop_table("advisor_link_code")
    op.drop_table("resident")
