"""What residents read on Telegram, in one place (Simplified Chinese)."""

HOTLINE = "37009999"

GREETING = (
    "您好！我是松江民政助手，为松江区居民解答民政服务方面的问题。\n"
    "如需人工帮助，请拨打“幸福久久”为老服务热线 " + HOTLINE + "。"
)

SOMETHING_WENT_WRONG = (
    "抱歉，系统刚才出了点问题，请稍后再试。\n"
    "着急的话，请拨打“幸福久久”为老服务热线 " + HOTLINE + "。"
)

STARTING = "系统正在启动，请稍等几秒再发一次。"

TEXT_ONLY = (
    "抱歉，我只能看懂文字消息。请把问题打成文字发给我，或者发送您的位置找服务点。\n"
    "需要帮助，请拨打“幸福久久”为老服务热线 " + HOTLINE + "。"
)
