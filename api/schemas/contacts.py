"""Contacts, their tags, timeline and enrollments."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import EmailStr, Field, field_validator

from api.schemas.common import Flag, PhoneNumber, Public, Request, TimeZoneName, no_null
from api.schemas.triggers import TagPublic


class _ContactBody(Request):
    field_rules = {"do_not_call": "R-TXT-4", "time_zone": "R-TXT-3", "assignee_id": "team_agent"}


def _only_true(schema: dict[str, Any]) -> None:
    no_null(schema)
    schema["const"] = True


class ContactCreate(_ContactBody):
    first_name: str = Field(min_length=1, max_length=100, examples=["Dana"])
    last_name: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = None
    phone: PhoneNumber | None = Field(default=None, description="E.164, e.g. +15125550199")
    time_zone: TimeZoneName | None = Field(default=None, description="IANA zone; enables the contact's quiet hours")
    assignee_id: str | None = Field(default=None, description="An agent of your team")
    do_not_call: Flag = False


class ContactUpdate(_ContactBody):
    """Only the fields sent change; `null` clears an optional field."""

    field_rules = {**_ContactBody.field_rules, "opted_out": "R-TXT-4"}

    first_name: str | None = Field(default=None, min_length=1, max_length=100, json_schema_extra=no_null)
    last_name: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = None
    phone: PhoneNumber | None = Field(default=None, description="E.164, e.g. +15125550199")
    time_zone: TimeZoneName | None = None
    assignee_id: str | None = None
    do_not_call: Flag | None = Field(default=None, json_schema_extra=no_null)
    opted_out: Flag | None = Field(default=None, json_schema_extra=_only_true,
                                   description="Only `true`: an agent may opt a contact out of texts by hand; only "
                                   "the contact opts back in, by texting START (R-TXT-4)")

    @field_validator("first_name", "do_not_call", "opted_out")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for values actually sent: leaving the field out is fine, sending null is not.
        if value is None:
            raise ValueError("may not be null")
        return value


class ContactPublic(Public):
    id: str
    team_id: str
    owner_agent_id: str | None
    assignee_id: str | None
    first_name: str
    last_name: str | None
    email: str | None
    phone: str | None
    time_zone: str | None
    do_not_call: bool
    opted_out: bool
    unsubscribed: bool
    created_at: datetime
    tags: list[TagPublic] = Field(default_factory=list)


class ContactTagAdd(Request):
    field_rules = {"tag_id": "team_tag"}
    tag_id: str = Field(min_length=1, max_length=40, description="A tag of your team (422 otherwise)")


class TriggeredEnrollment(Public):
    plan_id: str
    enrollment_id: str | None = Field(description="None when the contact was not enrolled")
    outcome: str = Field(description="'enrolled', or why not (e.g. 'already_enrolled')")
    detail: str


class ContactTagged(Public):
    """The contact after tagging, and what the tag's triggers did (R-RULE-1: only a newly added tag enrolls)."""

    contact: ContactPublic
    added: bool = Field(description="False when the contact already had the tag: nothing else happened")
    enrollments: list[TriggeredEnrollment]


class TimelineEventPublic(Public):
    id: str
    at: datetime
    kind: str
    plan_id: str | None
    step_id: str | None
    enrollment_id: str | None
    detail: str


class ContactEnrollment(Public):
    id: str
    plan_id: str
    plan_version: int
    status: str
    source: str
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
