"""What residents read in the conversation (Simplified Chinese), in one place."""

from bot.telegram.texts import HOTLINE

CITY_HOTLINE = "12345"
ASK_POLICY = "问政策"
FIND_PLACE = "找服务点"
ADVISOR = "联系养老顾问"
HELP = "帮助"
MENU = ((ASK_POLICY, FIND_PLACE), (ADVISOR, HELP))

GREETING = (
    "您好！我是松江民政助手。\n"
    "可以问我低保、特困、临时救助、老年助餐、婚姻登记、康复辅具租赁、养老、殡葬、"
    "儿童和残疾人福利等问题，也可以帮您找最近的服务点。\n"
    "直接打字提问就行，比如：“怎么申请低保？”\n"
    f"需要人工帮助，请拨打“幸福久久”为老服务热线 {HOTLINE}。"
)
HELP_TEXT = (
    "您可以这样用我：\n"
    "1. 直接打字提问，比如“老年食堂在哪里”。\n"
    "2. 点“找服务点”，选类别，再发送位置或输入街镇名。\n"
    "3. 点“联系养老顾问”，请养老顾问联系您。\n"
    "命令：/start 开始，/help 帮助，/hotline 热线电话，/stop 删除我的数据。"
)
HOTLINES = f"“幸福久久”为老服务热线：{HOTLINE}\n市民服务热线：{CITY_HOTLINE}（非民政事务也可以问）"
ASK_PROMPT = "请直接把您的问题打出来，比如：“怎么申请低保？”“助餐点在哪里？”"
EMPTY_PROMPT = "请用一句话告诉我您想问什么，比如：“怎么申请低保？”"
NOT_FOUND = "没找到确切答案。"
MAYBE = "您是不是想问下面这几件事？点一下就能看到回答。"
OUT_OF_SCOPE = "这件事不归民政部门管。"
CHOOSE_CATEGORY = "您想找哪一类服务点？"
SEND_LOCATION = "请点下面的按钮发送您的位置，或者直接输入您所在的街镇，比如“九亭”。"
NO_PLACES = "附近没有找到这类服务点。可以换个类别，或拨打 12345 询问。"
# Advisors cannot answer here yet (that comes with their inbox): promise no reply, give the
# hotline, where an advisor answers today.
ADVISOR_RECORDED = (
    "已经记下了您要找养老顾问。这里暂时收不到顾问的回复，"
    f"请拨打“幸福久久”为老服务热线 {HOTLINE}，说明您的情况。"
)
ADVISOR_RECORDED_WEB = (
    "已经记下了您要找养老顾问。网页上暂时收不到顾问的回复，"
    f"请拨打“幸福久久”为老服务热线 {HOTLINE}，说明您的情况。"
)
ADVISOR_ALREADY = (
    "您要找养老顾问的请求刚才已经记下了，不用再发。"
    f"着急的话，请拨打“幸福久久”为老服务热线 {HOTLINE}。"
)
THANKS = "谢谢您的反馈！"
SAMPLE_NOTE = "（示例数据，地址电话以实际公布为准）"
DETAIL_LABELS = {
    "materials": "所需材料",
    "where": "办理地点",
    "eligibility": "申请条件",
    "fees": "费用",
    "contacts": "咨询电话",
}
FLOOD_NOTICE = "您发得有点快，我会慢一点、按顺序一条一条回复您，请稍等。"
DATA_DELETED = (
    "已删除您在本助手的对话记录、提问记录、反馈和顾问请求。\n以后再发消息，就会重新开始。"
)
