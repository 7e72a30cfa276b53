"""The shape of a knowledge-base entry as staff write it in ``knowledge/content/*.yaml``.

These pydantic models validate what is loaded from YAML (or the console) before it reaches the
database or the matcher. The rules of CONTENT.md that a machine can check live here and in
``knowledge.lint``.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

ENTRY_ID = r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$"
# Facility categories of the directory (codes shared with directory/), for "nearest place" buttons.
FACILITY_CATEGORIES = frozenset(
    {
        "meal_point",
        "day_care",
        "care_home",
        "elderly_service_centre",
        "eldercare_institution",
        "rental_point",
        "community_service_centre",
        "marriage_registry",
        "funeral_parlour",
        "rescue_station",
        "welfare_institute",
        "charity_shop",
        "good_neighbour_centre",
    }
)
# Areas an entry belongs to; also the reminder and browsing groups.
CATEGORIES = frozenset(
    {"社会救助", "养老", "婚姻", "康复辅具", "殡葬", "儿童", "残疾", "社区", "社会组织"}
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class EntryIn(BaseModel):
    """One entry as written in YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=ENTRY_ID)]
    title: Text
    category: Text
    questions: Annotated[list[Text], Field(min_length=5)]
    keywords: list[Text] = Field(default_factory=list)
    answer: Text
    eligibility: Text | None = None
    materials: Text | None = None
    steps: list[Text] = Field(default_factory=list)
    where: Text | None = None
    fees: Text | None = None
    contacts: Text | None = None
    related: list[Text] = Field(default_factory=list)
    topics: list[Text] = Field(default_factory=list)
    facility_category: Text | None = None
    source: Text
    reviewed: date
    review_by: date
    effective_from: date | None = None
    effective_to: date | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"must be one of {', '.join(sorted(CATEGORIES))}")
        return value

    @field_validator("facility_category")
    @classmethod
    def _known_facility(cls, value: str | None) -> str | None:
        if value is not None and value not in FACILITY_CATEGORIES:
            raise ValueError(f"must be one of {', '.join(sorted(FACILITY_CATEGORIES))}")
        return value

    @field_validator("steps")
    @classmethod
    def _at_most_five_steps(cls, value: list[str]) -> list[str]:
        if len(value) > 5:
            raise ValueError("at most five steps")
        return value


class SynonymIn(BaseModel):
    """Words residents use (``variants``) for the word the content uses (``canonical``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    canonical: Text
    variants: Annotated[list[Text], Field(min_length=1)]


class CueIn(BaseModel):
    """The signs of a need (``need``): situations residents describe without naming the
    service (记性越来越差, 把儿女名字叫错), and the entries that answer it, the likeliest first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    need: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
    entries: Annotated[
        list[Annotated[str, StringConstraints(pattern=ENTRY_ID)]], Field(min_length=1)
    ]
    signs: Annotated[
        list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=40)]],
        Field(min_length=1),
    ]


class OutOfScopeIn(BaseModel):
    """A matter outside civil affairs: recognised so it is never stretched onto an entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(pattern=ENTRY_ID)]
    title: Text
    questions: Annotated[list[Text], Field(min_length=3)]
    keywords: list[Text] = Field(default_factory=list)
    advice: Text


def han_count(text: str) -> int:
    """How many 汉字 a text has (CONTENT.md limits the main answer to 300)."""
    return len(re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]", text))
