"""R-EMAIL-4 through the real app: the unsubscribe link of a sent email cannot be guessed or altered (whatever bytes
it holds, a link we did not sign is a clean 404 that unsubscribes nobody), works once, and stops the email of every
plan the contact is in while their texts and tasks go on."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from db.models import Contact, Message, Task, TimelineEvent
from db.session import session_scope
from domain.email_content import unsubscribe_token
from domain.ids import new_id
from tests.api.conftest import Api
from tests.factories import World, add_plan, email, eventually, next_local, plan_doc, seed, task, text

UNSUBSCRIBED = "You're unsubscribed"
ALREADY = "You're already unsubscribed"
SKIPPED = "Email not sent: the contact unsubscribed from plan email"


async def second_contact(api: Api, world: World) -> str:
    """Another contact of the same team, who must never be unsubscribed by the first one's link."""
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=world.team_id, owner_agent_id=world.agent_id, first_name="Lee",
                          email="lee@example.com")
        session.add(contact)
    return contact.id


async def unsubscribed(api: Api) -> dict[str, bool]:
    return {contact.id: contact.unsubscribed for contact in await api.harness.rows(Contact)}


def one_character_off(token: str) -> list[str]:
    """The token with each of its characters in turn replaced by another that could stand there."""
    return [token[:i] + ("1" if ch == "0" else "0") + token[i + 1:] for i, ch in enumerate(token)]

# Percent-encoded as a mail client would send them: non-ASCII, invalid UTF-8, NUL, empty parts, very long.
MALFORMED = ("%C3%A9%C3%A9", "%F0%9F%98%80", "ct_1.%C3%A9%C3%A9%C3%A9%C3%A9", "%E2%80%8B.%E2%80%8B", "%FF%FE", "%00",
             "ct_1.", "...", "%20", "a" * 4000)


class TestREmail4MalformedUnsubscribeLinks:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_malformed_token_is_the_same_404_as_an_unknown_one_and_changes_nothing(
            self, api: Api, method: str) -> None:
        world = await seed(api.harness.sessions)
        signed = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        unknown = await api.client.request(method, "/unsubscribe/garbage")
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "unsubscribe link not found"})
        for token in (*MALFORMED, signed + "%C3%A9", signed.replace(".", ".%C3%A9")):
            answer = await api.client.request(method, f"/unsubscribe/{token}")
            assert (answer.status_code, answer.json()) == (404, unknown.json()), token[:40]
        (contact,) = await api.harness.rows(Contact, id=world.contact_id)
        assert not contact.unsubscribed
        assert await api.harness.rows(TimelineEvent) == []


class TestREmail4NotGuessable:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_link_altered_by_one_character_is_404_and_unsubscribes_nobody(self, api: Api, method: str) -> None:
        world = await seed(api.harness.sessions)
        await second_contact(api, world)
        token = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        altered = one_character_off(token)
        assert len(altered) == len(token) > 40
        assert token not in altered
        for wrong in altered:
            answer = await api.client.request(method, f"/unsubscribe/{wrong}")
            assert (answer.status_code, answer.json()) == (404, {"detail": "unsubscribe link not found"}), wrong
        assert not any((await unsubscribed(api)).values())
        assert await api.harness.rows(TimelineEvent) == []

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_token_built_for_another_contact_is_404_and_unsubscribes_nobody(self, api: Api,
                                                                                   method: str) -> None:
        world = await seed(api.harness.sessions)
        other = await second_contact(api, world)
        secret = api.harness.settings.link_secret
        mine, theirs = unsubscribe_token(secret, world.contact_id), unsubscribe_token(secret, other)
        swapped = (other + "." + mine.rpartition(".")[2], world.contact_id + "." + theirs.rpartition(".")[2])
        for wrong in (*swapped, f"{theirs}.{mine}", f"{other}.{mine}"):
            answer = await api.client.request(method, f"/unsubscribe/{wrong}")
            assert answer.status_code == 404, wrong
        assert not any((await unsubscribed(api)).values())
        assert await api.harness.rows(TimelineEvent) == []


