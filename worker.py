"""The Temporal worker: connects to `TEMPORAL_ADDRESS`, registers the workflows and activities, runs until stopped."""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import py_compile
import signal
import sys
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

import workflows.enrollment
import workflows.lead_offer
from activities.context import ContextActivities
from activities.enrollment import EnrollmentActivities
from activities.leads import LeadActivities
from activities.messaging.activities import MessagingActivities
from activities.messaging.outbox import OutboxEmailProvider, OutboxSmsProvider
from activities.messaging.providers import EmailProvider, SmsProvider
from activities.messaging.sendgrid_email import SendGridEmailProvider
from activities.messaging.twilio_sms import TwilioSmsProvider
from activities.tasks import TaskActivities
from activities.timeline import TimelineActivities
from config import Settings, get_settings
from db.session import create_engine_for, create_session_factory
from gc_tuning import settle_collector
from services.reconcile import reconcile_forever
from services.temporal import connect
from workflows.enrollment import EnrollmentWorkflow
from workflows.lead_offer import LeadOfferWorkflow
from workflows.lead_types import LEAD_SEARCH_ATTRIBUTE_KEYS
from workflows.types import SEARCH_ATTRIBUTE_KEYS

log = logging.getLogger("worker")


def providers(settings: Settings) -> tuple[SmsProvider, EmailProvider]:
    """`outbox` records messages and sends nothing (development); `live` uses Twilio and SendGrid."""
    if settings.messaging_provider == "outbox":
        return OutboxSmsProvider(), OutboxEmailProvider()
    return (TwilioSmsProvider(base_url=settings.twilio_base_url, timeout_seconds=settings.twilio_timeout_seconds),
            SendGridEmailProvider(api_key=settings.sendgrid_api_key, base_url=settings.sendgrid_base_url,
                                  timeout_seconds=settings.sendgrid_timeout_seconds))


GRACEFUL_SHUTDOWN = timedelta(seconds=10)
SANDBOXED_MODULES = (workflows.enrollment, workflows.lead_offer)


def cache_workflow_bytecode(directory: Path) -> None:
    """The sandbox imports each workflow's module afresh for every run. Where Python may not write bytecode
    (PYTHONDONTWRITEBYTECODE, as in the Dockerfile and many shells) and none was compiled at install, that import
    compiles the module's source every time: a quarter of the worker's CPU per enrollment (issue 11). So it is
    compiled once here, into a cache of its own (`sys.pycache_prefix`), never beside the sources."""
    sources = [str(module.__file__) for module in SANDBOXED_MODULES]
    if not sys.dont_write_bytecode or all(Path(importlib.util.cache_from_source(s)).exists() for s in sources):
        return  # Python writes the cache on first import itself, or pip compiled it at install
    before, sys.pycache_prefix = sys.pycache_prefix, str(directory)
    try:
        for source in sources:
            py_compile.compile(source, cfile=importlib.util.cache_from_source(source), doraise=True)
    except (OSError, py_compile.PyCompileError) as err:
        sys.pycache_prefix = before
        log.warning("could not cache the workflows' bytecode in %s (%s); each run compiles them", directory, err)


class WorkerTuning(TypedDict):
    """The worker's knobs, shared with bench/bare_worker.py so the burst benchmark's baseline runs alike."""

    max_cached_workflows: int
    max_concurrent_activities: int
    max_concurrent_workflow_tasks: int
    workflow_runner: WorkflowRunner


def worker_tuning(settings: Settings) -> WorkerTuning:
    runner = SandboxedWorkflowRunner() if settings.worker_workflow_sandbox else UnsandboxedWorkflowRunner()
    return WorkerTuning(max_cached_workflows=settings.worker_max_cached_workflows,
                        max_concurrent_activities=settings.worker_max_concurrent_activities,
                        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
                        workflow_runner=runner)


