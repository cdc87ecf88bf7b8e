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
TEXT_SEARCH_DAYS = 7  # R-TXT-3: windows that never meet within a week skip the text


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """The instant (in UTC) that `clock` reads on `day` in `tz`.

    UTC because Python compares two datetimes sharing one tzinfo by wall clock, which misorders instants around
    a daylight-saving change. A wall time skipped by spring-forward lands on the first instant after the gap.
    """
    naive = datetime.combine(day, clock)
    instant = naive.replace(tzinfo=tz).astimezone(UTC)  # fold=0: an ambiguous time's first occurrence (R-PLAN-4)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # `naive` falls in a spring-forward gap: the first instant after the gap, i.e. the transition itself,
    # found to the second between the readings of `naive` with the offsets after and before it.
    lo = int(naive.replace(tzinfo=tz, fold=1).astimezone(UTC).timestamp())
    hi = int(instant.timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(tz).replace(tzinfo=None) > naive:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)


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


def text_send_time(due: datetime, spread_key: str, contact_tz: str | None = None) -> datetime | None:
    """R-TXT-3: the instant an automated text due at `due` is sent, or None when it cannot be sent.

    Due inside 10:00–19:00 Central (and the contact's 08:00–21:00 when known), it goes at once; due inside the
    Central window while the contact is in quiet hours, at the earliest later instant of that same window both
    allow. Otherwise it is *held* to the next opening both windows share, and spread by the enrollment's stable
    hash over 10:00–14:00 Central — within the part of the opening both allow. None when the two windows never
    meet within `TEXT_SEARCH_DAYS` (a contact in Asia/Kolkata in January): the caller skips the text with a reason.
    Every opening of both windows is searched, so no zone makes this raise.
    """
    central = zone(US_CENTRAL)
    contact = zone(contact_tz) if contact_tz else None
    due = due.astimezone(UTC)
    day = local_date(due, central)
    opens, closes = _central_window(day, central)
    if opens <= due < closes:
        part = _allowed_part(due, closes, contact)
        if part is not None:
            return part[0]
        day += timedelta(days=1)
    elif due >= closes:
        day += timedelta(days=1)
    last_day = local_date(due, central) + timedelta(days=TEXT_SEARCH_DAYS)
    while day <= last_day:
        opens, closes = _central_window(day, central)
        part = _allowed_part(opens, closes, contact)
        if part is not None:
            return _spread_within(part, opens, spread_key)
        day += timedelta(days=1)
    return None


def windows_never_meet(contact_tz: str | None) -> str:
    """The reason a text is skipped when `text_send_time` finds no instant, in the words of the timeline."""
    return (f"10:00–19:00 US Central and 08:00–21:00 in {contact_tz} (the contact's time zone) do not overlap "
            f"within the next {TEXT_SEARCH_DAYS} days")


def text_allowed_at(instant: datetime, contact_tz: str | None = None) -> bool:
    central = zone(US_CENTRAL)
    opens, closes = _central_window(local_date(instant, central), central)
    if not opens <= instant < closes:
        return False
    return contact_tz is None or _in_quiet_window(instant, zone(contact_tz))


def _central_window(day: date, central: ZoneInfo) -> tuple[datetime, datetime]:
    return at_local(day, TEXT_WINDOW[0], central), at_local(day, TEXT_WINDOW[1], central)


def _allowed_part(start: datetime, end: datetime, contact: ZoneInfo | None) -> tuple[datetime, datetime] | None:
    """The first stretch of [start, end) inside the contact's 08:00–21:00, or None."""
    if start >= end:
        return None
    if contact is None:
        return start, end
    first = local_date(start, contact) - timedelta(days=1)
    for offset in range(3):
        day = first + timedelta(days=offset)
        lo = max(start, at_local(day, CONTACT_QUIET[0], contact))
        hi = min(end, at_local(day, CONTACT_QUIET[1], contact))
        if lo < hi:
            return lo, hi
    return None


def _spread_within(part: tuple[datetime, datetime], opens: datetime, spread_key: str) -> datetime:
    """A held text's instant: the enrollment's stable share of 10:00–14:00 Central, squeezed into `part` (the
    opening both windows allow); when that part starts after 14:00, its own first four hours."""
    lo, hi = max(part[0], opens), min(part[1], opens + TEXT_HELD_SPREAD)
    if lo >= hi:
        lo, hi = part[0], min(part[1], part[0] + TEXT_HELD_SPREAD)
    width = int((hi - lo).total_seconds())
    share = int(spread_offset(spread_key).total_seconds())
    return lo + timedelta(seconds=width * share // int(TEXT_HELD_SPREAD.total_seconds()))


def _in_quiet_window(instant: datetime, contact: ZoneInfo) -> bool:
    local = instant.astimezone(contact).time()
    return CONTACT_QUIET[0] <= local < CONTACT_QUIET[1]
