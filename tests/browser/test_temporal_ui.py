"""The Temporal UI reads as "who is in which plan and what happens next": the list with the columns the README
tells a team leader to add (ContactName, PlanName, NextStep, NextStepAt), and the detail page with the summary and
current details rendered for the contact. Both screenshots in `docs/` are taken by this test, when run with
`UPDATE_SCREENSHOTS=1` (otherwise it takes them in a temporary folder, so a test run leaves the tree as it was)."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.async_api import Browser
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import PROJECT_ROOT, venv_binary
from tests.conftest import SERVER_STARTUP
from tests.e2e.devstack import free_port
from tests.factories import add_plan, email, eventually, plan_doc, running_worker, seed, task, text
from workflows.types import NEXT_STEP

RENDER_MS = 30_000
# The column set the README documents, as the Temporal UI (2.x) keeps it in the browser's local storage.
COLUMNS_KEY = "namespace-workflow-table-columns"
COLUMNS = ["Status", "ContactName", "PlanName", "NextStep", "NextStepAt", "Start"]
DOCS = PROJECT_ROOT / "docs"

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def dev_server_with_ui() -> AsyncIterator[tuple[WorkflowEnvironment, int]]:
    port = free_port()
    environment = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), data_converter=pydantic_data_converter, ui=True,
        ui_port=port, dev_server_startup_timeout=SERVER_STARTUP)
    yield environment, port
    await environment.shutdown()


def columns_script(namespace: str = "default") -> str:
    """What the README's console line does, run before the UI's own scripts."""
    value = json.dumps({namespace: [{"label": label} for label in COLUMNS]})
    return f"window.localStorage.setItem({json.dumps(COLUMNS_KEY)}, {json.dumps(value)});"


async def test_the_list_and_the_detail_page_say_who_is_where_and_what_comes_next(
        browser: Browser, dev_server_with_ui: tuple[WorkflowEnvironment, int], sessions: Sessions,
        tmp_path: Path) -> None:
    server, ui_port = dev_server_with_ui
    shots = DOCS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
    list_shot, detail_shot = shots / "temporal-ui-list.png", shots / "temporal-ui-enrollment.png"
    world = await seed(sessions)
    plan_id = await add_plan(sessions, world, plan_doc(
        (0, [email("Welcome to the neighborhood, {contact.first.name}")]),
        (2, [text("Hi {contact.first.name}, any questions?", slot="morning")]),
        (5, [task("Call {contact.first.name}", slot="afternoon")])), name="8x8 New Lead")
    async with running_worker(server, sessions) as h:
        handle = await h.enroll(plan_id, world.contact_id)

        async def listed_with_its_next_step() -> bool:
            found = [w async for w in server.client.list_workflows(f'ContactId = "{world.contact_id}"')]
            return len(found) == 1 and (found[0].typed_search_attributes.get(NEXT_STEP) or "").startswith("day 3")

        await eventually(listed_with_its_next_step, seconds=30)

        page = await browser.new_page(viewport={"width": 1500, "height": 700})
        await page.add_init_script(columns_script())
        query = quote('EnrollmentStatus = "active"')
        await page.goto(f"http://127.0.0.1:{ui_port}/namespaces/default/workflows?query={query}")
        row = page.get_by_text("Dana Smith").first
        await row.wait_for(state="visible", timeout=RENDER_MS)
        for shown in ("8x8 New Lead", "day 3: text 'Hi Dana, any questions?'", "ContactName", "NextStepAt"):
            await page.get_by_text(shown).first.wait_for(state="visible", timeout=RENDER_MS)
        await page.screenshot(path=str(list_shot))

        await page.goto(f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{quote(handle.id)}")
        await page.get_by_role("link", name="User Metadata").or_(page.get_by_text("User Metadata")).first.click(
            timeout=RENDER_MS)
        # The UI renders the summary and details (Markdown) in frames of their own.
        async def metadata_rendered() -> bool:
            texts = [await frame.locator("body").inner_text() for frame in page.frames]
            shown = " ".join(texts).replace("\u2018", "'").replace("\u2019", "'")
            return ("Dana Smith in 8x8 New Lead" in shown and "Next: text 'Hi Dana, any questions?'" in shown
                    and "{contact.first.name}" not in shown)

        await eventually(metadata_rendered, seconds=RENDER_MS / 1000)
        await page.screenshot(path=str(detail_shot))
        await handle.terminate("test over")
    assert list_shot.stat().st_size > 10_000
    assert detail_shot.stat().st_size > 10_000


def test_the_readme_gives_the_same_column_set() -> None:
    readme = (PROJECT_ROOT / "README.md").read_text()
    assert COLUMNS_KEY in readme
    assert json.dumps({"default": [{"label": label} for label in COLUMNS]}) in readme
    assert Path("docs/temporal-ui-list.png").as_posix() in readme
