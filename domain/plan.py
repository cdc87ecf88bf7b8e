"""The plan document: days with delays, ordered steps of every kind, and the repeat.

These models enforce *shape* only (types, enums, required fields) so that a malformed document fails fast.
The business limits (R-PLAN, R-TASK-1, R-MERGE-1 …) are enforced in `domain.validation`, where each refusal can name
its rule and all of them are reported at once; a `PlanDefinition` that passed `validate_plan` is what workflows run
and previews show. The limits a JSON schema can express (lengths, ranges, which fields a step's mode needs) are
*stated* here too, in the models' JSON schema only, so the OpenAPI document tells a client what a valid plan is.
A statement may be looser than the check (a merge field, the order of slots within a day, a span of days cannot be
said in JSON Schema) but never stricter: every document the checks accept, and so every plan the API answers with,
matches the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from domain import limits
from domain.json_types import Flag, WholeNumber
from domain.merge import render


class TimeOfDay(StrEnum):
    ANYTIME = "anytime"
    EARLY_MORNING = "early_morning"
    MORNING = "morning"
    AFTERNOON = "afternoon"
    EVENING = "evening"


# Order of the slots within a day; `anytime` has none (R-PLAN-5: it constrains nothing).
SLOT_ORDER: dict[TimeOfDay, int] = {
    TimeOfDay.EARLY_MORNING: 0,
    TimeOfDay.MORNING: 1,
    TimeOfDay.AFTERNOON: 2,
    TimeOfDay.EVENING: 3,
}

DEFAULT_SLOT_TIMES: dict[str, str] = {
    TimeOfDay.EARLY_MORNING: "07:00",
    TimeOfDay.MORNING: "10:00",
    TimeOfDay.AFTERNOON: "13:00",
    TimeOfDay.EVENING: "17:00",
}


class Priority(StrEnum):
    NONE = "none"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Designated(StrEnum):
    """Whose credits a team-plan step uses (R-TEAM-2)."""

    RAINMAKER = "rainmaker"
    CONTACT_ASSIGNEE = "contact_assignee"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# What `domain.validation` checks of a task's fields (R-TASK-1), stated in JSON Schema: a task, a call, a text task,
# and an automated text (R-TXT-5 makes a text task of it when its sender has no Twilio), whose name may be empty.
_TASK_FIELD_LIMITS: dict[str, Any] = {
    "properties": {
        "name": {"maxLength": limits.MAX_NAME},
        "description": {"anyOf": [{"type": "string", "maxLength": limits.MAX_DESCRIPTION}, {"type": "null"}]},
        "link": {"anyOf": [{"type": "string", "maxLength": limits.MAX_LINK}, {"type": "null"}],
                 "description": "An http:// or https:// address", "examples": ["https://example.com/listing"]},
        "due_in_days": {"minimum": 0, "maximum": limits.MAX_DUE_IN_DAYS},
        "due_time": {"anyOf": [{"type": "string", "pattern": limits.HHMM.pattern}, {"type": "null"}],
                     "description": "HH:MM in the account time zone; null: all day (23:59)", "examples": ["17:00"]},
    },
}
# A task's name is required; only an automated text's may be empty.
_TASK_LIMITS: dict[str, Any] = {"required": ["name"], "properties": {"name": {"minLength": 1}}}
# An automated text (R-TXT-2): one message when static, one or more when dynamic, none blank or over Twilio's limit.
_MESSAGES_LIMITS: dict[str, Any] = {
    "required": ["messages"],
    "properties": {"messages": {"minItems": 1, "items": {"minLength": 1, "maxLength": limits.MAX_TEXT_LENGTH}}},
    "if": {"properties": {"message_type": {"const": "dynamic"}}, "required": ["message_type"]},
    "else": {"properties": {"messages": {"maxItems": 1}}},
}
# R-EMAIL-1: a simple email is its subject and body; a design email names a library design or carries its own html.
_EMAIL_MODES: dict[str, Any] = {
    "if": {"properties": {"mode": {"const": "design"}}, "required": ["mode"]},
    "then": {"anyOf": [{"required": ["design_id"], "properties": {"design_id": {"type": "string", "minLength": 1}}},
                       {"required": ["html"], "properties": {"html": {"type": "string", "minLength": 1}}}]},
    "else": {"required": ["body"], "properties": {"body": {"type": "string", "minLength": 1},
                                                  "design_id": {"anyOf": [{"type": "null"}, {"const": ""}]},
                                                  "html": {"type": "null"}}},
}


def _stating(*statements: dict[str, Any], required: tuple[str, ...] = ()) -> ConfigDict:
    """A step model's config adding `statements` (JSON Schema, each applied with `allOf`) to its schema, and `required`
    to the fields it must be sent with: always its `kind`, which tells the steps apart."""

    def state(schema: dict[str, Any]) -> None:
        schema["required"] = sorted({*schema.get("required", []), "kind", *required})
        if statements:
            schema["allOf"] = [*schema.get("allOf", []), *statements]

    return ConfigDict(json_schema_extra=state)


class _StepBase(_Model):
    # Stable across versions so an edited plan can be followed from the contact's next step (R-PLAN-9).
    id: str | None = Field(default=None, max_length=limits.MAX_STEP_ID)
    time_of_day: TimeOfDay = TimeOfDay.ANYTIME
    # Team plans only: overrides the team default sender/assignee for this step (R-TEAM-2).
    assignee: Designated | None = None


class _TaskFields(_Model):
    name: str = ""
    description: str | None = None
    link: str | None = None
    priority: Priority = Priority.NONE
    contact_task: Flag = False
    due_in_days: WholeNumber = 0
    due_time: str | None = None  # "HH:MM" in the account time zone; None means all day (23:59)


class TaskStep(_StepBase, _TaskFields):
    model_config = _stating(_TASK_FIELD_LIMITS, _TASK_LIMITS)

    kind: Literal["task"] = "task"


class CallStep(_StepBase, _TaskFields):
    model_config = _stating(_TASK_FIELD_LIMITS, _TASK_LIMITS)

    kind: Literal["call"] = "call"


class EmailStep(_StepBase):
    """A simple email (`subject` + `body`) or a design email (R-EMAIL-1).

    A design email owns its copy: `html` is the design as it was chosen and then edited in this plan, so changing
    or deleting the library design later changes no saved plan. `design_id` only records where the copy came from;
    a step saved before steps held copies has no `html` and is sent from the library design as it is now.
    """

    model_config = _stating(_EMAIL_MODES, required=("subject",))

    kind: Literal["email"] = "email"
    mode: Literal["simple", "design"] = "simple"
    subject: str = Field(default="", json_schema_extra={"minLength": 1, "maxLength": limits.MAX_SUBJECT})
    body: str | None = None
    design_id: str | None = None
    html: str | None = Field(default=None, json_schema_extra={"maxLength": limits.MAX_HTML})


class TextStep(_StepBase, _TaskFields):
    """An automated SMS, or a *text task* reminding the agent to text (R-TXT-1).

    `message_type`/`messages` apply only in `automated` mode. The task fields make the text task in `task` mode, and
    in `automated` mode the text task R-TXT-5 creates instead when the sender has no Twilio (then `name` may be empty:
    the task is named "Text <contact>" and describes the message to send).
    """

    model_config = _stating(_TASK_FIELD_LIMITS, {
        "if": {"properties": {"mode": {"const": "task"}}, "required": ["mode"]},
        "then": _TASK_LIMITS, "else": _MESSAGES_LIMITS})

    kind: Literal["text"] = "text"
    mode: Literal["automated", "task"] = "automated"
    message_type: Literal["static", "dynamic"] = "static"
    messages: list[str] = Field(default_factory=list)


class AddToPlanStep(_StepBase):
    model_config = _stating()

    kind: Literal["add_to_plan"] = "add_to_plan"
    target_plan_id: str = Field(default="", json_schema_extra={"minLength": 1, "description": "A plan of yours (or, "
                                "in a team plan, of the team)"})


Step = Annotated[
    TaskStep | CallStep | EmailStep | TextStep | AddToPlanStep,
    Field(discriminator="kind"),
]

TASK_LIKE = (TaskStep, CallStep)


# R-PLAN-2: the first day comes 0 to 365 days after enrollment, a later one at least a day after the one before; the
# whole plan spans at most 365 days (R-PLAN-1), so no single delay is longer.
DELAY_DAYS_LIMITS: dict[str, Any] = {"minimum": 0, "maximum": limits.MAX_PLAN_SPAN_DAYS}
MAX_DAYS = limits.MAX_PLAN_SPAN_DAYS + 1  # a day each day, day 1 to day 366
STEPS_LIMITS: dict[str, Any] = {"minItems": 1}  # R-PLAN-3


class Day(_Model):
    # Whole calendar days after the previous day was reached; the first day's delay counts from enrollment.
    delay_days: WholeNumber = Field(default=0, json_schema_extra=DELAY_DAYS_LIMITS)
    steps: list[Step] = Field(default_factory=list, json_schema_extra=STEPS_LIMITS)


class Repeat(_Model):
    """R-PLAN-7: 1 to 6 more passes, or until the contact is removed; the next pass starts 0 to 369 days after the
    last day."""

    times: Annotated[WholeNumber, WithJsonSchema({"type": "integer", "minimum": 1,
                                                  "maximum": limits.MAX_REPEAT_TIMES})] | Literal["unlimited"] = 1
    delay_days: WholeNumber = Field(default=0, json_schema_extra={"minimum": 0,
                                                                  "maximum": limits.MAX_REPEAT_DELAY_DAYS})

    @property
    def unlimited(self) -> bool:
        return self.times == "unlimited"


class PlanDefinition(_Model):
    """One saved version of a plan: what a contact goes through."""

    name: str = Field(json_schema_extra={"minLength": 1, "maxLength": limits.MAX_NAME})
    team_plan: Flag = False
    days: list[Day] = Field(default_factory=list, json_schema_extra={"maxItems": MAX_DAYS})
    repeat: Repeat | None = None

    def total_passes(self) -> int | None:
        """How many times the days run in all (1 + repeats), or None when the plan repeats without end."""
        if self.repeat is None:
            return 1
        if self.repeat.times == "unlimited":
            return None
        return 1 + self.repeat.times

    def positions(self) -> Iterator[StepPosition]:
        return iter(self.layout.positions)

    def day_numbers(self) -> list[int]:
        """The day numbers users see (R-PLAN-2): derived from the delays, never stored."""
        return list(self.layout.day_numbers)

    @cached_property
    def layout(self) -> PlanLayout:
        """The flattened steps, their index by id and the delay sums, computed once per (frozen) plan: the schedule
        consults them at every step, and a preview of a 365-step plan would otherwise be quadratic."""
        positions = tuple(StepPosition(d, s, step)
                          for d, day in enumerate(self.days) for s, step in enumerate(day.steps))
        cumulative: list[int] = []
        total = 0
        for day in self.days:
            total += day.delay_days
            cumulative.append(total)
        first = self.days[0].delay_days if self.days else 0
        return PlanLayout(
            positions=positions,
            index_of={p.step.id: i for i, p in enumerate(positions) if p.step.id is not None},
            day_numbers=tuple(1 + c - first for c in cumulative),
            cumulative_delays=tuple(cumulative),
        )

    def step_ids(self) -> list[str]:
        return [position.step.id or "" for position in self.positions()]

    def map_steps(self, change: Callable[[AnyStep], AnyStep]) -> PlanDefinition:
        """The same plan with every step replaced by `change(step)`, days and order kept."""
        return self.model_copy(update={"days": [day.model_copy(update={"steps": [change(step) for step in day.steps]})
                                                for day in self.days]})

    def without_design_html(self) -> PlanDefinition:
        """The plan as an enrollment workflow carries it: design emails without their HTML.

        A design can be hundreds of KB and a plan may hold many: carried in the workflow it would sit in every run's
        history and every email activity's input (Temporal refuses payloads over 2 MB). The email activity reads
        the step's copy from the saved plan version instead.
        """
        return self.map_steps(lambda step: step.model_copy(update={"html": None})
                              if isinstance(step, EmailStep) and step.html is not None else step)


@dataclass(frozen=True)
class PlanLayout:
    positions: tuple[StepPosition, ...]
    index_of: dict[str, int]
    day_numbers: tuple[int, ...]
    cumulative_delays: tuple[int, ...]  # delays of days[0..i] summed

    def delays_between(self, after_day: int, through_day: int) -> int:
        """Sum of the delays of days after `after_day` up to and including `through_day` (-1: from the start)."""
        start = self.cumulative_delays[after_day] if after_day >= 0 else 0
        return self.cumulative_delays[through_day] - start if through_day >= 0 else 0


@dataclass(frozen=True)
class StepPosition:
    day_index: int
    step_index: int
    step: TaskStep | CallStep | EmailStep | TextStep | AddToPlanStep


AnyStep = TaskStep | CallStep | EmailStep | TextStep | AddToPlanStep


def describe_step(step: AnyStep, values: Mapping[str, str] | None = None, repeat: int = 0, *,
                  as_task: bool = False) -> str:
    """A short human label, used in validation messages, timeline events and the Temporal UI.

    With `values` (a contact's merge values) the label is rendered for that contact (R-MERGE-1): a person never
    reads `{contact.first.name}`. Without them (validation messages about the plan itself) it shows the plan's text.
    `as_task`: an automated text standing in as a text task (R-TXT-5), said so wherever the step is shown.
    """

    def shown(text: str) -> str:
        return render(text, values) if values is not None else text

    if isinstance(step, TaskStep | CallStep):
        label = f"{step.kind} '{shown(step.name)}'"
    elif isinstance(step, EmailStep):
        label = f"email '{shown(step.subject)}'"
    elif isinstance(step, TextStep):
        if step.mode == "task":
            label = f"text task '{shown(step.name)}'"
        else:
            first = shown(text_for_repeat(step, repeat))
            label = f"text '{first[:40]}{'…' if len(first) > 40 else ''}'"
    else:
        label = f"add to plan {step.target_plan_id}"
    return f"text task for {label}" if as_task else label


def text_for_repeat(step: TextStep, repeat: int) -> str:
    """R-TXT-2: a static text sends its one message every pass; a dynamic one sends message `repeat mod count`."""
    if not step.messages:
        return ""
    if step.message_type == "static":
        return step.messages[0]
    return step.messages[repeat % len(step.messages)]
