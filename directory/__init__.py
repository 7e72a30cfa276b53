"""The facility directory, aligned with Open Referral HSDS 3.0. No Telegram, no HTTP."""
