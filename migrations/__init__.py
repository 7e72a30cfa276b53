"""Alembic migrations; run them with ``minzheng db upgrade`` (``serve`` does it at start)."""
