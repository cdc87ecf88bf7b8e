"""Domain errors and their HTTP answers, mapped in one place.

Routes and services raise `AppError` subclasses; nothing else builds an error response. Every answer is
`{"detail": ...}`; a 422 for a plan lists each broken rule as `{"loc", "rule", "msg", "help"}` so an editor can show
them beside the fields. Every answer that quotes a rule code (`R-MERGE-1`) says where the rule is explained:
`docs/rules.md`, whose anchors are the codes in lower case.
"""

from __future__ import annotations

import functools
import logging
import re
import typing
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from temporalio.service import RPCError, RPCStatusCode

from api.schemas.common import NUL_ERROR, REQUEST_FIELDS
from api.schemas.common import Request as RequestBody
from domain.validation import PlanInvalid, Violation
from services.enrollments import EnrollmentRefused


class AppError(Exception):
    status_code = 400

    def __init__(self, detail: Any) -> None:
        super().__init__(str(detail))
        self.detail = detail


class Unauthorized(AppError):
    status_code = 401


class TooManyBadKeys(AppError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many invalid API keys from your address; try again in {retry_after} s "
                         "(a valid key is still accepted)")
        self.retry_after = retry_after


class Forbidden(AppError):
    status_code = 403


class NotFound(AppError):
    status_code = 404

    def __init__(self, what: str, ident: str) -> None:
        super().__init__(f"{what} {ident} not found")


class Conflict(AppError):
    status_code = 409


class Unavailable(AppError):
    """A part that must answer did not in time (a worker restarting): worth retrying, not a bug (503)."""

    status_code = 503


class Invalid(AppError):
    status_code = 422

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__([{"loc": ["body", *field.split(".")], "rule": rule, "msg": message}])


class InvalidFields(AppError):
    """Several fields refused at once, each naming its rule, in the shape of a plan's violations."""

    status_code = 422

    def __init__(self, violations: Sequence[Violation]) -> None:
        super().__init__([_violation(v) for v in violations])


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


log = logging.getLogger("smartplans.api")
RETRY_AFTER_SECONDS = 5
# What a Temporal call answers while the server is down, restarting or overloaded: worth retrying, not a bug.
_TEMPORAL_DOWN = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.RESOURCE_EXHAUSTED}
_LAZY_CONNECT_FAILED = "Failed client connect"  # a lazy client's first call while the server is unreachable
# A server just (re)started can refuse a start for a search attribute it has registered but not yet loaded
# (temporalio/temporal#6195); the worker registers any that are really missing when it starts. Worth retrying.
_ATTRIBUTES_NOT_LOADED = "has no mapping defined for search attribute"


def temporal_unready(err: RPCError) -> bool:
    """Temporal is down, restarting, overloaded or still loading its search attributes: a retry will do."""
    return err.status in _TEMPORAL_DOWN or (
        err.status == RPCStatusCode.INVALID_ARGUMENT and _ATTRIBUTES_NOT_LOADED in err.message)


