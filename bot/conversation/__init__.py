"""The residents' conversation, knowing no channel: Telegram and the web chat only translate.

It takes what a resident did (text, a shared location, a button) and returns replies (text,
buttons, places). State lives in the database, so a restart loses nothing.
"""
