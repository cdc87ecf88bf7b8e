"""The schedule: for a plan, a start and a position, the exact instant each step fires.

One function answers "what runs next, and when" (`next_step`) from a `Cursor` — the state an enrollment carries
(repeat number, when this pass started, what ran, what it waits for) — so the workflow and the preview use the
very same code, and an edited plan (R-PLAN-9) is followed by stable step id.

Rules, in the order they apply to a step:
1. Days have dates (R-PLAN-4): day 1 is the pass's start date in the account zone plus day 1's delay; each later
   day is its delay in calendar days after the previous day's date.
2. A slot step is due at its slot on its day's date; an `anytime` step at the enrollment's wall-clock time on that
   date. Nothing is due before the pass started: only the start date itself can make a slot late.
3. Steps run in order: never before the step that precedes it (R-PLAN-3); a retried step never before its retry.
4. Its kind's window moves it forward: tasks into 08:00–17:00 account time (R-TASK-2), automated texts into the
   SMS window (R-TXT-3) — or, when the text windows never meet, the step is marked to be skipped with the reason.
The schedule is total: a bad zone or slot setting marks the step failed with the reason instead of raising, so no
input can stall an enrollment. Every instant returned is in UTC.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from domain.windows import (
    TASK_WINDOW,
    at_local,
    local_date,
    task_creation_time,
    text_allowed_at,
    text_send_time,
    windows_never_meet,
    zone,
)

DEFAULT_TIME_ZONE = "America/Chicago"
ATTEMPT_GRACE = timedelta(minutes=1)


class ScheduleError(ValueError):
    """A setting the schedule cannot use (an unknown zone, a slot that is not HH:MM): the step fails with it."""


def time_zone(name: str, what: str = "time zone") -> ZoneInfo:
    try:
        return zone(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ScheduleError(f"the {what} '{name}' is not an IANA time zone") from err


def parse_clock(text: str) -> time:
    """`HH:MM` (24-hour) as a time; anything else raises `ScheduleError` naming it."""
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()
            and int(hours) < 24 and int(minutes) < 60):
        raise ScheduleError(f"'{text}' is not a time of day as HH:MM (24-hour)")
    return time(int(hours), int(minutes))


class ScheduleContext(BaseModel):
    """Everything besides the plan that decides *when*: the account's zone and slots, the contact's zone."""

    model_config = ConfigDict(frozen=True)

    time_zone: str = DEFAULT_TIME_ZONE
    slot_times: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_SLOT_TIMES))
    contact_time_zone: str | None = None
    # Spreads held texts over 10:00–14:00 (R-TXT-3); the enrollment's workflow id, stable across runs.
    spread_key: str = ""

    def zone(self) -> ZoneInfo:
        return time_zone(self.time_zone, "account time zone")

    def slot_time(self, slot: TimeOfDay) -> time:
        text = self.slot_times.get(slot.value) or DEFAULT_SLOT_TIMES[slot.value]
        try:
            return parse_clock(text)
        except ScheduleError as err:
            raise ScheduleError(f"the {slot.value.replace('_', ' ')} slot time '{text}' is not HH:MM") from err

    def contact_zone_name(self) -> str | None:
        """The contact's zone when it is a real one; a zone that is not is checked (and reported) by the caller."""
        if self.contact_time_zone:
            time_zone(self.contact_time_zone, "contact's time zone")
        return self.contact_time_zone


class DoneStep(BaseModel):
    """A step this pass has finished with (executed, skipped or failed)."""

    step_id: str
    day_number: int
    day_date: date
    fired_at: datetime
    outcome: str = "executed"
    detail: str = ""


class PendingStep(BaseModel):
    """The step an enrollment is waiting for. Its day's date is fixed once the wait began (R-PLAN-9: a changed
    delay applies to waits not yet begun); a failed attempt sets when the next may run."""

    step_id: str
    day_date: date
    not_before: datetime | None = None
    attempts: int = 0
    first_attempt_at: datetime | None = None
    # R-TXT-5: a team text whose designated sender has no Twilio becomes a text task, in the task window.
    as_task: bool = False