def unavailable(what: str) -> JSONResponse:
    """503 with Retry-After, naming the part that is down: a client (or a lead source) knows to retry, not to fix
    its request."""
    return JSONResponse({"detail": f"{what} is unreachable; try again in a few seconds"}, status_code=503,
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _internal_error(exc: Exception) -> JSONResponse:
    """What Starlette would answer for an unhandled error, logged the same way: a bug, not an outage."""
    log.error("unhandled error", exc_info=exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500)


_REFUSAL_STATUS = {"not_found": 404, "already_enrolled": 409, "plan_inactive": 409, "plan_empty": 409}


def install(app: FastAPI) -> None:
    async def app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        if isinstance(exc, TooManyBadKeys):
            headers = {"Retry-After": str(exc.retry_after)}
        elif isinstance(exc, Unavailable):
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return JSONResponse({"detail": pointing_to_rules(exc.detail)}, status_code=exc.status_code, headers=headers)

    async def plan_invalid(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, PlanInvalid)
        return JSONResponse({"detail": pointing_to_rules([_violation(v) for v in exc.violations])}, status_code=422)

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = pointing_to_rules(_shape_errors(request, exc.errors()))
        return JSONResponse({"detail": jsonable_encoder(detail)}, status_code=422)

    async def enrollment_refused(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EnrollmentRefused)
        return JSONResponse({"detail": exc.message}, status_code=_REFUSAL_STATUS.get(exc.code, 409))

    async def database_down(_: Request, exc: Exception) -> JSONResponse:
        return unavailable("the database")

    async def temporal_down(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RPCError)
        return unavailable("Temporal") if temporal_unready(exc) else _internal_error(exc)

    async def runtime_error(_: Request, exc: Exception) -> JSONResponse:
        return unavailable("Temporal") if str(exc).startswith(_LAZY_CONNECT_FAILED) else _internal_error(exc)

    for database_error in (OperationalError, InterfaceError, PoolTimeout):
        app.add_exception_handler(database_error, database_down)
    app.add_exception_handler(RPCError, temporal_down)
    app.add_exception_handler(RuntimeError, runtime_error)
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(PlanInvalid, plan_invalid)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(EnrollmentRefused, enrollment_refused)


def _violation(v: Violation) -> dict[str, Any]:
    return {"loc": ["body", *v.field.replace("[", ".").replace("]", "").split(".")], "rule": v.rule, "msg": str(v)}


_TAG_ERRORS = {"union_tag_invalid", "union_tag_not_found"}


def _shape_errors(request: Request, errors: Sequence[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors for the request, each body error made a violation like the business rules' (`{loc, rule,
    msg}`, plus pydantic's `type`) naming the rule its body model gives the field (`Request.shape_violation`); the
    rest (a query parameter, a body that is not an object) as pydantic words them, naming `request_fields`. Two
    errors for one field (each member of a union refusing the value) become one."""
    body = _body_model(request.scope.get("endpoint"))
    order: list[dict[str, Any] | tuple[str, str]] = []
    named: dict[tuple[str, str], tuple[list[str], str]] = {}
    for error in errors:
        if error["type"] == NUL_ERROR:  # raised for the whole body; the place is in its context
            error = {**error, "loc": (*error["loc"], *error["ctx"]["path"])}
        loc = tuple(error["loc"])
        violation = None
        if body is not None and loc[:1] == ("body",):
            # A step without a valid `kind` is reported at the step; the field at fault is the discriminator.
            tag = (str(error.get("ctx", {}).get("discriminator", "kind")).strip("'"),) \
                if error["type"] in _TAG_ERRORS else ()
            violation = body.shape_violation(loc[1:] + tag, error["msg"])
        if violation is None:
            if "input" in error:
                error = {**error, "input": _brief(error["input"])}
            order.append({**error, "rule": REQUEST_FIELDS})
            continue
        key = (violation.field, violation.rule)
        if key not in named:
            named[key] = ([], error["type"])
            order.append(key)
        named[key][0].append(violation.message)
    return [item if isinstance(item, dict) else
            {**_violation(Violation(*item, "; or ".join(named[item][0]))), "type": named[item][1]} for item in order]


_ECHO_LIMIT = 200


def _brief(value: Any) -> Any:
    """What was sent, as a refusal quotes it: whole when short, else its start (a 500 KB body is not sent back)."""
    if isinstance(value, str):
        return value if len(value) <= _ECHO_LIMIT else value[:_ECHO_LIMIT] + "…"
    if isinstance(value, list | dict) and len(repr(value)) > _ECHO_LIMIT:
        return f"{type(value).__name__} of {len(value)} items"
    return value


@functools.cache
def _body_model(endpoint: Callable[..., Any] | None) -> type[RequestBody] | None:
    """The request-body model the matched endpoint takes (or may take), from its signature (Starlette puts the
    endpoint in the scope); None for an endpoint without one."""
    try:
        hints = typing.get_type_hints(endpoint) if endpoint is not None else {}
    except (NameError, TypeError):  # an endpoint whose annotations do not resolve: no rules to name
        return None
    # A body the endpoint may go without is `Body | None`.
    candidates = [member for hint in hints.values() for member in (hint, *typing.get_args(hint))]
    return next((hint for hint in candidates if isinstance(hint, type) and issubclass(hint, RequestBody)), None)
