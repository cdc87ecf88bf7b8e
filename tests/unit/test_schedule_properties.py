"""Properties of the schedule over random plans, enrollment instants and zones across DST changes (R-PLAN-3,
R-PLAN-4, R-TASK-2, R-TXT-3): texts inside both windows or skipped with a reason, tasks inside 08:00–17:00,
slot steps at their slot on their day's date, steps in order, and the preview equal to what a workflow walks
(with its cursor serialised at every step, as continue-as-new carries it)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.plan import CallStep, PlanDefinition, TaskStep, TextStep, TimeOfDay
from domain.schedule import (
    Cursor,
    ScheduleContext,
    ScheduledStep,
    mark_done,
    next_pass,
    next_step,
    preview,
    start_cursor,
)
from domain.windows import TASK_WINDOW, at_local, text_allowed_at

ACCOUNT_ZONES = ["America/Chicago", "America/New_York", "America/Los_Angeles", "America/Denver", "America/Phoenix",
                 "Pacific/Honolulu", "America/Anchorage"]
CONTACT_ZONES = [None, "America/Chicago", "America/New_York", "Pacific/Honolulu", "Europe/London", "Europe/Paris",
                 "Asia/Kolkata", "Asia/Dhaka", "Australia/Sydney", "Asia/Tokyo", "Pacific/Kiritimati"]
SLOTS = [TimeOfDay.ANYTIME, TimeOfDay.EARLY_MORNING, TimeOfDay.MORNING, TimeOfDay.AFTERNOON, TimeOfDay.EVENING]


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["task", "call", "email", "text", "text_task", "add_to_plan"]))
    slot = draw(st.sampled_from(SLOTS)).value
    if kind in ("task", "call"):
        return {"kind": kind, "time_of_day": slot, "name": "n"}
    if kind == "email":
        return {"kind": "email", "time_of_day": slot, "subject": "s", "body": "b"}
    if kind == "text":
        return {"kind": "text", "time_of_day": slot, "messages": ["hi"]}
    if kind == "text_task":
        return {"kind": "text", "mode": "task", "time_of_day": slot, "name": "t"}
    return {"kind": "add_to_plan", "time_of_day": slot, "target_plan_id": "pl_x"}


@st.composite
def plans(draw: st.DrawFn) -> PlanDefinition:
    days = []
    counter = 0
    for index in range(draw(st.integers(1, 5))):
        day_steps = []
        for raw in draw(st.lists(steps(), min_size=1, max_size=4)):
            counter += 1
            day_steps.append({**raw, "id": f"s{counter}"})
        days.append({"delay_days": draw(st.integers(0, 3 if index == 0 else 40)), "steps": day_steps})
    # A repeat after 0 days often: the next pass then starts while the last step may still be held (R-PLAN-7).
    repeat = draw(st.one_of(st.none(), st.fixed_dictionaries({"times": st.integers(1, 2), "delay_days": st.one_of(
        st.just(0), st.integers(0, 30))})))
    return PlanDefinition.model_validate({"name": "P", "days": days, "repeat": repeat})


@st.composite
def contexts(draw: st.DrawFn) -> ScheduleContext:
    hours = sorted(draw(st.lists(st.integers(0, 23), min_size=4, max_size=4, unique=True)))
    custom = {"early_morning": f"{hours[0]:02d}:00", "morning": f"{hours[1]:02d}:30",
              "afternoon": f"{hours[2]:02d}:15", "evening": f"{hours[3]:02d}:45"}
    slot_times = draw(st.one_of(st.just({}), st.just(custom)))
    return ScheduleContext(time_zone=draw(st.sampled_from(ACCOUNT_ZONES)), slot_times=slot_times,
                           contact_time_zone=draw(st.sampled_from(CONTACT_ZONES)),
                           spread_key=f"enrollment-pl-{draw(st.integers(0, 10_000))}")


# Enrollment instants around every 2026–2028 DST change, at any minute of the day.
instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31),
                        timezones=st.just(UTC)).map(lambda d: d.replace(second=0, microsecond=0))


def walked(plan: PlanDefinition, start: datetime, ctx: ScheduleContext) -> list[ScheduledStep]:
    """What the workflow does: next step, mark it done, next pass — the cursor serialised at every step."""
    out: list[ScheduledStep] = []
    cursor: Cursor | None = start_cursor(start, ctx)
    total = plan.total_passes() or 1
    while cursor is not None and cursor.repeat < total:
        cursor = Cursor.model_validate_json(cursor.model_dump_json())
        scheduled = next_step(plan, cursor, ctx)
        if scheduled is None:
            cursor = next_pass(plan, cursor, ctx)
            continue
        out.append(scheduled)
        cursor = mark_done(cursor, scheduled, scheduled.verdict or "executed", scheduled.reason)
    return out


def is_task(scheduled: ScheduledStep) -> bool:
    step = scheduled.step
    return isinstance(step, TaskStep | CallStep) or (isinstance(step, TextStep) and step.mode == "task")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=plans(), start=instants, ctx=contexts())
def test_every_step_keeps_its_windows_its_slot_and_its_order(plan: PlanDefinition, start: datetime,
                                                             ctx: ScheduleContext) -> None:
    account = ZoneInfo(ctx.time_zone)
    steps_run = walked(plan, start, ctx)
    assert steps_run == preview(plan, start, ctx)  # the preview is what the workflow runs
    previous = start.astimezone(UTC)
    for scheduled in steps_run:
        fire = scheduled.fire_at
        assert fire >= previous, "R-PLAN-3: never before the step before it"
        previous = fire
        step = scheduled.step
        if isinstance(step, TextStep) and step.mode == "automated":
            if scheduled.verdict is None:  # R-TXT-3: inside 10–19 Central and 08–21 contact time
                assert text_allowed_at(fire, ctx.contact_time_zone)
            else:
                assert (scheduled.verdict, ctx.contact_time_zone is not None) == ("skipped", True)
                assert "do not overlap" in scheduled.reason
            continue
        assert scheduled.verdict is None
        if is_task(scheduled):  # R-TASK-2
            assert TASK_WINDOW[0] <= fire.astimezone(account).time() <= TASK_WINDOW[1]
            continue
        # R-PLAN-4: in the first pass, an email or add-to-plan step runs at its slot (anytime: the enrollment's
        # wall clock) on its day's date — later only when the enrollment itself or the step before it was later.
        if scheduled.repeat == 0:
            clock = (start.astimezone(account).time().replace(tzinfo=None) if step.time_of_day is TimeOfDay.ANYTIME
                     else ctx.slot_time(step.time_of_day))
            before = [s.fire_at for s in steps_run[:steps_run.index(scheduled)]]
            assert fire == max(at_local(scheduled.day_date, clock, account), start, *before)


@settings(max_examples=150, deadline=None)
@given(plan=plans(), start=instants, ctx=contexts())
def test_day_dates_follow_the_delays_and_the_repeat_in_calendar_days(plan: PlanDefinition, start: datetime,
                                                                      ctx: ScheduleContext) -> None:
    """R-PLAN-4 and R-PLAN-7: each pass starts on the last day's date plus the repeat delay, however late a window
    held the step before it, so pass n is dated n times (the plan's span + the repeat delay) after the first; a pass
    spans at least a day (a plan with no delay anywhere does not repeat in no time at all)."""
    enrolled_on = start.astimezone(ZoneInfo(ctx.time_zone)).date()
    cumulative = plan.layout.cumulative_delays
    pass_span = max(1, cumulative[-1] + (plan.repeat.delay_days if plan.repeat else 0))
    for scheduled in preview(plan, start, ctx):
        offset = scheduled.repeat * pass_span + cumulative[scheduled.day_index]
        assert scheduled.day_date == enrolled_on + timedelta(days=offset)


def test_a_bad_slot_setting_fails_the_step_with_its_reason_and_the_plan_goes_on() -> None:
    plan = PlanDefinition.model_validate({"name": "P", "days": [{"delay_days": 0, "steps": [
        {"kind": "email", "id": "a", "time_of_day": "morning", "subject": "s", "body": "b"},
        {"kind": "email", "id": "b", "time_of_day": "anytime", "subject": "s", "body": "b"}]}]})
    ctx = ScheduleContext(slot_times={"morning": "9am"})
    start = datetime(2026, 3, 2, 15, tzinfo=UTC)
    first, second = preview(plan, start, ctx)
    assert (first.verdict, first.fire_at) == ("failed", start)
    assert "morning slot time '9am' is not HH:MM" in first.reason
    assert (second.verdict, second.fire_at) == (None, start)


def test_a_bad_zone_fails_steps_with_the_reason_and_repeats_keep_going() -> None:
    plan = PlanDefinition.model_validate({"name": "P", "repeat": {"times": 2, "delay_days": 1}, "days": [
        {"delay_days": 0, "steps": [{"kind": "email", "id": "a", "subject": "s", "body": "b"}]}]})
    for ctx in (ScheduleContext(time_zone="Mars/Olympus"), ScheduleContext(contact_time_zone="Nowhere/Land")):
        got = preview(plan, datetime(2026, 3, 2, 15, tzinfo=UTC), ctx)
        assert len(got) == 3
        if ctx.time_zone == "Mars/Olympus":
            assert all(s.verdict == "failed" and "'Mars/Olympus' is not an IANA time zone" in s.reason for s in got)


def test_the_wall_clock_of_the_enrollment_is_kept_by_later_passes() -> None:
    plan = PlanDefinition.model_validate({"name": "P", "repeat": {"times": 1, "delay_days": 0}, "days": [
        {"delay_days": 1, "steps": [{"kind": "email", "id": "a", "subject": "s", "body": "b"}]}]})
    chicago = ZoneInfo("America/Chicago")
    got = preview(plan, datetime(2027, 3, 12, 2, 30, tzinfo=chicago), ScheduleContext())
    assert [s.fire_at.astimezone(chicago).replace(tzinfo=None) for s in got] == [
        datetime(2027, 3, 13, 2, 30), datetime(2027, 3, 14, 3, 0)]  # 02:30 does not exist on the 14th
    assert time(2, 30) == start_cursor(datetime(2027, 3, 12, 2, 30, tzinfo=chicago), ScheduleContext()).wall_clock
