"""R-PLAN-4: day 1 is the enrollment's date in the account zone plus its delay — in the zone the account has when
the step is scheduled. A new zone mid-plan moves the days an enrollment has dated, so each stays the same day of the
enrollment (a day-1 step dated in Chicago and read in Tokyo ran at once)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from domain.plan import PlanDefinition
from domain.rezone import rezoned
from domain.schedule import Cursor, PendingStep, ScheduleContext, mark_done, next_step, start_cursor
from tests.unit.test_schedule import plan, step

CHICAGO = ScheduleContext(time_zone="America/Chicago", spread_key="enrollment-p1-c1")
TOKYO = ScheduleContext(time_zone="Asia/Tokyo", spread_key="enrollment-p1-c1")
ENROLLED = datetime(2026, 11, 26, 1, 40, tzinfo=UTC)  # 19:40 on the 25th in Chicago, 10:40 on the 26th in Tokyo
MORNINGS = plan([(1, [step(slot="morning", sid="day1")]), (2, [step(slot="morning", sid="day3")]),
                 (0, [step(sid="day3b")])])


def waiting(p: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> Cursor:
    """The cursor as the workflow keeps it while it waits for the next step: that step pending, its day dated."""
    nxt = next_step(p, cursor, ctx)
    assert nxt is not None
    return cursor.model_copy(update={"pending": PendingStep(step_id=nxt.step_id, day_date=nxt.day_date)})


def fires(p: PlanDefinition, cursor: Cursor, ctx: ScheduleContext) -> datetime:
    nxt = next_step(p, cursor, ctx)
    assert nxt is not None
    return nxt.fire_at.astimezone(UTC)


class TestRPlan4ANewZoneKeepsEachDayOfTheEnrollment:
    def test_a_day_1_step_waiting_for_chicagos_morning_waits_for_tokyos_next_morning(self) -> None:
        cursor = waiting(MORNINGS, start_cursor(ENROLLED, CHICAGO), CHICAGO)
        assert fires(MORNINGS, cursor, CHICAGO) == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)  # 10:00 on the 26th, CST
        moved = rezoned(cursor, TOKYO)
        assert fires(MORNINGS, moved, TOKYO) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)  # 10:00 on the 27th, JST
        assert (moved.time_zone, moved.wall_clock) == ("Asia/Tokyo", time(10, 40))
        # The same instant a contact enrolled under Tokyo from the start would get.
        assert fires(MORNINGS, moved, TOKYO) == fires(MORNINGS, start_cursor(ENROLLED, TOKYO), TOKYO)

    def test_and_back_the_days_return_to_chicagos(self) -> None:
        cursor = waiting(MORNINGS, start_cursor(ENROLLED, TOKYO), TOKYO)
        back = rezoned(rezoned(cursor, CHICAGO), TOKYO)
        assert back == cursor
        assert fires(MORNINGS, rezoned(cursor, CHICAGO), CHICAGO) == datetime(2026, 11, 26, 16, 0, tzinfo=UTC)

    def test_days_after_a_step_done_follow_from_its_moved_date(self) -> None:
        cursor = start_cursor(ENROLLED, CHICAGO)
        first = next_step(MORNINGS, cursor, CHICAGO)
        assert first is not None
        done = mark_done(cursor, first)
        moved = rezoned(done, TOKYO)
        assert [d.day_date.isoformat() for d in moved.done] == ["2026-11-27"]
        # Day 3 is two days after day 1: the 29th in Tokyo, at its morning, as for a Tokyo enrollment.
        assert fires(MORNINGS, moved, TOKYO) == datetime(2026, 11, 29, 1, 0, tzinfo=UTC)

    def test_the_same_zone_changes_nothing_and_a_cursor_from_before_zones_is_stamped(self) -> None:
        cursor = waiting(MORNINGS, start_cursor(ENROLLED, CHICAGO), CHICAGO)
        assert rezoned(cursor, CHICAGO) is cursor
        older = cursor.model_copy(update={"time_zone": None})
        assert rezoned(older, TOKYO) == cursor.model_copy(update={"time_zone": "Asia/Tokyo"})

    def test_a_zone_that_cannot_be_read_leaves_the_dates_alone(self) -> None:
        cursor = waiting(MORNINGS, start_cursor(ENROLLED, CHICAGO), CHICAGO)
        assert rezoned(cursor, ScheduleContext(time_zone="Mars/Olympus")) is cursor
