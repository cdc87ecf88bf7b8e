"""Issue 10, item 4: exactly once under crashes. The worker and the API run as the deployment runs them (their own
processes, SIGKILLed mid-burst and started again as `make dev` does); the contacts' first steps are an email, a text
and a task, sent through the official SDKs to the loopback SendGrid and Twilio; each contact must get exactly one of
each, counted at the providers and in the database, and keep exactly one active, running enrollment.

They run on the real dev server (its state in a file, as under `make dev`). Texts go out only 10:00–19:00 US Central
(R-TXT-3) and tasks appear 08:00–17:00 office time (R-TASK-2), so whatever the hour the suite runs at, each contact's
workflow has its own clock moved on three days as soon as the API has taken the contact (virtual_clock.py): its held
text and task fall due within seconds of real time, while the worker is being killed, and its day-30 email stays
asleep. The team's office is in a zone where it is 10:00–14:00 now, so the email and the task usually go at once.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import time as wall
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.factories import email, plan_doc, task, text
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.faults.processes import Processes, app_processes
from tests.faults.traffic import (
    Answers,
    Delivered,
    Sessions,
    Team,
    burst,
    delivered,
    exactly_once,
    set_up_team,
)
from tests.faults.virtual_clock import Clocks
from workflows.types import enrollment_workflow_id

CONTACTS = 200
CONVERGE_SECONDS = 240.0
# Sends one SIGKILL can catch between committing `sending` and calling SendGrid: the worker runs up to 100 activities
# at once, but the window is a few milliseconds of each send.
STRANDED_PER_KILL = 10
# Past the next opening of the text window (at most 19 h away) and then of the office's (at most 24 h more), short of
# the plan's day 30.
SKIP = timedelta(days=3)
# Longer than the SDK client's own retries of an unreachable server (about 10 s), so the API has to answer 503.
OUTAGE_SECONDS = 20.0


async def until_delivered(team: Team, processes: Processes, sessions: Sessions, *, texts: bool) -> Delivered:
    """Until every contact has had every first step (or the time is up), then a little longer, so that a late
    duplicate would be counted too."""
    deadline = wall.monotonic() + CONVERGE_SECONDS
    expected = len(team.contacts)
    while True:
        processes.heal()
        got = await delivered(team, processes, sessions)
        done = (got.emails.total() + len(got.stranded_emails) >= expected and got.tasks.total() >= expected
                and (not texts or got.texts.total() >= expected))
        if done or wall.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(5)
    return await delivered(team, processes, sessions)


def assert_exactly_once(got: Delivered, team: Team, *, texts: bool, kills: int = 0) -> None:
    """Once each at the fakes and in the database. The one allowed exception is R-COMP-2's for SendGrid, which
    cannot be asked: an email a SIGKILL caught between committing `sending` and the call stays `unconfirmed` and is
    never sent again, so it counts as its one attempt; a kill can catch only the sends in that window at that
    instant, a few at most (STRANDED_PER_KILL)."""
    stranded = got.stranded_emails
    assert len(stranded) <= STRANDED_PER_KILL * kills, f"{len(stranded)} emails unconfirmed after {kills} kills"
    wrong = exactly_once(got.emails + Counter(stranded), team.contacts, "emails at SendGrid")
    wrong += exactly_once(got.tasks, team.contacts, "tasks")
    wrong += exactly_once(got.active_enrollments, team.contacts, "active enrollments")
    wrong += exactly_once(got.message_rows["email"], team.contacts, "email rows")
    if texts:
        wrong += exactly_once(got.texts, team.contacts, "texts at Twilio")
        wrong += exactly_once(got.message_rows["sms"], team.contacts, "text rows")
        assert set(got.text_hours) <= set(range(10, 19)), f"texts outside 10:00-19:00 Central: {got.text_hours}"
    kinds = Counter(line.split(": ", 1)[1] for line in wrong)
    assert not wrong, f"{len(wrong)} wrong counts: {dict(kinds)}, e.g. {wrong[:5]}"


def crash_plan(*first_steps: dict[str, Any]) -> dict[str, Any]:
    """Day 0's steps, then a day-30 email that must still be asleep when the counting is done."""
    return plan_doc((0, list(first_steps)), (30, [email("A month on, {contact.first.name}")]),
                    name="Crash test new lead").model_dump(mode="json")


FIRST_STEPS = crash_plan(email("Welcome, {contact.first.name}"), text("Hi {contact.first.name}, it's Alex"),
                         task("Call {contact.first.name}"))
# The Temporal-kill test moves no clock (the server that would move it is the one killed): an email and a task each.
EMAIL_AND_TASK = crash_plan(email("Welcome, {contact.first.name}"), task("Call {contact.first.name}"))


async def clocks_for(processes: Processes) -> Clocks:
    from temporalio.client import Client

    return Clocks(await Client.connect(processes.temporal_address), SKIP)


async def burst_with_two_worker_kills(processes: Processes, sessions: Sessions) -> tuple[Team, Answers, Delivered]:
    team = await set_up_team(processes, FIRST_STEPS, contacts=CONTACTS)
    clocks = await clocks_for(processes)
    kills: list[int] = []
    one_at_a_time = asyncio.Lock()  # clients go on enrolling while the worker is down: one crash, then the next

    async def crash(enrolled: int) -> None:
        async with one_at_a_time:
            if len(kills) < 2 and enrolled >= CONTACTS * (len(kills) + 1) // 3:
                kills.append(enrolled)
                processes.kill("worker")
                await asyncio.sleep(1)  # `make dev`'s first backoff
                processes.start("worker")

    answers = Answers()
    await burst(team, answers, concurrency=20, on_enrolled=crash,
                on_answered=lambda contact: clocks.move(enrollment_workflow_id(team.plan_id, contact)))
    assert len(await clocks.all_moved()) == CONTACTS
    got = await until_delivered(team, processes, sessions, texts=True)
    assert len(kills) == 2
    return team, answers, got


