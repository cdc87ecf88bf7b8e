"""R-EMAIL-4: an unsubscribe link that is not one we signed — whatever bytes it holds — is a clean 404."""

from __future__ import annotations

import pytest

from db.models import Contact, TimelineEvent
from domain.email_content import unsubscribe_token
from tests.api.conftest import Api
from tests.factories import seed

# Percent-encoded as a mail client would send them: non-ASCII, invalid UTF-8, NUL, empty parts, very long.
MALFORMED = ("%C3%A9%C3%A9", "%F0%9F%98%80", "ct_1.%C3%A9%C3%A9%C3%A9%C3%A9", "%E2%80%8B.%E2%80%8B", "%FF%FE", "%00",
             "ct_1.", "...", "%20", "a" * 4000)


class TestREmail4MalformedUnsubscribeLinks:
    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_malformed_token_is_the_same_404_as_an_unknown_one_and_changes_nothing(
            self, api: Api, method: str) -> None:
        world = await seed(api.harness.sessions)
        signed = unsubscribe_token(api.harness.settings.link_secret, world.contact_id)
        unknown = await api.client.request(method, "/unsubscribe/garbage")
        assert (unknown.status_code, unknown.json()) == (404, {"detail": "unsubscribe link not found"})
        for token in (*MALFORMED, signed + "%C3%A9", signed.replace(".", ".%C3%A9")):
            answer = await api.client.request(method, f"/unsubscribe/{token}")
            assert (answer.status_code, answer.json()) == (404, unknown.json()), token[:40]
        (contact,) = await api.harness.rows(Contact, id=world.contact_id)
        assert not contact.unsubscribed
        assert await api.harness.rows(TimelineEvent) == []
