"""The pages behind the unsubscribe link of every plan email (R-EMAIL-4).

Anyone opens them, from any mail client, so they are plain HTML that loads from the API alone: the style inline, no
script, font or image, and a Content-Security-Policy that allows nothing else (nothing fetched from elsewhere tells a
third party who opened the link). The link is a credential for one contact, so the pages are neither cached,
indexed nor sent as a referrer.
"""

from __future__ import annotations

import html

from fastapi.responses import HTMLResponse

HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
}
_STYLE = """body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1a1a1a;
background:#fff;margin:0}main{max-width:32rem;margin:3rem auto;padding:0 1rem}h1{font-size:1.6rem;margin:0 0 1rem}
button{font:inherit;font-size:1.1rem;padding:.6rem 1.2rem;border:0;border-radius:.3rem;background:#1f4e99;color:#fff;
cursor:pointer}button:focus-visible{outline:3px solid #f2a900;outline-offset:2px}"""


def _text(words: str) -> str:
    return html.escape(words, quote=False)  # element content: an apostrophe stays one


def _page(title: str, heading: str, *paragraphs: str, form: str = "") -> str:
    text = "".join(f"<p>{_text(p)}</p>" for p in paragraphs)
    return ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            '<meta name="robots" content="noindex"><meta name="referrer" content="no-referrer">'
            f"<title>{_text(title)} · SmartPlans</title><style>{_STYLE}</style></head>\n"
            f"<body><main><h1>{_text(heading)}</h1>{text}{form}</main></body></html>\n")


# Opening the link only asks: mail security scanners (Outlook Safe Links and the like) fetch every link in an email
# and must not unsubscribe anyone. The button posts back to the link; mailbox providers post to it directly (RFC 8058
# one-click).
CONFIRM = _page("Unsubscribe", "Unsubscribe from plan emails?",
                "You will get no more plan emails from us, from any plan. Texts are separate: reply STOP to a text to "
                "stop those.",
                form='<form method="post"><button type="submit">Unsubscribe</button></form>')
UNSUBSCRIBED = _page("Unsubscribed", "You're unsubscribed", "You will not receive any more plan emails from us.")
ALREADY = _page("Already unsubscribed", "You're already unsubscribed",
                "This link was used before, so nothing changed: you get no plan emails from us.")


def page(markup: str) -> HTMLResponse:
    return HTMLResponse(markup, headers=HEADERS)
