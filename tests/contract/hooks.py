"""Schemathesis hooks for the contract run (named by `schemathesis.toml`, imported by the schemathesis process).

The run authenticates as one agent; rotating or revoking that agent's own API key would lock the rest of the run
out (every later call a 401, then the bad-key 429). Those two operations still run, on every other agent id the
run comes up with; when one would change the run's own key, it changes a spare agent's instead.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

KEY_OPERATIONS = {("POST", "/agents/{agent_id}/api-key"), ("DELETE", "/agents/{agent_id}/api-key")}
RUN_AGENT = "SMARTPLANS_CONTRACT_AGENT_ID"
SPARE_AGENT = "SMARTPLANS_CONTRACT_SPARE_AGENT_ID"


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    if (case.method.upper(), case.path) in KEY_OPERATIONS and \
            (case.path_parameters or {}).get("agent_id") == os.environ[RUN_AGENT]:
        case.path_parameters = {**(case.path_parameters or {}), "agent_id": os.environ[SPARE_AGENT]}
