"""The body of a plan email: simple text made into HTML, and the footer every email carries (R-EMAIL-4)."""

from __future__ import annotations

import hashlib
import hmac
import html
import re

_URL = re.compile(r"https?://[^\s<>\"']+")


def unsubscribe_token(secret: str, contact_id: str) -> str:
    """A contact-bound token so an unsubscribe link cannot be forged for another contact."""
    mac = hmac.new(secret.encode(), contact_id.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{contact_id}.{mac}"


def verify_unsubscribe_token(secret: str, token: str) -> str | None:
    """The contact id of a token we signed, else None. The token is whatever the link's path held: anything that is
    not ASCII cannot be ours (`compare_digest` refuses non-ASCII text outright), so it is an unknown link, not an
    error."""
    if not token.isascii():
        return None
    contact_id, _, _mac = token.rpartition(".")
    if contact_id and hmac.compare_digest(unsubscribe_token(secret, contact_id), token):
        return contact_id
    return None


def simple_html(body: str) -> str:
    """Plain text with blank-line paragraphs and bare links, as the simple editor writes it, made safe HTML."""
    paragraphs = [p for p in re.split(r"\n\s*\n", body.strip()) if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = html.escape(paragraph)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        out.append("<p>" + linked.replace("\n", "<br>") + "</p>")
    return "\n".join(out)


def sender_postal_address(agent_address: str | None, team_address: str | None) -> str | None:
    """R-EMAIL-4: the postal address an email carries, the sending agent's own else the team's; None when neither has
    one (blank counts as none). CAN-SPAM asks a valid postal address of every commercial email, so None means the
    email must not go out (`missing_postal_address` says why and how to fix it)."""
    for address in (agent_address, team_address):
        if address is not None and address.strip():
            return address.strip()
    return None


def missing_postal_address(agent_name: str) -> str:
    """Why an email cannot go out without an address, and what fixes it: one wording for the timeline and warnings."""
    return (f"neither {agent_name} nor the team has a postal address, which every email must carry (R-EMAIL-4); "
            "set one with PATCH /settings (postal_address, or team_postal_address for the whole team)")


def footer(unsubscribe_url: str, postal_address: str | None) -> tuple[str, str]:
    """(html, text) of the footer: the unsubscribe link and the sender's postal address."""
    address = postal_address.strip() if postal_address else ""
    html_part = ('<hr><p style="font-size:12px;color:#666">'
                 + (html.escape(address).replace("\n", "<br>") + "<br>" if address else "")
                 + f'<a href="{html.escape(unsubscribe_url)}">Unsubscribe</a></p>')
    text_part = "\n\n--\n" + (address + "\n" if address else "") + f"Unsubscribe: {unsubscribe_url}"
    return html_part, text_part


def html_to_text(markup: str) -> str:
    """A readable plain-text alternative of a design email."""
    text = re.sub(r"(?is)<(script|style).*?</\1>", "", markup)
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</h\d>|</li>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\n{3,}", "\n\n", html.unescape(text)).strip()
