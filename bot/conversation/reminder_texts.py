"""What residents read about reminders (Simplified Chinese), in one place."""

from __future__ import annotations

from bot.telegram.texts import HOTLINE

REMIND = "提醒设置"
CONSENT = (
    "提醒设置：我可以在合适的时候提醒您，比如租的轮椅快到期了、低保复核的时间、"
    "满65岁可以申请老年综合津贴、助餐点节假日暂停、清明冬至祭扫安排。\n\n"
    "开通前请您知道：\n"
    "1. 保存什么：您选的提醒类别、所在街镇、出生年月（不要日）、免打扰时间，"
    "以及您的 Telegram 账号（加密保存，只用来给您发提醒）。\n"
    "2. 为什么：只用来给您发您自己选的提醒，不作他用，不给别人。\n"
    "3. 保存多久：到您退订为止；屏蔽本助手超过保存期限的，也会删除。\n"
    "4. 怎么停：每条提醒下面都有“退订此类提醒”；提醒设置里可以“全部退订”；"
    "发送 /stop 会删除您在本助手的全部数据。\n"
    "晚上 21:00 到早上 8:00 不打扰您（可以改），每周最多 {cap} 条。"
)
AGREE = "同意并设置"
NOT_NOW = "不用了"
DECLINED = "好的，不开通提醒。想开通时，点“提醒设置”或发送 /remind。"
SENSITIVE_CONSENT = (
    "“{label}”这类提醒会涉及您领取救助的情况，属于敏感信息，需要您单独同意：\n"
    "1. 通知里不会写明内容，只显示“您有一条民政提醒，请点开查看”，点开才看得到。\n"
    "2. 不会发给您的家人（即使您邀请了家人接收副本）。\n"
    "3. 随时可以退订，退订后不再发送。"
)
AGREE_SENSITIVE = "同意，开通这类提醒"
SETTINGS_HEAD = "您的提醒设置（点一下可以开或关）："
TOPIC_ON = "✅ {label}"
TOPIC_OFF = "⬜ {label}"
NEEDS_TOWN = "（“{label}”按街镇发送，请点“选择街镇”。）"
NEEDS_AGE = "（“{label}”要知道您的出生年月，请点“填写出生年月”。）"
TOWN_LINE = "所在街镇：{town}"
BIRTH_LINE = "出生年月：{birth}"
QUIET_LINE = "免打扰时间：{quiet}"
NOT_SET = "未填"
CHOOSE_TOWN = "选择街镇"
FILL_BIRTH = "填写出生年月"
CHANGE_QUIET = "修改免打扰时间"
INVITE = "邀请家人接收副本"
STOP_ALL = "全部退订"
DONE = "完成"
SAVED = "好的，设置已保存。有提醒时我会发消息给您。"
PICK_TOWN = "请选择您所在的街镇："
ASK_BIRTH = "请输入您的出生年月，比如：1958年3月（只要年和月，不要日）。"
BAD_BIRTH = "没看懂这个年月。请这样输入：1958年3月。不想填请点“完成”。"
PICK_QUIET = "什么时间不要打扰您？"
QUIET_CHOICE = "{start} 到次日 {end}"
SURE_STOP_ALL = "确定全部退订吗？会删除您的提醒设置、绑定的到期信息和家人副本，以后不会再收到提醒。"
YES_STOP_ALL = "确定全部退订"
KEEP = "不退订"
STOPPED_ALL = "已全部退订，并删除了您的提醒设置。想再开通时，点“提醒设置”或发送 /remind。"
UNSUBSCRIBED = "已退订“{label}”，以后不会再收到这类提醒。"
NOTHING_TO_UNSUBSCRIBE = "您现在没有开通提醒。"
TELEGRAM_ONLY = (
    "提醒目前只能通过 Telegram 接收：请在 Telegram 上打开“松江民政助手”，发送 /remind 设置。"
)
PRIVATELY = "设置提醒请私聊我（点我的头像，再点“发消息”），别人看不到您的设置。"
GONE = "这条提醒已经看不到了。有问题可以直接打字问我。"
# /bind
ASK_CODE = "请输入工作人员（或家人）给您的 8 位数字码，比如：1234 5678。"
BOUND = "绑定成功：{label}，日期 {due}。到时候我会提醒您（晚上不打扰）。"
BOUND_NO_RULE = (
    "绑定成功：{label}，日期 {due}。工作人员设置好这类提醒后，我会按时提醒您（晚上不打扰）。"
)
NEVER_MIND = "不用了"
OK = "好的。有问题可以直接打字问我。"
WRONG_CODE = "这个码不对，请核对后再发一次（一小时内最多试 5 次）。"
EXPIRED_CODE = "这个码已经过期了，请找工作人员（或家人）重新生成。"
USED_CODE = "这个码已经用过了。如需重新绑定，请找工作人员重新生成。"
TOO_MANY_TRIES = f"试错次数太多了，请一小时后再试；着急的话请拨打“幸福久久”为老服务热线 {HOTLINE}。"
CONSENT_FIRST = "绑定前，请先看一下提醒说明并同意；同意后再发一次 /bind 和数字码。"
SENSITIVE_FIRST = "同意后，请再发一次 /bind 和数字码。"
OWN_INVITATION = "这是您自己生成的邀请码，请把它发给您的家人，让家人发给我。"
# Family members
ASK_LABEL = "您的家人平时怎么称呼您？比如：妈妈、外婆、王阿姨。家人收到的副本上会写这个称呼。"
BAD_LABEL = "称呼请用 1 到 10 个字，比如：妈妈。"
INVITED = (
    "邀请码：{code}（3 天内有效，只能用一次）。\n"
    "请让家人在 Telegram 上打开“松江民政助手”，发送：/bind {code}\n"
    "家人确认后，您的提醒会同时发一份给家人（涉及低保、特困等救助的提醒不会发给家人）。"
)
INVITATION = (
    "{label}邀请您接收TA的提醒副本：以后发给{label}的提醒（救助类除外）也会发一份给您。\n"
    "确认后，我们会加密保存您的 Telegram 账号，只用来发副本；"
    "点副本下面的“不再接收副本”或发送 /stop 就会停止并删除。"
)
ACCEPT = "确认接收"
DECLINE = "不接收"
ACCEPTED = "已确认。以后{label}的提醒会同时发给您。"
DECLINED_CARE = "好的，不接收副本。"
CARE_GONE = "这个邀请已经失效了，请让家人重新生成邀请码。"
COPIES_ENDED = "已停止这份家人副本，以后不会再发。"
CAREGIVER_LINE = "家人副本：{names}"
RECEIVING_LINE = "您在接收这些家人的提醒副本：{names}"
END_COPIES = "停止给{label}发副本"
STOP_RECEIVING = "不再接收{label}的副本"
WAITING = "{label}（等家人确认）"
# Anti-fraud: a message forwarded to the bot
FROM_US = "✅ 这条消息确实是松江民政助手发给您的。"
COPIED_FROM_US = (
    "这段文字和本助手发出的提醒一样，但这条消息不是本助手直接发给您的，可能是别人转发或抄来的。"
    "请以您在本助手里直接收到的消息为准。"
)
NOT_FROM_US = "⚠️ 这条消息不是松江民政助手发出的。"
NEVER_MONEY = (
    "民政部门和本助手不会向您要钱、要您转账，也不会要银行卡号、密码或验证码。"
    "遇到这样的要求，请不要转账，不要告诉对方验证码；可拨打 96110（反诈专线）或 110 报警。"
    f"拿不准的，可以拨打“幸福久久”为老服务热线 {HOTLINE} 问一问。"
)
