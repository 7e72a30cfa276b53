from __future__ import annotations

from knowledge.pinyin import fuzzy, readings, split_latin, split_latin_exact


def test_homophones_share_readings() -> None:
    assert readings("底")[0] == readings("低")[0]
    assert readings("助")[0] == readings("住")[0]
    assert readings("论")[0] == readings("轮")[0]
    assert readings("昏") == readings("婚")


def test_heteronyms_keep_every_reading() -> None:
    assert {"zang", "cang"} <= set(readings("长"))  # zhang / chang, made fuzzy


def test_fuzzy_merges_southern_sounds() -> None:
    assert fuzzy("zhu") == fuzzy("zu") == "zu"
    assert fuzzy("shen") == "sen"
    assert fuzzy("qing") == fuzzy("qin")
    assert fuzzy("lun") == fuzzy("nun")


def test_not_chinese_has_no_reading() -> None:
    assert readings("a") == ()
    assert readings("😀") == ()


def test_typed_pinyin_is_split_into_syllables() -> None:
    assert split_latin_exact("dibao") == ("di", "bao")
    assert split_latin_exact("zhucan") == ("zhu", "can")
    assert split_latin_exact("shenqing") == ("shen", "qing")
    assert split_latin_exact("xian") == ("xian",)  # the fewest syllables win
    assert split_latin("shenqing") == ("sen", "qin")


def test_english_words_are_not_pinyin() -> None:
    for word in ("minimum", "living", "allowance", "wheelchair", "hello", "funeral"):
        assert split_latin_exact(word) is None
