"""Domain errors and their HTTP answers, mapped in one place.

Routes and services raise `AppError` subclasses; nothing else builds an error response. Every answer is
`{"detail": ...}`; a 422 for a plan lists each broken rule as `{"loc", "rule", "msg", "help"}` so an editor can show
them beside the fields. Every answer that quotes a rule code (`R-MERGE-1`) says where the rule is explained:
`docs/rules.md`, whose anchors are the codes in lower case.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from domain.validation import PlanInvalid
from services.enrollments import EnrollmentRefused


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


class Unauthorized(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} not found")


class Conflict(AppError):
    status_code = 409


class Invalid(AppError):
    status_code = 422

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__([{"loc": ["body", *field.split(".")], "rule": rule, "msg": message}])


RULES_DOC = "docs/rules.md"
RULE_CODE = re.compile(r"\bR-[A-Z]+-\d+\b")


def rule_help(rule: str) -> str:
    """Where a rule is explained: `docs/rules.md#r-merge-1` for R-MERGE-1."""
    return f"{RULES_DOC}#{rule.lower()}"


def pointing_to_rules(detail: Any) -> Any:
    """The answer's detail, with each quoted rule's explanation named beside it."""
    if isinstance(detail, str):
        codes = list(dict.fromkeys(RULE_CODE.findall(detail)))
        return f"{detail} (see {', '.join(rule_help(code) for code in codes)})" if codes else detail
    if isinstance(detail, list):
        return [{**item, "help": rule_help(item["rule"])} if isinstance(item, dict) and "rule" in item else item
                for item in detail]
    return detail


_REFUSAL_STATUS = {"not_found": 404, "already_enrolled": 409, "plan_inactive": 409, "plan_empty": 409}


def install(app: FastAPI) -> None:
    async def app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        return JSONResponse({"detail": pointing_to_rules(exc.detail)}, status_code=exc.status_code, headers=headers)

    async def plan_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PlanInvalid)
        detail = [{"loc": ["body", *v.field.replace("[", ".").replace("]", "").split(".")], "rule": v.rule,
                   "msg": f"{v.field}: {v.message} ({v.rule})"} for v in exc.violations]
        return JSONResponse({"detail": pointing_to_rules(detail)}, status_code=422)

    async def enrollment_refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EnrollmentRefused)
        return JSONResponse({"detail": exc.message}, status_code=_REFUSAL_STATUS.get(exc.code, 409))

    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(PlanInvalid, plan_invalid)
    app.add_exception_handler(EnrollmentRefused, enrollment_refused)
