"""The OpenAPI document says what the API answers, not what FastAPI assumes it does.

FastAPI describes every 422 as pydantic's error list, each item with a `type`. Ours (`api.errors`) names the rule a
field breaks, and a refusal by a business rule (a merge field, the order of a day's slots) has no pydantic `type`:
the document's `ValidationError` is replaced by `Problem`, so a client generated from it, or a contract test checking
answers against it, reads every 422 the API sends.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.schemas.common import Problem

REF_TEMPLATE = "#/components/schemas/{model}"


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            generate()["components"]["schemas"]["ValidationError"] = Problem.model_json_schema(
                ref_template=REF_TEMPLATE)
        assert app.openapi_schema is not None  # `generate` keeps the document it made
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to change the document
