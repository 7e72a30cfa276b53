"""松江民政助手: the composition root (settings, database, CLI, web, Telegram)."""
