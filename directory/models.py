"""Facility directory tables, aligned with Open Referral HSDS 3.0 (names and fields as HSDS
has them; ``dir_`` prefixes keep them apart from other tables).

Extensions beyond HSDS, kept to what residents need: a location's ``town`` (街镇), dated
closures of a location (holidays, repairs), and a ``source`` on every record so sample data is
never mistaken for the bureau's own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel

SAMPLE_SOURCE = "sample"


def utcnow() -> datetime:
    return datetime.now(UTC)


class DirOrganization(SQLModel, table=True):
    __tablename__ = "dir_organization"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    email: str | None = Field(default=None, max_length=200)
    website: str | None = Field(default=None, max_length=500)
    source: str = Field(max_length=100)


class DirService(SQLModel, table=True):
    __tablename__ = "dir_service"

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID = Field(foreign_key="dir_organization.id", index=True)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=Column(Text))
    status: str = Field(default="active", max_length=32)
    application_process: str | None = Field(default=None, sa_column=Column(Text))
    fees_description: str | None = Field(default=None, sa_column=Column(Text))
    eligibility_description: str | None = Field(default=None, sa_column=Column(Text))
    alert: str | None = Field(default=None, sa_column=Column(Text))
    source: str = Field(max_length=100)
    # Hash of the imported document: importing the same file again changes nothing.
    content_hash: str = Field(max_length=64)
    last_modified: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class DirLocation(SQLModel, table=True):
    __tablename__ = "dir_location"
    __table_args__ = (Index("ix_dir_location_town", "town"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID | None = Field(default=None, foreign_key="dir_organization.id")
    location_type: str = Field(default="physical", max_length=32)
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, sa_column=Column(Text))
    latitude: float | None = None
    longitude: float | None = None
    town: str | None = Field(default=None, max_length=32)


class DirAddress(SQLModel, table=True):
    __tablename__ = "dir_address"

    id: uuid.UUID = Field(primary_key=True)
    location_id: uuid.UUID = Field(foreign_key="dir_location.id", index=True)
    address_1: str = Field(max_length=300)
    address_2: str | None = Field(default=None, max_length=300)
    city: str = Field(default="上海市", max_length=100)
    region: str | None = Field(default="松江区", max_length=100)
    state_province: str = Field(default="上海市", max_length=100)
    postal_code: str = Field(default="201600", max_length=20)
    country: str = Field(default="CN", max_length=2)
    address_type: str = Field(default="physical", max_length=32)


class DirPhone(SQLModel, table=True):
    __tablename__ = "dir_phone"

    id: uuid.UUID = Field(primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="dir_service.id", index=True)
    location_id: uuid.UUID | None = Field(default=None, foreign_key="dir_location.id")
    number: str = Field(max_length=50)
    type: str | None = Field(default="voice", max_length=32)
    description: str | None = Field(default=None, max_length=300)


class DirServiceAtLocation(SQLModel, table=True):
    __tablename__ = "dir_service_at_location"

    id: uuid.UUID = Field(primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="dir_service.id", index=True)
    location_id: uuid.UUID = Field(foreign_key="dir_location.id", index=True)
    description: str | None = Field(default=None, sa_column=Column(Text))


class DirSchedule(SQLModel, table=True):
    """Weekly opening hours as HSDS has them: ``freq`` WEEKLY, ``byday`` MO,TU…,
    ``opens_at``/``closes_at`` local times, optional ``valid_from``/``valid_to``."""

    __tablename__ = "dir_schedule"

    id: uuid.UUID = Field(primary_key=True)
    service_id: uuid.UUID | None = Field(default=None, foreign_key="dir_service.id", index=True)
    location_id: uuid.UUID | None = Field(default=None, foreign_key="dir_location.id")
    freq: str = Field(default="WEEKLY", max_length=16)
    byday: str = Field(max_length=40)
    opens_at: str = Field(max_length=8)
    closes_at: str = Field(max_length=8)
    valid_from: date | None = None
    valid_to: date | None = None
    description: str | None = Field(default=None, max_length=300)
    # Open on China's adjusted working days (调休) though they fall on a weekend; closed on
    # public holidays though they fall on a weekday. Offices follow the state calendar.
    follows_state_calendar: bool = True


class DirClosure(SQLModel, table=True):
    """A dated closure of a location (repairs, a local holiday), beyond the weekly hours."""

    __tablename__ = "dir_closure"

    id: uuid.UUID = Field(primary_key=True)
    location_id: uuid.UUID = Field(foreign_key="dir_location.id", index=True)
    starts_on: date
    ends_on: date
    reason: str | None = Field(default=None, max_length=300)


class DirTaxonomy(SQLModel, table=True):
    __tablename__ = "dir_taxonomy"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=200)
    description: str = Field(sa_column=Column(Text, nullable=False))
    version: str | None = Field(default=None, max_length=32)


class DirTaxonomyTerm(SQLModel, table=True):
    __tablename__ = "dir_taxonomy_term"

    id: uuid.UUID = Field(primary_key=True)
    taxonomy_id: uuid.UUID = Field(foreign_key="dir_taxonomy.id")
    code: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=100)
    description: str = Field(sa_column=Column(Text, nullable=False))


class DirAttribute(SQLModel, table=True):
    """HSDS links a service to its taxonomy terms through attributes."""

    __tablename__ = "dir_attribute"

    id: uuid.UUID = Field(primary_key=True)
    link_id: uuid.UUID = Field(index=True)
    link_type: str = Field(default="service", max_length=32)
    link_entity: str = Field(default="service", max_length=32)
    taxonomy_term_id: uuid.UUID = Field(foreign_key="dir_taxonomy_term.id", index=True)
    value: str | None = Field(default=None, max_length=200)


class DirServiceArea(SQLModel, table=True):
    __tablename__ = "dir_service_area"

    id: uuid.UUID = Field(primary_key=True)
    service_id: uuid.UUID = Field(foreign_key="dir_service.id", index=True)
    name: str = Field(max_length=100)
    description: str | None = Field(default=None, max_length=300)
