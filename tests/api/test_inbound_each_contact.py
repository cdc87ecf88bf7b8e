"""An inbound text or email is recorded for each contact it came from, in that contact's team (R-COMP-2: every
message recorded, once); a text Twilio could not have sent (no MessageSid) is refused by name rather than
recorded under an empty id; an email reply with a photo attached is as good a reply as one without (R-RULE-5)."""

from __future__ import annotations

from db.models import Contact, Message, TimelineEvent
from db.session import session_scope
from domain.ids import new_id
from tests.api.conftest import Api
from tests.api.test_webhooks import SECRET, client_for, contact_of, inbound_email, sms, text_in
from tests.factories import seed


async def second_contact(api: Api, team_id: str, **fields: str) -> str:
    async with session_scope(api.harness.sessions) as session:
        contact = Contact(id=new_id("ct"), team_id=team_id, first_name="Sam", last_name="Smith", **fields)
        session.add(contact)
    return contact.id


class TestRComp2EachSenderHasTheMessage:
    async def test_a_text_from_a_number_two_contacts_share_is_among_each_ones_messages(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        other = await second_contact(api, world.team_id, phone="+15125550199")
        answer = await text_in(api.client, sms("STOP", sid="SM77"))
        assert answer.status_code == 200
        inbound = await api.harness.rows(Message, direction="inbound")
        assert sorted((m.contact_id, m.provider_id, m.body) for m in inbound) == sorted(
            [(world.contact_id, "SM77", "STOP"), (other, "SM77", "STOP")])
        events = await api.harness.rows(TimelineEvent, kind="reply_received")
        assert sorted((e.contact_id, e.data["message_id"]) for e in events) == sorted(
            (m.contact_id, m.id) for m in inbound)
        again = await text_in(api.client, sms("STOP", sid="SM77"))  # Twilio's retry of the same text
        assert again.status_code == 200
        assert len(await api.harness.rows(Message, direction="inbound")) == 2
        assert len(await api.harness.rows(Message, direction="outbound")) == 1  # one confirmation, as before

    async def test_an_email_to_no_agent_is_kept_in_each_team_whose_contact_sent_it(self, api: Api) -> None:
        ours, theirs = await seed(api.harness.sessions), await seed(api.harness.sessions)
        post = inbound_email(message_id="<r9@x>", to="inbox@parse.example.com")
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            assert (await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **post)).status_code == 200
            replay = inbound_email(message_id="<r9@x>", to="inbox@parse.example.com")
            assert (await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **replay)).status_code == 200
        copies = await api.harness.rows(Message, direction="inbound")
        assert sorted((m.team_id, m.contact_id) for m in copies) == sorted(
            [(ours.team_id, ours.contact_id), (theirs.team_id, theirs.contact_id)])
        events = await api.harness.rows(TimelineEvent, kind="reply_received")
        by_contact = {m.contact_id: m.id for m in copies}
        assert sorted((e.team_id, e.data["message_id"]) for e in events) == sorted(
            [(ours.team_id, by_contact[ours.contact_id]), (theirs.team_id, by_contact[theirs.contact_id])])


class TestAMessageTwilioCouldNotHaveSent:
    async def test_a_signed_text_without_a_message_sid_is_refused_by_name_and_records_nothing(
            self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        params = sms("STOP")
        del params["MessageSid"]
        refused = await text_in(api.client, params)
        assert refused.status_code == 422, refused.text
        [item] = refused.json()["detail"]
        assert (item["loc"], item["rule"]) == (["body", "MessageSid"], "R-COMP-2")
        assert await api.harness.rows(Message) == []
        assert not (await contact_of(api, world)).opted_out
        # Nothing was kept under an empty id: the next real STOP is honoured.
        assert (await text_in(api.client, sms("STOP", sid="SM80"))).status_code == 200
        assert (await contact_of(api, world)).opted_out


class TestRRule5AReplyWithAPhoto:
    async def test_an_email_reply_carrying_a_3_mb_attachment_is_recorded(self, api: Api) -> None:
        world = await seed(api.harness.sessions)
        post = inbound_email()
        post["files"] = {"attachment1": ("house.jpg", b"\xff" * 3_000_000, "image/jpeg")}
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            answer = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}", **post)
        assert answer.status_code == 200, answer.text
        (message,) = await api.harness.rows(Message)
        assert (message.contact_id, message.body) == (world.contact_id, "Yes please, send listings.")
