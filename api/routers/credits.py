"""Credits (R-TEAM-4): each agent's email sends this month against their quota and texts sent, and the quota itself.

The Rainmaker alone reads the report and sets quotas; any other agent of the team gets 403 (their own count and
quota are in `GET /settings`). Another team's agent is 404, never 403. The counts are the send-time quota's own
(`db.queries.sent_in_month`): an email step of a team plan is charged to the agent it was sent from (R-TEAM-3), and
a quota raised here is read by the very next send.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from api.access import team_record
from api.deps import CurrentAgent, NowDep, SessionDep
from api.errors import Forbidden
from api.schemas.credits import CreditLine, CreditsReport, CreditsUpdate, ReportMonth
from db.models import Agent
from db.queries import SentInMonth, sent_in_month
from domain.credits import EmailCredit, utc_month
from domain.merge import full_name

router = APIRouter(tags=["credits"])

REPORT_ROLE = "only the team's Rainmaker reads the credits report (R-TEAM-4)"
QUOTA_ROLE = "only the team's Rainmaker sets agents' email quotas (R-TEAM-4)"


def _require_rainmaker(agent: Agent, refusal: str) -> None:
    if agent.role != "rainmaker":
        raise Forbidden(refusal)


async def _lines(session: SessionDep, agents: Sequence[Agent], at: datetime) -> list[CreditLine]:
    """One line per agent, the counts of all of them from one query."""
    sent = await sent_in_month(session, [agent.id for agent in agents], at)
    lines = []
    for agent in agents:
        counts = sent.get(agent.id, SentInMonth())
        credit = EmailCredit(sent=counts.emails, quota=agent.email_quota_monthly)
        lines.append(CreditLine(
            agent_id=agent.id, name=full_name(agent.first_name, agent.last_name), role=agent.role,
            email_sends_this_month=credit.sent, email_quota_monthly=credit.quota, email_remaining=credit.remaining,
            email_used_percent=credit.used_percent, email_status=credit.status, texts_sent_this_month=counts.texts))
    return lines


@router.get("/reports/credits", response_model=CreditsReport)
async def credits_report(agent: CurrentAgent, session: SessionDep, now: NowDep,
                         month: Annotated[ReportMonth | None, Query(description="YYYY-MM (UTC); the current month "
                                                                    "unless given")] = None) -> CreditsReport:
    """R-TEAM-4: per agent of the team, the emails sent in the month against their quota (what is left, and whether
    they are about to run out) and the texts sent. The quota shown is today's, whichever month is asked for."""
    _require_rainmaker(agent, REPORT_ROLE)
    start, end = utc_month(month or now)
    agents = list(await session.scalars(select(Agent).where(Agent.team_id == agent.team_id)
                                        .order_by(Agent.first_name, Agent.last_name, Agent.id)))
    lines = await _lines(session, agents, start)
    return CreditsReport(month=start.strftime("%Y-%m"), from_=start, to=end, agents=lines)


@router.patch("/agents/{agent_id}/credits", response_model=CreditLine)
async def update_credits(agent_id: str, body: CreditsUpdate, agent: CurrentAgent, session: SessionDep,
                         now: NowDep) -> CreditLine:
    """R-TEAM-4, R-EMAIL-3: the agent's monthly email quota. Every send reads it, so raising it lets the next email
    of a plan go out; lowering it below this month's sends stops their email until the month ends. Answers the
    agent's credit line for the current month."""
    target = await team_record(session, Agent, agent_id, agent, "agent")
    _require_rainmaker(agent, QUOTA_ROLE)
    target.email_quota_monthly = body.email_quota_monthly
    await session.flush()
    (line,) = await _lines(session, [target], now)
    return line
