"""`make dev`: the whole stack on one machine, one command, no terminal needed.

Migrates the database (SQLite under the data folder unless `DATABASE_URL` says otherwise), starts the Temporal
dev server (unless `TEMPORAL_ADDRESS` points at one already), the worker and the API as children in their own
process groups, waits until `GET /health` answers, seeds a demo team once and prints where everything is.
Once up, it supervises: a child that dies (the worker, the API, the Temporal dev server) is started again after a
short backoff, said on the console and in that child's log, and its new pid written to `dev.pids.json`.
Ctrl-C or SIGTERM stops every child (group) and exits 0, so nothing outlives it.

`SMARTPLANS_DATA_DIR` moves the data folder (the tests run the script in a temporary one). The demo team, its
sample plans (from `samples/`) and its enrolled contacts are seeded by `scripts.demo`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from config import DEV_ADMIN_KEY, PROJECT_ROOT, Settings, venv_binary
from db.migrate import upgrade
from scripts.demo import CONTACTS, FAKE_TWILIO, DemoSeeder, SeedError
from workflows.lead_types import LEAD_SEARCH_ATTRIBUTE_KEYS
from workflows.types import SEARCH_ATTRIBUTE_KEYS

STARTUP_SECONDS = 90.0
STOP_GRACE_SECONDS = 10.0
# Restart backoff: 1 s, 2 s, 4 s … up to 30 s while a child keeps dying; back to 1 s once it ran for a minute.
FIRST_BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
STABLE_SECONDS = 60.0


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


class DevError(Exception):
    """Startup or a child failed; the message says which and where its log is."""


@dataclass(frozen=True)
class DevConfig:
    data_dir: Path
    settings: Settings  # what the children see, with the dev defaults filled in
    start_temporal: bool

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def demo_file(self) -> Path:
        return self.data_dir / "demo.json"

    @property
    def tour_file(self) -> Path:
        return self.data_dir / "demo.env"

    @property
    def ui_url(self) -> str | None:
        return f"http://localhost:{self.settings.temporal_ui_port}" if self.start_temporal else None

    @property
    def pids_file(self) -> Path:
        return self.data_dir / "dev.pids.json"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.api_port}"

    def child_env(self) -> dict[str, str]:
        """The parent's environment plus the resolved settings, so every child agrees on where things are."""
        return {**os.environ, "DATABASE_URL": self.settings.database_url,
                "TEMPORAL_ADDRESS": self.settings.temporal_address, "PUBLIC_BASE_URL": self.settings.public_base_url,
                "PYTHONUNBUFFERED": "1"}


def load_config(settings: Settings) -> DevConfig:
    """Settings as the user gave them; whatever they left out points at this data folder and these ports."""
    data_dir = settings.smartplans_data_dir.resolve()
    given = settings.model_fields_set
    updates: dict[str, Any] = {}
    if "database_url" not in given:
        updates["database_url"] = f"sqlite+aiosqlite:///{data_dir / 'smartplans.db'}"
    start_temporal = "temporal_address" not in given
    if start_temporal:
        updates["temporal_address"] = f"localhost:{settings.temporal_port}"
    if "public_base_url" not in given:
        updates["public_base_url"] = f"http://localhost:{settings.api_port}"
    return DevConfig(data_dir, settings.model_copy(update=updates), start_temporal)


@dataclass
class Child:
    name: str
    process: asyncio.subprocess.Process
    log_path: Path
    argv: list[str]
    started_at: float = 0.0

    def tail(self, lines: int = 15) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@dataclass
