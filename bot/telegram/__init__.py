"""The Telegram channel (python-telegram-bot v22)."""

import os

# Opt in now to PTB's coming durations as ``timedelta`` (``RetryAfter.retry_after`` …), which
# otherwise warns on every 429; nothing here reads the old integer form.
os.environ.setdefault("PTB_TIMEDELTA", "true")