class Cursor(BaseModel):
    repeat: int = 0  # 0 is the first pass through the days; repeat n is pass n + 1
    # The enrollment, or a repeat's restart (R-PLAN-7): its date in the account zone dates the pass's days. A held
    # step of the pass before may fire later; `floor` orders the steps after it without moving any date.
    pass_started_at: datetime
    # The enrollment's wall-clock time in the account zone: `anytime` steps run at it, passes restart at it.
    wall_clock: time | None = None
    done: list[DoneStep] = Field(default_factory=list)
    floor: datetime | None = None  # the last step's fire instant: nothing later in the plan fires before it
    pending: PendingStep | None = None
    # The account zone the dates above are in (`domain.rezone` moves them when it changes); None before cursors said.
    time_zone: str | None = None


StepVerdict = Literal["skipped", "failed"]


@dataclass(frozen=True)
class ScheduledStep:
    repeat: int
    day_index: int
    step_index: int
    day_number: int
    step: AnyStep
    day_date: date
    fire_at: datetime
    # Set when the step will not run at `fire_at`: skipped (R-TXT-3 windows never meet) or failed (bad setting).
    verdict: StepVerdict | None = None
    reason: str = ""
    as_task: bool = False

    @property
    def step_id(self) -> str:
        return self.step.id or ""


def start_cursor(at: datetime, ctx: ScheduleContext) -> Cursor:
    """The cursor of a new enrollment at `at`: its wall clock is read in the account zone (UTC if that is bad), to
    the minute — "anytime" on a later day is 14:07 for someone enrolled at 14:07:33."""
    try:
        clock = at.astimezone(ctx.zone()).time()
    except ScheduleError:
        clock = at.astimezone(UTC).time()
    return Cursor(pass_started_at=at.astimezone(UTC), wall_clock=time(clock.hour, clock.minute),
                  time_zone=ctx.time_zone)


def advance_days(instant: datetime, days: int, tz_name: str) -> datetime:
    """`days` calendar days later at the same wall-clock time in `tz_name` (23 or 25 hours across DST)."""
    if days == 0:
        return instant.astimezone(UTC)
    tz = zone(tz_name)
    local = instant.astimezone(tz)
    return at_local(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)


