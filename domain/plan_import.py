"""Plans written in the older plan builder's shape (R-PLAN-6): one list of steps in which "Set Delay" starts the next
day after its days, and "Restart Flow", last, is the plan's repeat (its delay is the "Set Delay" before it). Teams
moving from that builder paste what they have; the plan saved is an ordinary one (days and repeat), so everything
else — validation, preview, enrollments — knows nothing of the older shape.

Every refusal names the place in the list the person wrote (`steps[4].days`), not the days it became: `Imported`
keeps where each part of the plan came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from domain import limits
from domain.json_types import WholeNumber
from domain.plan import AddToPlanStep, AnyStep, CallStep, Day, EmailStep, PlanDefinition, Repeat, TaskStep, TextStep
from domain.validation import Violation


class SetDelay(BaseModel):
    """The next steps run this many days after the ones before (a day's `delay_days`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["set_delay"] = "set_delay"
    # Up to 365 days between steps (R-PLAN-2); the last one before Restart Flow is the repeat's delay, up to 369.
    days: WholeNumber = Field(json_schema_extra={"minimum": 1, "maximum": limits.MAX_REPEAT_DELAY_DAYS})


class RestartFlow(BaseModel):
    """Run the plan again from its first day, `times` more times or without end (the plan's `repeat`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["restart_flow"] = "restart_flow"
    times: Annotated[WholeNumber, WithJsonSchema({"type": "integer", "minimum": 1,
                                                  "maximum": limits.MAX_REPEAT_TIMES})] | Literal["unlimited"] = 1


ImportedItem = Annotated[
    TaskStep | CallStep | EmailStep | TextStep | AddToPlanStep | SetDelay | RestartFlow,
    Field(discriminator="kind"),
]
ITEM_KINDS = ("set_delay", "restart_flow")


@dataclass(frozen=True)
class Imported:
    definition: PlanDefinition
    # Where each part of the definition came from: "days[1].steps[0]" -> "steps[3]", "repeat.times" -> "steps[6].times".
    places: dict[str, str] = field(default_factory=dict)

    def placed(self, violation: Violation) -> Violation:
        """The violation, its field named in the list the person wrote."""
        for key in sorted(self.places, key=len, reverse=True):
            rest = violation.field[len(key):]
            if violation.field.startswith(key) and rest[:1] in ("", ".", "["):
                return Violation(self.places[key] + rest, violation.rule, violation.message)
        return violation


def from_builder_list(name: str, team_plan: bool, items: Sequence[AnyStep | SetDelay | RestartFlow],
                      ) -> Imported | list[Violation]:
    """The plan the list describes, or what is wrong with the list's own shape (R-PLAN-6); the plan's rules are
    checked afterwards, like any plan's, and `Imported.placed` names their fields in the list."""
    problems: list[Violation] = []
    days: list[tuple[int, list[AnyStep]]] = []  # each day's delay and steps
    places: dict[str, str] = {}
    repeat: Repeat | None = None
    delay, delay_at = 0, None  # the delay waiting for the next step, and the item that began it
    for i, item in enumerate(items):
        if repeat is not None:
            problems.append(Violation(f"steps[{i}]", "R-PLAN-6", "nothing can follow Restart Flow: it starts the plan "
                                      "again, so it is the last step"))
        elif isinstance(item, SetDelay):
            if not 1 <= item.days <= limits.MAX_REPEAT_DELAY_DAYS:
                problems.append(Violation(f"steps[{i}].days", "R-PLAN-2", f"a delay is 1 to "
                                          f"{limits.MAX_PLAN_SPAN_DAYS} days between steps, or up to "
                                          f"{limits.MAX_REPEAT_DELAY_DAYS} right before Restart Flow (R-PLAN-7)"))
            delay, delay_at = delay + item.days, i if delay_at is None else delay_at
        elif isinstance(item, RestartFlow):
            repeat = Repeat(times=item.times, delay_days=delay)
            places.update({"repeat.times": f"steps[{i}].times", "repeat": f"steps[{i}]"})
            if delay_at is not None:
                places["repeat.delay_days"] = f"steps[{delay_at}].days"
            delay, delay_at = 0, None
        else:
            if not days or delay_at is not None:
                places[f"days[{len(days)}]"] = f"steps[{i if delay_at is None else delay_at}]"
                if delay_at is not None:
                    places[f"days[{len(days)}].delay_days"] = f"steps[{delay_at}].days"
                days.append((delay, []))
                delay, delay_at = 0, None
            places[f"days[{len(days) - 1}].steps[{len(days[-1][1])}]"] = f"steps[{i}]"
            days[-1][1].append(item)
    if delay_at is not None:
        problems.append(Violation(f"steps[{delay_at}]", "R-PLAN-6",
                                  "a delay comes before a step or Restart Flow; nothing follows this one"))
    if problems:
        return problems
    places["days"] = "steps"
    return Imported(PlanDefinition(name=name, team_plan=team_plan, repeat=repeat,
                                   days=[Day(delay_days=d, steps=steps) for d, steps in days]), places)
