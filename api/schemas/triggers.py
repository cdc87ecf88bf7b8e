"""Tags, plan tag triggers (R-RULE-1..4) and removal rules (R-RULE-5)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from api.schemas.common import Flag, Public, Request

# Trimmed before the length check, so "  " is refused rather than stored as an invisible tag.
TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
                    Field(description="Unique within the team, whatever the case.")]


class TagCreate(Request):
    name: TagName


class TagUpdate(Request):
    """A rename: triggers point at the tag, not its name, so every plan keeps it (R-RULE-3)."""

    name: TagName


class TagPublic(Public):
    id: str
    name: str


class TagDetail(TagPublic):
    created_at: datetime
    contacts: int = Field(description="Contacts carrying the tag.")
    plan_ids: list[str] = Field(description="Plans that this tag triggers.")


class TriggersUpdate(Request):
    """The plan's whole trigger set; an empty list removes every trigger."""

    field_rules = {"tag_ids": "R-RULE-1"}

    tag_ids: list[str] = Field(description="At most 10 tags of your team (R-RULE-1).")


class TriggersPublic(Public):
    plan_id: str
    tag_ids: list[str]
    tags: list[TagPublic]


class RemovalRulesUpdate(Request):
    """R-RULE-5: end the enrollment when the contact replies to this plan's email / automated text."""

    field_rules = {"on_email_reply": "R-RULE-5", "on_text_reply": "R-RULE-5"}

    on_email_reply: Flag
    on_text_reply: Flag


class RemovalRulesPublic(Public):
    plan_id: str
    on_email_reply: bool
    on_text_reply: bool
