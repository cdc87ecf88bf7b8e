"""A claim or pass while lead routing's worker does not answer (R-OFFER-2): an offer the database already shows as
over is refused from it at once (409 with the reason), and one still open is a 503 the caller can retry, never a
500 with a plain-text body."""

from __future__ import annotations

from datetime import timedelta

import pytest

from api.routers import leads as lead_routes
from db.models import Contact
from db.routing_models import Lead, LeadOffer
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api, Team
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import LeadOfferInput, lead_workflow_id


async def lead_nobody_runs(api: Api, team: Team, outcome: str, deadline_in: timedelta) -> str:
    """A lead on offer to the member, its workflow started on a queue no worker polls."""
    now = await api.harness.env.get_current_time()
    lead_id = new_id("ld")
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=team.id, first_name="Lee")
        session.add(contact)
        await session.flush()
        session.add(Lead(id=lead_id, team_id=team.id, contact_id=contact.id, source="zillow", received_at=now,
                         status="offered", routing_record=[], tag_ids=[], workflow_id=lead_workflow_id(lead_id)))
        await session.flush()
        session.add(LeadOffer(id=new_id("lo"), lead_id=lead_id, team_id=team.id, agent_id=team.member_id,
                              offered_at=now, deadline=now + deadline_in, outcome=outcome))
    await api.harness.env.client.start_workflow(
        LeadOfferWorkflow.run, LeadOfferInput(lead_id=lead_id, team_id=team.id, route_id=None, line=[team.member_id],
                                              all_at_once=False, claim_seconds=300, lead_name="Lee", source="zillow"),
        id=lead_workflow_id(lead_id), task_queue="no-worker-polls-this")
    return lead_id


class TestROffer2WhileRoutingDoesNotAnswer:
    @pytest.mark.parametrize(("outcome", "deadline_in", "said"), [
        ("expired", timedelta(minutes=-1), "your offer of this lead ran out at its claim deadline"),
        ("open", timedelta(seconds=-5), "your offer of this lead ran out at its claim deadline"),
        ("passed", timedelta(minutes=5), "you already passed on this lead"),
    ])
    async def test_an_offer_the_database_shows_over_is_refused_from_it(
            self, api: Api, outcome: str, deadline_in: timedelta, said: str) -> None:
        team = await api.team()
        lead_id = await lead_nobody_runs(api, team, outcome, deadline_in)
        for verb in ("claim", "pass"):
            answer = await api.client.post(f"/leads/{lead_id}/{verb}", headers=team.member)
            assert answer.status_code == 409, answer.text
            assert answer.json()["detail"].startswith(said)

    async def test_an_open_offer_the_workflow_does_not_answer_is_a_503_to_retry(
            self, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(lead_routes, "UPDATE_TIMEOUT", timedelta(seconds=1))
        team = await api.team()
        lead_id = await lead_nobody_runs(api, team, "open", timedelta(minutes=5))
        answer = await api.client.post(f"/leads/{lead_id}/claim", headers=team.member)
        assert answer.status_code == 503, answer.text
        assert answer.headers["Retry-After"] == "5"
        assert answer.json()["detail"].startswith("lead routing did not answer your claim in time")
