"""The knowledge base: entries, content loader, normaliser and matcher. No Telegram, no HTTP."""
