"""The Bot API double's groups, forum topics, members, replies and copies, driven through
python-telegram-bot as the service drives Telegram."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import (
    Bot,
    ChatMember,
    ChatMemberAdministrator,
    ChatMemberBanned,
    ChatMemberLeft,
    ChatMemberMember,
    ChatMemberOwner,
    ChatMemberRestricted,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    ReplyParameters,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden

from tests.support.fake_bot_api import BOT_USER, FakeBotApi

RESIDENT = 515151
GROUP = -1001234567890
ADVISOR, OTHER_ADVISOR = 8080, 8181


@pytest.fixture
async def bot(fake_bot_api: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(fake_bot_api.token, base_url=fake_bot_api.base_url) as bot:
        yield bot


@pytest.fixture
def forum(fake_bot_api: FakeBotApi) -> FakeBotApi:
    fake_bot_api.add_group(GROUP)
    return fake_bot_api


def _keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("我来处理", callback_data=data)]])


# Chats ----------------------------------------------------------------------------------------


async def test_get_chat_knows_added_groups_and_residents_who_wrote(
    fake_bot_api: FakeBotApi, bot: Bot
) -> None:
    fake_bot_api.add_group(GROUP)
    fake_bot_api.add_group(GROUP - 1, "松江长者群", forum=False)
    fake_bot_api.push_text(RESIDENT, "你好", first_name="王阿姨")

    group = await bot.get_chat(GROUP)
    assert (group.id, group.type, group.title) == (GROUP, ChatType.SUPERGROUP, "养老顾问群")
    assert group.is_forum is True
    assert (group.accent_color_id, group.max_reaction_count) == (0, 11)
    assert not (await bot.get_chat(GROUP - 1)).is_forum
    private = await bot.get_chat(RESIDENT)
    assert (private.type, private.first_name) == (ChatType.PRIVATE, "王阿姨")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(RESIDENT + 1)


# Forum topics ---------------------------------------------------------------------------------


async def test_a_topic_is_created_and_messages_go_into_it(forum: FakeBotApi, bot: Bot) -> None:
    topic = await bot.create_forum_topic(GROUP, "张阿姨 · 低保咨询")
    assert topic.name == "张阿姨 · 低保咨询"
    assert topic.icon_color == 7322096
    thread = topic.message_thread_id
    assert forum.topics[(GROUP, thread)] == {
        "name": "张阿姨 · 低保咨询",
        "icon_color": 7322096,
        "closed": False,
    }
    # Telegram's service message opens the thread: its id is the topic's.
    assert forum.messages[(GROUP, thread)]["forum_topic_created"]["name"] == "张阿姨 · 低保咨询"

    message = await bot.send_message(GROUP, "居民问：低保怎么申请", message_thread_id=thread)
    assert message.message_thread_id == thread
    assert message.is_topic_message is True
    # As at Telegram, a message in a topic replies to the topic's creation.
    assert message.reply_to_message is not None
    assert message.reply_to_message.message_id == thread
    assert message.reply_to_message.forum_topic_created is not None
    assert message.chat.is_forum is True

    await bot.send_message(GROUP, "不在话题里")
    assert [p["text"] for p in forum.thread_messages(GROUP, thread)] == ["居民问：低保怎么申请"]


async def test_a_closed_topic_refuses_messages_until_reopened(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "李伯伯 · 助餐")).message_thread_id
    assert await bot.close_forum_topic(GROUP, thread) is True
    assert forum.topics[(GROUP, thread)]["closed"] is True
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await bot.send_message(GROUP, "还在吗", message_thread_id=thread)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await bot.send_photo(GROUP, "https://example.invalid/a.jpg", message_thread_id=thread)
    assert await bot.reopen_forum_topic(GROUP, thread) is True
    assert (await bot.send_message(GROUP, "还在", message_thread_id=thread)).text == "还在"
    assert [p["text"] for p in forum.thread_messages(GROUP, thread)] == ["还在"]


async def test_a_topic_is_renamed(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "待分配")).message_thread_id
    assert await bot.edit_forum_topic(GROUP, thread, name="已分配 · 陈老师") is True
    assert forum.topics[(GROUP, thread)]["name"] == "已分配 · 陈老师"
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_NOT_MODIFIED"):
        await bot.edit_forum_topic(GROUP, thread, name="已分配 · 陈老师")


async def test_topic_mistakes_get_telegrams_errors(forum: FakeBotApi, bot: Bot) -> None:
    forum.add_group(GROUP - 1, "松江长者群", forum=False)
    for chat in (GROUP - 1, GROUP - 2):
        with pytest.raises(BadRequest, match=r"(?i)the chat is not a forum"):
            await bot.create_forum_topic(chat, "咨询")
    with pytest.raises(BadRequest, match=r"(?i)topic name is too long"):
        await bot.create_forum_topic(GROUP, "长" * 129)
    assert (await bot.create_forum_topic(GROUP, "长" * 128)).name == "长" * 128
    for call in (bot.close_forum_topic, bot.reopen_forum_topic, bot.edit_forum_topic):
        with pytest.raises(BadRequest, match=r"(?i)TOPIC_ID_INVALID"):
            await call(GROUP, 999_999)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(GROUP, "你好", message_thread_id=999_999)
    with pytest.raises(BadRequest, match=r"(?i)message thread not found"):
        await bot.send_message(RESIDENT, "你好", message_thread_id=1)


async def test_a_bot_without_topic_rights_cannot_create_one(forum: FakeBotApi, bot: Bot) -> None:
    forum.set_member(GROUP, bot.id, "administrator", can_manage_topics=False)
    with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
        await bot.create_forum_topic(GROUP, "咨询")
    forum.set_member(GROUP, bot.id, "kicked")
    with pytest.raises(Forbidden, match=r"(?i)kicked"):
        await bot.send_message(GROUP, "你好")


# Replies --------------------------------------------------------------------------------------


async def test_a_reply_carries_the_message_it_replies_to(forum: FakeBotApi, bot: Bot) -> None:
    asked = forum.push_group_text(GROUP, ADVISOR, "这位居民住哪个街道？")["message"]
    answer = await bot.send_message(GROUP, "岳阳街道", reply_to_message_id=asked["message_id"])
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "这位居民住哪个街道？"
    assert answer.reply_to_message.from_user is not None
    assert answer.reply_to_message.from_user.id == ADVISOR
    assert answer.message_thread_id is None


async def test_a_reply_to_a_topic_message_lands_in_the_topic(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "咨询")).message_thread_id
    asked = forum.push_group_text(GROUP, ADVISOR, "需要材料吗", thread_id=thread)["message"]
    answer = await bot.send_message(
        GROUP, "要身份证", reply_parameters=ReplyParameters(asked["message_id"])
    )
    assert answer.message_thread_id == thread
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.message_id == asked["message_id"]
    # A replied-to message does not carry what it replied to.
    assert answer.reply_to_message.reply_to_message is None
    assert [p["text"] for p in forum.thread_messages(GROUP, thread)] == ["要身份证"]


# Copies ---------------------------------------------------------------------------------------


PUSHES: dict[str, Callable[[FakeBotApi], dict[str, Any]]] = {
    "text": lambda api: api.push_text(RESIDENT, "我想申请助餐"),
    "photo": lambda api: api.push_photo(RESIDENT, caption="门口的台阶"),
    "voice": lambda api: api.push_voice(RESIDENT),
    "document": lambda api: api.push_document(RESIDENT, caption="病历"),
    "contact": lambda api: api.push_contact(RESIDENT, "+8613800000000"),
    "location": lambda api: api.push_location(RESIDENT, 31.03, 121.22),
}


@pytest.mark.parametrize("kind", PUSHES)
async def test_a_residents_message_is_copied_into_a_topic(
    forum: FakeBotApi, bot: Bot, kind: str
) -> None:
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    original = PUSHES[kind](forum)["message"]
    copy = await bot.copy_message(GROUP, RESIDENT, original["message_id"], message_thread_id=thread)
    copied = forum.messages[(GROUP, copy.message_id)]
    assert copied[kind] == original[kind]
    assert copied.get("caption") == original.get("caption")
    assert "forward_origin" not in copied
    assert copied["from"]["id"] == BOT_USER["id"]
    assert (copied["message_thread_id"], copied["is_topic_message"]) == (thread, True)
    [params] = forum.thread_messages(GROUP, thread)
    assert int(params["from_chat_id"]) == RESIDENT


async def test_an_advisors_answer_is_copied_back_with_a_new_caption_and_keyboard(
    forum: FakeBotApi, bot: Bot
) -> None:
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    photo = forum.push_photo(GROUP, caption="申请表", user_id=ADVISOR)["message"]
    text = forum.push_group_text(GROUP, ADVISOR, "按图填写即可", thread_id=thread)["message"]
    forum.push_text(RESIDENT, "好的")
    form = await bot.copy_message(
        RESIDENT,
        GROUP,
        photo["message_id"],
        caption="<b>养老顾问</b>：申请表",
        parse_mode=ParseMode.HTML,
        reply_markup=_keyboard("done"),
    )
    answer = await bot.copy_message(RESIDENT, GROUP, text["message_id"])
    first = forum.messages[(RESIDENT, form.message_id)]
    assert first["caption"] == "养老顾问：申请表"
    assert first["caption_entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert first["photo"] == photo["photo"]
    assert first["reply_markup"] == _keyboard("done").to_dict()
    second = forum.messages[(RESIDENT, answer.message_id)]
    assert second["text"] == "按图填写即可"
    assert "message_thread_id" not in second and "reply_to_message" not in second
    assert [int(p["message_id"]) for p in forum.messages_to(RESIDENT)] == [
        photo["message_id"],
        text["message_id"],
    ]


async def test_copying_what_is_not_there_or_to_who_blocked_the_bot_fails(
    forum: FakeBotApi, bot: Bot
) -> None:
    original = forum.push_text(RESIDENT, "你好")["message"]
    with pytest.raises(BadRequest, match=r"(?i)message to copy not found"):
        await bot.copy_message(GROUP, RESIDENT, original["message_id"] + 100)
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    with pytest.raises(BadRequest, match=r"(?i)can't be copied"):
        await bot.copy_message(RESIDENT, GROUP, thread)
    answer = forum.push_group_text(GROUP, ADVISOR, "可以申请", thread_id=thread)["message"]
    forum.block(RESIDENT)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.copy_message(RESIDENT, GROUP, answer["message_id"])
    await bot.close_forum_topic(GROUP, thread)
    with pytest.raises(BadRequest, match=r"(?i)TOPIC_CLOSED"):
        await bot.copy_message(GROUP, RESIDENT, original["message_id"], message_thread_id=thread)


# Members --------------------------------------------------------------------------------------


async def test_the_bot_administers_an_added_group(forum: FakeBotApi, bot: Bot) -> None:
    member = await bot.get_chat_member(GROUP, bot.id)
    assert isinstance(member, ChatMemberAdministrator)
    assert member.can_manage_topics is True
    assert member.user.id == bot.id == BOT_USER["id"] and member.user.is_bot


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        ("creator", ChatMemberOwner),
        ("administrator", ChatMemberAdministrator),
        ("member", ChatMemberMember),
        ("restricted", ChatMemberRestricted),
        ("left", ChatMemberLeft),
        ("kicked", ChatMemberBanned),
    ],
)
async def test_each_membership_comes_back_as_its_chat_member(
    forum: FakeBotApi, bot: Bot, status: str, kind: type[ChatMember]
) -> None:
    forum.set_member(GROUP, ADVISOR, status)
    member = await bot.get_chat_member(GROUP, ADVISOR)
    assert type(member) is kind
    assert member.user.id == ADVISOR and member.user.first_name


async def test_rights_are_set_and_strangers_have_left(forum: FakeBotApi, bot: Bot) -> None:
    forum.set_member(GROUP, ADVISOR, "restricted", can_send_messages=True)
    member = await bot.get_chat_member(GROUP, ADVISOR)
    assert isinstance(member, ChatMemberRestricted)
    assert (member.can_send_messages, member.can_send_photos) == (True, False)
    assert isinstance(await bot.get_chat_member(GROUP, OTHER_ADVISOR), ChatMemberLeft)
    forum.push_group_text(GROUP, OTHER_ADVISOR, "大家好")
    assert isinstance(await bot.get_chat_member(GROUP, OTHER_ADVISOR), ChatMemberMember)
    with pytest.raises(TypeError, match=r"(?i)can_fly"):
        forum.set_member(GROUP, ADVISOR, "member", can_fly=True)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat_member(GROUP - 5, ADVISOR)


# Edits ----------------------------------------------------------------------------------------


async def test_messages_in_a_topic_are_edited(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    sent = await bot.send_message(
        GROUP, "新咨询", message_thread_id=thread, reply_markup=_keyboard("claim")
    )
    edited = await bot.edit_message_text("新咨询（陈老师已接）", GROUP, sent.message_id)
    assert not isinstance(edited, bool)
    assert (edited.text, edited.message_thread_id, edited.reply_markup) == (
        "新咨询（陈老师已接）",
        thread,
        None,
    )
    again = await bot.edit_message_reply_markup(
        GROUP, sent.message_id, reply_markup=_keyboard("close")
    )
    assert not isinstance(again, bool)
    assert again.reply_markup == _keyboard("close")
    assert again.text == "新咨询（陈老师已接）"
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(GROUP, sent.message_id, reply_markup=_keyboard("close"))
    cleared = await bot.edit_message_reply_markup(GROUP, sent.message_id)
    assert not isinstance(cleared, bool) and cleared.reply_markup is None
    theirs = forum.push_group_text(GROUP, ADVISOR, "我来")["message"]
    with pytest.raises(BadRequest, match=r"(?i)message can't be edited"):
        await bot.edit_message_text("改", GROUP, theirs["message_id"])


# Files ----------------------------------------------------------------------------------------


async def test_photos_and_documents_are_sent_by_file_id_or_upload(
    fake_bot_api: FakeBotApi, bot: Bot
) -> None:
    pushed = fake_bot_api.push_photo(RESIDENT)["message"]["photo"]
    photo = await bot.send_photo(RESIDENT, pushed[-1]["file_id"], caption="收到")
    assert [size.file_id for size in photo.photo] == [size["file_id"] for size in pushed]
    assert photo.caption == "收到"
    document = await bot.send_document(
        RESIDENT, InputFile("助餐点名单".encode(), filename="名单.txt")
    )
    assert document.document is not None
    assert document.document.file_name == "名单.txt"
    assert document.document.file_size == len("助餐点名单".encode())
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(RESIDENT, "no-such-file")
    with pytest.raises(BadRequest, match=r"(?i)Document as Photo"):
        await bot.send_photo(RESIDENT, document.document.file_id)
    assert [p.get("caption") for p in fake_bot_api.messages_to(RESIDENT)] == ["收到", None]


# Pushed updates as PTB reads them --------------------------------------------------------------


async def test_pushed_media_and_contacts_parse(fake_bot_api: FakeBotApi, bot: Bot) -> None:
    photo = Update.de_json(fake_bot_api.push_photo(RESIDENT, caption="台阶"), bot).message
    assert photo is not None and photo.caption == "台阶"
    assert [size.width for size in photo.photo] == [90, 320, 1280]
    assert photo.chat.type == ChatType.PRIVATE

    document = Update.de_json(fake_bot_api.push_document(RESIDENT), bot).message
    assert document is not None and document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "材料.pdf",
        "application/pdf",
    )

    contact = Update.de_json(fake_bot_api.push_contact(RESIDENT, "+8613800000000"), bot).message
    assert contact is not None and contact.contact is not None
    assert contact.from_user is not None
    assert contact.contact.user_id == RESIDENT == contact.from_user.id
    assert (contact.contact.phone_number, contact.contact.first_name) == (
        "+8613800000000",
        "居民",
    )


async def test_pushed_group_messages_parse(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    first = Update.de_json(
        forum.push_group_text(GROUP, ADVISOR, "我来跟进", thread_id=thread), bot
    ).message
    assert first is not None
    assert (first.message_thread_id, first.is_topic_message) == (thread, True)
    assert first.reply_to_message is not None
    assert first.reply_to_message.forum_topic_created is not None
    assert first.chat.is_forum is True

    second = Update.de_json(
        forum.push_group_text(
            GROUP, OTHER_ADVISOR, "好", reply_to_message_id=first.message_id, first_name="陈老师"
        ),
        bot,
    ).message
    assert second is not None and second.reply_to_message is not None
    assert second.reply_to_message.message_id == first.message_id
    assert second.message_thread_id == thread
    assert first.from_user is not None and second.from_user is not None
    assert first.from_user.id != second.from_user.id
    assert first.from_user.first_name != second.from_user.first_name == "陈老师"

    with pytest.raises(LookupError):
        forum.push_group_text(GROUP, ADVISOR, "你好", thread_id=999_999)


async def test_a_pushed_group_button_parses(forum: FakeBotApi, bot: Bot) -> None:
    thread = (await bot.create_forum_topic(GROUP, "张阿姨")).message_thread_id
    older = await bot.send_message(GROUP, "咨询一", reply_markup=_keyboard("claim:1"))
    newer = await bot.send_message(
        GROUP, "咨询二", message_thread_id=thread, reply_markup=_keyboard("claim:1")
    )
    query = Update.de_json(forum.push_group_button(GROUP, ADVISOR, "claim:1"), bot).callback_query
    assert query is not None and query.message is not None
    assert (query.from_user.id, query.data) == (ADVISOR, "claim:1")
    assert query.message.message_id == newer.message_id
    chosen = Update.de_json(
        forum.push_group_button(GROUP, ADVISOR, "claim:1", message_id=older.message_id), bot
    ).callback_query
    assert chosen is not None and chosen.message is not None
    assert chosen.message.message_id == older.message_id
    with pytest.raises(LookupError):
        forum.push_group_button(GROUP, ADVISOR, "no-such-button")
