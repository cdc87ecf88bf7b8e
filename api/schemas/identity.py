from __future__ import annotations

from typing import Literal

from pydantic import EmailStr, Field

from api.schemas.common import Public, Request, TimeZoneName

Designated = Literal["rainmaker", "contact_assignee"]
SlotName = Literal["early_morning", "morning", "afternoon", "evening"]
HHMM = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")


class TeamCreate(Request):
    name: str = Field(min_length=1, max_length=200)
    time_zone: TimeZoneName = "America/Chicago"


class Created(Public):
    id: str


class AgentCreate(Request):
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    email: EmailStr
    phone: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    role: Literal["rainmaker", "member"] = "member"
    permission: Literal["basic", "enhanced", "unlimited"] = "basic"


class AgentCreated(Public):
    id: str
    api_key: str = Field(description="Shown once; store it now.")


class AgentPublic(Public):
    id: str
    team_id: str
    first_name: str
    last_name: str
    email: str
    phone: str | None
    role: str
    permission: str


class TeamPublic(Public):
    id: str
    name: str
    time_zone: str


class Me(Public):
    agent: AgentPublic
    team: TeamPublic


class TwilioSetup(Public):
    account_sid: str | None
    from_number: str | None
    configured: bool


class AccountSettings(Public):
    time_zone: str
    slot_times: dict[str, str]
    email_quota_monthly: int
    emails_sent_this_month: int
    postal_address: str | None
    twilio: TwilioSetup
    team_time_zone: str
    team_postal_address: str | None
    default_task_assignee: str
    default_email_sender: str
    default_text_sender: str


class SettingsUpdate(Request):
    """Your own account settings; the team fields need the Rainmaker or an enhanced/unlimited member (R-TEAM-1)."""

    time_zone: TimeZoneName | None = None
    slot_times: dict[SlotName, str] | None = None
    postal_address: str | None = Field(default=None, max_length=500)
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: str | None = Field(default=None, min_length=8, max_length=128)
    twilio_from_number: str | None = Field(default=None, pattern=r"^\+[1-9]\d{6,14}$")
    team_time_zone: TimeZoneName | None = None
    team_postal_address: str | None = Field(default=None, max_length=500)
    default_task_assignee: Designated | None = None
    default_email_sender: Designated | None = None
    default_text_sender: Designated | None = None
