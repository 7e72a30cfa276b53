"""What residents read in the conversation (Simplified Chinese), in one place."""

# TEXT_ONLY is said on every channel, not only on Telegram.
from bot.telegram.texts import HOTLINE, TEXT_ONLY  # noqa: F401

CITY_HOTLINE = "12345"
ASK_POLICY = "问政策"
FIND_PLACE = "找服务点"
ADVISOR = "联系养老顾问"
HELP = "帮助"
# The commands residents may type, on every channel, with what each does (Telegram's menu).
COMMANDS = {
    "start": "开始使用",
    "help": "怎么用",
    "hotline": "热线电话",
    "advisor": "联系养老顾问",
    "remind": "提醒设置",
    "bind": "输入工作人员或家人给的数字码",
    "stop": "删除我的数据",
}
REMIND = "提醒设置"
MENU = ((ASK_POLICY, FIND_PLACE), (ADVISOR, REMIND), (HELP,))
MENU_WORDS = frozenset(word for row in MENU for word in row)

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
    "3. 点“联系养老顾问”，和养老顾问对话，也可以请顾问打电话给您。\n"
    "4. 点“提醒设置”，选您想收到的提醒，比如辅具到期、低保复核、祭扫安排。\n"
    "命令：/start 开始，/help 帮助，/hotline 热线电话，/advisor 联系养老顾问，"
    "/remind 提醒设置，/bind 输入数字码，/stop 删除我的数据。"
)
HOTLINES = f"“幸福久久”为老服务热线：{HOTLINE}\n市民服务热线：{CITY_HOTLINE}（非民政事务也可以问）"
ASK_PROMPT = "请直接把您的问题打出来，比如：“怎么申请低保？”“助餐点在哪里？”"
EMPTY_PROMPT = "请用一句话告诉我您想问什么，比如：“怎么申请低保？”"
NOT_FOUND = "没找到确切答案。"
MAYBE = "您是不是想问下面这几件事？点一下就能看到回答。"
OUT_OF_SCOPE = "这件事不归民政部门管。"
# A question with no civil-affairs need in it (cooking, travel, chat): say what can be asked.
OUTSIDE = (
    "这个问题不是民政方面的事，我答不上来。\n"
    "我能回答的是：低保、特困、临时救助等社会救助，助餐、居家和机构养老，婚姻登记，"
    "康复辅具租赁，殡葬，儿童和残疾人福利。也可以拨打市民服务热线 12345。"
)
CHOOSE_CATEGORY = "您想找哪一类服务点？"
SEND_LOCATION = "请点下面的按钮发送您的位置，或者直接输入您所在的街镇，比如“九亭”。"
NO_PLACES = "附近没有找到这类服务点。可以换个类别，或拨打 12345 询问。"
# Talking with an eldercare advisor (bot.conversation.advisor).
ADVISOR_DESCRIBE = (
    "好的，帮您转给养老顾问。\n"
    "请先用一两句话说说您遇到了什么事、需要什么帮助，顾问看了能更快帮您。"
    "也可以直接点“直接转人工”。"
)
SKIP_DESCRIBING = "直接转人工"
ADVISOR_PRIVATELY = (
    "要联系养老顾问，请私聊我（点我的头像，再点“发消息”），这样顾问的回复只有您能看到。"
)
CANCEL = "不用了"
ADVISOR_CANCELLED = "好的，不转人工了。有问题可以直接打字问我。"
ADVISOR_OFFER = "如果想请养老顾问帮您看看，点下面的“联系养老顾问”。"
END_ADVISOR = "结束人工服务"
ASK_CALLBACK = "请顾问打电话给我"
REOPEN = "重新联系养老顾问"
ASK_SOLVED = "问题解决了吗？"
SOLVED_THANKS = "太好了，谢谢您！以后有问题随时再问我。"
NOT_SOLVED = (
    "抱歉没能帮您解决。3 天内可以点“重新联系养老顾问”接着问；"
    f"也可以拨打“幸福久久”为老服务热线 {HOTLINE} 或市民服务热线 {CITY_HOTLINE}。"
)
RESIDENT_ENDED = "已结束人工服务，接下来由我（自动问答）回答您。"
CASE_GONE = "这次人工服务已经结束了。有问题可以直接打字问我，也可以再联系养老顾问。"
CANNOT_REOPEN = "这个问题已经超过 3 天，不能再接着问了。可以重新联系养老顾问。"
WITH_ADVISOR_NOTE = (
    "您正在和养老顾问对话，直接打字、发照片或语音就行，顾问都能看到。\n"
    "要回到自动问答，请点“结束人工服务”。"
)
CALLBACK_CONSENT = (
    "请顾问给您打电话：\n"
    "请点下面的“发送我的电话号码”（网页上请直接输入手机号码）。"
    "这个号码只用于这次回电，顾问结案后就删除，不作他用。"
)
SHARE_PHONE = "📞 发送我的电话号码"
NOT_YOUR_PHONE = "请发送您自己的电话号码：点下面的“发送我的电话号码”，或直接输入手机号码。"
NOT_A_PHONE = "没看懂这个号码。请输入手机号码，比如 13812345678；不需要回电请点“不用了”。"
CHOOSE_WINDOW = "什么时候方便接电话？"
CALLBACK_CANCELLED = "好的，不打电话了。您可以继续在这里和顾问说。"
# What comes after "顾问会在…" when an advisor is not at work now.
HOTLINES_MEANWHILE = (
    f"着急的话，请拨打“幸福久久”为老服务热线 {HOTLINE}，或市民服务热线 {CITY_HOTLINE}。"
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
    "已删除您在本助手的对话记录、提问记录、反馈，和养老顾问的对话和电话号码，"
    "以及提醒设置和家人副本。\n"
    "以后再发消息，就会重新开始。"
)
