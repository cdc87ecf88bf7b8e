"""R-TASK-1: a task is due `due_in_days` after it is created at its due time (23:59 "all day" by default), and never
due before it is created."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from activities.tasks import due_at

CT = ZoneInfo("America/Chicago")


class TestRTask1DueTimes:
    def test_due_days_after_creation_at_the_due_time_in_the_account_zone(self) -> None:
        created = datetime(2027, 2, 3, 10, tzinfo=CT)
        assert due_at(created, 2, "15:30", "America/Chicago") == datetime(2027, 2, 5, 15, 30, tzinfo=CT)
        assert due_at(created, 0, None, "America/Chicago") == datetime(2027, 2, 3, 23, 59, tzinfo=CT)

    def test_a_same_day_due_time_already_past_at_creation_makes_it_due_at_the_end_of_that_day(self) -> None:
        created = datetime(2027, 2, 3, 14, tzinfo=CT)
        due = due_at(created, 0, "09:00", "America/Chicago")
        assert due == datetime(2027, 2, 3, 23, 59, tzinfo=CT)
        assert due >= created

    def test_never_due_before_creation_whatever_the_inputs(self) -> None:
        for hour in range(8, 18):
            created = datetime(2027, 3, 14, hour, 59, tzinfo=CT)
            for clock in ("00:00", "08:00", "12:30", "17:00", "23:59", None):
                assert due_at(created, 0, clock, "America/Chicago") >= created
