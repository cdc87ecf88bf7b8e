"""The month sends are counted in and the credit flags (R-EMAIL-3, R-TEAM-4), as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.credits import EmailCredit, month_start, utc_month


class TestREmail3TheQuotaMonthIsTheCalendarMonthInUtc:
    def test_an_evening_in_chicago_on_the_last_of_the_month_is_already_next_month(self) -> None:
        chicago_evening = datetime(2027, 1, 31, 19, 30, tzinfo=timezone(timedelta(hours=-6)))
        assert utc_month(chicago_evening) == (datetime(2027, 2, 1, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC))

    def test_december_ends_at_the_new_year(self) -> None:
        assert utc_month(datetime(2027, 12, 31, 23, 59, tzinfo=UTC))[1] == datetime(2028, 1, 1, tzinfo=UTC)

    @pytest.mark.parametrize("value", ["2027-13", "2027-00", "2027-2", "27-02", "2027-02-01", "0000-01", "9999-12",
                                       " 2027-02", "２０２７-０２"])
    def test_a_month_is_written_yyyy_mm(self, value: str) -> None:
        assert month_start(value) is None

    def test_a_month_reads_as_its_first_instant(self) -> None:
        assert month_start("2027-02") == datetime(2027, 2, 1, tzinfo=UTC)


class TestRTeam4WhoIsAboutToRunOut:
    @pytest.mark.parametrize(("sent", "quota", "status"), [
        (0, 5000, "ok"), (899, 1000, "ok"), (900, 1000, "near_limit"), (999, 1000, "near_limit"),
        (1000, 1000, "exhausted"), (1200, 1000, "exhausted"), (0, 0, "exhausted"), (0, 1, "ok")])
    def test_near_limit_from_90_percent_exhausted_when_the_next_email_is_refused(self, sent: int, quota: int,
                                                                               status: str) -> None:
        assert EmailCredit(sent=sent, quota=quota).status == status

    def test_what_is_left_and_the_share_used(self) -> None:
        assert (EmailCredit(1, 3).remaining, EmailCredit(1, 3).used_percent) == (2, 33.3)
        assert (EmailCredit(12, 8).remaining, EmailCredit(12, 8).used_percent) == (0, 150.0)
        assert (EmailCredit(0, 0).remaining, EmailCredit(0, 0).used_percent) == (0, 100.0)
