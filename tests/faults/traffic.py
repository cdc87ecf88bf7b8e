"""What a client integrating SmartPlans does in the crash tests, through the documented API only: a team with Twilio
and a postal address, a plan, contacts, and a burst of enrollments that a careful client retries (after a 503's
`Retry-After`, after a dropped connection) until each has an answer; then what reached the contacts, counted at the
providers and in the database."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Enrollment, Message, Task
from tests.factories import TWILIO_SID, TWILIO_TOKEN
from tests.faults.processes import ADMIN_KEY, Processes

Sessions = async_sessionmaker[AsyncSession]
CENTRAL = ZoneInfo("America/Chicago")


@dataclass
class Team:
    api_url: str
    key: str
    plan_id: str
    contacts: dict[str, tuple[str, str]] = field(default_factory=dict)  # id → (email, phone)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@dataclass
class Answers:
    """Every status the API gave during the burst; a 500 is a defect whatever else happened."""

    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0  # connections cut by a crash
    retry_after: set[str] = field(default_factory=set)
    server_errors: list[str] = field(default_factory=list)
    enrolled: set[str] = field(default_factory=set)


def _ok(response: httpx.Response, *codes: int) -> dict[str, Any]:
    assert response.status_code in codes, f"{response.request.method} {response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


# One city for every hour of offset, so that some team's office is open (08:00–17:00, R-TASK-2) at any instant.
OFFICES = ("Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
           "America/New_York", "America/Halifax", "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores",
           "Europe/London", "Europe/Paris", "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi",
           "Asia/Dhaka", "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea",
           "Pacific/Tarawa", "Pacific/Tongatapu", "Pacific/Kiritimati")


def office_open_now(now: datetime) -> str:
    """A team time zone where it is between 10:00 and 14:00 now: the burst's tasks appear at once."""
    return next(name for name in OFFICES if 10 <= now.astimezone(ZoneInfo(name)).hour < 14)


async def set_up_team(processes: Processes, plan: dict[str, Any], *, contacts: int) -> Team:
    """A team whose office is open now, so the burst's tasks appear at once."""
    time_zone = office_open_now(datetime.now(UTC))
    processes.twilio.add_account(TWILIO_SID, TWILIO_TOKEN)
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with httpx.AsyncClient(base_url=processes.api_url, timeout=30) as http:
        team_id = _ok(await http.post("/teams", json={"name": "Crash Test Realty"}, headers=admin), 201)["id"]
        agent = _ok(await http.post(f"/teams/{team_id}/agents", headers=admin, json={
            "first_name": "Alex", "last_name": "Agent", "email": "alex@crash.example", "role": "rainmaker",
            "permission": "unlimited"}), 201)
        auth = {"Authorization": f"Bearer {agent['api_key']}"}
        _ok(await http.patch("/settings", headers=auth, json={
            "twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN,
            "twilio_from_number": "+15125550111", "team_postal_address": "1 Main St, Austin TX 78701",
            "team_time_zone": time_zone}), 200)
        plan_id = _ok(await http.post("/plans", headers=auth, json=plan), 201)["id"]
        team = Team(processes.api_url, agent["api_key"], plan_id)
        for n in range(contacts):
            email, phone = f"contact{n}@crash.example", f"+1512556{n:04d}"
            body = {"first_name": f"Contact{n}", "last_name": "Crash", "email": email, "phone": phone}
            contact_id = _ok(await http.post("/contacts", headers=auth, json=body), 201)["id"]
            team.contacts[contact_id] = (email, phone)
    return team


async def enroll_until_answered(http: httpx.AsyncClient, team: Team, contact_id: str, answers: Answers,
                                between: Callable[[], Awaitable[None]]) -> None:
    """One contact, retried as a client should: 201, or 409 'already in the plan' after a lost answer, ends it."""
    while True:
        try:
            response = await http.post(f"/plans/{team.plan_id}/enrollments", headers=team.auth,
                                       json={"contact_id": contact_id})
        except httpx.TransportError:
            answers.dropped += 1
            await between()
            continue
        answers.statuses[response.status_code] += 1
        if response.status_code == 201 or (response.status_code == 409 and "already in" in response.text):
            answers.enrolled.add(contact_id)
            return
        if response.status_code == 503:
            answers.retry_after.add(response.headers.get("Retry-After", "missing"))
        elif response.status_code >= 500:
            answers.server_errors.append(f"{response.status_code} {response.text}")
        elif response.status_code != 409:  # 409 'still leaving the plan' asks for a moment
            raise AssertionError(f"unexpected {response.status_code}: {response.text}")
        await between()


