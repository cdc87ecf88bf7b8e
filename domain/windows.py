"""When a due step may actually go out: the task window (R-TASK-2) and the SMS window (R-TXT-3).

Both only ever move an instant forward. All arithmetic is on aware datetimes and wall-clock dates in the named
zone, so a window "opens at 10:00 Central" on both sides of a daylight-saving change.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

US_CENTRAL = "America/Chicago"
TEXT_WINDOW = (time(10, 0), time(19, 0))  # R-TXT-3, US Central, end exclusive
TEXT_HELD_SPREAD = timedelta(hours=4)  # held texts go out over 10:00–14:00 Central
CONTACT_QUIET = (time(8, 0), time(21, 0))  # federal quiet hours in the contact's zone, end exclusive
TASK_WINDOW = (time(8, 0), time(17, 0))  # R-TASK-2, account zone, both ends inclusive
_MAX_DAYS_SEARCHED = 8


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) that `clock` reads on `day` in `tz`.

    UTC because Python compares two datetimes sharing one tzinfo by wall clock, which misorders instants around
    a daylight-saving change. A wall time skipped by spring-forward lands just after the gap.
    """
    return datetime.combine(day, clock).replace(tzinfo=tz).astimezone(UTC)


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    return instant.astimezone(tz).date()


def task_creation_time(due: datetime, account_tz: str) -> datetime:
    """R-TASK-2: tasks appear between 08:00 and 17:00 account time; outside that, at the next 08:00."""
    tz = zone(account_tz)
    local = due.astimezone(tz)
    opens, closes = TASK_WINDOW
    if local.time() < opens:
        return at_local(local.date(), opens, tz)
    if local.time() > closes:
        return at_local(local.date() + timedelta(days=1), opens, tz)
    return due.astimezone(UTC)


def spread_offset(key: str) -> timedelta:
    """A stable offset in [0, 4h) for one enrollment, so held texts of many contacts don't all leave at 10:00."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    minutes = int.from_bytes(digest[:8], "big") % int(TEXT_HELD_SPREAD.total_seconds() // 60)
    return timedelta(minutes=minutes)


def text_send_time(due: datetime, spread_key: str, contact_tz: str | None = None) -> datetime:
    """R-TXT-3: the instant an automated text due at `due` is sent.

    Inside 10:00–19:00 Central (and the contact's 08:00–21:00 when known) it goes at once. A text due before the
    window opens is held to that day's opening, one due after it closes to the next day's; a held text goes at
    10:00 Central plus the enrollment's stable spread (10:00–14:00). When the contact's quiet hours rule that
    instant out, it waits for the earliest instant both windows allow.
    """
    central = zone(US_CENTRAL)
    contact = zone(contact_tz) if contact_tz else None
    day = local_date(due, central)
    opens, closes = _central_window(day, central)
    if due < closes:
        if due >= opens:
            earliest = _earliest_allowed(due.astimezone(UTC), closes, contact)
            if earliest is not None:
                return earliest
            day += timedelta(days=1)
        # before the opening: held to this same day's window
    else:
        day += timedelta(days=1)
    for _ in range(_MAX_DAYS_SEARCHED):
        opens, closes = _central_window(day, central)
        earliest = _earliest_allowed(opens + spread_offset(spread_key), closes, contact)
        if earliest is not None:
            return earliest
        day += timedelta(days=1)
    raise ValueError(f"no instant within {_MAX_DAYS_SEARCHED} days satisfies the SMS windows for {contact_tz}")


def text_allowed_at(instant: datetime, contact_tz: str | None = None) -> bool:
    central = zone(US_CENTRAL)
    opens, closes = _central_window(local_date(instant, central), central)
    if not opens <= instant < closes:
        return False
    return contact_tz is None or _in_quiet_window(instant, zone(contact_tz))


def _central_window(day: date, central: ZoneInfo) -> tuple[datetime, datetime]:
    return at_local(day, TEXT_WINDOW[0], central), at_local(day, TEXT_WINDOW[1], central)


def _earliest_allowed(start: datetime, end: datetime, contact: ZoneInfo | None) -> datetime | None:
    """The earliest instant in [start, end) inside the contact's 08:00–21:00, or None."""
    if start >= end:
        return None
    if contact is None:
        return start
    first = local_date(start, contact) - timedelta(days=1)
    for offset in range(3):
        day = first + timedelta(days=offset)
        lo = max(start, at_local(day, CONTACT_QUIET[0], contact))
        hi = min(end, at_local(day, CONTACT_QUIET[1], contact))
        if lo < hi:
            return lo
    return None


def _in_quiet_window(instant: datetime, contact: ZoneInfo) -> bool:
    local = instant.astimezone(contact).time()
    return CONTACT_QUIET[0] <= local < CONTACT_QUIET[1]
