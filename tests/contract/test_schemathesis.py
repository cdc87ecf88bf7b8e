"""Issue 10, item 5: the OpenAPI document says what the API enforces.

Schemathesis (`schemathesis.toml`) runs every operation of the document against the running app, as the Rainmaker of
a seeded team: the schema's examples, boundary values of every constraint it states, generated data valid and invalid,
and stateful sequences that follow the links it infers between operations (a created contact's id into
`GET /contacts/{contact_id}`, …). The run fails on any 5xx (a 503 too: Temporal runs behind the app, with a worker)
and on any answer that does not match the document; and it fails when an operation mostly refused the data the
document calls valid ("schema validation mismatch": a constraint the API enforces and the document does not state).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

import httpx

from config import PROJECT_ROOT
from tests.contract.conftest import Stack
from tests.contract.report import Answers

CONFIG = Path(__file__).with_name("schemathesis.toml")
RUN_LIMIT_SECONDS = 900  # a hung run is killed, not waited for


def run_environment(stack: Stack) -> dict[str, str]:
    """What `schemathesis.toml` and `hooks.py` read: the keys and secrets of the stack, the run's agents."""
    settings, world = stack.settings, stack.world
    inbound = base64.b64encode(f":{settings.sendgrid_inbound_secret}".encode()).decode()
    # Run from its own folder (what it writes stays there), importing `tests.contract.hooks` from the project.
    path = os.pathsep.join(filter(None, (str(PROJECT_ROOT), os.environ.get("PYTHONPATH"))))
    return {**os.environ, "PYTHONPATH": path, "SMARTPLANS_CONTRACT_KEY": world.api_key,
            "SMARTPLANS_CONTRACT_ADMIN_KEY": settings.smartplans_admin_key,
            "SMARTPLANS_CONTRACT_AGENT_ID": world.agent_id, "SMARTPLANS_CONTRACT_SPARE_AGENT_ID": world.spare_agent_id,
            "SMARTPLANS_CONTRACT_ROUTE_ID": world.route_id,
            "SMARTPLANS_CONTRACT_SPARE_ROUTE_ID": world.spare_route_id,
            "SMARTPLANS_CONTRACT_ENTRY_ID": world.entry_id, "SMARTPLANS_CONTRACT_SPARE_ENTRY_ID": world.spare_entry_id,
            "SMARTPLANS_CONTRACT_TWILIO_TOKEN": settings.twilio_auth_token,
            "SMARTPLANS_CONTRACT_PUBLIC_BASE_URL": settings.public_base_url,
            "SMARTPLANS_CONTRACT_INBOUND_AUTH": f"Basic {inbound}"}


async def run_schemathesis(stack: Stack, folder: Path) -> tuple[int, str]:
    """The schemathesis CLI against the stack (its config beside the seeded ids in `folder`); its exit code and
    output. Its process group is killed whatever happens, so no run outlives the test."""
    config = folder / CONFIG.name
    shutil.copy(CONFIG, config)
    stack.world.write_dictionaries(folder / "ids")
    output = folder / "output.txt"
    with output.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
            f"{stack.base_url}/openapi.json", "--no-color", "--report", "json,ndjson", "--report-dir", str(folder),
            "--report-json-path", str(folder / "report.json"), "--report-ndjson-path", str(folder / "events.ndjson"),
            cwd=folder, env=run_environment(stack), stdout=out,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
        try:
            code = await asyncio.wait_for(process.wait(), RUN_LIMIT_SECONDS)
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
    return code, output.read_text(errors="replace")


async def documented_operations(base_url: str) -> list[str]:
    async with httpx.AsyncClient(base_url=base_url) as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    return sorted(f"{method.upper()} {path}" for path, item in paths.items() for method in item)


class TestIssue10TheSchemaSaysWhatTheApiEnforces:
    async def test_every_operation_answers_without_a_server_error_as_its_schema_says(
            self, stack: Stack, tmp_path: Path) -> None:
        operations = await documented_operations(stack.base_url)
        code, output = await run_schemathesis(stack, tmp_path)
        answers = Answers.read(tmp_path / "events.ndjson")
        served = answers.served(operations)
        print(f"\nschemathesis: {answers.requests} requests over {len(operations)} operations; {len(served)} "
              f"answered 2xx at least once\n{answers.table(operations)}\n{output[output.find('= SUMMARY ='):]}")
        assert answers.server_errors() == {}
        assert "Schema validation mismatch" not in output, output
        assert code == 0, output
        assert [label for label in operations if not answers.by_operation[label]] == []
