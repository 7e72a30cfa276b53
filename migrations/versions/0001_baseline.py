"""Baseline: an empty schema under Alembic's control.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-28 12:00:00+08:00

Later revisions add the knowledge, directory and jobs tables.
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0001_baseline"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
