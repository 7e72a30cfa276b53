from __future__ import annotations

from knowledge.normalize import MAX_INPUT_CHARS, chinese_number, clean, normalize


def test_full_width_becomes_half_width_and_lower_case() -> None:
    assert normalize("ＡＢＣ１２３　低保") == "abc123 低保"


def test_traditional_becomes_simplified() -> None:
    assert normalize("結婚證遺失") == "结婚证遗失"
    assert normalize("養老院") == "养老院"


def test_punctuation_and_emoji_become_spaces() -> None:
    assert normalize("低保？？！怎么办理。。。😀😀") == "低保 怎么办理"


def test_filler_words_are_removed() -> None:
    assert normalize("请问一下，低保怎么申请呀？谢谢") == "低保怎么申请"
    assert normalize("你好，我想问问助餐点在哪里呢") == "助餐点在哪里"


def test_chinese_numerals_before_a_unit_become_digits() -> None:
    assert normalize("八十岁老人") == "80岁老人"
    assert normalize("三十天冷静期") == "30天冷静期"
    assert normalize("一百二十个工作日") == "120个工作日"
    # Not before a unit: left alone (九亭 is a town, 一网通办 a name).
    assert normalize("九亭镇一网通办") == "九亭镇一网通办"


def test_chinese_number_values() -> None:
    assert chinese_number("十") == 10
    assert chinese_number("二十二") == 22
    assert chinese_number("两千") == 2000
    assert chinese_number("三百零五") == 305
    assert chinese_number("abc") is None


def test_controls_lone_surrogates_and_zero_width_marks_are_dropped() -> None:
    # Zero-width marks and lone surrogates vanish; control characters separate like spaces.
    assert normalize("低\u200b保\ud800申请\x07") == "低保申请"
    assert normalize("低保\x00申请") == "低保 申请"


def test_html_and_sql_looking_text_is_just_text() -> None:
    assert normalize("<b>低保</b>'; DROP TABLE kb_entry;--") == "b 低保 b drop table kb entry"


def test_very_long_input_is_cut() -> None:
    assert len(clean("低保" * 100_000)) == MAX_INPUT_CHARS
    assert len(normalize("低保" * 100_000)) <= MAX_INPUT_CHARS


def test_empty_and_blank() -> None:
    assert normalize("") == ""
    assert normalize("   \n\t ") == ""
    assert normalize("？？？") == ""


def test_shanghainese_and_northern_words_become_mandarin() -> None:
    assert normalize("阿拉屋里老头子脚骨勿便当") == "我们家里老伴腿脚不方便"
    assert normalize("侬晓得伐？") == "你知道吗"
    assert normalize("啥物事") == "什么东西"
    assert normalize("咋办") == "怎么办"
    # 伐 ends a question; inside a word it stays, and so does 浪费.
    assert normalize("采伐树木 浪费") == "采伐树木 浪费"
    # 脱 after a verb is 掉, 拨 before a person is 被; 脱贫 and 拨打 stay.
    assert normalize("申请拨伊拉退脱了") == "申请被他们退掉了"
    assert normalize("脱贫 拨打37009999") == "脱贫 拨打37009999"
    assert normalize("近把点辣啥地方") == "附近在什么地方"


def test_dictation_stutters_and_fillers_go() -> None:
    assert normalize("嗯那个就是说低保低保怎么申请") == "那个 低保怎么申请"
    assert normalize("我我我想问") == "我想问"
    # Ordinary doubled words and numbers stay.
    assert normalize("看看妈妈37009999") == "看看妈妈37009999"


def test_a_long_story_keeps_its_question_at_the_end() -> None:
    story = "我家老伴" + "天天在家看电视" * 60 + "有没有地方管？"
    cut = normalize(story)
    assert len(cut) <= MAX_INPUT_CHARS
    assert cut.startswith("我家老伴") and cut.endswith("有没有地方管")
