"""Schemathesis hooks for the contract run (named by `schemathesis.toml`, imported by the schemathesis process).

The run authenticates as one agent; rotating or revoking that agent's own API key would lock the rest of the run
out (every later call a 401, then the bad-key 429). Those two operations still run, on every other agent id the
run comes up with; when one would change the run's own key, it changes a spare agent's instead.

The seeded route is the one every route operation is given; deleted early in the run, it would leave every later
edit of a route a 404, so a deletion of it deletes a spare route instead (once; later ones meet a 404). The seeded
library entry likewise: taking it out of the library takes a spare entry out instead.

Twilio's webhooks take nothing without a valid `X-Twilio-Signature`; the run signs what it posts there as Twilio
would, with the auth token the test configured, so the fuzzed forms reach the code behind the check.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from twilio.request_validator import RequestValidator

KEY_OPERATIONS = {("POST", "/agents/{agent_id}/api-key"), ("DELETE", "/agents/{agent_id}/api-key")}
TWILIO_WEBHOOKS = {"/webhooks/twilio/sms", "/webhooks/twilio/status"}
RUN_AGENT = "SMARTPLANS_CONTRACT_AGENT_ID"
SPARE_AGENT = "SMARTPLANS_CONTRACT_SPARE_AGENT_ID"
TWILIO_TOKEN = "SMARTPLANS_CONTRACT_TWILIO_TOKEN"
PUBLIC_BASE_URL = "SMARTPLANS_CONTRACT_PUBLIC_BASE_URL"
RUN_ROUTE = "SMARTPLANS_CONTRACT_ROUTE_ID"
SPARE_ROUTE = "SMARTPLANS_CONTRACT_SPARE_ROUTE_ID"
RUN_ENTRY = "SMARTPLANS_CONTRACT_ENTRY_ID"
SPARE_ENTRY = "SMARTPLANS_CONTRACT_SPARE_ENTRY_ID"


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if (case.method.upper(), case.path) in KEY_OPERATIONS and \
            (case.path_parameters or {}).get("agent_id") == os.environ[RUN_AGENT]:
        case.path_parameters = {**(case.path_parameters or {}), "agent_id": os.environ[SPARE_AGENT]}
    if (case.method.upper(), case.path) == ("DELETE", "/routes/{route_id}") and \
            (case.path_parameters or {}).get("route_id") == os.environ[RUN_ROUTE]:
        case.path_parameters = {**(case.path_parameters or {}), "route_id": os.environ[SPARE_ROUTE]}
    if (case.method.upper(), case.path) == ("DELETE", "/library/{entry_id}") and \
            (case.path_parameters or {}).get("entry_id") == os.environ[RUN_ENTRY]:
        case.path_parameters = {**(case.path_parameters or {}), "entry_id": os.environ[SPARE_ENTRY]}
    if case.path in TWILIO_WEBHOOKS and isinstance(case.body, dict):
        url = os.environ[PUBLIC_BASE_URL] + case.formatted_path
        form = {name: str(value) for name, value in case.body.items()}
        signature = RequestValidator(os.environ[TWILIO_TOKEN]).compute_signature(url, form)
        case.headers["X-Twilio-Signature"] = signature
