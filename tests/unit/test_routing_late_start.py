"""Issue 10, item 3: a lead whose offer workflow starts late picks up where its offers would be had they begun on
time — the turn of the agent in line now, until that turn's own deadline — and goes to the pool once every turn has
passed; a turn with less than the shortest claim deadline (10 s, R-OFFER-4) left counts as passed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.routing.late_start import OfferResume, resume_offers

ROUTED = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
LINE = ["ag_alex", "ag_bea", "ag_cy"]


def late(seconds: float, *, all_at_once: bool = False, claim_seconds: int = 300) -> OfferResume | None:
    return resume_offers(LINE, all_at_once=all_at_once, claim_seconds=claim_seconds, routed_at=ROUTED,
                         now=ROUTED + timedelta(seconds=seconds))


class TestIssue10Item3LateOffersKeepTheirSchedule:
    def test_within_the_first_turn_the_first_agent_gets_the_rest_of_it(self) -> None:
        assert late(45) == OfferResume(position=0, deadline=ROUTED + timedelta(minutes=5), missed=[],
                                       late_seconds=45)

    def test_after_the_first_turn_the_second_agent_is_offered_and_the_first_is_missed(self) -> None:
        assert late(400) == OfferResume(position=1, deadline=ROUTED + timedelta(minutes=10), missed=["ag_alex"],
                                        late_seconds=400)

    def test_a_turn_with_less_than_ten_seconds_left_is_passed_over(self) -> None:
        resumed = late(295)
        assert resumed is not None
        assert (resumed.position, resumed.missed) == (1, ["ag_alex"])
        still = late(289)
        assert still is not None
        assert still.position == 0

    def test_every_turn_passed_sends_the_lead_to_the_pool(self) -> None:
        assert late(3 * 300 - 5) is None
        assert late(3 * 300 + 3600) is None

    def test_a_jump_ball_has_one_turn_for_everyone(self) -> None:
        assert late(100, all_at_once=True) == OfferResume(position=0, deadline=ROUTED + timedelta(minutes=5),
                                                          missed=[], late_seconds=100)
        assert late(301, all_at_once=True) is None

    def test_a_clock_behind_the_routing_instant_counts_as_on_time(self) -> None:
        resumed = late(-5)
        assert resumed is not None
        assert (resumed.position, resumed.late_seconds) == (0, 0)
