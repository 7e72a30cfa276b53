"""Escalations: a resident's case handed to a human eldercare advisor (养老顾问)."""
