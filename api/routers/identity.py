"""Teams, agents and their API keys, who am I, account settings, and health."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentAgent, NowDep, Principal, PrincipalDep, SessionDep, StateDep, TemporalDep, can_manage_team
from api.errors import RETRY_AFTER_SECONDS, Conflict, Forbidden, InvalidFields, NotFound
from api.schemas.identity import (
    TEAM_SETTINGS,
    AccountSettings,
    AgentCreate,
    AgentCreated,
    AgentPublic,
    Created,
    Me,
    SettingsUpdate,
    TeamCreate,
    TeamPublic,
    TwilioSetup,
)
from api.security import hash_api_key, new_api_key
from db.models import Agent, Team
from db.queries import emails_sent_in_month
from domain.account_settings import updated_overrides
from domain.email_content import missing_postal_address, sender_postal_address
from domain.ids import new_id
from domain.merge import full_name
from services.plans import account_schedule
from services.settings import slot_time_violations
from services.signals import timing_changed

router = APIRouter(tags=["identity"])


@router.post("/teams", status_code=status.HTTP_201_CREATED, response_model=Created)
async def create_team(body: TeamCreate, principal: PrincipalDep, session: SessionDep) -> Created:
    if not principal.is_admin:
        raise Forbidden("only the admin key creates teams")
    team = Team(id=new_id("tm"), name=body.name, time_zone=body.time_zone,
                postal_address=(body.postal_address or "").strip() or None)
    session.add(team)
    return Created(id=team.id)


@router.post("/teams/{team_id}/agents", status_code=status.HTTP_201_CREATED, response_model=AgentCreated)
async def create_agent(team_id: str, body: AgentCreate, principal: PrincipalDep, session: SessionDep) -> AgentCreated:
    caller = principal.agent
    if caller is not None and caller.team_id != team_id:
        raise NotFound("team", team_id)
    team = await session.get(Team, team_id)
    if team is None:
        raise NotFound("team", team_id)
    if caller is not None and caller.role != "rainmaker":
        raise Forbidden("only the team's Rainmaker (or the admin key) adds agents")
    if body.role == "rainmaker":
        existing = await session.scalar(select(Agent.id).where(Agent.team_id == team_id, Agent.role == "rainmaker"))
        if existing is not None:
            raise Conflict(f"team {team_id} already has a Rainmaker ({existing})")
    # One agent per address in a team: a reply to it is matched to its agent (R-RULE-5, R-TEAM-3), and two would
    # leave it to chance whose contact replied.
    same_email = await session.scalar(select(Agent.id).where(Agent.team_id == team_id,
                                                             func.lower(Agent.email) == str(body.email).lower()))
    if same_email is not None:
        raise Conflict(f"an agent of team {team_id} already has the email {body.email} ({same_email})")
    key = new_api_key()
    agent = Agent(id=new_id("ag"), team_id=team_id, first_name=body.first_name, last_name=body.last_name,
                  email=str(body.email), phone=body.phone, role=body.role, permission=body.permission,
                  api_key_hash=hash_api_key(key))
    session.add(agent)
    return AgentCreated(id=agent.id, api_key=key)


@router.post("/agents/{agent_id}/api-key", response_model=AgentCreated)
async def rotate_api_key(agent_id: str, principal: PrincipalDep, session: SessionDep) -> AgentCreated:
    """A new key for the agent, shown once; the old one stops working with this answer (one stored digest)."""
    agent = await _key_holder(session, principal, agent_id)
    key = new_api_key()
    agent.api_key_hash = hash_api_key(key)
    return AgentCreated(id=agent.id, api_key=key)


@router.delete("/agents/{agent_id}/api-key", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_api_key(agent_id: str, principal: PrincipalDep, session: SessionDep) -> Response:
    """The agent's key stops working at once; the agent has none until it is rotated (a leaked key, a leaver)."""
    agent = await _key_holder(session, principal, agent_id)
    agent.api_key_hash = None
    return Response(status_code=status.HTTP_204_NO_CONTENT)


async def _key_holder(session: SessionDep, principal: Principal, agent_id: str) -> Agent:
    """Keys are changed by the agent themself, their team's Rainmaker, or the admin key; another team's is 404."""
    agent = await session.get(Agent, agent_id)
    caller = principal.agent
    if agent is None or (caller is not None and caller.team_id != agent.team_id):
        raise NotFound("agent", agent_id)
    if caller is not None and caller.id != agent.id and caller.role != "rainmaker":
        raise Forbidden("an agent's API key is changed by the agent or the team's Rainmaker")
    return agent


@router.get("/me", response_model=Me)
async def me(agent: CurrentAgent, session: SessionDep) -> Me:
    team = await session.get(Team, agent.team_id)
    assert team is not None
    return Me(agent=AgentPublic.model_validate(agent), team=TeamPublic.model_validate(team))


