"""Reminders: rules, the outbox and the rate-limited sender. Sends through its own protocol."""
