"""R-EMAIL-4 in a real browser: the unsubscribe link of an email a plan really sent opens a readable page that asks,
its button (reached from the keyboard) unsubscribes, and the link used again says so; all of it served by the app
alone, with nothing fetched from anywhere else."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from config import Settings
from db.models import Contact, Message, TimelineEvent
from db.session import session_scope
from tests.browser.test_docs_page import RENDER_MS, non_local, opened
from tests.factories import add_plan, email, plan_doc, running_worker, seed

Sessions = async_sessionmaker[AsyncSession]


async def heading(page: Page) -> str:
    first = page.get_by_role("heading", level=1)
    await first.wait_for(state="visible", timeout=RENDER_MS)
    return await first.inner_text()


async def unsubscribed(sessions: Sessions, contact_id: str) -> tuple[bool, int]:
    """Whether the contact is unsubscribed, and how many `unsubscribed` events their timeline holds."""
    async with session_scope(sessions) as session:
        contact = await session.get(Contact, contact_id)
        assert contact is not None
        events = await session.scalar(select(func.count()).select_from(TimelineEvent).where(
            TimelineEvent.contact_id == contact_id, TimelineEvent.kind == "unsubscribed"))
        return contact.unsubscribed, int(events or 0)


async def sent_email_link(env: WorkflowEnvironment, sessions: Sessions, served_app: str, contact_id: str,
                          plan_id: str) -> str:
    """The unsubscribe link in the footer of the email the plan sent, pointing at the served app."""
    async with running_worker(env, sessions, settings=Settings(environment="test", public_base_url=served_app)) as h:
        await h.run(plan_id, contact_id)
        (sent,) = await h.rows(Message, direction="outbound")
    link = re.search(r"Unsubscribe: (\S+)", sent.body)
    assert link is not None, sent.body
    return link[1]


class TestREmail4TheUnsubscribePage:
    async def test_the_link_of_a_sent_email_asks_then_unsubscribes_then_says_it_is_done(
            self, browser: Browser, served_app: str, env: WorkflowEnvironment, sessions: Sessions,
            tmp_path: Path) -> None:
        world = await seed(sessions)
        plan_id = await add_plan(sessions, world, plan_doc((0, [email("Welcome")])))
        link = await sent_email_link(env, sessions, served_app, world.contact_id, plan_id)
        assert link.startswith(f"{served_app}/unsubscribe/{world.contact_id}.")

        page, requests, failed = await opened(browser, link)
        assert await page.title() == "Unsubscribe · SmartPlans"
        assert await page.locator("html").get_attribute("lang") == "en"
        assert await heading(page) == "Unsubscribe from plan emails?"
        await page.screenshot(path=str(tmp_path / "confirm.png"))
        assert await unsubscribed(sessions, world.contact_id) == (False, 0)  # opening only asks

        await page.keyboard.press("Tab")  # the button is the first stop and has a name
        assert await page.evaluate("document.activeElement.textContent") == "Unsubscribe"
        async with page.expect_navigation(timeout=RENDER_MS):
            await page.keyboard.press("Enter")
        assert await heading(page) == "You're unsubscribed"
        assert await page.title() == "Unsubscribed · SmartPlans"
        assert await unsubscribed(sessions, world.contact_id) == (True, 1)

        again = await page.goto(link)
        assert again is not None
        assert again.status == 200
        assert await heading(page) == "You're already unsubscribed"
        assert await page.get_by_role("button").count() == 0
        await page.screenshot(path=str(tmp_path / "already.png"))
        assert await unsubscribed(sessions, world.contact_id) == (True, 1)

        assert non_local(requests) == []
        assert failed == []
