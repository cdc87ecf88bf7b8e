"""Lead routing, pure and deterministic: which route a lead takes and which agents it is offered to, with reasons."""

from domain.routing.matching import match_route
from domain.routing.selection import plan_offers
from domain.routing.validation import route_problems

__all__ = ["match_route", "plan_offers", "route_problems"]
