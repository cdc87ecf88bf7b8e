"""The schedule: exact fire instants for slots, windows, ordering, repeats, DST and edited plans."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.plan import PlanDefinition, TextStep, text_for_repeat
from domain.schedule import Cursor, PendingStep, ScheduleContext, mark_done, next_pass, next_step, preview
from domain.windows import spread_offset, task_creation_time, text_send_time

CT = ZoneInfo("America/Chicago")
NY = ZoneInfo("America/New_York")
CTX = ScheduleContext(spread_key="enrollment-p1-c1")


def ct(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CT)


def step(kind: str = "email", slot: str = "anytime", sid: str | None = None, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"kind": kind, "time_of_day": slot, "id": sid}
    if kind == "email":
        base.update(subject="s", body="b")
    elif kind == "text":
        base.update(messages=["hi"])
    else:
        base.update(name="n")
    return {**base, **fields}


def plan(days: list[tuple[int, list[dict[str, Any]]]], repeat: dict[str, Any] | None = None) -> PlanDefinition:
    n = iter(range(1000))
    document = {"name": "P", "repeat": repeat, "days": [
        {"delay_days": delay, "steps": [{**s, "id": s["id"] or f"s{next(n)}"} for s in steps]}
        for delay, steps in days]}
    return PlanDefinition.model_validate(document)


def local_times(p: PlanDefinition, start: datetime, ctx: ScheduleContext = CTX, passes: int | None = None,
                tz: ZoneInfo = CT) -> list[datetime]:
    return [s.fire_at.astimezone(tz) for s in preview(p, start, ctx, passes)]


class TestRPlan4SlotsAndDays:
    def test_slot_steps_fire_at_their_slot_in_the_account_zone(self) -> None:
        p = plan([(0, [step(slot="early_morning"), step(slot="morning"), step(slot="afternoon"),
                       step(slot="evening")])])
        assert local_times(p, ct(2026, 3, 2, 6, 30)) == [ct(2026, 3, 2, 7), ct(2026, 3, 2, 10), ct(2026, 3, 2, 13),
                                                         ct(2026, 3, 2, 17)]

    def test_a_slot_already_passed_on_the_enrollment_date_runs_at_once_never_on_another_day(self) -> None:
        p = plan([(0, [step(slot="morning")]), (1, [step(slot="morning")])])
        assert local_times(p, ct(2026, 3, 2, 15, 20)) == [ct(2026, 3, 2, 15, 20), ct(2026, 3, 3, 10)]

    def test_a_slot_step_on_a_later_day_runs_at_its_slot_whatever_the_enrollment_hour(self) -> None:
        # "Day 4, morning" is 10:00 on day 4 for every contact: enrolled in the morning, afternoon or evening.
        p = plan([(0, [step("task", slot="afternoon")]), (3, [step(slot="morning"), step(slot="evening")])])
        for hour in (7, 10, 14, 16, 18, 23):
            fired = local_times(p, ct(2026, 3, 2, hour))
            assert fired[1:] == [ct(2026, 3, 5, 10), ct(2026, 3, 5, 17)], hour

    def test_only_the_enrollment_date_can_make_a_slot_late(self) -> None:
        p = plan([(0, [step(slot="morning"), step(slot="afternoon")]), (1, [step(slot="early_morning")])])
        assert local_times(p, ct(2026, 3, 2, 11, 5)) == [ct(2026, 3, 2, 11, 5), ct(2026, 3, 2, 13),
                                                         ct(2026, 3, 3, 7)]

    def test_anytime_runs_when_the_day_is_reached(self) -> None:
        p = plan([(2, [step()]), (7, [step()])])
        assert local_times(p, ct(2026, 3, 2, 9, 15)) == [ct(2026, 3, 4, 9, 15), ct(2026, 3, 11, 9, 15)]

    def test_slot_times_are_configurable_per_account(self) -> None:
        ctx = ScheduleContext(spread_key="k", time_zone="America/New_York", slot_times={"morning": "09:30"})
        p = plan([(1, [step(slot="morning"), step(slot="evening")])])
        got = local_times(p, ct(2026, 3, 2, 1), ctx, tz=NY)
        assert got == [datetime(2026, 3, 3, 9, 30, tzinfo=NY), datetime(2026, 3, 3, 17, tzinfo=NY)]

    def test_ten_oclock_steps_fire_at_ten_local_across_the_november_dst_change(self) -> None:
        # 2027-11-07 is the fall-back day in Chicago: days are calendar days, not 24-hour blocks.
        p = plan([(0, [step(slot="morning")]), (1, [step(slot="morning")]), (1, [step(slot="morning")])])
        fired = local_times(p, ct(2027, 11, 6, 8))
        assert [f.time() for f in fired] == [time(10)] * 3
        assert [f.day for f in fired] == [6, 7, 8]
        utc = [s.fire_at for s in preview(p, ct(2027, 11, 6, 8), CTX)]
        assert utc[1] - utc[0] == timedelta(hours=25)
        assert utc[2] - utc[1] == timedelta(hours=24)

    def test_a_slot_in_the_spring_forward_gap_runs_at_the_first_instant_after_it(self) -> None:
        # 2027-03-14: Chicago clocks jump from 02:00 to 03:00; an early-morning slot set to 02:30 runs at 03:00.
        ctx = ScheduleContext(spread_key="k", slot_times={"early_morning": "02:30"})
        p = plan([(0, [step(slot="morning")]), (1, [step(slot="early_morning")]), (1, [step(slot="early_morning")])])
        assert local_times(p, ct(2027, 3, 13, 9), ctx) == [ct(2027, 3, 13, 10), ct(2027, 3, 14, 3),
                                                           ct(2027, 3, 15, 2, 30)]

    def test_an_ambiguous_fall_back_slot_runs_at_its_first_occurrence(self) -> None:
        ctx = ScheduleContext(spread_key="k", slot_times={"early_morning": "01:30"})
        p = plan([(1, [step(slot="early_morning")])])
        (fired,) = [s.fire_at for s in preview(p, ct(2027, 11, 6, 9), ctx)]
        assert fired == datetime(2027, 11, 7, 6, 30, tzinfo=ZoneInfo("UTC"))  # 01:30 CDT, not 01:30 CST

    def test_anytime_keeps_its_wall_clock_across_the_march_dst_change(self) -> None:
        p = plan([(0, [step()]), (1, [step()]), (1, [step()])])
        fired = local_times(p, ct(2027, 3, 13, 9, 45))
        assert [(f.day, f.time()) for f in fired] == [(13, time(9, 45)), (14, time(9, 45)), (15, time(9, 45))]


class TestRPlan3StepsRunInOrder:
    def test_a_step_never_fires_before_the_one_before_it(self) -> None:
        # The task is held to 08:00 the next day (R-TASK-2); the email after it waits for it.
        p = plan([(0, [step("task"), step("email")])])
        assert local_times(p, ct(2026, 3, 2, 20)) == [ct(2026, 3, 3, 8), ct(2026, 3, 3, 8)]


class TestRTask2TaskWindow:
    def test_tasks_reached_outside_8_to_17_are_created_at_the_next_8(self) -> None:
        assert task_creation_time(ct(2026, 3, 2, 17, 1), "America/Chicago") == ct(2026, 3, 3, 8)
        assert task_creation_time(ct(2026, 3, 2, 6, 0), "America/Chicago") == ct(2026, 3, 2, 8)
        assert task_creation_time(ct(2026, 3, 2, 17, 0), "America/Chicago") == ct(2026, 3, 2, 17)

    def test_the_window_is_in_the_account_zone(self) -> None:
        p = plan([(0, [step("call", slot="early_morning")])])
        ctx = ScheduleContext(spread_key="k", time_zone="America/New_York")
        assert local_times(p, ct(2026, 3, 2, 5), ctx, tz=NY) == [datetime(2026, 3, 2, 8, tzinfo=NY)]


class TestRTxt3SmsWindow:
    def test_a_text_due_at_20_central_goes_out_next_day_between_10_and_14(self) -> None:
        held = text_send_time(ct(2026, 3, 2, 20), "enrollment-p1-c1")
        assert held is not None
        sent = held.astimezone(CT)
        assert sent.date() == ct(2026, 3, 3).date()
        assert time(10) <= sent.time() < time(14)
        assert sent == ct(2026, 3, 3, 10) + spread_offset("enrollment-p1-c1")

    def test_a_text_due_before_10_is_held_to_the_same_days_window(self) -> None:
        held = text_send_time(ct(2026, 3, 2, 7), "x")
        assert held is not None
        sent = held.astimezone(CT)
        assert sent.date() == ct(2026, 3, 2).date()
        assert time(10) <= sent.time() < time(14)

    def test_a_text_inside_the_window_goes_at_once(self) -> None:
        assert text_send_time(ct(2026, 3, 2, 18, 59), "x") == ct(2026, 3, 2, 18, 59)
        assert text_send_time(ct(2026, 3, 2, 19, 0), "x") == ct(2026, 3, 3, 10) + spread_offset("x")

    def test_held_texts_spread_stably_over_four_hours(self) -> None:
        offsets = {spread_offset(f"enrollment-p-{i}") for i in range(500)}
        assert min(offsets) < timedelta(minutes=10)
        assert max(offsets) > timedelta(hours=3, minutes=50)
        assert spread_offset("enrollment-p-7") == spread_offset("enrollment-p-7")

    def test_the_contacts_quiet_hours_hold_the_text_until_both_windows_allow(self) -> None:
        # 10:00 Central is 06:00 in Honolulu: wait for 08:00 there, 12:00 Central in March.
        assert text_send_time(ct(2026, 3, 2, 10), "x", "Pacific/Honolulu") == ct(2026, 3, 2, 12)

    def test_a_text_that_cannot_meet_both_today_waits_for_the_next_day(self) -> None:
        # 15:00 Central is 22:00 in Paris (past 21:00); the next day's held slot is 10:00+spread Central.
        sent = text_send_time(ct(2026, 3, 2, 15), "k", "Europe/Paris")
        assert sent == ct(2026, 3, 3, 10) + spread_offset("k")
        paris = sent.astimezone(ZoneInfo("Europe/Paris")).time()
        assert time(8) <= paris < time(21)

    def test_a_text_step_in_a_plan_uses_the_enrollment_spread(self) -> None:
        p = plan([(0, [step("text", slot="evening")])])
        fired = local_times(p, ct(2026, 3, 2, 9))
        assert fired == [ct(2026, 3, 2, 17)]
        fired_late = local_times(p, ct(2026, 3, 2, 19, 30))
        assert fired_late == [ct(2026, 3, 3, 10) + spread_offset(CTX.spread_key)]


class TestRPlan7Repeat:
    def test_the_plan_restarts_after_the_repeat_delay_from_the_last_day(self) -> None:
        p = plan([(0, [step()]), (3, [step()])], repeat={"times": 2, "delay_days": 10})
        fired = local_times(p, ct(2026, 3, 2, 9))
        assert fired == [ct(2026, 3, 2, 9), ct(2026, 3, 5, 9), ct(2026, 3, 15, 9), ct(2026, 3, 18, 9),
                         ct(2026, 3, 28, 9), ct(2026, 3, 31, 9)]

    def test_unlimited_repeats_are_previewed_for_the_requested_passes(self) -> None:
        p = plan([(0, [step()])], repeat={"times": "unlimited", "delay_days": 0})
        assert len(preview(p, ct(2026, 3, 2, 9), CTX, passes=5)) == 5
        assert [s.repeat for s in preview(p, ct(2026, 3, 2, 9), CTX, passes=3)] == [0, 1, 2]

    def test_a_plan_with_no_delay_anywhere_repeats_a_day_later_not_at_the_same_instant(self) -> None:
        """One day, no delays, repeating with none: each pass starting where the last began sent without end (an
        unlimited plan flooded the contact in seconds). A pass spans at least a day."""
        for times in (4, "unlimited"):
            p = plan([(0, [step(), step("text")])], repeat={"times": times, "delay_days": 0})
            fired = local_times(p, ct(2026, 3, 2, 11), passes=3)
            assert fired == [ct(2026, 3, 2, 11), ct(2026, 3, 2, 11), ct(2026, 3, 3, 11), ct(2026, 3, 3, 11),
                             ct(2026, 3, 4, 11), ct(2026, 3, 4, 11)]
        # A plan that spans a day already keeps its rhythm: the day after its last day, with no delay.
        p = plan([(0, [step()]), (1, [step()])], repeat={"times": 1, "delay_days": 0})
        assert local_times(p, ct(2026, 3, 2, 11)) == [ct(2026, 3, 2, 11), ct(2026, 3, 3, 11), ct(2026, 3, 3, 11),
                                                      ct(2026, 3, 4, 11)]

    def test_a_plan_without_repeat_ends_after_one_pass(self) -> None:
        p = plan([(0, [step()])])
        assert next_pass(p, Cursor(pass_started_at=ct(2026, 3, 2)), CTX) is None


class TestRPlan7RepeatAfterAHeldStep:
    """The next pass starts on the last day's date plus the repeat delay, even when the last step was held past
    that instant; the held step stays the floor, so the new pass's first steps run right after it (R-PLAN-3)."""

    def test_a_text_held_overnight_delays_pass_twos_first_step_but_moves_no_date(self) -> None:
        # Enrolled 20:00 on Mar 3; "email; a day later a text", repeating after 0 days. The Mar 4 20:00 text is held
        # to Mar 5 10:00 + spread. Pass 2's day 1 is Mar 4 (its email, due Mar 4 20:00, goes right after the text)
        # and its day 2 is Mar 5: its text is due Mar 5 20:00 and held to Mar 6.
        p = plan([(0, [step(sid="E")]), (1, [step("text", sid="T")])], repeat={"times": 2, "delay_days": 0})
        held = timedelta(hours=10) + spread_offset(CTX.spread_key)
        ran = [(s.repeat, s.step_id, s.day_date, s.fire_at) for s in preview(p, ct(2026, 3, 3, 20), CTX)]
        assert ran == [
            (0, "E", date(2026, 3, 3), ct(2026, 3, 3, 20)),
            (0, "T", date(2026, 3, 4), ct(2026, 3, 5) + held),
            (1, "E", date(2026, 3, 4), ct(2026, 3, 5) + held),
            (1, "T", date(2026, 3, 5), ct(2026, 3, 6) + held),
            (2, "E", date(2026, 3, 5), ct(2026, 3, 6) + held),
            (2, "T", date(2026, 3, 6), ct(2026, 3, 7) + held),
        ]

    def test_a_task_held_to_8_moves_no_date_of_the_next_pass(self) -> None:
        # R-TASK-2: the 20:00 task of day 2 is created at 08:00 the next morning; pass 2's morning slot on its day 1
        # (the same date as the held task's day) is already past, so it runs right after the task, and its evening
        # slot on day 2 keeps its date.
        p = plan([(0, [step(sid="M", slot="morning")]), (1, [step("task", sid="K"), step(sid="V", slot="evening")])],
                 repeat={"times": 1, "delay_days": 0})
        ran = [(s.repeat, s.step_id, s.day_date, s.fire_at) for s in preview(p, ct(2026, 3, 3, 20), CTX)]
        assert ran == [
            (0, "M", date(2026, 3, 3), ct(2026, 3, 3, 20)),
            (0, "K", date(2026, 3, 4), ct(2026, 3, 5, 8)),
            (0, "V", date(2026, 3, 4), ct(2026, 3, 5, 8)),
            (1, "M", date(2026, 3, 4), ct(2026, 3, 5, 8)),
            (1, "K", date(2026, 3, 5), ct(2026, 3, 6, 8)),
            (1, "V", date(2026, 3, 5), ct(2026, 3, 6, 8)),
        ]

    def test_next_pass_starts_at_the_wall_clock_on_the_last_days_date_and_keeps_the_held_step_as_floor(
            self) -> None:
        p = plan([(0, [step(sid="E")]), (1, [step("task", sid="K")])], repeat={"times": "unlimited", "delay_days": 0})
        cursor = Cursor(pass_started_at=ct(2026, 3, 3, 20), wall_clock=time(20))
        for _ in range(2):
            nxt = next_step(p, cursor, CTX)
            assert nxt is not None
            cursor = mark_done(cursor, nxt)
        assert cursor.floor == ct(2026, 3, 5, 8)
        following = next_pass(p, cursor, CTX)
        assert following is not None
        assert (following.repeat, following.pass_started_at, following.floor) == (
            1, ct(2026, 3, 4, 20), ct(2026, 3, 5, 8))

    def test_an_unlimited_plan_loses_no_day_a_pass(self) -> None:
        p = plan([(0, [step(sid="E")]), (1, [step("text", sid="T")])], repeat={"times": "unlimited", "delay_days": 0})
        texts = [s.day_date for s in preview(p, ct(2026, 3, 3, 20), CTX, passes=10) if s.step_id == "T"]
        assert texts == [date(2026, 3, 4) + timedelta(days=n) for n in range(10)]


