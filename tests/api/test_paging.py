"""Every list is paged: `limit` (at most 500) and `offset`, stated in the OpenAPI document; a page that is not the
last links the next one."""

from __future__ import annotations

from api.app import create_app
from config import Settings
from tests.api.conftest import Api
from tests.api.test_enrollments import make_contact
from tests.api.test_messages import make_message
from tests.api.test_tasks import make_task

STEPS = [{"delay_days": 0, "steps": [{"kind": "task", "name": "Call", "priority": "none"}]}]


async def test_pages_follow_their_next_links_to_the_end(api: Api) -> None:
    team = await api.team()
    for name in ("Buyer", "Seller", "Renter"):
        assert (await api.client.post("/tags", json={"name": name}, headers=team.member)).status_code == 201
        made = await api.client.post("/plans", json={"name": name, "days": STEPS}, headers=team.member)
        assert made.status_code == 201
    for path, key in (("/tags", "name"), ("/plans", "name")):
        first = await api.client.get(path, params={"limit": 2}, headers=team.member)
        assert [item[key] for item in first.json()] == ["Buyer", "Renter"]
        following = first.headers["Link"]
        assert following.endswith('>; rel="next"')
        second = await api.client.get(following[1:following.index(">")], headers=team.member)
        assert [item[key] for item in second.json()] == ["Seller"]
        assert "Link" not in second.headers
        whole = await api.client.get(path, headers=team.member)
        assert len(whole.json()) == 3
        assert "Link" not in whole.headers


async def test_a_page_size_outside_1_to_500_is_422(api: Api) -> None:
    team = await api.team()
    for path in ("/plans", "/tags", "/designs", "/pool", "/contacts", "/tasks", "/messages", "/leads"):
        for limit in ("0", "501", "many"):
            answer = await api.client.get(path, params={"limit": limit}, headers=team.member)
            assert answer.status_code == 422, (path, limit, answer.text)


def test_every_list_states_its_page_size_in_the_openapi_document() -> None:
    schema = create_app(Settings(environment="test")).openapi()
    unpaged = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        if get is None:
            continue
        answer = get["responses"]["200"]["content"].get("application/json", {}).get("schema", {})
        if answer.get("type") != "array":
            continue
        limits = [p for p in get.get("parameters", []) if p["name"] == "limit"]
        if not limits or limits[0]["schema"].get("maximum") is None:
            unpaged.append(path)
    assert unpaged == []


def test_every_list_that_takes_a_page_size_takes_an_offset_too() -> None:
    """`/tasks` and `/messages` took `limit` alone: past the first 500 nothing could be read."""
    schema = create_app(Settings(environment="test")).openapi()
    without = [path for path, operations in schema["paths"].items() if "get" in operations
               and {"limit"} <= {p["name"] for p in operations["get"].get("parameters", [])}
               and "offset" not in {p["name"] for p in operations["get"].get("parameters", [])}]
    assert without == []


async def test_tasks_and_messages_page_by_offset_and_link_the_next_page(api: Api) -> None:
    team = await api.team()
    contact_id = await make_contact(api, team)
    tasks = [await make_task(api, team, contact_id, f"Call {n}", due_in_days=n) for n in range(3)]
    messages = [await make_message(api, team, contact_id, f"Reply {n}", minutes=-n) for n in range(3)]
    for path, ids in (("/tasks", tasks), ("/messages", messages)):
        first = await api.client.get(path, params={"limit": 2}, headers=team.member)
        assert [item["id"] for item in first.json()] == ids[:2]
        following = first.headers["Link"]
        second = await api.client.get(following[1:following.index(">")], headers=team.member)
        assert [item["id"] for item in second.json()] == ids[2:]
        assert "Link" not in second.headers
