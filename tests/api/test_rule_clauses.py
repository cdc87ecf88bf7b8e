"""Plan clauses through the real app: a later pass runs a slot already past at its start at once (R-PLAN-7, by the
preview), every saved version of a plan is kept (R-PLAN-9), Do-Not-Call set by an agent while a text is being retried
stops it (R-TXT-4), and an email reply removes a contact only once the plan has emailed them, with nothing sent or
assigned because of it (R-RULE-5)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from db.models import Message, PlanVersion, Task, TimelineEvent
from db.session import session_scope
from tests.api.conftest import Api, answered
from tests.api.test_plans import doc, editable, post_plan
from tests.api.test_webhooks import SECRET, client_for, inbound_email, signal_handled
from tests.factories import CT, TWILIO_SID, TWILIO_TOKEN, add_plan, email, eventually, live_worker, plan_doc, seed, task
from tests.factories import text as text_step
from tests.fakes import FakeTwilio
from tests.workflows.test_attempts import at_central, attempts_failed
from workflows.enrollment import EnrollmentWorkflow


class TestRPlan7ALaterPassRunsAPastSlotAtOnce:
    async def test_pass_two_of_a_15_00_enrollment_runs_its_day_one_morning_step_at_15_00(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc(
            (0, [task("Morning call", slot="morning", id="M")]), (1, [task("Next morning", slot="morning", id="N")]),
            repeat={"times": 1, "delay_days": 2}))
        start = datetime(2027, 2, 3, 15, tzinfo=CT)
        answer = await api.client.post(f"/plans/{plan['id']}/preview", headers=team.member,
                                       json={"start_at": start.isoformat(), "passes": 2})
        assert answer.status_code == 200, answer.text
        got = [(s["repeat"], s["day"], s["step_id"], datetime.fromisoformat(s["fire_at"])) for s in answer.json()]
        assert got == [
            (0, 1, "M", start),  # 10:00 already past at enrollment: at once
            (0, 2, "N", datetime(2027, 2, 4, 10, tzinfo=CT)),
            (1, 1, "M", datetime(2027, 2, 6, 15, tzinfo=CT)),  # pass 2 starts 2 days after Feb 4, at 15:00
            (1, 2, "N", datetime(2027, 2, 7, 10, tzinfo=CT))]


class TestRPlan9EveryVersionIsKept:
    async def test_after_a_put_both_versions_are_stored_each_as_it_was_saved(self, api: Api) -> None:
        team = await api.team()
        plan = await post_plan(api, team.member, doc((0, [email("First subject", id="E")]), name="Kept"))
        edited = editable(plan)
        edited["days"][0]["steps"][0]["subject"] = "Second subject"
        answer = await api.client.put(f"/plans/{plan['id']}", headers=team.member, json=edited)
        assert answer.status_code == 200, answer.text
        assert (await api.client.get(f"/plans/{plan['id']}", headers=team.member)).json()["version"] == 2
        async with session_scope(api.harness.sessions) as session:
            versions = (await session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan["id"])
                                              .order_by(PlanVersion.version))).all()
        subjects = [(v.version, v.definition["days"][0]["steps"][0]["subject"]) for v in versions]
        assert subjects == [(1, "First subject"), (2, "Second subject")]


class TestRTxt4DoNotCallDuringARetry:
    async def test_a_contact_an_agent_puts_on_do_not_call_while_the_text_is_retried_is_not_texted(
            self, api: Api, twilio: FakeTwilio) -> None:
        team = await api.team()
        answered(await api.client.patch("/settings", headers=team.member, json={
            "twilio_account_sid": TWILIO_SID, "twilio_auth_token": TWILIO_TOKEN, "twilio_from_number": "+15125550111"}),
            200)
        contact_id = answered(await api.client.post("/contacts", headers=team.member, json={
            "first_name": "Dana", "phone": "+15125550199"}), 201)["id"]
        plan = await post_plan(api, team.member, doc((0, [text_step("Are you still looking?"), task("Call back")])))
        twilio.go_down(503)
        async with live_worker(api.harness.env, api.harness.sessions, twilio) as h:
            await at_central(h, 2027, 2, 3, 11)
            handle = await h.enroll(plan["id"], contact_id)
            await h.env.sleep(timedelta(seconds=40))  # attempts at 0, 2, 6, 14 and 30 s: Do-Not-Call comes between
            assert await attempts_failed(handle) >= 2
            answered(await api.client.patch(f"/contacts/{contact_id}", headers=team.member,
                                            json={"do_not_call": True}), 200)
            twilio.come_back()
            assert (await h.finish(handle)).status == "completed"
        assert twilio.messages == []
        (skipped,) = await h.rows(TimelineEvent, kind="step_skipped")
        assert skipped.detail == "Text not sent: the contact is on the Do-Not-Call list"
        assert [m.status for m in await h.rows(Message, channel="sms")] == ["cancelled"]
        assert [t.name for t in await h.rows(Task)] == ["Call back"]  # the plan went on


class TestRRule5EmailReplyRemoval:
    async def test_an_email_before_the_plans_first_email_keeps_the_contact_and_one_after_removes_them(
            self, api: Api) -> None:
        h = api.harness
        world = await seed(h.sessions)
        plan_id = await add_plan(h.sessions, world, plan_doc((0, [email("Welcome", slot="evening")]),
                                                             (5, [email("Follow-up")])), on_email_reply=True)
        start = await at_central(h, 2027, 2, 3, 11)
        handle = await h.enroll(plan_id, world.contact_id)
        async with client_for(api, sendgrid_inbound_secret=SECRET) as client:
            for message_id, to in (("<to-alex@mail.example.com>", "Alex Agent <alex@example.com>"),
                                   ("<to-nobody@mail.example.com>", "Office <office@nobody.example.com>")):
                early = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}",
                                          **inbound_email(message_id, to=to))
                assert early.status_code == 200
            await eventually(lambda: signal_handled(handle))  # an address that is nobody's: every plan weighs it
            assert (await handle.query(EnrollmentWorkflow.progress)).status == "active"  # no plan email yet
            await h.advance_to(start.replace(hour=17) + timedelta(minutes=1))
            await eventually(lambda: h.has(Message, direction="outbound"))
            late = await client.post(f"/webhooks/sendgrid/inbound?secret={SECRET}",
                                     **inbound_email("<after@mail.example.com>"))
            assert late.status_code == 200
        assert (await h.finish(handle)).reason == "replied_email"
        # Nothing sent because of the removal (no Follow-up, no notice) and no task for anyone:
        assert [(m.channel, m.subject) for m in await h.rows(Message, direction="outbound")] == [("email", "Welcome")]
        assert len(await h.rows(Message, direction="inbound")) == 3
        assert await h.rows(Task) == []
        (removed,) = await h.rows(TimelineEvent, kind="removed")
        assert removed.detail == "Dana Smith was removed from the plan 'Test Plan' after replying to its email"
        # Replies are stamped with the real clock, the plan's events with the test server's: compare as a set.
        assert sorted(e.kind for e in await h.rows(TimelineEvent)) == [
            "enrolled", "removed", "reply_received", "reply_received", "reply_received", "step_executed"]
