"""API keys are rotated and revoked, and the old key stops working at once; a client repeating bad keys is slowed
with 429 while the real agent's key keeps working."""

from __future__ import annotations

from api.key_guard import BadKeyGuard
from tests.api.conftest import ADMIN, Api


class TestRotateAndRevoke:
    async def test_an_agent_rotates_their_own_key_and_the_old_one_stops_at_once(self, api: Api) -> None:
        team = await api.team()
        rotated = await api.client.post(f"/agents/{team.member_id}/api-key", headers=team.member)
        assert rotated.status_code == 200, rotated.text
        new = {"Authorization": f"Bearer {rotated.json()['api_key']}"}
        assert (await api.client.get("/me", headers=team.member)).status_code == 401
        assert (await api.client.get("/me", headers=new)).json()["agent"]["id"] == team.member_id

    async def test_the_rainmaker_revokes_a_members_key_and_can_issue_a_new_one(self, api: Api) -> None:
        team = await api.team()
        assert (await api.client.delete(f"/agents/{team.member_id}/api-key", headers=team.rainmaker)).status_code == 204
        refused = await api.client.get("/me", headers=team.member)
        assert refused.status_code == 401
        assert refused.json()["detail"] == "invalid API key"
        issued = await api.client.post(f"/agents/{team.member_id}/api-key", headers=team.rainmaker)
        new = {"Authorization": f"Bearer {issued.json()['api_key']}"}
        assert (await api.client.get("/me", headers=new)).status_code == 200
        assert (await api.client.get("/me", headers=team.rainmaker)).status_code == 200  # her own key is untouched

    async def test_a_member_cannot_change_anothers_key_and_another_team_is_404(self, api: Api) -> None:
        team, other = await api.team(), await api.team("Other Team")
        answer = await api.client.post(f"/agents/{team.rainmaker_id}/api-key", headers=team.member)
        assert answer.status_code == 403
        for method in ("POST", "DELETE"):
            hidden = await api.client.request(method, f"/agents/{other.member_id}/api-key", headers=team.rainmaker)
            assert (hidden.status_code, hidden.json()["detail"]) == (404, f"agent {other.member_id} not found")
        assert (await api.client.get("/me", headers=other.member)).status_code == 200
        assert (await api.client.get("/me", headers=team.rainmaker)).status_code == 200

    async def test_the_admin_key_rotates_any_agents_key(self, api: Api) -> None:
        team = await api.team()
        rotated = await api.client.post(f"/agents/{team.rainmaker_id}/api-key", headers=ADMIN)
        assert rotated.status_code == 200
        assert (await api.client.get("/me", headers=team.rainmaker)).status_code == 401
        assert (await api.client.post("/agents/ag_missing/api-key", headers=ADMIN)).status_code == 404


class TestBadKeysAreSlowed:
    async def test_after_twenty_bad_keys_the_client_gets_429_but_a_good_key_still_works(self, api: Api) -> None:
        team = await api.team()
        bad = {"Authorization": "Bearer sp_not-a-key"}
        answers = [(await api.client.get("/plans", headers=bad)).status_code for _ in range(21)]
        assert answers == [401] * 20 + [429]
        slowed = await api.client.get("/plans", headers=bad)
        assert slowed.status_code == 429
        assert 1 <= int(slowed.headers["Retry-After"]) <= 60
        assert "a valid key is still accepted" in slowed.json()["detail"]
        assert (await api.client.get("/plans", headers=team.member)).status_code == 200


class TestTheGuard:
    def test_failures_age_out_of_the_window(self) -> None:
        now = [0.0]
        guard = BadKeyGuard(limit=3, window=60, clock=lambda: now[0])
        for _ in range(3):
            guard.failed("10.0.0.1")
        assert guard.retry_after("10.0.0.1") == 60
        assert guard.retry_after("10.0.0.2") is None  # another address is not slowed
        now[0] = 45.0
        assert guard.retry_after("10.0.0.1") == 15
        now[0] = 60.5
        assert guard.retry_after("10.0.0.1") is None

    def test_memory_stays_bounded_under_a_spray_from_many_addresses(self) -> None:
        guard = BadKeyGuard(limit=3, window=60, clock=lambda: 0.0, max_clients=100)
        for n in range(1_000):
            guard.failed(f"10.0.{n // 256}.{n % 256}")
        assert len(guard._failures) <= 100
