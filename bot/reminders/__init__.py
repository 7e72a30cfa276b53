"""The bot's side of reminders: how a reminder looks to a resident, and the Telegram messenger
that ``jobs.sender`` sends through."""
