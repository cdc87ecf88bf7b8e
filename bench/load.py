"""Load: C concurrent clients for S seconds against the deployed stack on a realistic mix, with errors and the
p50/p95/p99 latency of each endpoint (issue 10: aim 0 errors and p95 under 200 ms on SQLite and PostgreSQL).

The stack is the one `make dev` runs: the Temporal dev server, the worker (`python worker.py`) and the API under
uvicorn (a single process on a free port), each in a process group of its own, on a freshly migrated SQLite file
or PostgreSQL database. The bench drives the API over real HTTP with httpx from its own process, so socket, HTTP
parsing and uvicorn costs are in the figures (and so is the client's own CPU: the machine is shared).

The team is set up through the API: a team, its Rainmaker (with a Twilio number so texts reach the outbox), the
three sample plans and a few tags. Contacts to enroll and open tasks to complete are written to the database
beforehand (set-up, not measured), enough for the whole run; contacts created during the run join the pool.
Each client then loops, picking the next request by weight:

    GET /plans · GET /enrollments/{id} · POST /contacts · POST /plans/{id}/enrollments ·
    POST /contacts/{id}/tags · POST /tasks/{id}/complete

after an untimed warm-up, pausing between an answer and its next request for a think time drawn evenly from half
to one and a half times `--think` (default 1 s, as Locust's `between(0.5, 1.5)`: an agent at work in the app, or
an integration polling, acts about once a second, so 50 of them offer about 50 requests a second). `--think 0`
sends the next request as soon as the last is answered: the stack at saturation, where mean latency is only
clients divided by throughput, so the figures measure capacity, not responsiveness. A non-2xx answer or a
transport failure is an error; the mix never asks for a business refusal (no contact is enrolled twice, no task
completed twice), so none is expected. Run with `python -m bench.load [--clients C] [--seconds S] [--warmup W]
[--think T] [--database sqlite|postgresql]`. Prints figures only; there is no pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bench.cpu import cpu_seconds
from bench.harness import bench_stack
from bench.stack import ADMIN_KEY, add_contacts, api_process, worker_process
from db.models import Task
from db.session import session_scope
from domain.ids import new_id
from scripts.demo import FAKE_TWILIO, SAMPLE_PLANS, bearer, call, resolve_targets, sample_plan
from tests.dbtools import DatabaseKind

ENROLL_PLAN = "8x8-new-lead"  # its first step is a text "anytime" on day 0: each enrollment makes the worker work
TAGS = ("Buyer", "Seller", "Sphere", "Open house", "Hot")
FIRST_ENROLLMENTS = 20  # so that `GET /enrollments/{id}` has something to read from the first request
# Endpoint (as printed) and its weight in the mix: reads are the most common, as on an agent's working day.
MIX: tuple[tuple[str, int], ...] = (
    ("GET /plans", 20), ("GET /enrollments/{id}", 25), ("POST /contacts", 15),
    ("POST /plans/{id}/enrollments", 10), ("POST /contacts/{id}/tags", 20), ("POST /tasks/{id}/complete", 10))


@dataclass
class Team:
    """What the clients share: the Rainmaker's key, the ids they pick from, and the pools they use up."""

    headers: dict[str, str]
    plan_ids: list[str]
    enroll_plan_id: str
    tag_ids: list[str]
    contacts: list[str]
    unenrolled: deque[str]
    enrollments: list[str]
    open_tasks: deque[str]


