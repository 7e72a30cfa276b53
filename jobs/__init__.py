"""Reminders: residents' consent and preferences, the rules staff keep, eligibility, the
outbox, the rate-limited sender and the scheduler's ticks.

Framework-free: nothing here imports Telegram or aiohttp. Reminders leave through the small
``Messenger`` protocol of ``jobs.sender``; ``bot/`` adapts Telegram to it.
"""
