"""R-MERGE-1 rendering and the R-EMAIL-4 footer pieces."""

from __future__ import annotations

from domain.email_content import footer, html_to_text, simple_html, unsubscribe_token, verify_unsubscribe_token
from domain.merge import Person, merge_problems, merge_values, render

VALUES = merge_values(Person("Dana", None, "dana@example.com", None), Person("Alex", "Agent", None, "+1512"))


class TestRMerge1Rendering:
    def test_known_fields_are_filled_and_fields_without_a_value_render_empty(self) -> None:
        text = "Hi {contact.first.name} {contact.last.name}|{contact.phone}| from {agent.full.name} {agent.phone}"
        assert render(text, VALUES) == "Hi Dana || from Alex Agent +1512"

    def test_spaces_inside_braces_are_tolerated_and_other_braces_kept(self) -> None:
        assert render("{ contact.first.name } {not a field} {x}", VALUES) == "Dana {not a field} {x}"


class TestRMerge1FieldsAreNeverSentAsWritten:
    def test_case_variants_of_known_fields_are_rendered(self) -> None:
        text = "Hi {Contact.First.Name}, {  CONTACT.EMAIL } from {Agent.Full.Name}{contact.LAST.name}."
        assert render(text, VALUES) == "Hi Dana, dana@example.com from Alex Agent."

    def test_a_case_variant_of_a_known_field_is_refused_naming_the_field_to_write(self) -> None:
        assert merge_problems("Hi {Contact.First.Name} at { contact.EMAIL }") == [
            "unknown merge field {Contact.First.Name}: write {contact.first.name}",
            "unknown merge field {contact.EMAIL}: write {contact.email}"]

    def test_an_unknown_field_in_any_case_is_refused_listing_the_known_ones(self) -> None:
        for text, name in (("{contact.frist.name}", "contact.frist.name"), ("{Contact.Phone2}", "Contact.Phone2"),
                           ("{{contact.first_name}}", "contact.first_name"),
                           ("{ Agent.Cell-Phone }", "Agent.Cell-Phone")):
            (problem,) = merge_problems(text)
            assert problem.startswith(f"unknown merge field {{{name}}}; known fields: {{contact.first.name}}, "), text

    def test_exactly_known_fields_pass_with_or_without_spaces_inside_the_braces(self) -> None:
        assert merge_problems("{contact.first.name} { agent.phone } {contact.full.name}") == []

    def test_braces_that_are_not_field_shaped_are_left_alone(self) -> None:
        for text in ("<style>p { color: red; } a{margin:0} .x { font: 1.5em/2 serif }</style>", "a lone { brace",
                     "{not a field} {x} { 1.5 } {First Name} {contact.}", "{.contact.email}", "}{"):
            assert merge_problems(text) == [], text
            assert render(text, VALUES) == text


class TestREmail4Footer:
    def test_the_unsubscribe_token_is_bound_to_the_contact(self) -> None:
        token = unsubscribe_token("secret", "ct_1")
        assert verify_unsubscribe_token("secret", token) == "ct_1"
        assert verify_unsubscribe_token("other secret", token) is None
        forged = token.replace("ct_1", "ct_2")
        assert verify_unsubscribe_token("secret", forged) is None

    def test_a_token_with_non_ascii_characters_is_unknown_not_an_error(self) -> None:
        token = unsubscribe_token("secret", "ct_1")
        for garbage in ("éé", token + "é", "ct_1.é", "\u200b.\u200b", "ct_é." + token.partition(".")[2], "\x00"):
            assert verify_unsubscribe_token("secret", garbage) is None, garbage

    def test_the_footer_has_the_address_and_the_link(self) -> None:
        html, text = footer("https://x.test/unsubscribe/t", "1 Main St\nAustin TX")
        assert "1 Main St<br>Austin TX" in html
        assert '<a href="https://x.test/unsubscribe/t">Unsubscribe</a>' in html
        assert text.endswith("1 Main St\nAustin TX\nUnsubscribe: https://x.test/unsubscribe/t")


def test_simple_email_bodies_are_escaped_paragraphs_with_links() -> None:
    assert simple_html("Hi <b>Dana</b>\nline two\n\nSee https://kw.com/a?b=1") == (
        '<p>Hi &lt;b&gt;Dana&lt;/b&gt;<br>line two</p>\n<p>See <a href="https://kw.com/a?b=1">https://kw.com/a?b=1</a></p>')


def test_design_html_has_a_plain_text_alternative() -> None:
    assert html_to_text("<style>p{}</style><h1>Hi &amp; hello</h1><p>One</p><p>Two</p>") == "Hi & hello\nOne\nTwo"
