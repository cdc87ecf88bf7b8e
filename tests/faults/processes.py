"""The deployment's own processes for the crash tests: the worker (`python worker.py`) and the API (uvicorn), each
in a process group of its own so a SIGKILL reaches exactly what a crash would, with a supervisor that starts a dead
one again (what `make dev` and the compose restart policies do), and a clean-up that kills every group, pass or
fail. They talk to a Temporal server, a database and the loopback Twilio and SendGrid the test owns."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from config import PROJECT_ROOT, venv_binary
from tests.e2e.devstack import FOREIGN, alive, free_port, free_ports
from tests.fakes import FakeSendGrid, FakeTwilio
from tests.faults.virtual_clock import DEV_SERVER_FLAG

ADMIN_KEY = "faults-admin-key"
SENDGRID_KEY = "SG.test-key"
READY_SECONDS = 60.0


@dataclass
class Processes:
    tmp: Path
    database_url: str
    temporal_address: str
    twilio: FakeTwilio
    sendgrid: FakeSendGrid
    extra_env: dict[str, str] = field(default_factory=dict)
    api_port: int = field(default_factory=free_port)
    running: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)
    stopped_on_purpose: set[str] = field(default_factory=set)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
        env.update(ENVIRONMENT="test", DATABASE_URL=self.database_url, TEMPORAL_ADDRESS=self.temporal_address,
                   TEMPORAL_TASK_QUEUE="faults", SMARTPLANS_ADMIN_KEY=ADMIN_KEY, API_PORT=str(self.api_port),
                   MESSAGING_PROVIDER="live", TWILIO_BASE_URL=self.twilio.base_url,
                   SENDGRID_BASE_URL=self.sendgrid.base_url, SENDGRID_API_KEY=SENDGRID_KEY,
                   PUBLIC_BASE_URL="https://plans.example.com", PYTHONUNBUFFERED="1", **self.extra_env)
        return env

    def argv(self, name: str) -> list[str]:
        if name == "temporal":  # the real dev server, its state in a file so that it survives a restart
            port = self.temporal_address.rsplit(":", 1)[1]
            return [venv_binary("temporal"), "server", "start-dev", "--headless", "--port", port,
                    "--db-filename", str(self.tmp / "temporal.db"), *DEV_SERVER_FLAG]
        if name == "worker":
            return [sys.executable, "worker.py"]
        return [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--host", "127.0.0.1",
                "--port", str(self.api_port), "--log-level", "warning"]

    def log(self, name: str) -> Path:
        return self.tmp / f"{name}.log"

    def start(self, name: str) -> None:
        earlier = self.running.get(name)
        assert earlier is None or earlier.poll() is not None, f"{name} is already running (pid {earlier.pid})"
        with self.log(name).open("ab") as out:
            self.running[name] = subprocess.Popen(
                self.argv(name), cwd=PROJECT_ROOT, env=self.environment(), stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.stopped_on_purpose.discard(name)

    def kill(self, name: str) -> None:
        """SIGKILL, as the kernel's OOM killer or a pulled plug would: no shutdown code runs."""
        process = self.running[name]
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        self.stopped_on_purpose.add(name)

    def heal(self) -> None:
        """Start again whatever died on its own (a worker whose Temporal went away may exit), like `make dev`."""
        for name, process in list(self.running.items()):
            if name not in self.stopped_on_purpose and process.poll() is not None:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.start(name)

    async def temporal_answers(self) -> None:
        host, port = self.temporal_address.rsplit(":", 1)
        deadline = time.monotonic() + READY_SECONDS
        while True:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection(host, int(port))
                writer.close()
                return
            assert self.running["temporal"].poll() is None, self.log("temporal").read_text(errors="replace")
            assert time.monotonic() < deadline, "the Temporal dev server did not answer within a minute"
            await asyncio.sleep(0.2)

    async def api_answers(self) -> None:
        """Until the API answers HTTP at all (its /health may say 503 while Temporal is away)."""
        deadline = time.monotonic() + READY_SECONDS
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"{self.api_url}/openapi.json")).status_code == 200:
                        return
                process = self.running["api"]
                assert process.poll() is None, f"the API exited:\n{self.log('api').read_text(errors='replace')}"
                assert time.monotonic() < deadline, "the API did not answer within a minute"
                await asyncio.sleep(0.2)

    def stop_all(self) -> None:
        for process in self.running.values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        leftovers = [p.pid for p in self.running.values() if alive(p.pid)]
        assert not leftovers, f"processes left running: {leftovers}"


@contextlib.asynccontextmanager
async def app_processes(tmp: Path, database_url: str, temporal_address: str | None, twilio: FakeTwilio,
                        sendgrid: FakeSendGrid, **extra_env: str) -> AsyncIterator[Processes]:
    """The worker and the API on `temporal_address`, or with no address on a dev server of their own."""
    temporal_port, api_port = free_ports(2)
    processes = Processes(tmp, database_url, temporal_address or f"127.0.0.1:{temporal_port}", twilio, sendgrid,
                          extra_env, api_port=api_port)
    try:
        if temporal_address is None:
            processes.start("temporal")
            await processes.temporal_answers()
        processes.start("worker")
        processes.start("api")
        await processes.api_answers()
        yield processes
    finally:
        processes.stop_all()


def pids_running(*words: str) -> list[int]:
    """Processes whose command line holds every word (a server the SDK started for the test, found by its port)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if all(word in cmdline for word in words) and alive(int(entry.name)):
                found.append(int(entry.name))
    return found