class Supervisor:
    """Starts children in their own process groups (a terminal's Ctrl-C reaches only us) and stops them all."""

    config: DevConfig
    children: list[Child] = field(default_factory=list)
    backoff: dict[str, float] = field(default_factory=dict)
    restarts: int = 0

    async def spawn(self, name: str, argv: list[str]) -> Child:
        log_path = self.config.logs / f"{name}.log"
        with log_path.open("ab") as out:
            process = await asyncio.create_subprocess_exec(
                *argv, cwd=PROJECT_ROOT, env=self.config.child_env(), stdin=asyncio.subprocess.DEVNULL,
                stdout=out, stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        child = Child(name, process, log_path, argv, asyncio.get_running_loop().time())
        self.children.append(child)
        self._write_pids()
        say(f"started {name} (pid {process.pid}); its output goes to {log_path}")
        return child

    def _write_pids(self) -> None:
        """Atomically, so a reader (a test, a script killing one child) never sees half a file."""
        pids = {c.name: c.process.pid for c in self.children}
        partial = self.config.pids_file.with_suffix(".json.tmp")
        partial.write_text(json.dumps(pids))
        partial.replace(self.config.pids_file)

    async def restart(self, child: Child) -> Child:
        """Start a child that died again, after a backoff that grows while it keeps dying."""
        loop = asyncio.get_running_loop()
        ran = loop.time() - child.started_at
        delay = FIRST_BACKOFF_SECONDS if ran >= STABLE_SECONDS else self.backoff.get(child.name, FIRST_BACKOFF_SECONDS)
        self.backoff[child.name] = min(delay * 2, MAX_BACKOFF_SECONDS)
        _signal_group(child, signal.SIGKILL)  # whatever the dead leader left in its group
        self.children.remove(child)
        self._write_pids()
        message = (f"{child.name} (pid {child.process.pid}) exited with code {child.process.returncode} after "
                   f"{ran:.0f}s; restarting it in {delay:.0f}s")
        say(message)
        with contextlib.suppress(OSError), child.log_path.open("a") as log:
            log.write(f"\n[dev] {message}\n")
        await asyncio.sleep(delay)
        self.restarts += 1
        return await self.spawn(child.name, child.argv)

    async def supervise(self) -> None:
        """Until cancelled (Ctrl-C): every child that exits is started again."""
        while True:
            await self.restart(await self.first_exit())

    async def stop_all(self) -> None:
        """SIGTERM every group (API first, Temporal last), wait, then SIGKILL whatever is left."""
        for child in reversed(self.children):
            _signal_group(child, signal.SIGTERM)
        waits = [asyncio.create_task(c.process.wait()) for c in self.children]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=STOP_GRACE_SECONDS)
            for child in self.children:
                if child.process.returncode is None:
                    say(f"{child.name} did not stop within {STOP_GRACE_SECONDS:.0f}s; killing it")
            for child in self.children:  # also reaps grandchildren left in a group whose leader exited
                _signal_group(child, signal.SIGKILL)
            if pending:
                await asyncio.wait(pending, timeout=5)
        self.children.clear()
        self.config.pids_file.unlink(missing_ok=True)  # no stale pids for a script to signal after the stop

    async def first_exit(self) -> Child:
        waits = {asyncio.create_task(c.process.wait()): c for c in self.children}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            return waits[next(iter(done))]
        finally:
            for task in waits:
                task.cancel()


def _signal_group(child: Child, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, sig)


def _failed(child: Child, what: str) -> DevError:
    return DevError(f"{child.name} {what} (exit code {child.process.returncode}); last lines of "
                    f"{child.log_path}:\n{child.tail()}")


async def _until(check_name: str, child: Child, probe: Any) -> None:
    """Poll `probe()` until it returns True, failing at once if `child` dies and after STARTUP_SECONDS."""
    deadline = asyncio.get_running_loop().time() + STARTUP_SECONDS
    while True:
        if child.process.returncode is not None:
            raise _failed(child, f"exited while waiting for {check_name}")
        with contextlib.suppress(OSError, httpx.HTTPError, asyncio.TimeoutError):
            if await probe():
                return
        if asyncio.get_running_loop().time() > deadline:
            raise DevError(f"{check_name} not ready after {STARTUP_SECONDS:.0f}s; see {child.log_path}")
        await asyncio.sleep(0.25)


async def start_temporal(supervisor: Supervisor) -> None:
    """The dev server with the project's search attributes, persisted under the data folder.

    Some CLI versions refuse `--search-attribute` for attributes an existing database file already has; if the
    server dies on a restart, it is started again without them (the worker registers missing ones itself).
    """
    settings = supervisor.config.settings
    db_file = supervisor.config.data_dir / "temporal.db"
    existed = db_file.exists()
    argv = [venv_binary("temporal"), "server", "start-dev", "--db-filename", str(db_file),
            "--port", str(settings.temporal_port), "--ui-port", str(settings.temporal_ui_port),
            "--namespace", settings.temporal_namespace]
    attributes = [arg for key in (*SEARCH_ATTRIBUTE_KEYS, *LEAD_SEARCH_ATTRIBUTE_KEYS)  # `NextStepAt=Datetime`, …
                  for arg in ("--search-attribute",
                              f"{key.name}={key.indexed_value_type.name.title().replace('_', '')}")]
    child = await supervisor.spawn("temporal", argv + attributes)

    async def reachable() -> bool:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", settings.temporal_port), 1)
        writer.close()
        return True

    try:
        await _until("the Temporal dev server", child, reachable)
    except DevError:
        if not existed or child.process.returncode is None:
            raise
        say("the Temporal dev server refused the search attributes on its existing database; "
            "starting it without them (the worker registers any that are missing)")
        supervisor.children.remove(child)
        child = await supervisor.spawn("temporal", argv)
        await _until("the Temporal dev server", child, reachable)
    child.argv = argv  # a restart finds the attributes in its database already
    say(f"Temporal dev server at {settings.temporal_address}")


