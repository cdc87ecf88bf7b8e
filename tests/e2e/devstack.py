"""`make dev` as a new user meets it, for the tests: `python -m scripts.dev` (what the Makefile target runs once the
virtualenv exists) on free ports with a data folder of its own, and a clean-up that leaves no process behind
whether the test passed or failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import PROJECT_ROOT

READY_LINE = "SmartPlans is running."
READY_SECONDS = 60.0
STOP_SECONDS = 20.0
# The variables a user's shell might carry that would point `make dev` somewhere else than the test's own stack.
FOREIGN = ("DATABASE_URL", "TEMPORAL_ADDRESS", "PUBLIC_BASE_URL", "SMARTPLANS_ADMIN_KEY", "SMARTPLANS_DATA_DIR")


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are chosen, or the kernel may hand the same
    port out twice (a second `make dev` once answered its API requests with the Temporal UI's page)."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by whoever inherited it.
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    return False


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live processes whose command line or environment mentions `text` (the test's private data folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if (text in cmdline or text in environ) and alive(int(entry.name)):
            found.append((int(entry.name), cmdline))
    return found


@dataclass
class DevStack:
    process: subprocess.Popen[bytes]
    output: Path
    data: Path
    api_port: int
    temporal_port: int
    ui_port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def temporal_address(self) -> str:
        return f"127.0.0.1:{self.temporal_port}"

    def printed(self) -> str:
        return self.output.read_text(errors="replace")

    def demo(self) -> dict[str, Any]:
        demo: dict[str, Any] = json.loads((self.data / "demo.json").read_text())
        return demo

    def children(self) -> dict[str, int]:
        with contextlib.suppress(OSError, ValueError):
            pids: dict[str, int] = json.loads((self.data / "dev.pids.json").read_text())
            return pids
        return {}

    def printed_search(self) -> str:
        """The Temporal UI search `make dev` prints, e.g. `ContactId = "ct_…"`."""
        found = re.search(r"\(search: (ContactId = \"[^\"]+\")\)", self.printed())
        assert found is not None, f"no Temporal UI search printed:\n{self.printed()}"
        return found.group(1)

    async def wait_until_ready(self) -> None:
        deadline = time.monotonic() + READY_SECONDS
        while READY_LINE not in self.printed():
            assert self.process.poll() is None, f"scripts.dev exited with {self.process.returncode}:\n{self.printed()}"
            assert time.monotonic() < deadline, f"not ready after {READY_SECONDS}s:\n{self.printed()}"
            await asyncio.sleep(0.2)

    def interrupt(self) -> int:
        """Ctrl-C, as a terminal sends it; the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=STOP_SECONDS)

    def kill_everything(self) -> None:
        """Whatever is still running after the test: every child's process group (they run in their own), then
        the script itself."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=STOP_SECONDS)
        for pid in self.children().values():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextlib.asynccontextmanager
async def dev_stack(tmp_path: Path, data: Path, *, name: str = "dev") -> AsyncIterator[DevStack]:
    """`make dev` on free ports with `data` as its data folder; ready when it printed its summary."""
    api_port, temporal_port, ui_port = free_ports(3)
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    env.update(SMARTPLANS_DATA_DIR=str(data), API_PORT=str(api_port), TEMPORAL_PORT=str(temporal_port),
               TEMPORAL_UI_PORT=str(ui_port), MESSAGING_PROVIDER="outbox")
    output = tmp_path / f"{name}.out"
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "scripts.dev"], cwd=PROJECT_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    stack = DevStack(process, output, data, api_port, temporal_port, ui_port)
    try:
        await stack.wait_until_ready()
        yield stack
    finally:
        stack.kill_everything()
