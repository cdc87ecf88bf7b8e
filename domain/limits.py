"""The limits of a plan document, in one place: `domain.validation` enforces them (each refusal naming its rule) and
`domain.plan` states them in the JSON schema, so the OpenAPI document, and every client generated from it, knows
what a valid plan is before sending one."""

from __future__ import annotations

import re

MAX_PLAN_SPAN_DAYS = 365
MAX_REPEAT_TIMES = 6
MAX_REPEAT_DELAY_DAYS = 369
MAX_DESCRIPTION = 3000
MAX_NAME = 200
MAX_SUBJECT = 200
MAX_HTML = 500_000  # as a library design's
MAX_DUE_IN_DAYS = 14
MAX_TEXT_LENGTH = 1600  # Twilio's limit for one message body
MAX_LINK = 2000
MAX_STEP_ID = 64
# A wall-clock time on the 24-hour clock (task due times, slot times, route windows), matched whole (`fullmatch`):
# ASCII digits only, as the pattern reads in the OpenAPI document (JSON Schema's `\d` and `$` are not Python's).
HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
