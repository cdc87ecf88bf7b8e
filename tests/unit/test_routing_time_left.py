"""The time left to claim, as the offer's alert says it (R-OFFER-4: the alert gives "the time left"): rounded to the
nearest unit it is said in, seconds under a minute, hours and days for long deadlines."""

from __future__ import annotations

import pytest

from domain.routing.time_left import time_left


class TestROffer4TimeLeftReadsNaturally:
    @pytest.mark.parametrize(("seconds", "said"), [
        (299.2, "about 5 minutes left"),  # a 5-minute deadline, alerted a moment after the offer opened
        (45.4, "about 45 seconds left"),
        (10, "about 10 seconds left"),
        (1, "about 1 second left"),
        (59.6, "about 1 minute left"),  # rounding up to a whole minute says it in minutes
        (89, "about 1 minute left"),
        (90, "about 2 minutes left"),  # half up, not to even
        (150, "about 3 minutes left"),
        (3_570, "about 1 hour left"),
        (5_400, "about 1 hour 30 minutes left"),
        (7_200, "about 2 hours left"),
        (86_380, "about 1 day left"),
        (86_400 + 3 * 3_600 + 1_200, "about 1 day 3 hours left"),
        (2 * 86_400 + 5_400, "about 2 days 2 hours left"),
        (30 * 86_400, "about 30 days left"),
    ])
    def test_each_deadline_is_said_in_the_unit_that_fits_it(self, seconds: float, said: str) -> None:
        assert time_left(seconds) == said

    @pytest.mark.parametrize("seconds", [0, 0.4, -3])
    def test_a_deadline_already_reached_says_so(self, seconds: float) -> None:
        assert time_left(seconds) == "no time left"