class TestRTxt2DynamicRotation:
    def test_dynamic_texts_rotate_by_repeat_and_static_texts_repeat(self) -> None:
        dynamic = TextStep(message_type="dynamic", messages=["a", "b", "c"])
        assert [text_for_repeat(dynamic, n) for n in range(5)] == ["a", "b", "c", "a", "b"]
        static = TextStep(message_type="static", messages=["only"])
        assert [text_for_repeat(static, n) for n in range(3)] == ["only"] * 3


class TestRPlan9EditedPlans:
    def _after_first(self) -> tuple[PlanDefinition, Cursor]:
        p = plan([(0, [step(sid="a")]), (7, [step(sid="b")]), (7, [step(sid="c")])])
        cursor = Cursor(pass_started_at=ct(2026, 3, 2, 9))
        first = next_step(p, cursor, CTX)
        assert first is not None
        return p, mark_done(cursor, first)

    def test_a_changed_delay_applies_to_waits_not_yet_begun(self) -> None:
        _, cursor = self._after_first()
        edited = plan([(0, [step(sid="a")]), (2, [step(sid="b")]), (7, [step(sid="c")])])
        nxt = next_step(edited, cursor, CTX)
        assert nxt is not None
        assert nxt.step_id == "b"
        assert nxt.fire_at == ct(2026, 3, 4, 9)

    def test_the_awaited_step_keeps_the_day_it_already_reached(self) -> None:
        _, cursor = self._after_first()
        waiting = cursor.model_copy(update={"pending": PendingStep(step_id="b", day_date=date(2026, 3, 9))})
        edited = plan([(0, [step(sid="a")]), (2, [step(sid="b", slot="evening")]), (7, [step(sid="c")])])
        nxt = next_step(edited, waiting, CTX)
        assert nxt is not None
        assert nxt.fire_at == ct(2026, 3, 9, 17)

    def test_a_deleted_step_is_not_run_and_the_plan_goes_on_by_id(self) -> None:
        _, cursor = self._after_first()
        edited = plan([(0, [step(sid="a")]), (14, [step(sid="c")])])
        nxt = next_step(edited, cursor, CTX)
        assert nxt is not None
        assert nxt.step_id == "c"
        assert nxt.fire_at == ct(2026, 3, 16, 9)

    def test_the_place_is_the_awaited_step_so_moving_a_done_step_last_skips_nothing(self) -> None:
        # Ran a, waiting for b; the edit moves a to the end. The contact still runs b and c (a is done).
        _, cursor = self._after_first()
        waiting = cursor.model_copy(update={"pending": PendingStep(step_id="b", day_date=date(2026, 3, 9))})
        edited = plan([(0, [step(sid="b")]), (7, [step(sid="c")]), (7, [step(sid="a")])])
        ran = []
        nxt = next_step(edited, waiting, CTX)
        while nxt is not None:
            ran.append((nxt.step_id, nxt.fire_at))
            waiting = mark_done(waiting, nxt)
            nxt = next_step(edited, waiting, CTX)
        assert ran == [("b", ct(2026, 3, 9, 9)), ("c", ct(2026, 3, 16, 9))]

    def test_without_an_awaited_step_the_place_is_the_last_step_run_that_still_exists(self) -> None:
        p = plan([(0, [step(sid="a"), step(sid="b")]), (1, [step(sid="c")])])
        cursor = Cursor(pass_started_at=ct(2026, 3, 2, 9))
        for _ in range(2):
            nxt = next_step(p, cursor, CTX)
            assert nxt is not None
            cursor = mark_done(cursor, nxt)
        # b was the last step run; the edit deletes the step that was awaited and moves a after c.
        edited = plan([(0, [step(sid="b")]), (1, [step(sid="c"), step(sid="a"), step(sid="d")])])
        gone = cursor.model_copy(update={"pending": PendingStep(step_id="deleted", day_date=date(2026, 3, 3))})
        nxt = next_step(edited, gone, CTX)
        assert nxt is not None
        assert (nxt.step_id, nxt.fire_at) == ("c", ct(2026, 3, 3, 9))
        after = next_step(edited, mark_done(gone, nxt), CTX)
        assert after is not None
        assert after.step_id == "d"

    def test_a_step_inserted_behind_the_contact_is_not_run(self) -> None:
        _, cursor = self._after_first()
        edited = plan([(0, [step(sid="new"), step(sid="a")]), (7, [step(sid="b")])])
        nxt = next_step(edited, cursor, CTX)
        assert nxt is not None
        assert nxt.step_id == "b"


def test_the_preview_is_the_schedule_the_cursor_walks() -> None:
    p = plan([(0, [step("text"), step("call", slot="morning")]), (1, [step(slot="evening")])],
             repeat={"times": 1, "delay_days": 2})
    walked = []
    cursor: Cursor | None = Cursor(pass_started_at=ct(2026, 11, 23, 20))
    while cursor is not None:
        nxt = next_step(p, cursor, CTX)
        if nxt is None:
            cursor = next_pass(p, cursor, CTX)
            continue
        walked.append(nxt)
        cursor = mark_done(cursor, nxt)
    assert walked == preview(p, ct(2026, 11, 23, 20), CTX)
    assert len(walked) == 6
