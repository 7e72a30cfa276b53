"""The district's towns (街镇) and the directory's facility categories, with the words residents
use for them. Pure data and lookups: no database, no HTTP."""

from __future__ import annotations

import math
import re
import unicodedata
import uuid
from dataclasses import dataclass
from functools import cache
from typing import Any

# A fixed namespace: the same category or town always gets the same UUID (HSDS wants UUIDs).
NAMESPACE = uuid.UUID("5f0c9a6e-6a37-4a7e-9f3b-7d1b2c8e4a10")


def stable_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, "/".join(parts))


@dataclass(frozen=True)
class Town:
    name: str  # 岳阳街道, 九亭镇
    short: str  # 岳阳, 九亭
    pinyin: str  # yueyang, jiuting
    latitude: float  # approximate centre, for sample data and "nearest" without a location
    longitude: float


# Approximate centres (WGS-84), good to a kilometre or two: enough to place sample facilities
# and to sort by distance from a town named instead of a location shared.
TOWNS: tuple[Town, ...] = (
    Town("岳阳街道", "岳阳", "yueyang", 31.0135, 121.2330),
    Town("永丰街道", "永丰", "yongfeng", 31.0040, 121.2030),
    Town("方松街道", "方松", "fangsong", 31.0320, 121.2260),
    Town("中山街道", "中山", "zhongshan", 31.0000, 121.2480),
    Town("广富林街道", "广富林", "guangfulin", 31.0610, 121.2050),
    Town("九里亭街道", "九里亭", "jiuliting", 31.1150, 121.3320),
    Town("泗泾镇", "泗泾", "sijing", 31.1220, 121.2650),
    Town("佘山镇", "佘山", "sheshan", 31.0960, 121.1900),
    Town("车墩镇", "车墩", "chedun", 30.9950, 121.3150),
    Town("新桥镇", "新桥", "xinqiao", 31.0600, 121.3200),
    Town("洞泾镇", "洞泾", "dongjing", 31.0850, 121.2520),
    Town("九亭镇", "九亭", "jiuting", 31.1330, 121.3000),
    Town("泖港镇", "泖港", "maogang", 30.9500, 121.1700),
    Town("石湖荡镇", "石湖荡", "shihudang", 30.9650, 121.1350),
    Town("新浜镇", "新浜", "xinbang", 30.9350, 121.0900),
    Town("叶榭镇", "叶榭", "yexie", 30.9350, 121.2450),
    Town("小昆山镇", "小昆山", "xiaokunshan", 31.0300, 121.1400),
)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    description: str
    aliases: tuple[str, ...]  # words residents use, including old names


CATEGORIES: tuple[Category, ...] = (
    Category(
        "meal_point",
        "老年助餐点",
        "为老年人提供午餐等膳食的社区助餐服务点",
        ("助餐点", "老年食堂", "社区食堂", "长者食堂", "老人食堂", "老年饭堂", "助餐", "吃饭"),
    ),
    Category(
        "day_care",
        "日间照料中心",
        "白天照料老年人、晚上回家的社区托养服务",
        ("托老所", "日托", "老年日托", "日间照料", "日托所"),
    ),
    Category(
        "care_home",
        "长者照护之家",
        "社区嵌入式小型养老机构，提供短期或长期照护",
        ("照护之家", "长者之家"),
    ),
    Category(
        "elderly_service_centre",
        "综合为老服务中心",
        "街镇社区综合为老服务的枢纽",
        ("为老服务中心", "综合为老", "养老服务中心"),
    ),
    Category(
        "eldercare_institution",
        "养老机构",
        "养老院、敬老院等提供集中住养服务的机构",
        ("养老院", "敬老院", "老人院", "福利院养老"),
    ),
    Category(
        "rental_point",
        "康复辅具社区租赁点",
        "出租轮椅、助行器、护理床等康复辅助器具",
        ("租赁点", "辅具租赁", "康复辅具", "轮椅租赁", "租轮椅", "护理床"),
    ),
    Category(
        "community_service_centre",
        "社区事务受理服务中心",
        "街镇办理民生事项的窗口",
        ("受理中心", "社区事务受理中心", "办事大厅", "社区受理中心"),
    ),
    Category(
        "marriage_registry",
        "婚姻登记处",
        "办理结婚、离婚登记和补领证件",
        ("婚姻登记", "结婚登记", "领证", "民政局婚姻登记"),
    ),
    Category("funeral_parlour", "殡仪馆", "遗体接运、告别、火化等殡葬服务", ("火葬场", "殡葬")),
    Category(
        "rescue_station",
        "救助管理站",
        "为生活无着的流浪乞讨人员提供临时救助",
        ("救助站", "流浪救助"),
    ),
    Category("welfare_institute", "社会福利院", "收养孤老、孤残儿童等的福利机构", ("福利院",)),
    Category(
        "charity_shop", "慈善超市", "接收捐赠物品、帮扶困难群众的慈善网点", ("爱心超市", "慈善商店")
    ),
    Category(
        "good_neighbour_centre",
        "好邻居社区服务中心",
        "街镇“好邻居”社区服务中心",
        ("好邻居", "社区服务中心", "好邻居服务中心"),
    ),
)

CATEGORY_BY_CODE = {c.code: c for c in CATEGORIES}
TOWN_BY_NAME = {t.name: t for t in TOWNS}
_DIGITS = str.maketrans("0123456789", "零一二三四五六七八九")


@cache
def _simplifier() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def _key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).strip().lower()
    text = str(_simplifier().convert(text))
    return re.sub(r"[\s·,，。、]+", "", text)


@cache
def _town_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for town in TOWNS:
        for variant in (town.name, town.short, town.pinyin):
            keys[_key(variant)] = town.name
        suffix = "jiedao" if town.name.endswith("街道") else "zhen"
        keys[town.pinyin + suffix] = town.name
    return keys


def find_town(text: str) -> Town | None:
    """九亭, 九亭镇, 9亭, jiuting, Jiuting Zhen → 九亭镇; None when no town is meant."""
    key = _key(text).translate(_DIGITS)
    name = _town_keys().get(key)
    if name is None and key:
        # A traditional-character or longer form: strip the suffix and try again.
        for suffix in ("街道", "镇", "jiedao", "zhen"):
            if key.endswith(suffix) and key != suffix:
                name = _town_keys().get(key[: -len(suffix)])
                if name:
                    break
    return TOWN_BY_NAME.get(name) if name else None


# A location farther than this from every town's centre is not in the district.
NEAREST_TOWN_MAX_KM = 12.0


def nearest_town(latitude: float, longitude: float) -> Town | None:
    """The town whose centre is nearest (a rough guess of the resident's town, for an advisor's
    case); None outside the district."""

    def km(town: Town) -> float:
        dy = (town.latitude - latitude) * 111.2
        dx = (town.longitude - longitude) * 111.2 * math.cos(math.radians(latitude))
        return math.hypot(dx, dy)

    best = min(TOWNS, key=km)
    return best if km(best) <= NEAREST_TOWN_MAX_KM else None


@cache
def _category_keys() -> dict[str, str]:
    keys: dict[str, str] = {}
    for category in CATEGORIES:
        for variant in (category.code, category.name, *category.aliases):
            keys[_key(variant)] = category.code
    return keys


def find_category(text: str) -> Category | None:
    """A code (meal_point), the Chinese name (老年助餐点) or a resident's word (老年食堂)."""
    code = _category_keys().get(_key(text))
    return CATEGORY_BY_CODE.get(code) if code else None


TAXONOMY_ID = stable_id("taxonomy", "minzheng-categories")