def build_worker(client: Client, settings: Settings, sessions: async_sessionmaker[AsyncSession], *,
                 sms: SmsProvider, email: EmailProvider, task_queue: str | None = None) -> Worker:
    queue = task_queue or settings.temporal_task_queue
    if settings.worker_workflow_sandbox:
        cache_workflow_bytecode(settings.smartplans_data_dir / "pycache")
    tasks = TaskActivities(sessions)
    messaging = MessagingActivities(sessions, settings, sms, email)
    enrollment = EnrollmentActivities(sessions, client, queue)
    context = ContextActivities(sessions)
    timeline = TimelineActivities(sessions)
    leads = LeadActivities(sessions, settings, sms, email, client, queue)
    return Worker(
        client,
        task_queue=queue,
        workflows=[EnrollmentWorkflow, LeadOfferWorkflow],
        activities=[context.load_enrollment_context, tasks.create_task, messaging.send_text, messaging.send_email,
                    enrollment.add_to_plan, enrollment.finish_enrollment, timeline.record_timeline,
                    leads.open_offer, leads.notify_offer, leads.decide_offer, leads.take_ownership, leads.to_pool],
        # On shutdown (a deploy, Ctrl-C, a test's end) running activities finish instead of being cancelled
        # mid-statement: a cancelled SQLite statement can leave its connection holding the write lock until
        # garbage collection. Activities are short; the provider timeouts bound the longest.
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        **worker_tuning(settings),
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register the attributes the workflows set (PlanId, ContactId, NextStepAt, …) where they are missing.

    Idempotent, so the worker can do it at every start: the dev server, the compose stack and the test servers
    all get them the same way. A namespace where the operator API is not allowed must have them already.
    """
    wanted = {key.name: IndexedValueType.ValueType(key.indexed_value_type)
              for key in (*SEARCH_ATTRIBUTE_KEYS, *LEAD_SEARCH_ATTRIBUTE_KEYS)}
    try:
        listed = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        missing = {name: kind for name, kind in wanted.items() if name not in listed.custom_attributes}
    except RPCError as err:
        if err.status != RPCStatusCode.UNIMPLEMENTED:  # the time-skipping test server cannot list them
            raise
        missing = wanted
    if missing:
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=namespace, search_attributes=missing))
        except RPCError as err:
            if err.status != RPCStatusCode.ALREADY_EXISTS:  # a server that could not list them already has them
                raise
            return
        log.info("registered search attributes %s", ", ".join(sorted(missing)))


async def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    settings.check_production()
    engine = create_engine_for(settings.database_url, pool_size=settings.worker_database_pool_size,
                               max_overflow=settings.worker_database_max_overflow)
    client = await connect(settings)
    await ensure_search_attributes(client, settings.temporal_namespace)
    sms, email = providers(settings)
    sessions = create_session_factory(engine)
    worker = build_worker(client, settings, sessions, sms=sms, email=email)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker on task queue %r at %s (messaging: %s; event loop: %s)",
             settings.temporal_task_queue, settings.temporal_address, settings.messaging_provider,
             type(loop).__module__.split(".")[0])
    async with worker:
        reconciler = asyncio.create_task(reconcile_forever(sessions, client, settings.temporal_task_queue))
        await stop.wait()
        reconciler.cancel()
    await engine.dispose()


def event_loop_factory(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The worker's loop, chosen as uvicorn's `--loop` chooses the API's: uvloop where it is installed (`auto`), the
    standard library's when asked (`asyncio`, or where uvloop cannot be installed). None is asyncio's default."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise
        return None
    return uvloop.new_event_loop


def run_worker_process(entry: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """A worker process's life, this worker's and the benchmarks' bare worker's alike: the garbage collector settled
    (everything is imported by now: start-up is done), then `entry()` on the loop `WORKER_EVENT_LOOP` chooses."""
    settings = get_settings()
    settle_collector(settings.process_gc_threshold)
    with asyncio.Runner(loop_factory=event_loop_factory(settings.worker_event_loop)) as runner:
        runner.run(entry())


if __name__ == "__main__":
    run_worker_process(main)
