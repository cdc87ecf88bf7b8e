"""The credits report and an agent's email quota (R-TEAM-4, R-EMAIL-3).

The quota's bounds are a pydantic constraint, so the OpenAPI schema states them and a refusal names the field and
its rule (`shape_violation`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from api.schemas.common import Public, Request, WholeNumber
from domain.credits import MAX_EMAIL_QUOTA, NEAR_LIMIT_PERCENT, CreditStatus, month_start


def _month(value: Any) -> datetime:
    start = month_start(value) if isinstance(value, str) else None
    if start is None:
        raise PydanticCustomError("month", "'{value}' is not a month written YYYY-MM (e.g. 2027-02)", {"value": value})
    return start


# A calendar month in UTC, read as its first instant.
ReportMonth = Annotated[datetime, PlainValidator(_month), WithJsonSchema(
    {"type": "string", "pattern": r"^[0-9]{4}-(0[1-9]|1[0-2])$", "examples": ["2027-02"]})]


class CreditsUpdate(Request):
    email_quota_monthly: WholeNumber = Field(ge=0, le=MAX_EMAIL_QUOTA,
                                     description="Emails the agent may send per calendar month (UTC); 0 stops their "
                                     "plan email. Read at every send, so a raised quota lets the next email go.")
    field_rules = {"email_quota_monthly": "R-TEAM-4"}


class CreditLine(Public):
    agent_id: str
    name: str
    role: str
    email_sends_this_month: int = Field(description="Plan emails sent from this agent's address in the month: what "
                                        "the quota counts (R-EMAIL-3)")
    email_quota_monthly: int
    email_remaining: int = Field(description="Emails the agent can still send this month; 0 when exhausted")
    email_used_percent: float = Field(description="Share of the quota used, one decimal; over 100 when the quota was "
                                      "lowered below the month's sends")
    email_status: CreditStatus = Field(description=f"ok; near_limit from {NEAR_LIMIT_PERCENT} % of the quota; "
                                       "exhausted: the next email is refused")
    texts_sent_this_month: int = Field(description="Texts sent from this agent's Twilio number in the month")


class CreditsReport(Public):
    month: str = Field(description="The calendar month counted, YYYY-MM, in UTC (the quota's month)")
    from_: datetime = Field(serialization_alias="from", description="Its first instant (UTC)")
    to: datetime = Field(description="The first instant of the next month (UTC), not included")
    near_limit_percent: int = NEAR_LIMIT_PERCENT
    agents: list[CreditLine]
