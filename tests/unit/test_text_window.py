"""R-TXT-3: the SMS window searched whole — both windows, every opening, the spread inside what both allow — and
a text that can never be sent skipped with its reason instead of stalling the plan."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.plan import PlanDefinition
from domain.schedule import ScheduleContext, preview
from domain.windows import spread_offset, text_allowed_at, text_send_time

CT = ZoneInfo("America/Chicago")
KOLKATA = "Asia/Kolkata"
DHAKA = "Asia/Dhaka"


def ct(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CT)


class TestRTxt3WindowsThatNeverMeet:
    @pytest.mark.parametrize("contact", [KOLKATA, DHAKA])
    def test_in_january_neither_kolkata_nor_dhaka_ever_overlaps_central_so_the_text_is_skipped(
            self, contact: str) -> None:
        for hour in (0, 9, 10, 12, 18, 19, 23):
            assert text_send_time(ct(2027, 1, 12, hour), "enrollment-x", contact) is None

    def test_in_july_dhaka_still_never_overlaps(self) -> None:
        # 10:00–19:00 CDT is 21:00–06:00 in Dhaka: quiet hours end at 21:00, exclusive.
        assert text_send_time(ct(2027, 7, 12, 9), "enrollment-x", DHAKA) is None

    def test_in_july_kolkata_overlaps_for_half_an_hour_and_every_spread_slot_lands_inside_it(self) -> None:
        # 10:00–10:30 CDT is 20:30–21:00 IST: the only instants both windows allow.
        kolkata = ZoneInfo(KOLKATA)
        seen = set()
        for i in range(300):
            key = f"enrollment-pl-{i}"
            sent = text_send_time(ct(2027, 7, 12, 20), key, KOLKATA)
            assert sent is not None, key
            assert ct(2027, 7, 13, 10) <= sent < ct(2027, 7, 13, 10, 30)
            assert time(20, 30) <= sent.astimezone(kolkata).time() < time(21)
            assert text_allowed_at(sent, KOLKATA)
            seen.add(sent)
        assert len(seen) > 20  # still spread, within the part both allow

    def test_a_skipped_text_does_not_stop_the_plan_and_the_preview_says_why(self) -> None:
        plan = PlanDefinition.model_validate({"name": "P", "days": [
            {"delay_days": 0, "steps": [{"kind": "text", "id": "t", "messages": ["hi"]},
                                        {"kind": "email", "id": "e", "subject": "s", "body": "b"}]},
            {"delay_days": 1, "steps": [{"kind": "text", "id": "t2", "messages": ["again"]}]}]})
        ctx = ScheduleContext(contact_time_zone=KOLKATA, spread_key="k")
        steps = preview(plan, ct(2027, 1, 12, 11), ctx)
        assert [(s.step_id, s.verdict) for s in steps] == [("t", "skipped"), ("e", None), ("t2", "skipped")]
        assert "Asia/Kolkata" in steps[0].reason
        assert "do not overlap" in steps[0].reason
        assert steps[1].fire_at == ct(2027, 1, 12, 11)


class TestRTxt3HeldTexts:
    def test_a_held_text_is_spread_within_the_part_of_the_opening_both_allow(self) -> None:
        # Honolulu 08:00 is 12:00 Central in March: the spread runs over 12:00–14:00, not from 10:00.
        for i in range(100):
            key = f"e-{i}"
            sent = text_send_time(ct(2026, 3, 2, 20), key, "Pacific/Honolulu")
            assert sent is not None
            assert ct(2026, 3, 3, 12) <= sent < ct(2026, 3, 3, 14)

    def test_without_a_contact_zone_the_spread_is_the_enrollments_stable_offset_from_ten(self) -> None:
        assert text_send_time(ct(2026, 3, 2, 19, 5), "k") == ct(2026, 3, 3, 10) + spread_offset("k")

    def test_a_retry_at_1905_waits_for_the_next_days_window(self) -> None:
        # The provider was down from 18:50 to 19:05: the retry is not sent at 19:05 but in the next opening.
        sent = text_send_time(ct(2026, 3, 2, 19, 5), "k")
        assert sent is not None
        assert sent.astimezone(CT).date() == ct(2026, 3, 3).date()
        assert time(10) <= sent.astimezone(CT).time() < time(14)

    @pytest.mark.parametrize("contact", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Tokyo", "Europe/London",
                                         "Australia/Sydney", "America/St_Johns", "Asia/Kathmandu"])
    def test_every_zone_gets_an_instant_in_both_windows_or_none_never_an_error(self, contact: str) -> None:
        for month in (1, 4, 7, 10):
            for hour in range(0, 24, 3):
                sent = text_send_time(ct(2027, month, 10, hour), "k", contact)
                if sent is not None:
                    assert text_allowed_at(sent, contact)
                    assert sent >= ct(2027, month, 10, hour)
                    assert sent - ct(2027, month, 10, hour) <= timedelta(days=8)