@dataclass
class Tally:
    """Latencies (seconds) of the 2xx answers and the other answers by status, per endpoint."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name, _ in MIX})
    failures: dict[str, Counter[str]] = field(default_factory=lambda: {name: Counter() for name, _ in MIX})
    starved: Counter[str] = field(default_factory=Counter)


async def add_open_tasks(sessions: async_sessionmaker[AsyncSession], team_id: str, agent_id: str,
                         contacts: list[str], count: int) -> list[str]:
    """Open call and to-do tasks as plan steps leave them, straight into the database (set-up, not measured)."""
    ids = [new_id("tk") for _ in range(count)]
    due = datetime.now(UTC) + timedelta(hours=1)
    async with session_scope(sessions) as session:
        session.add_all([Task(id=task_id, team_id=team_id, contact_id=contacts[index % len(contacts)],
                              kind="call" if index % 2 else "task", name=f"Follow up {index}", priority="normal",
                              assignee_id=agent_id, due_at=due, status="open")
                         for index, task_id in enumerate(ids)])
    return ids


async def set_up_team(http: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], pool: int) -> Team:
    """A team as an agency starts one: through the API, except the bulk rows the run uses up."""
    admin = bearer(ADMIN_KEY)
    team_id = (await call(http.post("/teams", json={"name": "Load Realty"}, headers=admin)))["id"]
    agent = await call(http.post(f"/teams/{team_id}/agents", headers=admin, json={
        "first_name": "Rita", "last_name": "Rain", "email": "rita@load-realty.example", "role": "rainmaker",
        "permission": "unlimited"}))
    headers = bearer(agent["api_key"])
    await call(http.patch("/settings", headers=headers,
                          json={"team_postal_address": "100 Congress Ave, Austin TX 78701", **FAKE_TWILIO}))
    plans: dict[str, str] = {}
    for name in SAMPLE_PLANS:
        body = resolve_targets(sample_plan(name), plans)
        plans[name] = (await call(http.post("/plans", headers=headers, json=body)))["id"]
    tag_ids = [(await call(http.post("/tags", headers=headers, json={"name": name})))["id"] for name in TAGS]
    contacts = await add_contacts(sessions, team_id, agent["id"], pool)
    tasks = await add_open_tasks(sessions, team_id, agent["id"], contacts, pool)
    team = Team(headers, list(plans.values()), plans[ENROLL_PLAN], tag_ids, list(contacts), deque(contacts), [],
                deque(tasks))
    for _ in range(FIRST_ENROLLMENTS):
        enrolled = await call(http.post(f"/plans/{team.enroll_plan_id}/enrollments", headers=headers,
                                        json={"contact_id": team.unenrolled.popleft()}))
        team.enrollments.append(enrolled["id"])
    return team


def requests_for(http: httpx.AsyncClient, team: Team, rng: random.Random) -> dict[
        str, Callable[[], Awaitable[httpx.Response] | None]]:
    """Each endpoint of the mix as a request to send, or None when its pool is used up (counted as starved)."""
    h = team.headers

    def new_contact() -> Awaitable[httpx.Response]:
        n = rng.randrange(10**6)
        return http.post("/contacts", headers=h, json={
            "first_name": f"Lead{n}", "last_name": "Load", "email": f"lead{n}@example.com",
            "phone": f"+1512555{n % 10000:04d}"})

    def enroll() -> Awaitable[httpx.Response] | None:
        if not team.unenrolled:
            return None
        contact_id = team.unenrolled.popleft()
        return http.post(f"/plans/{team.enroll_plan_id}/enrollments", headers=h, json={"contact_id": contact_id})

    def complete() -> Awaitable[httpx.Response] | None:
        if not team.open_tasks:
            return None
        return http.post(f"/tasks/{team.open_tasks.popleft()}/complete", headers=h, json={"notes": "Left a message"})

    return {
        "GET /plans": lambda: http.get("/plans", headers=h),
        "GET /enrollments/{id}": lambda: http.get(f"/enrollments/{rng.choice(team.enrollments)}", headers=h),
        "POST /contacts": new_contact,
        "POST /plans/{id}/enrollments": enroll,
        "POST /contacts/{id}/tags": lambda: http.post(f"/contacts/{rng.choice(team.contacts)}/tags", headers=h,
                                                      json={"tag_id": rng.choice(team.tag_ids)}),
        "POST /tasks/{id}/complete": complete,
    }


def remember(team: Team, name: str, response: httpx.Response) -> None:
    """New contacts can be enrolled and tagged later; new enrollments read."""
    if name == "POST /contacts":
        team.contacts.append(response.json()["id"])
        team.unenrolled.append(response.json()["id"])
    elif name == "POST /plans/{id}/enrollments":
        team.enrollments.append(response.json()["id"])


async def client(http: httpx.AsyncClient, team: Team, seed: int, measure_from: float, until: float,
                 tally: Tally, think: float) -> None:
    """One agent's browser: the next request a think time after the last one answered, until `until`; only
    requests sent from `measure_from` on are counted (one loop across warm-up and measurement, so no client waits
    for the others between the two)."""
    rng = random.Random(seed)
    names, weights = [name for name, _ in MIX], [weight for _, weight in MIX]
    sends = requests_for(http, team, rng)
    if think:
        await asyncio.sleep(rng.uniform(0, think))  # the agents do not all start in the same instant
    while (started := time.monotonic()) < until:
        counted = started >= measure_from
        name = rng.choices(names, weights)[0]
        request = sends[name]()
        if request is None:
            if counted:
                tally.starved[name] += 1
            continue
        clock = time.perf_counter()
        try:
            response = await request
        except httpx.HTTPError as error:
            if counted:
                tally.failures[name][type(error).__name__] += 1
        else:
            elapsed = time.perf_counter() - clock
            if response.is_success:
                remember(team, name, response)
                if counted:
                    tally.latencies[name].append(elapsed)
            elif counted:
                tally.failures[name][str(response.status_code)] += 1
        if think:
            await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think))


@dataclass(frozen=True)
class Cpu:
    """CPU seconds each process used in the measured window: on a shared machine, what each actually got."""

    api: float
    worker: float
    bench: float


async def drive(base_url: str, team: Team, pids: tuple[int, int], clients: int, seconds: float,
                warmup: float, think: float) -> tuple[Tally, Cpu]:
    # The client drops an idle connection before uvicorn's 5 s keep-alive runs out: at equal timeouts the server may
    # close one just as a request goes out on it, and that request fails with a ReadError no real failure caused.
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=2)
    tally = Tally()
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as http:
        measure_from = time.monotonic() + warmup
        until = measure_from + seconds
        runs = asyncio.gather(*(client(http, team, i, measure_from, until, tally, think) for i in range(clients)))
        await asyncio.sleep(warmup)
        before = [cpu_seconds(pid) for pid in (*pids, os.getpid())]
        await runs
        after = [cpu_seconds(pid) for pid in (*pids, os.getpid())]
    return tally, Cpu(*(b - a for a, b in zip(before, after, strict=True)))


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest sample with at least `fraction` of the samples at or below it."""
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)] if ordered else math.nan


