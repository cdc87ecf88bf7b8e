"""Identity: the admin key makes teams and agents; agents authenticate with their own hashed keys."""

from __future__ import annotations

from sqlalchemy import select

from db.models import Agent
from db.session import session_scope
from tests.api.conftest import ADMIN, Api


class TestApiKeys:
    async def test_an_agent_key_identifies_the_agent_and_is_stored_hashed(self, api: Api) -> None:
        team = await api.team()
        me = await api.client.get("/me", headers=team.member)
        assert me.status_code == 200
        assert (me.json()["agent"]["id"], me.json()["team"]["id"]) == (team.member_id, team.id)
        key = team.member["Authorization"].removeprefix("Bearer ")
        async with session_scope(api.harness.sessions) as session:
            stored = list((await session.scalars(select(Agent.api_key_hash))).all())
        assert key not in stored
        assert all(h is not None and len(h) == 64 for h in stored)

    async def test_missing_or_bad_keys_get_401(self, api: Api) -> None:
        assert (await api.client.get("/me")).status_code == 401
        bad = await api.client.get("/me", headers={"Authorization": "Bearer sp_nope"})
        assert (bad.status_code, bad.json()["detail"]) == (401, "invalid API key")

    async def test_the_admin_key_is_not_an_agent(self, api: Api) -> None:
        assert (await api.client.get("/me", headers=ADMIN)).status_code == 403


class TestTeamsAndAgents:
    async def test_only_the_admin_creates_teams(self, api: Api) -> None:
        team = await api.team()
        refused = await api.client.post("/teams", json={"name": "X"}, headers=team.rainmaker)
        assert refused.status_code == 403

    async def test_the_rainmaker_adds_agents_to_their_team_only(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        body = {"first_name": "New", "last_name": "Agent", "email": "new@example.com"}
        assert (await api.client.post(f"/teams/{team.id}/agents", json=body, headers=team.rainmaker)).status_code == 201
        assert (await api.client.post(f"/teams/{team.id}/agents", json=body, headers=team.member)).status_code == 403
        assert (await api.client.post(f"/teams/{other.id}/agents", json=body,
                                      headers=team.rainmaker)).status_code == 404

    async def test_a_team_has_one_rainmaker(self, api: Api) -> None:
        team = await api.team()
        body = {"first_name": "Second", "last_name": "Boss", "email": "b@example.com", "role": "rainmaker"}
        assert (await api.client.post(f"/teams/{team.id}/agents", json=body, headers=ADMIN)).status_code == 409

    async def test_an_address_is_one_agents_in_a_team_and_may_be_another_teams_too(self, api: Api) -> None:
        """A reply to an agent's address finds that agent (R-RULE-5): two in one team would leave it to chance."""
        team, other = await api.team(), await api.team("Other Team")
        body = {"first_name": "Bo", "last_name": "Agent", "email": "bo@example.com"}
        first = await api.client.post(f"/teams/{team.id}/agents", json=body, headers=team.rainmaker)
        again = await api.client.post(f"/teams/{team.id}/agents", headers=ADMIN,
                                      json={**body, "first_name": "Bea", "email": "BO@example.com"})
        elsewhere = await api.client.post(f"/teams/{other.id}/agents", json=body, headers=other.rainmaker)

        assert (first.status_code, again.status_code, elsewhere.status_code) == (201, 409, 201)
        assert again.json()["detail"] == (f"an agent of team {team.id} already has the email BO@example.com "
                                          f"({first.json()['id']})")

    async def test_unknown_fields_and_bad_values_are_422_naming_the_field(self, api: Api) -> None:
        typo = await api.client.post("/teams", json={"name": "T", "timezone": "UTC"}, headers=ADMIN)
        assert typo.status_code == 422
        assert typo.json()["detail"][0]["loc"] == ["body", "timezone"]
        zone = await api.client.post("/teams", json={"name": "T", "time_zone": "Mars/Olympus"}, headers=ADMIN)
        assert zone.status_code == 422
        assert "not an IANA time zone" in zone.json()["detail"][0]["msg"]


class TestSettings:
    async def test_defaults_then_an_agent_sets_their_own_zone_slots_and_twilio(self, api: Api) -> None:
        team = await api.team()
        got = (await api.client.get("/settings", headers=team.member)).json()
        assert (got["time_zone"], got["slot_times"]["morning"], got["email_quota_monthly"]) == (
            "America/Chicago", "10:00", 5000)
        assert got["twilio"]["configured"] is False
        changed = await api.client.patch("/settings", headers=team.member, json={
            "time_zone": "America/Denver", "slot_times": {"morning": "09:30"}, "twilio_from_number": "+15125550111"})
        assert changed.status_code == 200
        body = changed.json()
        assert (body["time_zone"], body["slot_times"]["morning"], body["twilio"]["configured"]) == (
            "America/Denver", "09:30", True)

    async def test_team_defaults_need_the_rainmaker_or_enhanced_permission(self, api: Api) -> None:
        team = await api.team()
        body = {"default_text_sender": "contact_assignee"}
        refused = await api.client.patch("/settings", headers=team.member, json=body)
        assert refused.status_code == 403
        assert (await api.client.get("/settings", headers=team.member)).json()["default_text_sender"] == "rainmaker"
        allowed = await api.client.patch("/settings", headers=team.rainmaker, json=body)
        assert allowed.json()["default_text_sender"] == "contact_assignee"


async def test_health_answers_once_database_and_temporal_answer(api: Api) -> None:
    health = await api.client.get("/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
