"""Request bodies are capped at 2 MB: 413 before anything is parsed or written, declared or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator

from api.body_limit import MAX_BODY_BYTES
from db.models import Design
from tests.api.conftest import Api


async def test_a_body_over_the_cap_is_413_and_writes_nothing(api: Api) -> None:
    team = await api.team()
    html = "<p>" + "x" * MAX_BODY_BYTES + "</p>"
    answer = await api.client.post("/designs", headers=team.member,
                                   json={"name": "Huge", "subject": "Huge", "html": html})
    assert answer.status_code == 413
    assert answer.json()["detail"] == "request body over 2 MB; send less"
    assert await api.harness.rows(Design) == []


async def test_a_streamed_body_without_a_length_is_cut_off_at_the_cap(api: Api) -> None:
    team = await api.team()

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Huge", "subject": "Huge", "html": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    answer = await api.client.post("/designs", headers={**team.member, "Content-Type": "application/json"},
                                   content=chunks())
    assert answer.status_code == 413
    assert await api.harness.rows(Design) == []


async def test_a_body_under_the_cap_is_served(api: Api) -> None:
    team = await api.team()
    answer = await api.client.post("/designs", headers=team.member,
                                   json={"name": "Fine", "subject": "Fine", "html": "<p>" + "x" * 400_000 + "</p>"})
    assert answer.status_code == 201, answer.text[:200]
