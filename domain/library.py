"""The shared library's rules on plan documents (R-LIB): how many design emails a published plan may hold, which
plans it links to, what a published plan may still change, and the documents a publication and a copy hold.

Pure: `services.library` reads and writes the rows, the API decides who may do what.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.plan import (
    AddToPlanStep,
    AnyStep,
    CallStep,
    EmailStep,
    PlanDefinition,
    StepPosition,
    TaskStep,
    TextStep,
    describe_step,
)
from domain.validation import Violation

MAX_PUBLISHED_DESIGNS = 12  # R-LIB-2


def _where(position: StepPosition) -> str:
    return f"days[{position.day_index}].steps[{position.step_index}]"


def design_email_positions(plan: PlanDefinition) -> list[StepPosition]:
    return [p for p in plan.positions() if isinstance(p.step, EmailStep) and p.step.mode == "design"]


def design_email_count(plan: PlanDefinition) -> int:
    return len(design_email_positions(plan))


def linked_plan_ids(plan: PlanDefinition) -> list[str]:
    """The plans (or, in a library document, the entries) its add-to-plan steps add contacts to, once each, in order."""
    return list(dict.fromkeys(p.step.target_plan_id for p in plan.positions()
                              if isinstance(p.step, AddToPlanStep) and p.step.target_plan_id))


def design_limit_violation(plan: PlanDefinition) -> Violation | None:
    """R-LIB-2, named at the first design email over the limit."""
    designs = design_email_positions(plan)
    if len(designs) <= MAX_PUBLISHED_DESIGNS:
        return None
    return Violation(
        _where(designs[MAX_PUBLISHED_DESIGNS]), "R-LIB-2",
        f"plan '{plan.name}' has {len(designs)} design emails; a published plan holds at most "
        f"{MAX_PUBLISHED_DESIGNS}. Split it into two plans: move some of its steps into a second plan, end the first "
        "with an add-to-plan step that adds the contact to the second, and publish them together "
        "(include_linked: true)")


def uncopied_design_violations(plan: PlanDefinition) -> list[Violation]:
    """A design email to be published needs its own copy of the design: the library it came from is the author's."""
    return [Violation(f"{_where(p)}.html", "R-EMAIL-1", f"this design email has no copy of its design and design "
                      f"{p.step.design_id} no longer exists; give the step its html or choose another design")
            for p in design_email_positions(plan) if isinstance(p.step, EmailStep) and p.step.html is None]


def library_document(plan: PlanDefinition, entry_ids: Mapping[str, str]) -> PlanDefinition:
    """What the library keeps of a plan: its days, steps and repeat, not whose it is (`team_plan`) nor its step ids.
    Add-to-plan steps point at the linked plans' entries (`entry_ids`, by plan id); design emails keep their copy but
    not the author's design id. Triggers and removal rules are not part of the document (R-LIB-1)."""

    def published(step: AnyStep) -> AnyStep:
        update: dict[str, object] = {"id": None}
        if isinstance(step, AddToPlanStep):
            update["target_plan_id"] = entry_ids[step.target_plan_id]
        elif isinstance(step, EmailStep) and step.mode == "design":
            update["design_id"] = None
        return step.model_copy(update=update)

    return plan.map_steps(published).model_copy(update={"team_plan": False})


def copied_document(document: PlanDefinition, plan_ids: Mapping[str, str], *, team_plan: bool) -> PlanDefinition:
    """A library document as a new plan of the copier (R-LIB-5): add-to-plan steps point at the copies of the linked
    entries (`plan_ids`, by entry id); step assignees go when the copy is a personal plan, which has none (R-TEAM-2).
    """

    def copied(step: AnyStep) -> AnyStep:
        update: dict[str, object] = {"id": None}
        if isinstance(step, AddToPlanStep):
            update["target_plan_id"] = plan_ids[step.target_plan_id]
        if not team_plan:
            update["assignee"] = None
        return step.model_copy(update=update)

    return document.map_steps(copied).model_copy(update={"team_plan": team_plan})


def _editable_fields(step: AnyStep) -> frozenset[str]:
    """R-LIB-4: what a published plan's step may still change — the words of automated texts, task descriptions."""
    if isinstance(step, TextStep):
        return frozenset({"messages"} if step.mode == "automated" else {"description"})
    if isinstance(step, TaskStep | CallStep):
        return frozenset({"description"})
    return frozenset()


def published_edit_violations(old: PlanDefinition, new: PlanDefinition) -> list[Violation]:
    """R-LIB-4: every change from `old` to `new` a published plan may not make, each at its field, structural ones
    (added, deleted, moved steps, days) first. Steps are matched by id. Empty: only the name, automated texts'
    messages and task descriptions changed."""
    before = {p.step.id: p for p in old.positions()}
    after = {p.step.id: p for p in new.positions()}
    out = [Violation(_where(p), "R-LIB-4", f"a new step ({describe_step(p.step)}) would be added")
           for p in new.positions() if p.step.id is None or p.step.id not in before]
    out += [Violation(_where(p), "R-LIB-4", f"step {p.step_index + 1} of day {p.day_index + 1} "
                      f"({describe_step(p.step)}) would be deleted")
            for p in old.positions() if p.step.id not in after]
    if out:
        return out
    if len(old.days) != len(new.days):
        out.append(Violation("days", "R-LIB-4", f"the plan's {len(old.days)} days would become {len(new.days)}"))
    moved = set()
    for p in new.positions():
        was = before[p.step.id]
        if (was.day_index, was.step_index) != (p.day_index, p.step_index):
            moved.add(p.step.id)
            out.append(Violation(_where(p), "R-LIB-4", f"{describe_step(p.step)} would move here from "
                                 f"{_where(was)}: steps cannot be reordered"))
    for d, (was_day, day) in enumerate(zip(old.days, new.days, strict=False)):
        if was_day.delay_days != day.delay_days:
            out.append(Violation(f"days[{d}].delay_days", "R-LIB-4",
                                 f"the delay would change from {was_day.delay_days} to {day.delay_days} days"))
    if old.repeat != new.repeat:
        out.append(Violation("repeat", "R-LIB-4", "the repeat would change"))
    for p in new.positions():
        if p.step.id not in moved:
            out += _step_changes(before[p.step.id].step, p.step, _where(p))
    return out


def _step_changes(was: AnyStep, step: AnyStep, where: str) -> list[Violation]:
    old_fields, new_fields = was.model_dump(), step.model_dump()
    for key in ("kind", "mode"):
        if old_fields.get(key) != new_fields.get(key):
            return [Violation(f"{where}.{key}", "R-LIB-4",
                              f"the step's {key} would change from {old_fields.get(key)} to {new_fields.get(key)}")]
    allowed = _editable_fields(was)
    return [Violation(f"{where}.{name}", "R-LIB-4", f"the step's {name} would change")
            for name, value in new_fields.items() if name not in allowed and old_fields.get(name) != value]


def published_edit_refusal(plan_id: str, plan_name: str, first: Violation) -> str:
    """The answer to a refused edit of a published plan: the first change it may not make, and the way out."""
    return (f"{first.field}: {first.message}. Plan '{plan_name}' is published to the shared library: only its name, "
            f"its texts' messages and its task descriptions can change (R-LIB-4). To change more, duplicate it "
            f"(POST /plans/{plan_id}/duplicate), edit the copy and publish that")
