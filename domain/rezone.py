"""A new account time zone for a running enrollment (R-PLAN-4: day 1 is the enrollment's date in the account zone
plus its delay).

An enrollment dates its days by calendar date in the account zone. Read in another zone, the same date is another
instant: a day-1 step dated 26 November in Chicago, read as 26 November in Tokyo, fell before the enrollment and ran
at once. Moved here, each dated day stays the same day of the enrollment, as if it had been dated in the new zone
from the start: the waits, the steps done and the wall clock ("anytime", a repeat's restart) follow.
"""

from __future__ import annotations

from datetime import date, time

from domain.schedule import Cursor, ScheduleContext, ScheduleError
from domain.windows import at_local, local_date


def rezoned(cursor: Cursor, ctx: ScheduleContext) -> Cursor:
    """`cursor` with its dates in `ctx`'s account zone: moved there from the zone they were dated in, or stamped
    with it when the cursor does not say (one from before cursors said). Unchanged when either zone cannot be read:
    the schedule reports a bad zone on its own."""
    if cursor.time_zone is None:
        return cursor.model_copy(update={"time_zone": ctx.time_zone})
    if cursor.time_zone == ctx.time_zone:
        return cursor
    try:
        old_zone, new_zone = ScheduleContext(time_zone=cursor.time_zone).zone(), ctx.zone()
    except ScheduleError:
        return cursor
    clock = cursor.wall_clock or cursor.pass_started_at.astimezone(old_zone).time().replace(tzinfo=None)

    def moved(day: date) -> date:
        """The date, in the new zone, of that day's instant at the enrollment's wall clock in the old one."""
        return local_date(at_local(day, clock, old_zone), new_zone)

    started = cursor.pass_started_at.astimezone(new_zone)
    pending = cursor.pending
    return cursor.model_copy(update={
        "time_zone": ctx.time_zone, "wall_clock": time(started.hour, started.minute),
        "done": [step.model_copy(update={"day_date": moved(step.day_date)}) for step in cursor.done],
        "pending": pending.model_copy(update={"day_date": moved(pending.day_date)}) if pending else None,
    })
