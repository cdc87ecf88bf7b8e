"""Plan bodies. The document itself is `domain.plan`'s (steps, repeat): the API adds only what a person needs
around it — the day numbers shown beside each day, the plan's state and its removal rules — so what a client
reads from `GET /plans/{id}` can be sent back to `PUT` after picking `name`, `team_plan`, `days` and `repeat`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, Strict, field_validator

from api.schemas.common import Flag, Instant, Public, Request, TimeZoneName, WholeNumber
from db.models import Plan
from domain.json_types import AS_WHOLE
from domain.limits import MAX_NAME
from domain.plan import DELAY_DAYS_LIMITS, MAX_DAYS, STEPS_LIMITS, Day, PlanDefinition, Repeat, Step
from domain.plan_import import ImportedItem
from domain.validation import Violation, shape_violation

MAX_PREVIEW_PASSES = 10
# A plan as the API takes it: the OpenAPI document's example of a valid body.
EXAMPLE_PLAN: dict[str, Any] = {
    "name": "New buyer lead",
    "days": [
        {"delay_days": 0, "steps": [
            {"kind": "text", "time_of_day": "morning", "message_type": "static",
             "messages": ["Hi {contact.first.name}, it's {agent.first.name}. When suits you for a call?"]},
            {"kind": "call", "time_of_day": "afternoon", "name": "Call {contact.first.name}", "priority": "high",
             "due_in_days": 0}]},
        {"delay_days": 2, "steps": [
            {"kind": "email", "time_of_day": "morning", "mode": "simple", "subject": "Homes you might like",
             "body": "Hi {contact.first.name},\n\nHere are this week's new listings."}]},
    ],
    "repeat": {"times": 2, "delay_days": 30},
}


class DayIn(Request):
    model_config = ConfigDict(json_schema_extra={"required": ["steps"]})  # R-PLAN-3: a day holds at least one step

    day: WholeNumber | None = Field(default=None, json_schema_extra={"minimum": 1},
                                    description="Read-only, derived from the delays (R-PLAN-2): may be sent back as "
                                    "read, but a different number is refused — change `delay_days` instead")
    delay_days: WholeNumber = Field(default=0, json_schema_extra=DELAY_DAYS_LIMITS,
                                    description="Whole days after the previous day (day 1: after enrollment); a later "
                                    "day comes at least 1 day after the one before, the last at most 365 days after "
                                    "day 1")
    steps: list[Step] = Field(default_factory=list, json_schema_extra=STEPS_LIMITS)


class _PlanBody(Request):
    """A plan document. Its limits are stated here and checked, all at once and each naming its rule, by
    `domain.validation` (a `422` lists every one broken)."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_PLAN]})

    name: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_NAME})
    # Required, as in API.md: a PUT without it would save a plan with no steps, and end every enrollment in it.
    # A draft sends `[]`.
    days: list[DayIn] = Field(json_schema_extra={"maxItems": MAX_DAYS})
    repeat: Repeat | None = None

    @classmethod
    def shape_violation(cls, path: tuple[str | int, ...], message: str) -> Violation | None:
        return shape_violation(path, message)

    @field_validator("days")
    @classmethod
    def _day_numbers_follow_delays(cls, days: list[DayIn]) -> list[DayIn]:
        derived = PlanDefinition(name="", days=[Day(delay_days=d.delay_days) for d in days]).day_numbers()
        for i, (day, number) in enumerate(zip(days, derived, strict=True)):
            if day.day is not None and day.day != number:
                raise ValueError(f"days[{i}].day is {day.day} but its delays make it day {number}; day numbers "
                                 "follow from delay_days")
        return days

    def definition(self, team_plan: bool) -> PlanDefinition:
        return PlanDefinition(name=self.name, team_plan=team_plan, repeat=self.repeat,
                              days=[Day(delay_days=d.delay_days, steps=d.steps) for d in self.days])


class PlanCreate(_PlanBody):
    """A new plan. `team_plan: true` makes it the team's (R-TEAM-1: Rainmaker or enhanced/unlimited members)."""

    team_plan: Flag = False


class RemovalRulesAsRead(Request):
    on_email_reply: Flag
    on_text_reply: Flag


_READ_ONLY = "Read-only, as GET /plans/{id} answers it: may be sent back as read, but a different value is refused"


class PlanUpdate(_PlanBody):
    """The whole document again; steps sent back with their ids stay the same steps for enrolled contacts
    (R-PLAN-9), steps without an id are new. `team_plan`, if sent, must match the plan: a plan never changes
    owner (duplicate it instead). What `GET /plans/{id}` answers may be sent back whole: its other fields are
    read-only (a different value is refused, naming the endpoint that changes it), and `version`, if sent, must be
    the plan's current one, so an edit made on a stale read does not overwrite someone else's (409). A document
    equal to the current one saves no new version."""

    team_plan: Flag | None = None
    id: str | None = Field(default=None, description=_READ_ONLY)
    owner_agent_id: str | None = Field(default=None, description=_READ_ONLY)
    active: Flag | None = Field(default=None, description=_READ_ONLY + " (POST /plans/{id}/activate, /deactivate)")
    removal_rules: RemovalRulesAsRead | None = Field(default=None, description=_READ_ONLY +
                                                     " (PUT /plans/{id}/removal-rules)")
    version: WholeNumber | None = Field(default=None, json_schema_extra={"minimum": 1},
                                        description="The version you read; if the plan has changed since, 409")
    created_at: datetime | None = Field(default=None, description="Read-only; ignored")
    updated_at: datetime | None = Field(default=None, description="Read-only; ignored")