class TestREmail4WorksOnce:
    async def test_a_second_use_says_already_unsubscribed_and_writes_no_second_event(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        other = await second_contact(api, world)
        token = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        first = await api.client.post(f"/unsubscribe/{token}")
        assert (first.status_code, UNSUBSCRIBED in first.text) == (200, True)
        (contact,) = await api.harness.rows(Contact, id=world.contact_id)
        for again in (await api.client.post(f"/unsubscribe/{token}"), await api.client.get(f"/unsubscribe/{token}")):
            assert (again.status_code, ALREADY in again.text, "<form" in again.text) == (200, True, False)
        (still,) = await api.harness.rows(Contact, id=world.contact_id)
        assert still.unsubscribed_at == contact.unsubscribed_at
        assert [e.kind for e in await api.harness.rows(TimelineEvent)] == ["unsubscribed"]
        assert await unsubscribed(api) == {world.contact_id: True, other: False}

    async def test_two_uses_at_once_unsubscribe_once(self, api: Api) -> None:
        """The button and a mailbox provider's one-click arriving together: one event, one "already"."""
        world = await seed(api.harness.sessions)
        token = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        answers = await asyncio.gather(api.client.post(f"/unsubscribe/{token}"),
                                       api.client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"}))
        assert [a.status_code for a in answers] == [200, 200]
        assert sorted(UNSUBSCRIBED in a.text for a in answers) == [False, True]
        assert len(await api.harness.rows(TimelineEvent, kind="unsubscribed")) == 1


class TestREmail4EveryPlansEmailStops:
    async def test_the_link_of_one_plans_email_skips_the_next_email_of_another_plan_whose_text_and_task_still_run(
            self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        h = api.harness
        first_plan = await add_plan(h.sessions, world, plan_doc((0, [email("Welcome")]), name="Plan one"))
        second_plan = await add_plan(h.sessions, world, plan_doc(
            (2, [email("Market update"), text("Hi {contact.first.name}"), task("Call {contact.first.name}")]),
            name="Plan two"))
        start = await next_local(h, 11)  # the text is inside its window
        await h.advance_to(start)
        await h.enroll(first_plan, world.contact_id)
        handle = await h.enroll(second_plan, world.contact_id)
        await eventually(lambda: h.has(Message, direction="outbound"))

        (welcome,) = await h.rows(Message, direction="outbound")
        link = re.search(r"Unsubscribe: https?://[^/\s]+(/unsubscribe/\S+)", welcome.body)
        assert link is not None, welcome.body
        assert (await api.client.get(link[1])).status_code == 200  # opening it asks
        assert (await api.client.post(link[1])).status_code == 200  # the button
        await h.advance_to(start + timedelta(days=2, hours=1))
        await eventually(lambda: h.has(Task))

        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert (skipped.plan_id, skipped.detail) == (second_plan, SKIPPED)
        sent = [(m.plan_id, m.channel, m.subject) for m in await h.rows(Message, direction="outbound")]
        assert sent == [(first_plan, "email", "Welcome"), (second_plan, "sms", None)]
        ((name, plan_id),) = [(t.name, t.plan_id) for t in await h.rows(Task)]
        assert (name, plan_id) == ("Call Dana", second_plan)
        assert (await h.finish(handle)).status == "completed"


class TestREmail4ThePages:
    async def test_each_page_is_whole_html_that_loads_nothing_from_elsewhere_and_is_not_cached(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        path = f"/unsubscribe/{unsubscribe_token(api.harness.settings.link_secret, world.contact_id)}"
        pages = [await api.client.get(path), await api.client.post(path), await api.client.post(path)]
        headings = [re.findall(r"<h1>(.*?)</h1>", page.text) for page in pages]
        assert headings == [["Unsubscribe from plan emails?"], [UNSUBSCRIBED], [ALREADY]]
        for page in pages:
            assert page.status_code == 200
            assert page.text.startswith('<!doctype html>\n<html lang="en">')
            assert re.search(r"<title>[^<]+ · SmartPlans</title>", page.text)
            assert not re.search(r"<script|<link|<img|https?://", page.text)
            assert page.headers["content-security-policy"].startswith("default-src 'none';")
            assert (page.headers["cache-control"], page.headers["referrer-policy"]) == ("no-store", "no-referrer")