async def start_app(supervisor: Supervisor) -> None:
    settings = supervisor.config.settings
    await supervisor.spawn("worker", [sys.executable, "worker.py"])
    api = await supervisor.spawn("api", [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory",
                                         "--host", "127.0.0.1", "--port", str(settings.api_port)])

    async def healthy() -> bool:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(f"{supervisor.config.api_url}/health")).status_code == 200

    await _until("GET /health", api, healthy)
    say(f"API healthy at {supervisor.config.api_url}")


def summary(config: DevConfig, demo: Mapping[str, Any]) -> str:
    settings = config.settings
    admin = settings.smartplans_admin_key if settings.smartplans_admin_key == DEV_ADMIN_KEY else "$SMARTPLANS_ADMIN_KEY"
    ui = config.ui_url or f"(your Temporal at {settings.temporal_address})"
    lines = [
        "SmartPlans is running.",
        f"  API docs      http://localhost:{settings.api_port}/docs",
        f"  Temporal UI   {ui}   (search: ContactId = \"{demo.get('contact_id', 'ct_...')}\")",
        f"  admin key     {admin}",
        f"  Rainmaker     {demo['rainmaker']['name']} ({demo['rainmaker']['id']})  key {demo['rainmaker']['api_key']}",
        f"  agent         {demo['agent']['name']} ({demo['agent']['id']})  key {demo['agent']['api_key']}"
        f"  (Twilio {FAKE_TWILIO['twilio_from_number']}; messaging: {settings.messaging_provider})",
        f"  agent         {demo['second_agent']['name']} ({demo['second_agent']['id']})  "
        f"key {demo['second_agent']['api_key']}",
        *(f"  plan          {name}: {plan_id}" for name, plan_id in demo.get("plans", {}).items()),
        *(f"  contact       {person['first_name']} {person['last_name']} ({demo.get(key)})  in {plan}, "
          f"enrollment {demo.get('enrollments', {}).get(key)}" for key, (person, plan) in CONTACTS.items()),
        f"  logs          {config.logs}/{{temporal,worker,api}}.log",
        f"  tour          source {config.tour_file}   (API and KEY for the README tour)",
        "Stop with Ctrl-C (or SIGTERM).",
    ]
    return "\n".join(lines)


def write_tour_file(config: DevConfig, demo: Mapping[str, Any]) -> None:
    """`demo.env`, which the README tour sources: where this start serves the API (ports may differ from the last
    start) and the demo agents' keys, as shell assignments."""
    values = {"API": f"http://localhost:{config.settings.api_port}", "KEY": demo["agent"]["api_key"],
              "RAINMAKER_KEY": demo["rainmaker"]["api_key"], "TEMPORAL_UI": config.ui_url or ""}
    lines = ["# Written by `make dev` at every start, for the README tour: `source .data/demo.env`.",
             "# KEY is Alex Agent's key, RAINMAKER_KEY Rita Rain's.",
             *(f"{name}={shlex.quote(value)}" for name, value in values.items())]
    config.tour_file.write_text("\n".join(lines) + "\n")


async def serve(config: DevConfig, supervisor: Supervisor) -> int:
    if config.start_temporal:
        await start_temporal(supervisor)
    else:
        say(f"TEMPORAL_ADDRESS is set; using the Temporal server at {config.settings.temporal_address}")
    await start_app(supervisor)
    async with httpx.AsyncClient(base_url=config.api_url, timeout=30) as http:
        demo = await DemoSeeder(http, config.demo_file, config.settings.smartplans_admin_key, say).seed()
    write_tour_file(config, demo)
    print(summary(config, demo), flush=True)
    await supervisor.supervise()
    return 0


async def run(config: DevConfig) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    supervisor = Supervisor(config)
    body = asyncio.create_task(serve(config, supervisor))
    stopper = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({body, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if body.done():
            return body.result()
        say("stopping: API, worker, Temporal")
        body.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await body
        return 0
    except (DevError, SeedError) as err:
        say(f"error: {err}")
        return 1
    finally:
        stopper.cancel()
        await supervisor.stop_all()
        say("stopped")


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    config = load_config(Settings())
    config.logs.mkdir(parents=True, exist_ok=True)
    url = config.settings.database_url
    try:
        upgrade(url)
        say(f"database at {url.split('@')[-1]} is at the latest revision")
        code = asyncio.run(run(config))
    except KeyboardInterrupt:  # Ctrl-C before the children exist: nothing to clean up
        code = 0
    sys.exit(code)


if __name__ == "__main__":
    main()
