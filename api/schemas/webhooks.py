"""The form fields the providers post to the webhooks, stated in the OpenAPI document (the handlers read the raw form:
its signature covers every field, and a provider may add fields at any time)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Form(BaseModel):
    # Providers add fields as they please; a form's fields are text.
    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": {"type": "string"}})

    @classmethod
    def request_body(cls, media_type: str) -> dict[str, Any]:
        """`openapi_extra` for a route that reads this form itself."""
        return {"requestBody": {"required": True, "content": {media_type: {"schema": cls.model_json_schema()}}}}


class TwilioSmsForm(_Form):
    """An inbound text, as Twilio posts it (with `X-Twilio-Signature`)."""

    MessageSid: str = Field(default="", examples=["SM" + "0" * 32])
    From: str = Field(default="", examples=["+15125550199"])
    To: str = Field(default="", examples=["+15125550111"])
    Body: str = Field(default="", examples=["STOP"])


class TwilioStatusForm(_Form):
    """A delivery report for a text we sent (with `X-Twilio-Signature`)."""

    MessageSid: str = Field(default="", examples=["SM" + "0" * 32])
    MessageStatus: str = Field(default="", examples=["delivered"])
    From: str = Field(default="", examples=["+15125550111"])
    ErrorCode: str = Field(default="", examples=["30003"])


class InboundParseForm(_Form):
    """An email reply, as SendGrid Inbound Parse posts it (the secret in `?secret=` or basic auth)."""

    from_: str = Field(default="", alias="from", examples=["Dana Smith <dana@example.com>"])
    to: str = Field(default="", examples=["rita@example.com"])
    subject: str = Field(default="", examples=["Re: Homes for you"])
    text: str = Field(default="", examples=["Yes, Saturday works."])
    html: str = Field(default="")
    headers: str = Field(default="", examples=["Message-ID: <a1@example.com>"])
    envelope: str = Field(default="", description="JSON: {\"from\": …, \"to\": […]}",
                          examples=['{"from": "dana@example.com", "to": ["rita@example.com"]}'])
