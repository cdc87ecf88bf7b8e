"""`make dev` as a new user meets it: one command, no terminal, free ports, a data folder of its own. The demo it
seeds is something to look at: the sample plans are saved, the demo contacts are enrolled, and the Temporal UI
search it prints finds a running enrollment whose current details name the next step. A second start on the same
data folder seeds nothing twice. Ctrl-C (SIGINT) ends it with exit code 0 and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.contrib.pydantic import pydantic_data_converter

from config import SAMPLES_DIR
from scripts.demo import CONTACTS, FAKE_TWILIO, sample_plan
from tests.e2e.devstack import DevStack, alive, dev_stack, processes_mentioning

# The dev server's visibility store lags a workflow start by a moment.
VISIBLE_SECONDS = 30.0


async def call(response: Any, expected: int = 200) -> Any:
    answer: httpx.Response = await response
    assert answer.status_code == expected, f"{answer.request.method} {answer.request.url.path}: {answer.text}"
    return answer.json()


async def eventually(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    deadline = time.monotonic() + VISIBLE_SECONDS
    while True:
        result = await check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {VISIBLE_SECONDS}s"
        await asyncio.sleep(0.5)


async def running_for_printed_search(stack: DevStack) -> tuple[str, str]:
    """Runs the printed Temporal UI search against the dev server: the one running workflow it finds and its
    current details (what the UI shows under "Current Details")."""
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)

    async def found() -> list[Any]:
        return [w async for w in client.list_workflows(stack.printed_search())
                if w.status == WorkflowExecutionStatus.RUNNING]

    running = await eventually(found, f"a running workflow for {stack.printed_search()}")
    assert len(running) == 1, [w.id for w in running]
    handle = client.get_workflow_handle(running[0].id)

    async def details() -> str:
        metadata: WorkflowMetadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
        return metadata.current_details

    current: str = await eventually(details, "current details")
    return running[0].id, current


async def seeded_state(stack: DevStack) -> dict[str, Any]:
    """What the API says about the demo: the agent's plans and settings, each demo contact's enrollments."""
    demo = stack.demo()
    agent = {"Authorization": f"Bearer {demo['agent']['api_key']}"}
    async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as http:
        return {
            "plans": await call(http.get("/plans", headers=agent)),
            "settings": await call(http.get("/settings", headers=agent)),
            "enrollments": {key: await call(http.get(f"/contacts/{demo[key]}/enrollments", headers=agent))
                            for key in CONTACTS},
            "timeline": {key: await call(http.get(f"/contacts/{demo[key]}/timeline", headers=agent))
                         for key in CONTACTS},
        }


def check_the_demo(stack: DevStack, state: dict[str, Any]) -> None:
    demo = stack.demo()
    samples = {path.stem: sample_plan(path.stem)["name"] for path in SAMPLES_DIR.glob("*.json")}
    assert set(demo["plans"]) == set(samples) == {"8x8-new-lead", "33-touch-sphere", "open-house-follow-up"}
    plans = {plan["id"]: plan for plan in state["plans"]}
    for key, plan_id in demo["plans"].items():
        assert plans[plan_id]["name"] == samples[key]
        assert (plans[plan_id]["active"], plans[plan_id]["current_version"]) == (True, 1)
        assert plans[plan_id]["step_count"] > 0
    # Texts of the agent's plans land in the local outbox rather than being skipped for want of a number.
    assert state["settings"]["twilio"]["from_number"] == FAKE_TWILIO["twilio_from_number"]
    for key, (_, plan_key) in CONTACTS.items():
        enrollments = state["enrollments"][key]
        assert [(e["id"], e["plan_id"], e["status"]) for e in enrollments] == [
            (demo["enrollments"][key], demo["plans"][plan_key], "active")]
        skipped = [e for e in state["timeline"][key] if e["kind"] == "step_skipped" and "Twilio" in e["detail"]]
        assert skipped == [], skipped


async def test_make_dev_seeds_a_demo_the_printed_search_finds_and_seeds_it_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with dev_stack(tmp_path, data, name="first") as stack:
        printed = stack.printed()
        assert f"http://localhost:{stack.api_port}/docs" in printed
        assert f"http://localhost:{stack.ui_port}" in printed
        assert f"output goes to {data / 'logs' / 'api.log'}" in printed
        demo = stack.demo()
        assert demo["rainmaker"]["api_key"] in printed
        assert stack.printed_search() == f'ContactId = "{demo["contact_id"]}"'

        first = await seeded_state(stack)
        check_the_demo(stack, first)
        workflow_id, details = await running_for_printed_search(stack)
        assert workflow_id == f"enrollment-{demo['plans']['8x8-new-lead']}-{demo['contact_id']}"
        assert "Dana Smith" in details, details
        assert "Next:" in details, details

        children = stack.children()
        assert set(children) == {"temporal", "worker", "api"}
        assert stack.interrupt() == 0, stack.printed()
        assert [name for name, pid in children.items() if alive(pid)] == []
        assert processes_mentioning(str(data)) == []

    async with dev_stack(tmp_path, data, name="second") as again:
        assert "demo team ready" in again.printed()
        assert "seeded the demo team" not in again.printed()
        assert again.demo() == demo
        second = await seeded_state(again)
        check_the_demo(again, second)
        assert [p["id"] for p in second["plans"]] == [p["id"] for p in first["plans"]]
        assert (await running_for_printed_search(again))[0] == workflow_id
        assert again.interrupt() == 0, again.printed()
    assert processes_mentioning(str(data)) == []


async def test_make_dev_starts_a_child_that_dies_again_and_still_stops_cleanly(tmp_path: Path) -> None:
    """SIGKILL the worker, the API, then the Temporal dev server: each is started again with a new pid in
    `dev.pids.json`, said on the console and in its log; the API answers again, Temporal kept its workflows, and
    Ctrl-C still stops everything."""
    data = tmp_path / "data"
    async with dev_stack(tmp_path, data, name="supervised") as stack:
        for name in ("worker", "api", "temporal"):
            old = stack.children()[name]
            os.kill(old, signal.SIGKILL)

            async def replaced(name: str = name, old: int = old) -> int | None:
                pid = stack.children().get(name)
                return pid if pid not in (None, old) and alive(pid) else None

            new = await eventually(replaced, f"a new {name} process")
            assert f"{name} (pid {old}) exited with code -9" in stack.printed()
            assert "restarting it in" in (data / "logs" / f"{name}.log").read_text()
            assert not alive(old)
            assert new != old

        async def healthy() -> bool:
            async with httpx.AsyncClient(timeout=5) as http:
                with contextlib.suppress(httpx.HTTPError):
                    return (await http.get(f"{stack.api_url}/health")).status_code == 200
            return False

        await eventually(healthy, "GET /health after the restarts")
        state = await seeded_state(stack)  # the restarted API serves the demo as before
        check_the_demo(stack, state)
        workflow_id, _ = await running_for_printed_search(stack)  # the restarted Temporal kept its workflows
        assert workflow_id == f"enrollment-{stack.demo()['plans']['8x8-new-lead']}-{stack.demo()['contact_id']}"
        children = stack.children()
        assert stack.interrupt() == 0, stack.printed()
        assert [name for name, pid in children.items() if alive(pid)] == []
    assert processes_mentioning(str(data)) == []
