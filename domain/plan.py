"""The plan document: days with delays, ordered steps of every kind, and the repeat.

These models carry *shape* only (types, enums, required fields) so that a malformed document fails fast.
The business limits (R-PLAN, R-TASK-1, R-MERGE-1 …) live in `domain.validation`, where each refusal can name
its rule; a `PlanDefinition` that passed `validate_plan` is what workflows run and previews show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

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


class _StepBase(_Model):
    # Stable across versions so an edited plan can be followed from the contact's next step (R-PLAN-9).
    id: str | None = Field(default=None, max_length=64)
    time_of_day: TimeOfDay = TimeOfDay.ANYTIME
    # Team plans only: overrides the team default sender/assignee for this step (R-TEAM-2).
    assignee: Designated | None = None


class _TaskFields(_Model):
    name: str = ""
    description: str | None = None
    link: str | None = None
    priority: Priority = Priority.NONE
    contact_task: bool = False
    due_in_days: int = 0
    due_time: str | None = None  # "HH:MM" in the account time zone; None means all day (23:59)


class TaskStep(_StepBase, _TaskFields):
    kind: Literal["task"] = "task"


class CallStep(_StepBase, _TaskFields):
    kind: Literal["call"] = "call"


class EmailStep(_StepBase):
    """A simple email (`subject` + `body`) or a design email (R-EMAIL-1).

    A design email owns its copy: `html` is the design as it was chosen and then edited in this plan, so changing
    or deleting the library design later changes no saved plan. `design_id` only records where the copy came from;
    a step saved before steps held copies has no `html` and is sent from the library design as it is now.
    """

    kind: Literal["email"] = "email"
    mode: Literal["simple", "design"] = "simple"
    subject: str = ""
    body: str | None = None
    design_id: str | None = None
    html: str | None = None


class TextStep(_StepBase, _TaskFields):
    """An automated SMS, or a *text task* reminding the agent to text (R-TXT-1).

    The task fields apply only in `task` mode; `message_type`/`messages` only in `automated` mode.
    """

    kind: Literal["text"] = "text"
    mode: Literal["automated", "task"] = "automated"
    message_type: Literal["static", "dynamic"] = "static"
    messages: list[str] = Field(default_factory=list)


class AddToPlanStep(_StepBase):
    kind: Literal["add_to_plan"] = "add_to_plan"
    target_plan_id: str = ""


Step = Annotated[
    TaskStep | CallStep | EmailStep | TextStep | AddToPlanStep,
    Field(discriminator="kind"),
]

TASK_LIKE = (TaskStep, CallStep)


class Day(_Model):
    # Whole calendar days after the previous day was reached; the first day's delay counts from enrollment.
    delay_days: int = 0
    steps: list[Step] = Field(default_factory=list)


class Repeat(_Model):
    times: int | Literal["unlimited"] = 1
    delay_days: int = 0

    @property
    def unlimited(self) -> bool:
        return self.times == "unlimited"


class PlanDefinition(_Model):
    """One saved version of a plan: what a contact goes through."""

    name: str
    team_plan: bool = False
    days: list[Day] = Field(default_factory=list)
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


def describe_step(step: AnyStep, values: Mapping[str, str] | None = None, repeat: int = 0) -> str:
    """A short human label, used in validation messages, timeline events and the Temporal UI.

    With `values` (a contact's merge values) the label is rendered for that contact (R-MERGE-1): a person never
    reads `{contact.first.name}`. Without them (validation messages about the plan itself) it shows the plan's text.
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
    return label


def text_for_repeat(step: TextStep, repeat: int) -> str:
    """R-TXT-2: a static text sends its one message every pass; a dynamic one sends message `repeat mod count`."""
    if not step.messages:
        return ""
    if step.message_type == "static":
        return step.messages[0]
    return step.messages[repeat % len(step.messages)]