def next_step(plan: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> ScheduledStep | None:
    """The next step of this pass and when it fires, or None when the pass is over (R-PLAN-9 for edits).

    The contact's *place* is the step it waits for, if that still exists, else the last step it ran that still
    exists; from there it runs, in the plan's current order, every later step it has not run in this pass.
    """
    layout = plan.layout
    positions = layout.positions
    done_ids = {d.step_id for d in cursor.done}
    place, place_date, waiting = _place(plan, cursor, done_ids)
    if waiting:
        chosen = place
    else:
        chosen = next((i for i in range(place + 1, len(positions)) if positions[i].step.id not in done_ids), -1)
        if chosen < 0:
            return None
    position = positions[chosen]
    pending = cursor.pending if cursor.pending is not None and cursor.pending.step_id == position.step.id else None
    try:
        if waiting:
            assert place_date is not None
            day_date = place_date
        elif place >= 0 and place_date is not None:
            day_date = place_date + timedelta(days=layout.delays_between(positions[place].day_index,
                                                                          position.day_index))
        else:
            day_date = _first_date(cursor, ctx) + timedelta(days=layout.delays_between(-1, position.day_index))
    except ScheduleError as err:
        return _unschedulable(plan, cursor, chosen, pending, cursor.pass_started_at.date(), err)
    try:
        fire, verdict, reason = _timing(position.step, day_date, cursor, pending, ctx)
    except ScheduleError as err:
        return _unschedulable(plan, cursor, chosen, pending, day_date, err)
    return ScheduledStep(
        repeat=cursor.repeat, day_index=position.day_index, step_index=position.step_index,
        day_number=layout.day_numbers[position.day_index], step=position.step, day_date=day_date, fire_at=fire,
        verdict=verdict, reason=reason, as_task=pending is not None and pending.as_task)


def next_pass(plan: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> Cursor | None:
    """The cursor for the next repeat (R-PLAN-7), or None when the plan is finished.

    The next pass starts on the last day's date plus the repeat delay (at the earliest the day after this pass
    began), at the enrollment's wall-clock time, and runs like a new enrollment from there (its day 1 delay applies
    again). That instant alone dates the new pass:
    a last step held by its window (a text to the next morning, R-TXT-3; a task to 08:00, R-TASK-2) past it keeps
    its place as the floor, so the new pass's first steps wait for it and run right after it (R-PLAN-3), but no
    day of the new pass moves to a later date — else a plan repeating with no delay would lose a day every pass.
    """
    passes = plan.total_passes()
    if not plan.days or plan.repeat is None or (passes is not None and cursor.repeat + 1 >= passes):
        return None
    layout = plan.layout
    done_ids = {d.step_id for d in cursor.done}
    place, place_date, _ = _place(plan, cursor, done_ids)
    last_day = len(plan.days) - 1
    try:
        if place >= 0 and place_date is not None:
            last_date = place_date + timedelta(days=layout.delays_between(layout.positions[place].day_index,
                                                                           last_day))
        else:
            last_date = _first_date(cursor, ctx) + timedelta(days=layout.delays_between(-1, last_day))
        # A pass spans at least a day: with no delay anywhere, the next would start at this one's instant, and an
        # unlimited plan would send without end in no time at all. It starts the next day instead.
        restart_date = max(last_date + timedelta(days=plan.repeat.delay_days),
                           _first_date(cursor, ctx) + timedelta(days=1))
        restart = at_local(restart_date, _wall_clock(cursor, ctx), ctx.zone())
    except ScheduleError:
        # An unusable account zone: keep the rhythm in UTC rather than end the plan or stall it.
        last = cursor.floor or cursor.pass_started_at
        restart = max(last + timedelta(days=plan.repeat.delay_days), cursor.pass_started_at + timedelta(days=1))
    return Cursor(repeat=cursor.repeat + 1, pass_started_at=restart, wall_clock=cursor.wall_clock,
                  floor=cursor.floor, time_zone=ctx.time_zone)


def runs_at(scheduled: ScheduledStep, instant: datetime, ctx: ScheduleContext) -> bool:
    """Whether an attempt of `scheduled` may run at `instant`. The window is checked again at every attempt
    (R-TXT-3, R-TASK-2): a workflow woken late — its worker was down — must not send at 20:00 a text planned for
    18:59. Within a minute of the planned instant the schedule's own answer stands."""
    if instant - scheduled.fire_at < ATTEMPT_GRACE:
        return True
    try:
        if scheduled.as_task or _is_task(scheduled.step):
            local = instant.astimezone(ctx.zone()).time()
            return TASK_WINDOW[0] <= local <= TASK_WINDOW[1]
        if isinstance(scheduled.step, TextStep):
            return text_allowed_at(instant, ctx.contact_zone_name())
    except ScheduleError:
        return True  # the next scheduling reports the bad setting on the timeline
    return True


def mark_done(cursor: Cursor, scheduled: ScheduledStep, outcome: str = "executed", detail: str = "") -> Cursor:
    """The cursor after `scheduled` finished: it joins `done`, its fire instant becomes the floor, and nothing is
    pending."""
    fired = scheduled.fire_at
    done = [*cursor.done, DoneStep(step_id=scheduled.step_id, day_number=scheduled.day_number,
                                   day_date=scheduled.day_date, fired_at=fired, outcome=outcome, detail=detail)]
    return cursor.model_copy(update={"done": done, "floor": fired, "pending": None})


@dataclass(frozen=True)
class StepFate:
    """What a step's attempt will find for one contact: skipped and why (an email to a contact without an address,
    R-EMAIL-4; a text or a task to text or call one on Do-Not-Call, R-TXT-4; a personal plan's text whose owner has no
    Twilio, R-TXT-5), or a text task instead of an automated text (R-TXT-5: a team plan's agent without Twilio)."""

    as_task: bool = False
    skipped: str | None = None


def preview(plan: PlanDefinition, start: datetime, ctx: ScheduleContext, passes: int | None = None,
            fate: Callable[[AnyStep], StepFate | None] | None = None) -> list[ScheduledStep]:
    """Every step's fire instant for a contact enrolled at `start`, over `passes` passes (default: all of them,
    or one for a plan repeating without end). Steps that would be skipped or fail carry their verdict.

    `fate` says what each step's attempt will find for the contact (None: it runs): skipped and why (an email
    to a contact without an address, a text to one on Do-Not-Call…), or a text task instead of a text. A text task
    is learnt by the workflow at the text's first attempt, at the text's instant, which then waits for the task
    window from that attempt on (R-TASK-2); the preview takes the same two steps, so it shows the instant the task
    appears.
    """
    total = plan.total_passes()
    wanted = passes if passes is not None else (total if total is not None else 1)
    if total is not None:
        wanted = min(wanted, total)
    out: list[ScheduledStep] = []
    cursor: Cursor | None = start_cursor(start, ctx)
    while cursor is not None and cursor.repeat < wanted:
        scheduled = next_step(plan, cursor, ctx)
        if scheduled is None:
            cursor = next_pass(plan, cursor, ctx)
            continue
        found = fate(scheduled.step) if fate is not None and scheduled.verdict is None else None
        if found is not None and found.skipped is not None:
            scheduled = replace(scheduled, verdict="skipped", reason=found.skipped)
        elif found is not None and found.as_task:
            scheduled = _as_text_task(plan, cursor, ctx, scheduled)
        out.append(scheduled)
        cursor = mark_done(cursor, scheduled, scheduled.verdict or "executed", scheduled.reason)
    return out


def _as_text_task(plan: PlanDefinition, cursor: Cursor, ctx: ScheduleContext, text: ScheduledStep) -> ScheduledStep:
    """The text task standing in for `text`, as the workflow schedules it after the text's attempt found no Twilio:
    pending as a task, not before the task window's next opening after that attempt."""
    try:
        resume = task_creation_time(text.fire_at, ctx.time_zone)
    except (ScheduleError, ZoneInfoNotFoundError, ValueError):
        return text  # the zone the text was scheduled in is real; kept total all the same
    pending = PendingStep(step_id=text.step_id, day_date=text.day_date, not_before=resume, as_task=True)
    task = next_step(plan, cursor.model_copy(update={"pending": pending}), ctx)
    return task if task is not None else text


def _place(plan: PlanDefinition, cursor: Cursor, done_ids: set[str]) -> tuple[int, date | None, bool]:
    """The contact's place in the plan as it is now: (position, its day's date, whether it is the awaited step)."""
    index_of = plan.layout.index_of
    pending = cursor.pending
    if pending is not None and pending.step_id in index_of and pending.step_id not in done_ids:
        return index_of[pending.step_id], pending.day_date, True
    for done in reversed(cursor.done):
        if done.step_id in index_of:
            return index_of[done.step_id], done.day_date, False
    return -1, None, False


def _wall_clock(cursor: Cursor, ctx: ScheduleContext) -> time:
    if cursor.wall_clock is not None:
        return cursor.wall_clock
    return cursor.pass_started_at.astimezone(ctx.zone()).time().replace(tzinfo=None)


def _first_date(cursor: Cursor, ctx: ScheduleContext) -> date:
    return local_date(cursor.pass_started_at, ctx.zone())


def _earliest(cursor: Cursor, pending: PendingStep | None) -> datetime:
    """Nothing fires before the pass began, the previous step fired, or this step's retry is due."""
    earliest = cursor.pass_started_at.astimezone(UTC)
    for bound in (cursor.floor, pending.not_before if pending else None):
        if bound is not None and bound > earliest:
            earliest = bound.astimezone(UTC)
    return earliest


def _timing(step: AnyStep, day_date: date, cursor: Cursor, pending: PendingStep | None,
            ctx: ScheduleContext) -> tuple[datetime, StepVerdict | None, str]:
    tz = ctx.zone()
    clock = _wall_clock(cursor, ctx) if step.time_of_day is TimeOfDay.ANYTIME else ctx.slot_time(step.time_of_day)
    due = max(at_local(day_date, clock, tz), _earliest(cursor, pending))
    if (pending is not None and pending.as_task) or _is_task(step):
        return task_creation_time(due, ctx.time_zone), None, ""
    if isinstance(step, TextStep):
        contact_zone = ctx.contact_zone_name()
        sent = text_send_time(due, ctx.spread_key, contact_zone)
        if sent is None:
            return due, "skipped", f"Text not sent: {windows_never_meet(contact_zone)}"
        return sent, None, ""
    return due, None, ""


def _is_task(step: AnyStep) -> bool:
    return isinstance(step, TaskStep | CallStep) or (isinstance(step, TextStep) and step.mode == "task")


def _unschedulable(plan: PlanDefinition, cursor: Cursor, chosen: int, pending: PendingStep | None, day_date: date,
                   err: ScheduleError) -> ScheduledStep:
    """R-TXT-3's last sentence: a step that cannot be scheduled fails at once, with the reason, and the plan goes
    on — never an exception that would retry the workflow task for ever."""
    position = plan.layout.positions[chosen]
    return ScheduledStep(
        repeat=cursor.repeat, day_index=position.day_index, step_index=position.step_index,
        day_number=plan.layout.day_numbers[position.day_index], step=position.step, day_date=day_date,
        fire_at=_earliest(cursor, pending), verdict="failed", reason=f"Step could not be scheduled: {err}")
