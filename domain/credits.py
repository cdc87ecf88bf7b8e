"""Email and text credits (R-EMAIL-3, R-TEAM-4): the month sends are counted in, and how close an agent is to their
email quota.

The quota is checked at send time against the sends of the calendar month in UTC of the plan's instant; the credits
report reads the same month, so "3 of 5 left" on the report is what the next send will find. The flag warns the
Rainmaker before sends start failing: `near_limit` from NEAR_LIMIT_PERCENT of the quota, `exhausted` once the next
email would be refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

NEAR_LIMIT_PERCENT = 90
MAX_EMAIL_QUOTA = 1_000_000
CreditStatus = Literal["ok", "near_limit", "exhausted"]
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


def utc_month(at: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) of `at`, as [start, end) instants."""
    start = at.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def month_start(value: str) -> datetime | None:
    """The first instant (UTC) of a month written `YYYY-MM`; None for anything else (`2027-13`, `2027-2`, `9999-12`,
    whose end no datetime can hold)."""
    match = _MONTH.fullmatch(value)
    if match is None:
        return None
    try:
        start = datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)
        utc_month(start)
    except (ValueError, OverflowError):
        return None
    return start


@dataclass(frozen=True)
class EmailCredit:
    """One agent's email sends in a month against their quota (R-EMAIL-3: a send at or over the quota is refused)."""

    sent: int
    quota: int

    @property
    def remaining(self) -> int:
        return max(0, self.quota - self.sent)

    @property
    def used_percent(self) -> float:
        """Share of the quota used, one decimal; above 100 when the quota was lowered below the month's sends. A quota
        of 0 allows nothing: 100 % used."""
        if self.quota == 0:
            return 100.0
        return round(100 * self.sent / self.quota, 1)

    @property
    def status(self) -> CreditStatus:
        if self.sent >= self.quota:
            return "exhausted"
        if self.sent * 100 >= self.quota * NEAR_LIMIT_PERCENT:
            return "near_limit"
        return "ok"
