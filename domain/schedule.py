"""The schedule: for a plan, a start and a position, the exact instant each step fires.

One function answers "what runs next, and when" (`next_step`) from a `Cursor` — the state an enrollment carries
(repeat number, when this pass started, what ran) — so the workflow and the preview use the very same code, and
an edited plan (R-PLAN-9) is followed from the contact's next step by stable step id.

Rules, in the order they apply to a step:
1. Its day is *reached* its delay in calendar days after the previous day was reached, at the same wall-clock
   time in the account zone (day 1: the pass start plus its delay) — R-PLAN-4.
2. A slot step is due at its slot on that date, or at once if the day was reached after the slot; `anytime` is
   due when its day is reached — R-PLAN-4.
3. Steps run in order: never before the step that precedes it — R-PLAN-3.
4. Its kind's window moves it forward: tasks into 08:00–17:00 account time (R-TASK-2), automated texts into the
   SMS window (R-TXT-3).
Every instant returned is in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from pydantic import BaseModel, ConfigDict, Field

from domain.plan import (
    DEFAULT_SLOT_TIMES,
    AnyStep,
    CallStep,
    PlanDefinition,
    TaskStep,
    TextStep,
    TimeOfDay,
)
from domain.windows import at_local, local_date, task_creation_time, text_send_time, zone

DEFAULT_TIME_ZONE = "America/Chicago"


class ScheduleContext(BaseModel):
    """Everything besides the plan that decides *when*: the account's zone and slots, the contact's zone."""

    model_config = ConfigDict(frozen=True)

    time_zone: str = DEFAULT_TIME_ZONE
    slot_times: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SLOT_TIMES))
    contact_time_zone: str | None = None
    # Spreads held texts over 10:00–14:00 (R-TXT-3); the enrollment's workflow id, stable across runs.
    spread_key: str = ""

    def slot_time(self, slot: TimeOfDay) -> time:
        text = self.slot_times.get(slot.value) or DEFAULT_SLOT_TIMES[slot.value]
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))


class DoneStep(BaseModel):
    """A step this pass has finished with (executed, skipped or failed)."""

    step_id: str
    day_number: int
    reached_at: datetime
    fired_at: datetime
    outcome: str = "executed"
    detail: str = ""


class PendingStep(BaseModel):
    """The step an enrollment is waiting for. Its day was reached (the wait began), so an edited delay no longer
    moves it (R-PLAN-9: a changed delay applies to waits not yet begun)."""

    step_id: str
    reached_at: datetime


class Cursor(BaseModel):
    repeat: int = 0  # 0 is the first pass through the days; repeat n is pass n + 1
    pass_started_at: datetime
    done: list[DoneStep] = Field(default_factory=list)
    floor: datetime | None = None  # the last step's fire instant: nothing later in the plan fires before it
    pending: PendingStep | None = None


@dataclass(frozen=True)
class ScheduledStep:
    repeat: int
    day_index: int
    step_index: int
    day_number: int
    step: AnyStep
    reached_at: datetime
    fire_at: datetime

    @property
    def step_id(self) -> str:
        return self.step.id or ""


def advance_days(instant: datetime, days: int, time_zone: str) -> datetime:
    """`days` calendar days later at the same wall-clock time in `time_zone` (23 or 25 hours across DST)."""
    if days == 0:
        return instant.astimezone(UTC)
    tz = zone(time_zone)
    local = instant.astimezone(tz)
    return at_local(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)


def due_at(step: AnyStep, reached_at: datetime, ctx: ScheduleContext) -> datetime:
    """Rule 2: when a step on a day reached at `reached_at` is due, before ordering and windows."""
    if step.time_of_day is TimeOfDay.ANYTIME:
        return reached_at.astimezone(UTC)
    tz = zone(ctx.time_zone)
    slot = at_local(local_date(reached_at, tz), ctx.slot_time(step.time_of_day), tz)
    return max(slot, reached_at.astimezone(UTC))


def fire_at(step: AnyStep, reached_at: datetime, floor: datetime | None, ctx: ScheduleContext) -> datetime:
    due = due_at(step, reached_at, ctx)
    if floor is not None and floor > due:
        due = floor.astimezone(UTC)
    if isinstance(step, TaskStep | CallStep) or (isinstance(step, TextStep) and step.mode == "task"):
        return task_creation_time(due, ctx.time_zone)
    if isinstance(step, TextStep):
        return text_send_time(due, ctx.spread_key, ctx.contact_time_zone)
    return due


def next_step(plan: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> ScheduledStep | None:
    """The next step of this pass and when it fires, or None when the pass is over.

    Position is found by step id, so it survives an edit: steps before or at the last finished one are behind
    the contact; a deleted step is simply gone; the awaited step keeps the day it already reached.
    """
    layout = plan.layout
    positions = layout.positions
    done_ids = {d.step_id for d in cursor.done}
    reference, reference_reached = _reference(plan, cursor)
    pending = cursor.pending
    if pending is not None and layout.index_of.get(pending.step_id, -1) > reference \
            and pending.step_id not in done_ids:
        chosen = layout.index_of[pending.step_id]
        reached = pending.reached_at
    else:
        chosen = next((i for i in range(reference + 1, len(positions))
                       if positions[i].step.id not in done_ids), -1)
        if chosen < 0:
            return None
        reached = _reach_day(plan, cursor, reference, reference_reached, positions[chosen].day_index, ctx)
    position = positions[chosen]
    return ScheduledStep(
        repeat=cursor.repeat,
        day_index=position.day_index,
        step_index=position.step_index,
        day_number=layout.day_numbers[position.day_index],
        step=position.step,
        reached_at=reached,
        fire_at=fire_at(position.step, reached, cursor.floor, ctx),
    )


def next_pass(plan: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> Cursor | None:
    """The cursor for the next repeat (R-PLAN-7), or None when the plan is finished.

    The restart point is the last day's reach plus the repeat delay; the new pass then starts like an
    enrollment at that instant (its day 1 delay applies again).
    """
    passes = plan.total_passes()
    if not plan.days or plan.repeat is None or (passes is not None and cursor.repeat + 1 >= passes):
        return None
    reference, reference_reached = _reference(plan, cursor)
    last_day = _reach_day(plan, cursor, reference, reference_reached, len(plan.days) - 1, ctx)
    return Cursor(
        repeat=cursor.repeat + 1,
        pass_started_at=advance_days(last_day, plan.repeat.delay_days, ctx.time_zone),
        floor=cursor.floor,
    )


def _reference(plan: PlanDefinition, cursor: Cursor) -> tuple[int, datetime | None]:
    """The plan position of the last finished step that still exists in the plan, and when its day was reached."""
    index_of = plan.layout.index_of
    best, reached = -1, None
    for done in cursor.done:
        index = index_of.get(done.step_id, -1)
        if index > best:
            best, reached = index, done.reached_at
    return best, reached


def _reach_day(plan: PlanDefinition, cursor: Cursor, reference: int, reference_reached: datetime | None,
               day_index: int, ctx: ScheduleContext) -> datetime:
    """When day `day_index` is reached, counted from the day of the last finished step still in the plan (or
    from the pass start), with the delays of the plan as it is now."""
    layout = plan.layout
    if reference >= 0 and reference_reached is not None:
        ref_day = layout.positions[reference].day_index
        return advance_days(reference_reached, layout.delays_between(ref_day, day_index), ctx.time_zone)
    return advance_days(cursor.pass_started_at, layout.delays_between(-1, day_index), ctx.time_zone)


def mark_done(cursor: Cursor, scheduled: ScheduledStep, outcome: str = "executed", detail: str = "") -> Cursor:
    """The cursor after `scheduled` finished: it joins `done`, becomes the floor, and nothing is pending."""
    done = [*cursor.done, DoneStep(step_id=scheduled.step_id, day_number=scheduled.day_number,
                                   reached_at=scheduled.reached_at, fired_at=scheduled.fire_at,
                                   outcome=outcome, detail=detail)]
    return cursor.model_copy(update={"done": done, "floor": scheduled.fire_at, "pending": None})


def preview(plan: PlanDefinition, start: datetime, ctx: ScheduleContext, passes: int | None = None,
            ) -> list[ScheduledStep]:
    """Every step's fire instant for a contact enrolled at `start`, over `passes` passes (default: all of them,
    or one for a plan repeating without end)."""
    total = plan.total_passes()
    wanted = passes if passes is not None else (total if total is not None else 1)
    if total is not None:
        wanted = min(wanted, total)
    out: list[ScheduledStep] = []
    cursor: Cursor | None = Cursor(pass_started_at=start.astimezone(UTC))
    while cursor is not None and cursor.repeat < wanted:
        scheduled = next_step(plan, cursor, ctx)
        if scheduled is None:
            cursor = next_pass(plan, cursor, ctx)
            continue
        out.append(scheduled)
        cursor = mark_done(cursor, scheduled)
    return out
