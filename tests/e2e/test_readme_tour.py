"""The README's five-minute tour, as written: its shell blocks, in order, in one bash, against a running `make dev`
(free ports, its own data folder, which the tour reads as `.data/`). Every call is `curl -fsS` and the script runs
with `set -euo pipefail`, so a call that answers anything but 2xx fails the test, and the next drift between the
README and the API is caught here rather than by a newcomer."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from pathlib import Path

import httpx

from config import PROJECT_ROOT
from tests.e2e.devstack import FOREIGN, dev_stack, processes_mentioning

TOUR_HEADING = "## A five-minute tour"
TOUR_SECONDS = 60
REMOVED_SECONDS = 20.0


def tour_blocks(readme: str) -> list[str]:
    """The ```sh blocks between the tour's heading and the next section."""
    start = readme.index(TOUR_HEADING)
    end = readme.index("\n## ", start + len(TOUR_HEADING))
    return re.findall(r"^```sh\n(.*?)^```$", readme[start:end], re.MULTILINE | re.DOTALL)


def curl_calls(script: str) -> list[str]:
    return re.findall(r"\bcurl\b[^|\n]*", script)


class TestTheTourIsWrittenToBeRun:
    def test_the_tour_has_its_blocks_and_every_call_fails_loudly(self) -> None:
        blocks = tour_blocks((PROJECT_ROOT / "README.md").read_text())
        assert len(blocks) == 5
        assert blocks[0].startswith("source .data/demo.env")
        calls = curl_calls("\n".join(blocks))
        assert len(calls) == 6
        assert [call for call in calls if not call.startswith("curl -fsS ")] == []
        assert [call for call in calls if '-H "$AUTH"' not in call] == []  # the DELETE once forgot it (401)


async def test_the_readme_tour_runs_as_written_against_make_dev(tmp_path: Path) -> None:
    data = tmp_path / ".data"
    script = "set -euo pipefail\n" + "\n".join(tour_blocks((PROJECT_ROOT / "README.md").read_text()))
    (tmp_path / "tour.sh").write_text(script)
    async with dev_stack(tmp_path, data) as stack:
        env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
        tour = await asyncio.to_thread(subprocess.run, ["bash", "tour.sh"], cwd=tmp_path, env=env,
                                       capture_output=True, text=True, timeout=TOUR_SECONDS)
        assert tour.returncode == 0, f"the tour failed:\n{tour.stdout}\n{tour.stderr}"
        assert tour.stderr == ""

        # What the tour printed: the enrollment, live, with its next step; then the search for the Temporal UI.
        assert '"status": "active"' in tour.stdout
        assert '"next_step_label": "' in tour.stdout
        search = re.search(r'Temporal UI search: ContactId = "(ct_\w+)"', tour.stdout)
        assert search is not None, tour.stdout

        # What the tour did, read back through the API with the same key.
        key = re.search(r"^KEY=(\S+)$", (data / "demo.env").read_text(), re.MULTILINE)
        assert key is not None
        auth = {"Authorization": f"Bearer {key.group(1)}"}
        async with httpx.AsyncClient(base_url=stack.api_url, timeout=15) as http:
            plans = (await http.get("/plans", headers=auth)).json()
            tour_plan = [plan for plan in plans if plan["name"] == "Tour plan"]
            assert len(tour_plan) == 1
            contact = (await http.get(f"/contacts/{search.group(1)}", headers=auth)).json()
            assert (contact["first_name"], contact["last_name"]) == ("Jordan", "Lee")

            async def enrollment_status() -> str:
                rows = (await http.get(f"/contacts/{contact['id']}/enrollments", headers=auth)).json()
                assert [row["plan_id"] for row in rows] == [tour_plan[0]["id"]]
                return str(rows[0]["status"])

            deadline = time.monotonic() + REMOVED_SECONDS  # the tour's last call removed Jordan from the plan
            while (status := await enrollment_status()) != "removed" and time.monotonic() < deadline:
                await asyncio.sleep(0.25)
            assert status == "removed"
        assert stack.interrupt() == 0
    assert processes_mentioning(str(data)) == []
