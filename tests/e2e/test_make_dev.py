"""`make dev` as a new user meets it: one command, no terminal, free ports, a data folder of its own; the README
tour's calls over real HTTP; Ctrl-C (SIGINT) ends it with exit code 0 and leaves no process behind.

It runs `python -m scripts.dev` (what the Makefile target runs once the virtualenv exists) rather than `make dev`
in a copy of the repository, which would rebuild the virtualenv first.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from config import PROJECT_ROOT

READY_LINE = "SmartPlans is running."
READY_SECONDS = 45.0
STOP_SECONDS = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by whoever inherited it.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


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


async def wait_until_ready(process: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while READY_LINE not in output.read_text(errors="replace"):
        assert process.poll() is None, f"scripts.dev exited with {process.returncode}:\n{output.read_text()}"
        assert time.monotonic() < deadline, f"not ready after {READY_SECONDS}s:\n{output.read_text()}"
        await asyncio.sleep(0.2)


async def call(response: Any, expected: int) -> Any:
    answer: httpx.Response = await response
    assert answer.status_code == expected, f"{answer.request.method} {answer.request.url.path}: {answer.text}"
    return answer.json()


async def test_make_dev_serves_the_tour_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api_port, temporal_port, ui_port = free_port(), free_port(), free_port()
    env = {name: value for name, value in os.environ.items()
           if name not in ("DATABASE_URL", "TEMPORAL_ADDRESS", "PUBLIC_BASE_URL", "SMARTPLANS_ADMIN_KEY")}
    env.update(SMARTPLANS_DATA_DIR=str(data), API_PORT=str(api_port), TEMPORAL_PORT=str(temporal_port),
               TEMPORAL_UI_PORT=str(ui_port), MESSAGING_PROVIDER="outbox")
    output = tmp_path / "dev.out"
    with output.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "scripts.dev"], cwd=PROJECT_ROOT, env=env,
                                   stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        await wait_until_ready(process, output)
        printed = output.read_text()
        assert f"http://localhost:{api_port}/docs" in printed
        assert f"http://localhost:{ui_port}" in printed
        assert f"output goes to {data / 'logs' / 'api.log'}" in printed
        demo = json.loads((data / "demo.json").read_text())
        assert demo["rainmaker"]["api_key"] in printed
        assert set(demo["plans"]) == {"8x8-new-lead", "33-touch-sphere", "open-house-follow-up"}
        auth = {"Authorization": f"Bearer {demo['agent']['api_key']}"}

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=15) as http:
            assert (await call(http.get("/health"), 200)) == {"status": "ok"}
            paths = (await call(http.get("/openapi.json"), 200))["paths"]
            plan_id = demo["plans"]["8x8-new-lead"]
            if "post" in paths.get("/plans", {}):  # the tour's first call, once the plans router is in
                sample = json.loads((PROJECT_ROOT.parent / "shared" / "plans" / "8x8-new-lead.json").read_text())
                plan_id = (await call(http.post("/plans", headers=auth, json={**sample, "name": "My 8x8"}), 201))["id"]
            contact_id = demo["contact_id"]
            if "post" in paths.get("/contacts", {}):
                contact_id = (await call(http.post("/contacts", headers=auth, json={
                    "first_name": "Jordan", "last_name": "Lee", "email": "jordan@example.com"}), 201))["id"]
            enrolled = await call(http.post(f"/plans/{plan_id}/enrollments", headers=auth,
                                            json={"contact_id": contact_id}), 201)
            shown = await call(http.get(f"/enrollments/{enrolled['id']}", headers=auth), 200)
            assert shown["status"] == "active"
            assert shown["contact_id"] == contact_id

        children = json.loads((data / "dev.pids.json").read_text())
        assert set(children) == {"temporal", "worker", "api"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=STOP_SECONDS) == 0, output.read_text()
        assert [name for name, pid in children.items() if alive(pid)] == []
        assert processes_mentioning(str(data)) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
