"""A lead's offer workflow: its input, built when the lead is routed or rebuilt later from the lead's row, and its
start. The routing record's `line` entry keeps what the offers need (the agents in line, the claim deadline, jump ball
or not) and when the lead was routed, so the reconciler can start a lost workflow from the row alone (issue 10,
item 3) even after the route was edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client
from temporalio.common import SearchAttributePair, TypedSearchAttributes

from db.models import Contact
from db.routing_models import Lead, Route
from domain.merge import full_name
from domain.routing.late_start import OfferResume
from services.leads import agent_names
from workflows.lead_types import LEAD_ID, LEAD_SOURCE, LEAD_STATUS, ROUTE_ID, LeadOfferInput, lead_workflow_id


async def offer_input(session: AsyncSession, lead: Lead, route: Route | None, *, line: list[str], all_at_once: bool,
                      claim_seconds: int, resume: OfferResume | None = None) -> LeadOfferInput:
    contact = await session.get(Contact, lead.contact_id)
    name = full_name(contact.first_name, contact.last_name) if contact is not None else ""
    return LeadOfferInput(lead_id=lead.id, team_id=lead.team_id, route_id=lead.route_id,
                          route_title=route.title if route is not None else "", line=line, all_at_once=all_at_once,
                          claim_seconds=claim_seconds, lead_name=name or lead.contact_id, source=lead.source or "",
                          agent_names=await agent_names(session, line), resume=resume)


@dataclass(frozen=True)
class PlannedLine:
    """The routing record's `line` entry: who is offered the lead, in order, from when, with what deadline."""

    line: list[str]
    all_at_once: bool
    claim_seconds: int
    routed_at: datetime


def planned_line(lead: Lead) -> PlannedLine | None:
    """None for a lead routed before the line entry held all a late start needs."""
    entry = next((e for e in reversed(lead.routing_record or []) if e.get("kind") == "line"), None)
    if entry is None or not entry.get("line") or not isinstance(entry.get("claim_seconds"), int):
        return None
    return PlannedLine(line=list(entry["line"]), all_at_once=bool(entry.get("all_at_once")),
                       claim_seconds=entry["claim_seconds"], routed_at=datetime.fromisoformat(entry["at"]))


async def start_offer(client: Client, task_queue: str, offer: LeadOfferInput) -> None:
    """The lead's workflow, under its one id (`lead-{lead id}`), searchable by lead, route, source and status."""
    from workflows.lead_offer import LeadOfferWorkflow  # the workflow module imports the activities

    attributes = TypedSearchAttributes([
        SearchAttributePair(LEAD_ID, offer.lead_id), SearchAttributePair(ROUTE_ID, offer.route_id or ""),
        SearchAttributePair(LEAD_SOURCE, offer.source[:100]), SearchAttributePair(LEAD_STATUS, "offered")])
    late = f", {offer.resume.late_seconds} s late" if offer.resume is not None else ""
    await client.start_workflow(LeadOfferWorkflow.run, offer, id=lead_workflow_id(offer.lead_id),
                                task_queue=task_queue, search_attributes=attributes,
                                static_summary=f"Lead {offer.lead_name} ({offer.source}) via {offer.route_title}{late}")
