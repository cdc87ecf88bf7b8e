"""The time an agent has left to claim a lead, as the alert says it (R-OFFER-4).

Claim deadlines run from 10 seconds to 30 days, so one unit does not fit them all: a count of whole minutes said "about
4 min" for a 5-minute deadline (the alert goes out a moment after the offer opens) and "about 0 min" for 59 seconds.
Each amount is rounded to the nearest unit it is said in, half up, and rounding that reaches the next unit moves to
it (59.6 s is "1 minute", 23 h 59.7 min is "1 day").
"""

from __future__ import annotations

import math

MINUTE, HOUR, DAY = 60, 3_600, 86_400


def time_left(seconds: float) -> str:
    """`about 45 seconds left`, `about 5 minutes left`, `about 2 hours 30 minutes left`, `about 3 days 4 hours left`."""
    if _nearest(seconds) <= 0:
        return "no time left"
    if _nearest(seconds) < MINUTE:
        return f"about {_count(_nearest(seconds), 'second')} left"
    minutes = _nearest(seconds / MINUTE)
    if minutes < HOUR // MINUTE:
        return f"about {_count(minutes, 'minute')} left"
    if minutes < DAY // MINUTE:
        hours, rest = divmod(minutes, HOUR // MINUTE)
        return f"about {_count(hours, 'hour')}{_and(rest, 'minute')} left"
    days, rest = divmod(_nearest(seconds / HOUR), DAY // HOUR)
    return f"about {_count(days, 'day')}{_and(rest, 'hour')} left"


def _nearest(amount: float) -> int:
    """Half up, not Python's half to even: 2.5 minutes reads "3 minutes", as a person would say it."""
    return math.floor(amount + 0.5)


def _count(amount: int, unit: str) -> str:
    return f"{amount} {unit}" + ("" if amount == 1 else "s")


def _and(amount: int, unit: str) -> str:
    return f" {_count(amount, unit)}" if amount else ""
