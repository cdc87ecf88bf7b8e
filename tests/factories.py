"""A team with a Rainmaker, an agent and a contact; plans saved through the real plan service; a running worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.messaging.outbox import OutboxEmailProvider, OutboxSmsProvider
from activities.messaging.providers import EmailProvider, SmsProvider
from config import Settings
from db.models import Agent, Contact, Message, Task, Team, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from domain.plan import PlanDefinition
from services.enrollments import enroll
from services.plans import create_plan
from tests.fakes import FakeSendGrid, FakeTwilio
from worker import build_worker, ensure_search_attributes, providers
from workflows.enrollment import EnrollmentWorkflow
from workflows.types import EnrollmentResult

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-token"


@dataclass
class World:
    team_id: str
    rainmaker_id: str
    agent_id: str
    contact_id: str


async def seed(sessions: async_sessionmaker[AsyncSession], *, agent_twilio: bool = True,
               contact: dict[str, Any] | None = None, agent: dict[str, Any] | None = None,
               team: dict[str, Any] | None = None) -> World:
    async with session_scope(sessions) as session:
        team_row = Team(id=new_id("tm"), name="Smith Team",
                        **{"postal_address": "1 Main St, Austin TX 78701", **(team or {})})
        rainmaker = Agent(id=new_id("ag"), team_id=team_row.id, first_name="Rita", last_name="Rain",
                          email="rita@example.com", role="rainmaker", permission="unlimited", phone="+15125550100")
        twilio = {"twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN,
                  "twilio_from_number": "+15125550111"} if agent_twilio else {}
        member = Agent(id=new_id("ag"), team_id=team_row.id, first_name="Alex", last_name="Agent",
                       email="alex@example.com", role="member", permission="basic", phone="+15125550101",
                       **twilio, **(agent or {}))
        person = Contact(id=new_id("ct"), team_id=team_row.id, owner_agent_id=member.id, assignee_id=member.id,
                         first_name="Dana", last_name="Smith", email="dana@example.com", phone="+15125550199",
                         **(contact or {}))
        session.add(team_row)
        await session.flush()
        session.add_all([rainmaker, member])
        await session.flush()
        session.add(person)
    return World(team_row.id, rainmaker.id, member.id, person.id)


def plan_doc(*days: tuple[int, list[dict[str, Any]]], repeat: dict[str, Any] | None = None,
             name: str = "Test Plan", team_plan: bool = False) -> PlanDefinition:
    return PlanDefinition.model_validate({
        "name": name, "team_plan": team_plan, "repeat": repeat,
        "days": [{"delay_days": delay, "steps": steps} for delay, steps in days]})


async def add_plan(sessions: async_sessionmaker[AsyncSession], world: World, definition: PlanDefinition,
                   **columns: Any) -> str:
    async with session_scope(sessions) as session:
        plan = await create_plan(session, team_id=world.team_id, owner_agent_id=world.agent_id, definition=definition)
        for name, value in columns.items():
            setattr(plan, name, value)
        return plan.id


def text(message: str = "Hi {contact.first.name}", slot: str = "anytime", **fields: Any) -> dict[str, Any]:
    return {"kind": "text", "time_of_day": slot, "mode": "automated", "messages": [message], **fields}


def email(subject: str = "Hello {contact.first.name}", slot: str = "anytime", **fields: Any) -> dict[str, Any]:
    return {"kind": "email", "time_of_day": slot, "mode": "simple", "subject": subject,
            "body": "Hi {contact.first.name}, it's {agent.first.name}.", **fields}


def task(name: str = "Call {contact.first.name}", slot: str = "anytime", kind: str = "task",
         **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "time_of_day": slot, "name": name, "priority": "high", "due_in_days": 2, **fields}


@dataclass
class Harness:
    env: WorkflowEnvironment
    sessions: async_sessionmaker[AsyncSession]
    task_queue: str
    settings: Settings = field(default_factory=lambda: Settings(environment="test"))

    async def enroll(self, plan_id: str, contact_id: str) -> WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]:
        enrolled = await enroll(self.sessions, self.env.client, self.task_queue, plan_id=plan_id,
                                contact_id=contact_id, source="manual", at=await self.env.get_current_time())
        return self.env.client.get_workflow_handle_for(EnrollmentWorkflow.run, enrolled.workflow_id)

    async def finish(self, handle: WorkflowHandle[EnrollmentWorkflow, EnrollmentResult]) -> EnrollmentResult:
        """The workflow's result, letting the test server skip time while it waits (as `execute_workflow` does)."""
        async with self.env.time_skipping_unlocked():  # type: ignore[attr-defined]
            return await handle.result()

    async def run(self, plan_id: str, contact_id: str, *, hour: int = 11) -> EnrollmentResult:
        """Enroll at `hour` Chicago time two days from now and run the enrollment to its end."""
        await self.advance_to(await next_local(self, hour))
        return await self.finish(await self.enroll(plan_id, contact_id))

    async def advance_to(self, instant: datetime) -> None:
        """Move the environment's clock to `instant` (workflows started later see it as `workflow.now()`)."""
        await self.env.sleep(max(timedelta(0), instant - await self.env.get_current_time()))

    async def has(self, model: type[Any], count: int = 1, **where: Any) -> bool:
        return len(await self.rows(model, **where)) >= count

    async def rows(self, model: type[Any], **where: Any) -> list[Any]:
        async with session_scope(self.sessions) as session:
            query = select(model).filter_by(**where)
            order = {Message: Message.created_at, Task: Task.created_at, TimelineEvent: TimelineEvent.at}.get(model)
            if order is not None:
                query = query.order_by(order, model.id)  # ids are time-ordered: ties keep insertion order
            return list((await session.scalars(query)).all())


