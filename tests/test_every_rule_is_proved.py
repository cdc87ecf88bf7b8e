"""Every rule users can read in `docs/rules.md` has a test that names it, so a rule cannot go unproved unnoticed.
A test names a rule by its code (`R-TXT-3`, a run `R-ROUTE-2..5`, a list `R-ROUTE-2/3/5`) or by its class name
(`TestRTxt3SmsWindow`, `TestREmail1And4Emails`, `TestRCall1AndRTxt1TaskKinds`)."""

from __future__ import annotations

import re
from pathlib import Path

from config import PROJECT_ROOT

RULES = PROJECT_ROOT / "docs" / "rules.md"
CODE = re.compile(r"\bR-([A-Z]+)-(\d+)((?:\.\.\d+)|(?:/\d+)+)?")
TEST_CLASS = re.compile(r"^class TestR([A-Z]\w*)", re.MULTILINE)
# In a class name: a rule's prefix and number ("Txt3", "RTxt1" after "And"), or a bare number after "And" that
# keeps the prefix before it ("Email1And4").
CLASS_PART = re.compile(r"(?:R?(?!And)([A-Z][a-z]+))?(\d+)")


def named_in(text: str) -> set[str]:
    """The rule codes a test file names."""
    named: set[str] = set()
    for prefix, first, more in CODE.findall(text):
        if more.startswith(".."):
            numbers = list(range(int(first), int(more[2:]) + 1))
        else:
            numbers = [int(first), *(int(n) for n in more.split("/") if n)]
        named |= {f"R-{prefix}-{n}" for n in numbers}
    for name in TEST_CLASS.findall(text):
        prefix = ""
        for part, number in CLASS_PART.findall(name):
            prefix = part.upper() or prefix
            if prefix:
                named.add(f"R-{prefix}-{number}")
    return named


def test_the_reading_of_names_covers_each_way_a_test_names_a_rule() -> None:
    assert named_in("class TestREmail1And4Emails:\nclass TestRCall1AndRTxt1TaskKinds:\nclass TestRPlan10Duplicate:"
                    ) == {"R-EMAIL-1", "R-EMAIL-4", "R-CALL-1", "R-TXT-1", "R-PLAN-10"}
    assert named_in('"""Which route (R-ROUTE-2..4, R-OFFER-1/3)."""') == {
        "R-ROUTE-2", "R-ROUTE-3", "R-ROUTE-4", "R-OFFER-1", "R-OFFER-3"}
    assert named_in("class TestRepublishing:\nclass TestRotateKeys:") == set()


def test_every_rule_on_the_rules_page_is_named_by_a_test() -> None:
    explained = set(re.findall(r"^### (R-[A-Z]+-\d+)$", RULES.read_text(), re.MULTILINE))
    assert len(explained) == 57
    named: set[str] = set()
    for path in (PROJECT_ROOT / "tests").rglob("test_*.py"):
        if path.resolve() != Path(__file__).resolve():  # this file's examples prove nothing
            named |= named_in(path.read_text())
    assert sorted(explained - named) == []


def test_every_rule_an_error_quotes_is_explained_on_the_rules_page() -> None:
    """An answer's `help` points at `docs/rules.md#<the code>`: every code a refusal quotes has its heading there."""
    anchors = {heading.lower() for heading in re.findall(r"^### (\S+)$", RULES.read_text(), re.MULTILINE)}
    quoted: set[str] = set()
    for folder in ("api", "services", "domain"):
        for path in (PROJECT_ROOT / folder).rglob("*.py"):
            # The field as a string, or a name for it (`Invalid(field, "team_agent", …)` in a shared lookup).
            quoted |= set(re.findall(r'Invalid\(\s*(?:f?"[^"]*"|\w+),\s*"([^"]+)"', path.read_text()))
    assert {"team_tag", "team_agent"} <= quoted
    assert sorted(code for code in quoted if code.lower() not in anchors) == []

