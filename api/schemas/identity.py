from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, EmailStr, Field, ValidationInfo, WithJsonSchema, field_validator
from pydantic_core import PydanticCustomError

from api.schemas.common import PhoneNumber, Public, Request, TimeZoneName, no_null
from domain.account_settings import is_hhmm
from domain.limits import HHMM

Designated = Literal["rainmaker", "contact_assignee"]
SlotName = Literal["early_morning", "morning", "afternoon", "evening"]


def _slot_time(value: str) -> str:
    if not is_hhmm(value):
        raise PydanticCustomError("slot_time", "'{value}' is not a time as HH:MM on the 24-hour clock (e.g. 09:30)",
                                  {"value": value})
    return value


SlotTime = Annotated[str, AfterValidator(_slot_time),
                     WithJsonSchema({"type": "string", "pattern": HHMM.pattern, "examples": ["09:30"]})]
# A slot set to null falls back to the layer below (the team's, then the built-in time).
SlotTimes = dict[SlotName, SlotTime | None]


class TeamCreate(Request):
    field_rules = {"time_zone": "R-PLAN-4", "postal_address": "R-EMAIL-4"}

    name: str = Field(min_length=1, max_length=200, examples=["Smith Team"])
    time_zone: TimeZoneName = "America/Chicago"
    postal_address: str | None = Field(
        default=None, min_length=1, max_length=500, examples=["1 Main St, Austin TX 78701"],
        description="The team's postal address, in every plan email of an agent without their own (R-EMAIL-4); "
                    "until the team or the agent has one, plan emails fail with the reason. Later: PATCH /settings")


class Created(Public):
    id: str


class AgentCreate(Request):
    field_rules = {"role": "R-TEAM-1", "permission": "R-TEAM-1", "email": "R-TEAM-3"}

    first_name: str = Field(min_length=1, max_length=100, examples=["Dana"])
    last_name: str = Field(min_length=1, max_length=100, examples=["Smith"])
    email: EmailStr = Field(examples=["dana@example.com"])
    phone: PhoneNumber | None = Field(default=None, description="E.164, e.g. +15125550199")
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
    time_zone: str = Field(description="Your account time zone: your own, else the team's")
    slot_times: dict[str, str] = Field(description="Your slot start times: your own over the team's over the "
                                       "defaults; what your personal plans run on")
    email_quota_monthly: int
    emails_sent_this_month: int
    postal_address: str | None
    twilio: TwilioSetup
    team_time_zone: str
    team_slot_times: dict[str, str] = Field(description="The team's slot start times over the defaults: what team "
                                            "plans run on")
    team_postal_address: str | None
    default_task_assignee: str
    default_email_sender: str
    default_text_sender: str
    warnings: list[str] = Field(description="What these settings keep from working, said before a plan runs into it: "
                                "with no postal address (yours or the team's) your plan emails fail (R-EMAIL-4)")


_DEFAULTS = ("default_task_assignee", "default_email_sender", "default_text_sender")
_ALWAYS_SET = {
    "team_time_zone": "the team always has a time zone; send an IANA zone such as America/Chicago",
    **dict.fromkeys(_DEFAULTS, "send 'rainmaker' or 'contact_assignee'"),
}
TEAM_SETTINGS = frozenset({"team_time_zone", "team_slot_times", "team_postal_address", *_DEFAULTS})
_SETTING_RULES = {
    "time_zone": "R-PLAN-4", "slot_times": "R-PLAN-4", "team_time_zone": "R-PLAN-4", "team_slot_times": "R-PLAN-4",
    **dict.fromkeys(_DEFAULTS, "R-TEAM-2"),
    "postal_address": "R-EMAIL-4", "team_postal_address": "R-EMAIL-4",
    "twilio_account_sid": "R-TXT-5", "twilio_auth_token": "R-TXT-5", "twilio_from_number": "R-TXT-5",
}


class SettingsUpdate(Request):
    """Your own account settings; the team fields need the Rainmaker or an enhanced/unlimited member (R-TEAM-1).

    Only the fields sent change. Slot times are merged into the stored ones (a slot set to null, or the whole map set
    to null, falls back to the layer below) and must then run early_morning < morning < afternoon < evening (R-PLAN-4).
    """

    field_rules = _SETTING_RULES
    nested_fields = ("slot_times", "team_slot_times")

    time_zone: TimeZoneName | None = Field(default=None, description="IANA zone; null: use the team's")
    slot_times: SlotTimes | None = None
    postal_address: str | None = Field(default=None, max_length=500)
    twilio_account_sid: str | None = Field(default=None, pattern=r"^AC[0-9a-fA-F]{32}$")
    twilio_auth_token: str | None = Field(default=None, min_length=8, max_length=128)
    twilio_from_number: PhoneNumber | None = Field(default=None, description="E.164, e.g. +15125550111")
    team_time_zone: TimeZoneName | None = Field(default=None, json_schema_extra=no_null)
    team_slot_times: SlotTimes | None = None
    team_postal_address: str | None = Field(default=None, max_length=500)
    default_task_assignee: Designated | None = Field(default=None, json_schema_extra=no_null)
    default_email_sender: Designated | None = Field(default=None, json_schema_extra=no_null)
    default_text_sender: Designated | None = Field(default=None, json_schema_extra=no_null)

    @field_validator("team_time_zone", "default_task_assignee", "default_email_sender", "default_text_sender")
    @classmethod
    def _not_null(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Runs only for values actually sent: these always have a value, so null is refused rather than stored.
        if value is None:
            raise PydanticCustomError("not_null", "may not be null: {why}", {"why": _ALWAYS_SET[info.field_name or ""]})
        return value


