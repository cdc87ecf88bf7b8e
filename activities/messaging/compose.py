"""Builds the email a step sends: merge fields filled, the footer with unsubscribe link and postal address."""

from __future__ import annotations

import html

from activities.messaging.providers import EmailRequest
from activities.parties import Parties
from config import Settings
from domain.email_content import footer, html_to_text, sender_postal_address, simple_html, unsubscribe_token
from domain.merge import render
from domain.plan import EmailStep
from workflows.types import StepInput


def compose_email(settings: Settings, step: StepInput, parties: Parties, design_html: str | None) -> EmailRequest:
    """`design_html`: a design email's HTML — the step's own copy, or for a step saved before steps held copies, the
    library design's. Either way the email is HTML with a plain-text part, and both carry the footer (R-EMAIL-4).

    An email whose sender has no postal address is still composed (a retry after an interrupted send needs the
    request to ask the provider about it), but never sent: `_email_checks` fails the step first."""
    spec = step.step
    assert isinstance(spec, EmailStep)
    values = parties.merge_values()
    subject = render(spec.subject, values)
    if spec.mode == "design" and design_html is not None:
        # Values are escaped before they go into a design's HTML: a contact's name is text, not markup.
        body_html = render(design_html, {k: html.escape(v) for k, v in values.items()})
        body_text = html_to_text(body_html)
    else:
        body_text = render(spec.body, values)
        body_html = simple_html(body_text)
    url = f"{settings.public_base_url}/unsubscribe/{unsubscribe_token(settings.link_secret, parties.contact.id)}"
    address = sender_postal_address(parties.agent.postal_address, parties.team.postal_address)
    footer_html, footer_text = footer(url, address)
    return EmailRequest(
        from_email=parties.agent.email, from_name=parties.agent_name,
        to_email=parties.contact.email or "", to_name=parties.contact_name,
        subject=subject, html=body_html + footer_html, text=body_text + footer_text,
        reply_to=parties.agent.email,  # replies go to the agent whose credits sent it (R-TEAM-3)
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        custom_args={"idempotency_key": step.idempotency_key, "contact_id": parties.contact.id,
                     "plan_id": step.plan_id},
    )
