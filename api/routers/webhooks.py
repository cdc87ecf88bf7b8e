"""Provider webhooks (Twilio texts and delivery reports, SendGrid Inbound Parse) and the email unsubscribe link.

Each webhook proves who sent it before anything changes: Twilio by its `X-Twilio-Signature` (an HMAC of the public
URL it called and the form fields, keyed with the auth token of the account that owns the number), SendGrid by a
shared secret in the URL or in basic auth, since Inbound Parse signs nothing. A bad or missing proof is 403 and
nothing is written. After that the answer is always 2xx, even for a sender we do not know: providers retry
failures for hours, and a retry would not find anything different.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from api.deps import SessionDep, SettingsDep, StateDep
from api.errors import Forbidden, Invalid, NotFound
from api.schemas.webhooks import InboundParseForm, TwilioSmsForm, TwilioStatusForm
from api.security import same_secret
from api.unsubscribe_pages import ALREADY, CONFIRM, UNSUBSCRIBED, page
from services.inbound import Inbound, InboundSms, parse_inbound_email
from services.unsubscribe import unsubscribe, unsubscribe_contact
from worker import providers

router = APIRouter(tags=["webhooks"])

FORM = "application/x-www-form-urlencoded"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# Inbound Parse posts the whole message (html and text parts included) as form fields; 1 MB is too tight for some.
_MAX_EMAIL_PART = 10 * 1024 * 1024


async def get_inbound(state: StateDep) -> Inbound:
    """Providers are plain stateless objects; the confirmation text goes out through the configured one."""
    return Inbound(state.sessions, state.temporal, state.settings, providers(state.settings)[0])


InboundDep = Annotated[Inbound, Depends(get_inbound)]


def twiml() -> Response:
    return Response(EMPTY_TWIML, media_type="text/xml")


@router.post("/webhooks/twilio/sms", response_class=Response, openapi_extra=TwilioSmsForm.request_body(FORM),
             responses={200: {"content": {"text/xml": {}}, "description": "Empty TwiML: no automatic answer"}})
async def twilio_sms(request: Request, inbound: InboundDep, settings: SettingsDep) -> Response:
    """An inbound text: an opt-out/opt-in word (R-TXT-4) or a reply to the contact's plans (R-RULE-5)."""
    form = await request.form()
    to_number = _field(form, "To")
    agent_id, token = await inbound.twilio_token_for_number(to_number)
    _verify_twilio(request, form, settings.public_base_url, token)
    await inbound.text_received(InboundSms(message_sid=_message_sid(form), from_number=_field(form, "From"),
                                           to_number=to_number,
                                           body=_field(form, "Body")), agent_id)
    return twiml()


@router.post("/webhooks/twilio/status", response_class=Response, openapi_extra=TwilioStatusForm.request_body(FORM),
             responses={200: {"content": {"text/xml": {}}, "description": "Empty TwiML"}})
async def twilio_status(request: Request, inbound: InboundDep, settings: SettingsDep) -> Response:
    """A delivery report for a text we sent; statuses only move forward."""
    form = await request.form()
    sid = _field(form, "MessageSid") or _field(form, "SmsSid")
    token = await inbound.twilio_token_for_status(sid, _field(form, "From"))
    _verify_twilio(request, form, settings.public_base_url, token)
    sid = _message_sid(form)
    await inbound.status_received(sid, _field(form, "MessageStatus") or _field(form, "SmsStatus"),
                                  _field(form, "ErrorCode") or None)
    return twiml()


@router.post("/webhooks/sendgrid/inbound", response_class=Response,
             openapi_extra=InboundParseForm.request_body("multipart/form-data"))
async def sendgrid_inbound(request: Request, inbound: InboundDep, settings: SettingsDep) -> Response:
    """An email reply through SendGrid Inbound Parse (R-RULE-5); the secret is checked before the body is read."""
    expected = settings.sendgrid_inbound_secret
    given = request.query_params.get("secret") or _basic_auth_password(request.headers.get("Authorization"))
    if not expected or not given or not same_secret(given, expected):
        raise Forbidden("missing or wrong Inbound Parse secret")
    async with request.form(max_part_size=_MAX_EMAIL_PART) as form:
        # Attachments arrive as files; only the text fields matter here.
        fields = {name: _storable(value) for name, value in form.items() if isinstance(value, str)}
    email = parse_inbound_email(fields)
    if email is not None:
        await inbound.email_received(email)
    return Response(status_code=200)


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The footer link of every plan email (R-EMAIL-4): a page that asks, and changes nothing by being opened."""
    contact = await unsubscribe_contact(session, settings.link_secret, token)
    if contact is None:
        raise NotFound("unsubscribe", "link")
    return page(ALREADY if contact.unsubscribed else CONFIRM)


@router.post("/unsubscribe/{token}", response_class=HTMLResponse)
async def unsubscribe_one_click(token: str, session: SessionDep, settings: SettingsDep) -> HTMLResponse:
    """The page's button, and RFC 8058 one-click (`List-Unsubscribe-Post: List-Unsubscribe=One-Click`) posted by the
    mailbox provider. Works once: a second use says so and writes nothing."""
    outcome = await unsubscribe(session, settings.link_secret, token)
    if outcome is None:
        raise NotFound("unsubscribe", "link")
    return page(UNSUBSCRIBED if outcome == "unsubscribed" else ALREADY)


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return _storable(value) if isinstance(value, str) else ""


def _message_sid(form: FormData) -> str:
    """Twilio's id of the message, which it sends with every text and report: what tells a retry from a new text
    (R-COMP-2). A signed post without one is refused, naming the field, rather than recorded under an empty id that
    every later post without one would repeat."""
    sid = _field(form, "MessageSid").strip() or _field(form, "SmsSid").strip()
    if not sid:
        raise Invalid("MessageSid", "R-COMP-2", "Twilio's MessageSid (or SmsSid) is missing: without it a retry "
                      "cannot be told from a new message, so nothing was recorded")
    return sid


def _storable(value: str) -> str:
    """A provider's text without NUL, which PostgreSQL cannot store: a message from the outside world is recorded
    (after its signature was checked on what was sent), never refused for it (`api.schemas.common.nul_at`)."""
    return value.replace("\x00", "")


def _verify_twilio(request: Request, form: FormData, public_base_url: str, token: str) -> None:
    """Twilio signs the URL it called, which is the public one, not the one this process sees behind a proxy."""
    signature = request.headers.get("X-Twilio-Signature")
    url = public_base_url.rstrip("/") + request.url.path + (f"?{request.url.query}" if request.url.query else "")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    if not token or not signature or not RequestValidator(token).validate(url, form, signature, algorithm):
        raise Forbidden("missing or invalid X-Twilio-Signature")


def _basic_auth_password(header: str | None) -> str | None:
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None