def report(tally: Tally, cpu: Cpu, database: DatabaseKind, clients: int, seconds: float, warmup: float,
           think: float) -> None:
    pacing = f"think time {think:g} s on average" if think else "no think time (saturation)"
    print(f"\nLoad: {clients} clients for {seconds:.0f} s (after {warmup:.0f} s warm-up), {pacing}, over HTTP to "
          f"uvicorn, worker in its own process, Temporal dev server, {database}")
    header = f"{'endpoint':<30}{'requests':>9}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}"
    print(header)
    print("-" * len(header))
    total_requests = total_errors = 0
    worst_p95 = 0.0
    for name, _ in MIX:
        ordered = sorted(tally.latencies[name])
        errors = sum(tally.failures[name].values())
        requests = len(ordered) + errors
        p50, p95, p99 = (percentile(ordered, f) * 1000 for f in (0.50, 0.95, 0.99))
        worst_p95 = max(worst_p95, p95) if ordered else worst_p95
        total_requests, total_errors = total_requests + requests, total_errors + errors
        print(f"{name:<30}{requests:>9}{errors:>8}{p50:>9.1f}{p95:>9.1f}{p99:>9.1f}{requests / seconds:>8.1f}")
    print(f"{'all':<30}{total_requests:>9}{total_errors:>8}{'':>27}{total_requests / seconds:>8.1f}")
    for name, _ in MIX:
        if tally.failures[name]:
            by_status = ", ".join(f"{status} × {n}" for status, n in sorted(tally.failures[name].items()))
            print(f"errors of {name}: {by_status}")
        if tally.starved[name]:
            print(f"{name}: its pool ran dry {tally.starved[name]} times (not sent; seed more with a longer run)")
    cores = os.cpu_count() or 1
    print(f"CPU used in the {seconds:.0f} s ({cores} cores, shared): API {cpu.api:.1f} s "
          f"({cpu.api / max(total_requests, 1) * 1000:.1f} ms a request), worker {cpu.worker:.1f} s, "
          f"this bench's clients {cpu.bench:.1f} s")
    print(f"load errors: {total_errors}, worst p95 ms: {worst_p95:.0f}")


async def bench(clients: int, seconds: float, warmup: float, think: float, database: DatabaseKind) -> None:
    # Enough contacts to enroll and tasks to complete for a run at a few hundred requests a second.
    pool = max(1000, int(clients * (seconds + warmup) * 2))
    async with bench_stack(database) as stack:
        env, url, tmp = stack.env, stack.url, stack.tmp
        queue = f"bench-load-{uuid.uuid4()}"
        async with worker_process(env, url, queue, tmp / "worker.log") as worker_pid, \
                api_process(env, url, queue, tmp / "api.log") as (base_url, api_pid):
            print(f"API under uvicorn at {base_url} (pid {api_pid}); setting up the team", flush=True)
            async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
                team = await set_up_team(http, stack.sessions, pool)
            tally, cpu = await drive(base_url, team, (api_pid, worker_pid), clients, seconds, warmup, think)
        api_log = (tmp / "api.log").read_text(errors="replace")
    if any(tally.failures.values()) and api_log.strip():
        print(f"\nthe API's log (its last 3,000 characters):\n{api_log[-3000:]}")
    report(tally, cpu, database, clients, seconds, warmup, think)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    parser.add_argument("--seconds", type=float, default=60, help="measured seconds (default 60)")
    parser.add_argument("--warmup", type=float, default=5, help="untimed warm-up seconds first (default 5)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean seconds a client pauses between an answer and its next request (default 1; "
                             "0: none, the stack at saturation)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite",
                        help="sqlite (a temporary file) or postgresql (127.0.0.1:5432, as make test-postgres)")
    args = parser.parse_args()
    if args.think < 0:
        parser.error("--think: a pause cannot be negative")
    asyncio.run(bench(args.clients, args.seconds, args.warmup, args.think, args.database))


if __name__ == "__main__":
    main()
