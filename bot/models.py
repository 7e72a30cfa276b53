"""Every table the service has, gathered for Alembic.

Each package defines its own SQLModel tables; importing them here registers them on the one
``SQLModel.metadata`` that migrations compare against.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel


def metadata() -> MetaData:
    """The metadata of all tables, after importing every module that declares one."""
    import bot.console.models
    import bot.conversation.models
    import bot.escalations.models
    import bot.residents.models  # noqa: F401
    import directory.models  # noqa: F401
    import jobs.models  # noqa: F401
    import knowledge.models  # noqa: F401

    return SQLModel.metadata