@router.get("/settings", response_model=AccountSettings)
async def get_settings(agent: CurrentAgent, session: SessionDep, now: NowDep) -> AccountSettings:
    team = await session.get(Team, agent.team_id)
    assert team is not None
    return await _settings_of(session, agent, team, now)


@router.patch("/settings", response_model=AccountSettings)
async def update_settings(body: SettingsUpdate, agent: CurrentAgent, session: SessionDep,
                          client: TemporalDep, now: NowDep) -> AccountSettings:
    """Only the fields sent change, and only once every check has passed: a refused change writes nothing."""
    team = await session.get(Team, agent.team_id)
    assert team is not None
    changes = body.model_dump(exclude_unset=True)
    if TEAM_SETTINGS & changes.keys() and not can_manage_team(agent):
        raise Forbidden("team settings need the Rainmaker or an enhanced/unlimited member (R-TEAM-1)")
    violations = await slot_time_violations(session, agent, team, changes)
    if violations:
        raise InvalidFields(violations)
    if changes.get("twilio_from_number"):
        await _number_free(session, agent, changes["twilio_from_number"])
    for name, value in changes.items():
        if name in ("slot_times", "team_slot_times"):
            owner: Agent | Team = agent if name == "slot_times" else team
            owner.slot_times = updated_overrides(owner.slot_times, value) or None
        elif name in TEAM_SETTINGS:
            setattr(team, name.removeprefix("team_"), value)
        else:
            setattr(agent, name, value)
    await session.flush()
    answer = await _settings_of(session, agent, team, now)
    timing = {"time_zone", "slot_times", "team_time_zone", "team_slot_times"} & changes.keys()
    if timing:
        # A new zone or slot counts from each affected enrollment's next step: the owner's plans for the agent's own
        # settings, every enrollment of the team for the team's (personal plans fall back to them).
        team_wide = bool(timing - {"time_zone", "slot_times"})
        await timing_changed(client, session, what="account " + ", ".join(sorted(timing)),
                             team_id=team.id if team_wide else None, owner_agent_id=None if team_wide else agent.id)
    return answer


async def _number_free(session: AsyncSession, agent: Agent, number: str) -> None:
    """One agent per Twilio number, across every team: an inbound text is matched to the agent owning the number it
    was sent to, and checked with that agent's token (R-TXT-4, R-TEAM-3); a second owner's STOPs and replies would
    be refused or credited to the first."""
    holder = await session.scalar(select(Agent).where(Agent.twilio_from_number == number, Agent.id != agent.id)
                                  .limit(1))
    if holder is not None:
        whose = (f"{full_name(holder.first_name, holder.last_name)}'s ({holder.id})"
                 if holder.team_id == agent.team_id else "an agent's of another team")
        raise Conflict(f"twilio_from_number: {number} is already {whose}; each Twilio number belongs to one agent, "
                       "who receives its texts (R-TXT-5)")


@router.get("/health")
async def health(state: StateDep) -> JSONResponse:
    """200 once the API, the database and Temporal all answer; 503 naming what does not."""
    problems = []
    try:
        async with state.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure means "not healthy", reported by name
        problems.append(f"database: {type(err).__name__}")
    try:
        await state.temporal.service_client.check_health()
    except Exception as err:  # noqa: BLE001
        problems.append(f"temporal: {type(err).__name__}")
    if problems:
        return JSONResponse({"status": "unavailable", "problems": problems}, status_code=503,
                            headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return JSONResponse({"status": "ok"})


async def _settings_of(session: SessionDep, agent: Agent, team: Team, now: datetime) -> AccountSettings:
    """The settings in effect: a stored value that is not usable (written before it was checked) shows as what
    applies instead, as the schedule reads it (`account_schedule`). The month's emails are counted on the API's clock,
    as the credits report counts them."""
    time_zone, slots = account_schedule(team, agent)
    team_time_zone, team_slots = account_schedule(team, None)
    return AccountSettings(
        time_zone=time_zone,
        slot_times=slots,
        email_quota_monthly=agent.email_quota_monthly,
        emails_sent_this_month=await emails_sent_in_month(session, agent.id, now),
        postal_address=agent.postal_address,
        twilio=TwilioSetup(account_sid=agent.twilio_account_sid, from_number=agent.twilio_from_number,
                           configured=bool(agent.twilio_from_number)),
        team_time_zone=team_time_zone,
        team_slot_times=team_slots,
        team_postal_address=team.postal_address,
        default_task_assignee=team.default_task_assignee,
        default_email_sender=team.default_email_sender,
        default_text_sender=team.default_text_sender,
        warnings=_warnings(agent, team),
    )


def _warnings(agent: Agent, team: Team) -> list[str]:
    """Told when the settings are read, not first when a plan email fails on a contact's timeline (R-EMAIL-4)."""
    if sender_postal_address(agent.postal_address, team.postal_address) is None:
        name = full_name(agent.first_name, agent.last_name)
        return [f"Plan emails you send will fail: {missing_postal_address(name)}"]
    return []