async def burst(team: Team, answers: Answers, *, concurrency: int,
                on_enrolled: Callable[[int], Awaitable[None]] | None = None,
                between: Callable[[], Awaitable[None]] | None = None,
                on_answered: Callable[[str], None] | None = None) -> None:
    """Every contact enrolled, `concurrency` at a time; `on_enrolled(n)` lets the test crash something mid-burst,
    `on_answered(contact)` act on each contact as soon as the API has taken it."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for contact_id in team.contacts:
        queue.put_nowait(contact_id)

    async def pause() -> None:
        await asyncio.sleep(0.5)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=team.api_url, timeout=httpx.Timeout(20)) as http:
            while not queue.empty():
                contact_id = queue.get_nowait()
                await enroll_until_answered(http, team, contact_id, answers, between or pause)
                if on_answered is not None:
                    on_answered(contact_id)
                if on_enrolled is not None:
                    await on_enrolled(len(answers.enrolled))

    await asyncio.gather(*(client() for _ in range(concurrency)))


@dataclass
class Delivered:
    emails: Counter[str]
    texts: Counter[str]
    tasks: Counter[str]
    message_rows: dict[str, Counter[str]]  # channel ("email", "sms") → outbound rows per contact
    active_enrollments: Counter[str]
    text_hours: Counter[int]  # hour of day, US Central, of each text by its plan's clock
    unconfirmed_emails: set[str]  # contacts whose email row says an interrupted attempt may have sent it

    @property
    def stranded_emails(self) -> set[str]:
        """Emails a killed worker left between committing `sending` and calling SendGrid: `unconfirmed`, and not at
        SendGrid. SendGrid cannot be asked whether it has a message, so they are never sent again (R-COMP-2: at
        most once), and the row and the timeline say so."""
        return {contact for contact in self.unconfirmed_emails if not self.emails.get(contact)}


async def delivered(team: Team, processes: Processes, sessions: Sessions) -> Delivered:
    by_email = {email: contact for contact, (email, _) in team.contacts.items()}
    by_phone = {phone: contact for contact, (_, phone) in team.contacts.items()}
    emails = Counter(by_email.get(to["email"], "?") for mail in processes.sendgrid.emails
                     for personalization in mail["personalizations"] for to in personalization["to"])
    texts = Counter(by_phone.get(message["to"], "?") for message in processes.twilio.messages)
    async with sessions() as session:
        tasks = Counter(dict((await session.execute(
            select(Task.contact_id, func.count()).group_by(Task.contact_id))).all()))
        rows: dict[str, Counter[str]] = {"email": Counter(), "sms": Counter()}
        for contact, channel, n in (await session.execute(
                select(Message.contact_id, Message.channel, func.count())
                .where(Message.direction == "outbound", Message.status != "cancelled")
                .group_by(Message.contact_id, Message.channel))).all():
            rows.setdefault(channel, Counter())[contact or "?"] += n
        text_hours = Counter(at.replace(tzinfo=UTC).astimezone(CENTRAL).hour for at in (await session.scalars(
            select(Message.created_at).where(Message.direction == "outbound", Message.channel == "sms"))).all())
        active = Counter(dict((await session.execute(
            select(Enrollment.contact_id, func.count()).where(Enrollment.status == "active")
            .group_by(Enrollment.contact_id))).all()))
        unconfirmed = set((await session.scalars(select(Message.contact_id).where(
            Message.direction == "outbound", Message.channel == "email", Message.status == "unconfirmed"))).all())
    return Delivered(emails, texts, tasks, rows, active, text_hours, {c for c in unconfirmed if c is not None})


def exactly_once(counts: Mapping[str, int], contacts: dict[str, Any], what: str) -> list[str]:
    """The contacts that got `what` other than once (none missing, none twice, nobody else)."""
    wrong = [f"{contact}: {counts.get(contact, 0)} {what}" for contact in contacts if counts.get(contact, 0) != 1]
    wrong += [f"{who}: {n} {what} (not a contact of the test)" for who, n in counts.items() if who not in contacts]
    return wrong