class TestWorkerKilled:
    async def test_on_the_dev_server_a_worker_sigkilled_twice_in_a_burst_of_200_loses_nothing_sends_nothing_twice(
            self, database_url: str, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid,
            tmp_path: Path) -> None:
        async with app_processes(tmp_path, database_url, None, twilio, sendgrid) as processes:
            team, answers, got = await burst_with_two_worker_kills(processes, sessions)
        assert answers.enrolled == set(team.contacts)
        assert answers.server_errors == []
        assert_exactly_once(got, team, texts=True, kills=2)
        if importlib.util.find_spec("uvloop") is not None:  # the worker as deployed, on uvloop (WORKER_EVENT_LOOP)
            said = processes.log("worker").read_text(errors="replace")
            assert "event loop: uvloop" in said
            assert "event loop: asyncio" not in said


class TestApiKilledBetweenRowAndStart:
    async def test_rows_written_by_an_api_killed_before_it_started_their_workflows_run_once_within_a_minute(
            self, database_url: str, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid,
            tmp_path: Path) -> None:
        async with app_processes(tmp_path, database_url, None, twilio, sendgrid) as processes:
            team = await set_up_team(processes, FIRST_STEPS, contacts=CONTACTS)
            clocks = await clocks_for(processes)
            server = processes.running["temporal"].pid
            answers = Answers()
            caught: list[int] = []

            async def crash(enrolled: int) -> None:
                """Temporal frozen, so every request in flight has committed its row and waits on the start; then
                the API is killed, exactly between the row and the workflow start."""
                if caught or enrolled < CONTACTS // 2:
                    return
                caught.append(enrolled)
                os.kill(server, signal.SIGSTOP)
                try:
                    await asyncio.sleep(2)
                    caught.append(await unconfirmed_rows(sessions))  # committed, their workflows not (yet) running
                    processes.kill("api")
                finally:
                    os.kill(server, signal.SIGCONT)
                processes.start("api")
                await processes.api_answers()

            await burst(team, answers, concurrency=20, on_enrolled=crash,
                        on_answered=lambda contact: clocks.move(enrollment_workflow_id(team.plan_id, contact)))
            moved = await clocks.all_moved()
            got = await until_delivered(team, processes, sessions, texts=True)

        assert caught[1] >= 1, "no request was caught between its row and its workflow's start"
        assert answers.dropped >= 1
        assert answers.server_errors == []
        assert len(moved) == CONTACTS, "some workflows never started"
        assert_exactly_once(got, team, texts=True)


class TestTemporalRestarted:
    async def test_temporal_killed_under_load_gives_503s_then_every_contact_is_enrolled_once_with_nothing_half_done(
            self, database_url: str, sessions: Sessions, twilio: FakeTwilio, sendgrid: FakeSendGrid,
            tmp_path: Path) -> None:
        async with app_processes(tmp_path, database_url, None, twilio, sendgrid) as processes:
            team = await set_up_team(processes, EMAIL_AND_TASK, contacts=CONTACTS)
            outage: list[asyncio.Task[None]] = []

            async def back_in(seconds: float) -> None:
                await asyncio.sleep(seconds)
                processes.start("temporal")
                await processes.temporal_answers()

            async def crash(enrolled: int) -> None:
                if not outage and enrolled >= CONTACTS // 3:
                    processes.kill("temporal")
                    outage.append(asyncio.create_task(back_in(OUTAGE_SECONDS)))

            async def between() -> None:
                processes.heal()  # what `make dev` and the compose restart policies do for a worker that gave up
                await asyncio.sleep(0.5)

            answers = Answers()
            await burst(team, answers, concurrency=20, on_enrolled=crash, between=between)
            await outage[0]
            got = await until_delivered(team, processes, sessions, texts=False)
            running = await workflows_running(processes, team)

        assert answers.statuses[503] >= 1, answers.statuses
        assert answers.retry_after == {"5"}
        assert answers.server_errors == []
        assert answers.enrolled == set(team.contacts)
        assert_exactly_once(got, team, texts=False)
        assert running == set(team.contacts), f"{len(team.contacts) - len(running)} enrollments have no workflow"
        assert await unconfirmed_rows(sessions) == 0


async def workflows_running(processes: Processes, team: Team) -> set[str]:
    """The contacts whose enrollment workflow runs (sleeping until day 30), asked of Temporal itself."""
    from temporalio.client import Client, WorkflowExecutionStatus

    client = await Client.connect(processes.temporal_address)
    running = set()
    for contact in team.contacts:
        description = await client.get_workflow_handle(enrollment_workflow_id(team.plan_id, contact)).describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            running.add(contact)
    return running


async def unconfirmed_rows(sessions: Sessions) -> int:
    """Active rows whose workflow never reported in: the half-done state the invariant forbids."""
    from sqlalchemy import func, select

    from db.models import Enrollment

    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Enrollment).where(
            Enrollment.status == "active", Enrollment.confirmed_at.is_(None))) or 0)
