"""What reminders say to residents (Simplified Chinese), in one place."""

from __future__ import annotations

# A sensitive topic's notification says nothing of it: the lock screen and the chat list
# show only this; the details come when the resident presses the button under it.
SENSITIVE_NOTICE = "您有一条民政提醒，请点开查看。"
SHOW_DETAILS = "点开查看"
SHOW_ENTRY = "查看详细说明"
UNSUBSCRIBE = "退订此类提醒"
SETTINGS = "提醒设置"
STOP_COPIES = "不再接收副本"


def caregiver_copy(label: str, text: str) -> str:
    return f"【{label}的提醒 · 家人副本】\n{text}"