# The same plan in the older builder's shape (R-PLAN-6), for `POST /plans/import`.
EXAMPLE_IMPORT: dict[str, Any] = {
    "name": "Sphere check-in",
    "steps": [
        {"kind": "text", "time_of_day": "morning", "messages": ["Hi {contact.first.name}, how is the new home?"]},
        {"kind": "set_delay", "days": 3},
        {"kind": "call", "time_of_day": "afternoon", "name": "Call {contact.first.name}", "priority": "medium",
         "due_in_days": 1},
        {"kind": "set_delay", "days": 30},
        {"kind": "restart_flow", "times": "unlimited"},
    ],
}


class PlanImport(Request):
    """A plan as the older builder wrote it: one list of steps, "Set Delay" (`set_delay`, 1-365 days) before the
    steps of each later day, and "Restart Flow" (`restart_flow`, 1-6 times or `unlimited`; the delay before it is
    the repeat's) last. Saved as an ordinary plan (days and repeat); a refusal names the place in this list."""

    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE_IMPORT]})

    name: str = Field(json_schema_extra={"minLength": 1, "maxLength": MAX_NAME})
    team_plan: Flag = False
    steps: list[ImportedItem] = Field(json_schema_extra={"minItems": 1})

    @classmethod
    def shape_violation(cls, path: tuple[str | int, ...], message: str) -> Violation | None:
        if len(path) < 2 or path[0] != "steps" or not isinstance(path[1], int):
            return shape_violation(path, message)
        where = f"steps[{path[1]}]"
        if path[2:3] == ("set_delay",):
            return Violation(where + "".join(f".{p}" for p in path[3:4]), "R-PLAN-2", message)
        if path[2:3] == ("restart_flow",):
            return Violation(where + "".join(f".{p}" for p in path[3:4]), "R-PLAN-7", message)
        found = shape_violation(("days", 0, "steps", 0, *path[2:]), message)
        if found is None:
            return None
        return Violation(where + found.field.removeprefix("days[0].steps[0]"), found.rule, found.message)


class RemovalRules(Public):
    on_email_reply: bool
    on_text_reply: bool


class DayPublic(Public):
    day: int = Field(description="The day number users see, derived from the delays (R-PLAN-2)")
    delay_days: int
    steps: list[Step]

    @classmethod
    def all_of(cls, definition: PlanDefinition) -> list[DayPublic]:
        return [cls(day=number, delay_days=day.delay_days, steps=list(day.steps))
                for number, day in zip(definition.day_numbers(), definition.days, strict=True)]


class PlanPublic(Public):
    id: str
    name: str
    team_plan: bool
    owner_agent_id: str | None
    active: bool
    version: int
    days: list[DayPublic]
    repeat: Repeat | None
    removal_rules: RemovalRules
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, plan: Plan, definition: PlanDefinition) -> PlanPublic:
        return cls(id=plan.id, name=plan.name, team_plan=plan.team_plan, owner_agent_id=plan.owner_agent_id,
                   active=plan.active, version=plan.current_version, days=DayPublic.all_of(definition),
                   repeat=definition.repeat,
                   removal_rules=RemovalRules(on_email_reply=plan.on_email_reply, on_text_reply=plan.on_text_reply),
                   created_at=plan.created_at, updated_at=plan.updated_at)


class PlanSummary(Public):
    id: str
    name: str
    team_plan: bool
    owner_agent_id: str | None
    active: bool
    current_version: int
    step_count: int
    active_enrollments: int


class PreviewRequest(Request):
    field_rules = {"start_at": "R-PLAN-2", "passes": "R-PLAN-7", "contact_time_zone": "R-TXT-3"}

    start_at: Instant = Field(description="The enrollment instant to preview from (with its offset)")
    passes: Annotated[int, Strict(), Field(ge=1, le=MAX_PREVIEW_PASSES), AS_WHOLE] | None = Field(
        default=None, description="How many passes through the plan to show, the first included (at most "
        f"{MAX_PREVIEW_PASSES}); default: every pass of a plan repeating 1–6 times, one of a plan repeating without "
        "end")
    contact_time_zone: TimeZoneName | None = Field(default=None, description="For texts' quiet hours (R-TXT-3); "
                                                   "default: the contact's, when `contact_id` is given")
    contact_id: str | None = Field(default=None, description="Preview for this contact: their time zone and the "
                                   "texts' spread (R-TXT-3) exactly as their enrollment would run")


class PreviewStep(Public):
    repeat: int = Field(description="0 for the first pass through the days, n for the n-th repeat")
    day: int
    step_id: str
    kind: str
    label: str = Field(description="What the step does, rendered for the contact when `contact_id` is given")
    fire_at: datetime = Field(description="In the account time zone")
    outcome: Literal["runs", "skipped", "fails"] = Field(
        default="runs", description="`skipped` or `fails` when the step would not run, with the reason")
    reason: str | None = Field(default=None, examples=["Text not sent: 10:00–19:00 US Central and 08:00–21:00 in "
                                                       "Asia/Kolkata (the contact's time zone) do not overlap within "
                                                       "the next 7 days"])