@asynccontextmanager
async def live_worker(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], twilio: FakeTwilio,
                      sendgrid: FakeSendGrid | None = None, *, timeout: float = 0.5,
                      client: Client | None = None) -> AsyncIterator[Harness]:
    """A worker sending through the official SDKs to the loopback Twilio (and SendGrid, when given); `client` as for
    `running_worker`."""
    twilio.add_account(TWILIO_SID, TWILIO_TOKEN)
    settings = Settings(environment="test", messaging_provider="live", twilio_base_url=twilio.base_url,
                        twilio_timeout_seconds=timeout, public_base_url="https://plans.example.com")
    if sendgrid is not None:
        settings = settings.model_copy(update={"sendgrid_api_key": "SG.test-key",
                                               "sendgrid_base_url": sendgrid.base_url,
                                               "sendgrid_timeout_seconds": timeout})
    sms, mail = providers(settings)
    async with running_worker(env, sessions, sms=sms, email=mail, settings=settings, client=client) as harness:
        yield harness


@asynccontextmanager
async def running_worker(env: WorkflowEnvironment, sessions: async_sessionmaker[AsyncSession], *,
                         sms: SmsProvider | None = None, email: EmailProvider | None = None,
                         settings: Settings | None = None, task_queue: str | None = None,
                         client: Client | None = None) -> AsyncIterator[Harness]:
    """A worker on a fresh task queue, so no test sees another's workflows (or on `task_queue`: a restarted one);
    `client` gives the worker the interceptors of a client built on the environment's connection."""
    harness = Harness(env, sessions, task_queue or f"test-{uuid.uuid4()}", settings or Settings(environment="test"))
    await ensure_search_attributes(env.client, "default")
    worker = build_worker(client or env.client, harness.settings, sessions, sms=sms or OutboxSmsProvider(),
                          email=email or OutboxEmailProvider(), task_queue=harness.task_queue)
    async with worker:
        yield harness


CT = ZoneInfo("America/Chicago")


class HoldActivity(temporal_client.Interceptor, temporal_worker.Interceptor):
    """Holds the `hold_run`-th run of the activity `activity_type` after it started and before its body runs, so a
    test can act while the step is under way; the real activity runs once released. Other runs (all, with 0) pass
    straight through. Give the worker `client(env)`."""

    def __init__(self, activity_type: str, hold_run: int = 1) -> None:
        self.activity_type = activity_type
        self.hold_run = hold_run
        self.runs = 0
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    def client(self, env: WorkflowEnvironment) -> Client:
        """A client on the environment's connection whose workers hold as told."""
        config = env.client.config()
        config["interceptors"] = [self]
        return Client(**config)

    def intercept_activity(
            self, next: temporal_worker.ActivityInboundInterceptor) -> temporal_worker.ActivityInboundInterceptor:
        hold = self

        class Held(temporal_worker.ActivityInboundInterceptor):
            async def execute_activity(self, input: temporal_worker.ExecuteActivityInput) -> Any:
                if activity.info().activity_type == hold.activity_type:
                    hold.runs += 1
                    if hold.runs == hold.hold_run:
                        hold.started.set()
                        await hold.release.wait()
                return await super().execute_activity(input)

        return Held(next)


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 15.0, interval: float = 0.05) -> None:
    """Poll (in real time, while the test server's clock stands still) until `check` holds."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {seconds}s: {getattr(check, '__name__', check)}")
        await asyncio.sleep(interval)


async def fires_next_at(handle: WorkflowHandle[EnrollmentWorkflow, EnrollmentResult], instant: datetime) -> bool:
    progress = await handle.query(EnrollmentWorkflow.progress)
    return progress.next_fire_at == instant


async def waiting_for(handle: WorkflowHandle[EnrollmentWorkflow, EnrollmentResult], step_id: str) -> bool:
    """The workflow has recorded what ran before and is now waiting for `step_id`."""
    return (await handle.query(EnrollmentWorkflow.progress)).next_step_id == step_id


async def next_local(h: Harness, hour: int, minute: int = 0, *, days_ahead: int = 2) -> datetime:
    """A wall-clock instant in Chicago a couple of days after the test server's current time."""
    now = (await h.env.get_current_time()).astimezone(CT)
    day = now.date() + timedelta(days=days_ahead)
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=CT)


async def run_histories(env: WorkflowEnvironment, workflow_id: str) -> list[WorkflowHistory]:
    """Every run of a workflow, first to last, following continue-as-new (the test server has no visibility API)."""
    handle = env.client.get_workflow_handle(workflow_id)
    run_id: str | None = (await handle.describe()).raw_description.workflow_execution_info.first_run_id
    histories = []
    while run_id:
        history = await env.client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        histories.append(history)
        last = history.events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW else None)
    return histories


async def replays(history: WorkflowHistory) -> None:
    """`history` replays through the current enrollment workflow code (raises on nondeterminism)."""
    await Replayer(workflows=[EnrollmentWorkflow], data_converter=pydantic_data_converter).replay_workflow(history)
