"""Plan validation: every business limit of a plan, each refusal naming the field and the rule it breaks.

The API turns a non-empty result into a 422 whose entries a person can act on ("days[2].steps[0].due_in_days:
due at most 14 days after creation (R-TASK-1)"), and the same function guards anything else that saves a plan.
All violations are reported at once so an editor can show them together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from domain.limits import (
    HHMM,
    MAX_DESCRIPTION,
    MAX_DUE_IN_DAYS,
    MAX_HTML,
    MAX_LINK,
    MAX_NAME,
    MAX_PLAN_SPAN_DAYS,
    MAX_REPEAT_DELAY_DAYS,
    MAX_REPEAT_TIMES,
    MAX_SUBJECT,
    MAX_TEXT_LENGTH,
)
from domain.merge import merge_problems
from domain.plan import (
    SLOT_ORDER,
    AddToPlanStep,
    AnyStep,
    CallStep,
    EmailStep,
    PlanDefinition,
    TaskStep,
    TextStep,
    TimeOfDay,
    describe_step,
)


@dataclass(frozen=True)
class Violation:
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} ({self.rule})"


class PlanInvalid(ValueError):
    def __init__(self, violations: list[Violation]) -> None:
        self.violations = violations
        super().__init__("; ".join(str(v) for v in violations))


# The rule each field of a plan document answers to when its *shape* is wrong (a wrong type, a value outside an enum,
# a missing or unknown field): pydantic refuses those before `validate_plan` runs, and the API names the rule just as
# for the limits below. Keys: a plan-level path ("repeat.times"), `step.<field>` for any step, `<kind>.<field>` where
# the kind decides, and a bare kind for anything else in such a step (an unknown field, say).
_TASK_FIELDS = ("name", "description", "link", "priority", "contact_task", "due_in_days", "due_time")
FIELD_RULES: dict[str, str] = {
    "name": "R-PLAN-1", "team_plan": "R-PLAN-1",
    "days": "R-PLAN-2", "days.day": "R-PLAN-2", "days.delay_days": "R-PLAN-2", "days.steps": "R-PLAN-3",
    "repeat": "R-PLAN-7",
    "step.id": "R-PLAN-9", "step.kind": "R-PLAN-6", "step.time_of_day": "R-PLAN-4", "step.assignee": "R-TEAM-2",
    **{f"{kind}.{field}": "R-TASK-1" for kind in ("task", "call", "text") for field in _TASK_FIELDS},
    "task": "R-TASK-1", "call": "R-CALL-1", "call.name": "R-CALL-1",
    "text": "R-TXT-1", "text.name": "R-TXT-1", "text.mode": "R-TXT-1", "text.message_type": "R-TXT-2",
    "text.messages": "R-TXT-2",
    "email": "R-EMAIL-1", "add_to_plan": "R-ADD-1",
}
_STEP_KINDS = ("task", "call", "email", "text", "add_to_plan")


def shape_violation(path: Sequence[str | int], message: str) -> Violation | None:
    """A shape error at `path` (pydantic's location inside a plan document) as a violation naming the field as
    `validate_plan` does (`days[0].steps[1].time_of_day`) and its rule; None for the document as a whole.

    Pydantic's location carries a step's kind as a segment (`steps.0.task.time_of_day`); it picks the rule, not the
    field. Whatever follows the field itself (the members of a union, as in `repeat.times.int`) is dropped.
    """
    field, kind = "", None
    names: list[str] = []
    for i, part in enumerate(path):
        if isinstance(part, int):
            field += f"[{part}]"
        elif kind is None and i >= 2 and path[i - 2] == "steps" and part in _STEP_KINDS:
            kind = part
        elif len(names) < (3 if names[:2] == ["days", "steps"] else 2):
            field += ("." if field else "") + part
            names.append(part)
        else:
            break
    if not names:
        return None
    if names[:2] == ["days", "steps"] and len(names) > 2:
        keys = [f"{kind}.{names[2]}", f"step.{names[2]}", kind] if kind else [f"step.{names[2]}", "step.kind"]
    else:
        keys = [".".join(names), names[0]]
    rule = next((FIELD_RULES[k] for k in keys if k in FIELD_RULES), "R-PLAN-1")
    return Violation(field, rule, message)


def validate_plan(plan: PlanDefinition) -> list[Violation]:
    out: list[Violation] = []
    _check_plan(plan, out)
    seen_ids: dict[str, str] = {}
    for d, day in enumerate(plan.days):
        _check_day(plan, d, out)
        for s, step in enumerate(day.steps):
            where = f"days[{d}].steps[{s}]"
            if step.id is not None:
                if step.id in seen_ids:
                    out.append(Violation(f"{where}.id", "R-PLAN-9",
                                         f"step id '{step.id}' is already used by {seen_ids[step.id]}"))
                seen_ids[step.id] = where
            if step.assignee is not None and not plan.team_plan:
                out.append(Violation(f"{where}.assignee", "R-TEAM-2",
                                     "a step assignee applies to team plans only"))
            _check_step(step, where, out)
    return out


def ensure_valid(plan: PlanDefinition) -> PlanDefinition:
    violations = validate_plan(plan)
    if violations:
        raise PlanInvalid(violations)
    return plan


def with_step_ids(plan: PlanDefinition, new_id: Callable[[], str]) -> PlanDefinition:
    """Give every step without an id a fresh one; ids already present are kept (they are the stable keys)."""
    return plan.map_steps(lambda step: step if step.id else step.model_copy(update={"id": new_id()}))


def _check_plan(plan: PlanDefinition, out: list[Violation]) -> None:
    if not plan.name.strip():
        out.append(Violation("name", "R-PLAN-1", "a plan needs a name"))
    elif len(plan.name) > MAX_NAME:
        out.append(Violation("name", "R-PLAN-1", f"at most {MAX_NAME} characters (got {len(plan.name)})"))
    span = sum(day.delay_days for day in plan.days[1:] if day.delay_days > 0)
    if span > MAX_PLAN_SPAN_DAYS:
        last = len(plan.days) - 1
        out.append(Violation(
            f"days[{last}].delay_days", "R-PLAN-1",
            f"the last day falls {span} days after day 1 (day {span + 1}); a plan lasts at most a year: "
            f"its last day at most {MAX_PLAN_SPAN_DAYS} days after day 1"))
    if plan.repeat is not None:
        times = plan.repeat.times
        if times != "unlimited" and not 1 <= times <= MAX_REPEAT_TIMES:
            out.append(Violation("repeat.times", "R-PLAN-7",
                                 f"repeat 1 to {MAX_REPEAT_TIMES} times, or 'unlimited' (got {times})"))
        if not 0 <= plan.repeat.delay_days <= MAX_REPEAT_DELAY_DAYS:
            out.append(Violation("repeat.delay_days", "R-PLAN-7",
                                 f"the repeat delay is 0 to {MAX_REPEAT_DELAY_DAYS} days "
                                 f"(got {plan.repeat.delay_days})"))
        if not plan.days:
            out.append(Violation("repeat", "R-PLAN-7", "a plan without days cannot repeat"))


def _check_day(plan: PlanDefinition, d: int, out: list[Violation]) -> None:
    day = plan.days[d]
    if d == 0:
        if not 0 <= day.delay_days <= MAX_PLAN_SPAN_DAYS:
            out.append(Violation("days[0].delay_days", "R-PLAN-2",
                                 f"the first day starts 0 to {MAX_PLAN_SPAN_DAYS} days after enrollment "
                                 f"(got {day.delay_days})"))
    elif day.delay_days < 1:
        out.append(Violation(f"days[{d}].delay_days", "R-PLAN-2",
                             "a later day comes at least 1 day after the previous one "
                             "(put same-day steps in the same day)"))
    if not day.steps:
        out.append(Violation(f"days[{d}].steps", "R-PLAN-3", "a day holds at least one step"))
    # R-PLAN-5: within a day, a later slot may not stand before an earlier one; `anytime` constrains nothing.
    latest: tuple[int, int, AnyStep] | None = None
    for s, step in enumerate(day.steps):
        if step.time_of_day is TimeOfDay.ANYTIME:
            continue
        order = SLOT_ORDER[step.time_of_day]
        if latest is not None and order < latest[0]:
            before = latest[2]
            out.append(Violation(
                f"days[{d}].steps[{s}].time_of_day", "R-PLAN-5",
                f"step {latest[1] + 1} ({describe_step(before)}, {before.time_of_day.value}) stands before "
                f"step {s + 1} ({describe_step(step)}, {step.time_of_day.value}); a later time of day cannot "
                f"come before an earlier one — reorder the steps or change their times"))
        if latest is None or order >= latest[0]:
            latest = (order, s, step)


def _check_step(step: AnyStep, where: str, out: list[Violation]) -> None:
    if isinstance(step, TaskStep | CallStep):
        _check_task_fields(step, where, out)
    elif isinstance(step, EmailStep):
        _check_email(step, where, out)
    elif isinstance(step, TextStep):
        _check_text(step, where, out)
    elif isinstance(step, AddToPlanStep) and not step.target_plan_id.strip():
        out.append(Violation(f"{where}.target_plan_id", "R-ADD-1", "choose the plan to add the contact to"))


def task_field_problems(step: TaskStep | CallStep | TextStep) -> list[Violation]:
    """What is wrong with a step's task fields (R-TASK-1; the name: R-CALL-1 for a call, R-TXT-1 for a text), each
    violation naming the bare field (`due_time`).

    An automated text has task fields too: when its sender has no Twilio, R-TXT-5 turns it into a text task made of
    them, so they answer to the same rules as a text task's, except that its name may be empty (the task is then
    named "Text <contact>"). The activity that creates a task asks this again, for plans saved before these checks:
    a step that fails them is failed on the timeline, never created with a script link or retried on a due time
    that cannot be read.
    """
    rule = "R-TASK-1" if isinstance(step, TaskStep) else "R-CALL-1" if isinstance(step, CallStep) else "R-TXT-1"
    out: list[Violation] = []
    if not step.name.strip():
        if not (isinstance(step, TextStep) and step.mode == "automated"):
            out.append(Violation("name", rule, "a task needs a name"))
    elif len(step.name) > MAX_NAME:
        out.append(Violation("name", rule, f"at most {MAX_NAME} characters (got {len(step.name)})"))
    if step.description is not None and len(step.description) > MAX_DESCRIPTION:
        out.append(Violation("description", "R-TASK-1",
                             f"at most {MAX_DESCRIPTION:,} characters (got {len(step.description):,})"))
    if step.link is not None and step.link != "":
        problem = _link_problem(step.link)
        if problem:
            out.append(Violation("link", "R-TASK-1", problem))
    if not 0 <= step.due_in_days <= MAX_DUE_IN_DAYS:
        out.append(Violation("due_in_days", "R-TASK-1",
                             f"due the same day (0) up to {MAX_DUE_IN_DAYS} days after creation "
                             f"(got {step.due_in_days})"))
    if step.due_time is not None and not HHMM.fullmatch(step.due_time):
        out.append(Violation("due_time", "R-TASK-1",
                             f"a time of day as HH:MM, 00:00 to 23:59 (got '{step.due_time}')"))
    return out


def _check_task_fields(step: TaskStep | CallStep | TextStep, where: str, out: list[Violation]) -> None:
    out.extend(Violation(f"{where}.{v.field}", v.rule, v.message) for v in task_field_problems(step))
    _check_merge(where, {"name": step.name, "description": step.description}, out)


def _link_problem(link: str) -> str | None:
    if len(link) > MAX_LINK:
        return f"at most {MAX_LINK} characters"
    parts = urlsplit(link.strip())
    if parts.scheme.lower() not in ("http", "https"):
        return f"a link must be an http:// or https:// address (got scheme '{parts.scheme or 'none'}')"
    if not parts.netloc:
        return "a link needs a host, e.g. https://example.com/page"
    return None


def _check_email(step: EmailStep, where: str, out: list[Violation]) -> None:
    if not step.subject.strip():
        out.append(Violation(f"{where}.subject", "R-EMAIL-1", "an email needs a subject"))
    elif len(step.subject) > MAX_SUBJECT:
        out.append(Violation(f"{where}.subject", "R-EMAIL-1",
                             f"at most {MAX_SUBJECT} characters (got {len(step.subject)})"))
    if step.mode == "simple":
        if not (step.body or "").strip():
            out.append(Violation(f"{where}.body", "R-EMAIL-1", "a simple email needs a body"))
        if step.design_id:
            out.append(Violation(f"{where}.design_id", "R-EMAIL-1", "a simple email has no design"))
        if step.html is not None:
            out.append(Violation(f"{where}.html", "R-EMAIL-1", "a simple email has no html; write its body instead"))
    elif not step.design_id and not (step.html or "").strip():
        out.append(Violation(f"{where}.design_id", "R-EMAIL-1", "a design email needs a design from the library "
                             "(design_id) or its own html"))
    elif step.html is not None and len(step.html) > MAX_HTML:
        out.append(Violation(f"{where}.html", "R-EMAIL-1", f"at most {MAX_HTML:,} characters (got {len(step.html):,})"))
    _check_merge(where, {"subject": step.subject, "body": step.body, "html": step.html}, out)


def _check_text(step: TextStep, where: str, out: list[Violation]) -> None:
    _check_task_fields(step, where, out)  # an automated text's too: R-TXT-5 may make a text task of them
    if step.mode == "task":
        return
    count = len(step.messages)
    if step.message_type == "static" and count != 1:
        out.append(Violation(f"{where}.messages", "R-TXT-2", f"a static text has exactly one message (got {count})"))
    if step.message_type == "dynamic" and count < 1:
        out.append(Violation(f"{where}.messages", "R-TXT-2", "a dynamic text needs at least one message"))
    for i, message in enumerate(step.messages):
        if not message.strip():
            out.append(Violation(f"{where}.messages[{i}]", "R-TXT-2", "a text message cannot be empty"))
        elif len(message) > MAX_TEXT_LENGTH:
            out.append(Violation(f"{where}.messages[{i}]", "R-TXT-2",
                                 f"at most {MAX_TEXT_LENGTH} characters (got {len(message)})"))
    _check_merge(where, {f"messages[{i}]": m for i, m in enumerate(step.messages)}, out)


def _check_merge(where: str, texts: dict[str, str | None], out: list[Violation]) -> None:
    for name, text in texts.items():
        out.extend(Violation(f"{where}.{name}", "R-MERGE-1", problem) for problem in merge_problems(text))
