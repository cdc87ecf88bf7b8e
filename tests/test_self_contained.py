"""The repository stands alone: a user clones it with nothing beside it, so nothing it runs, tests or documents may
point outside it, and every rule code an answer can quote is explained in `docs/rules.md`."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from api.errors import RULE_CODE
from config import PROJECT_ROOT, SAMPLES_DIR

THIS_FILE = Path(__file__).resolve().relative_to(PROJECT_ROOT).as_posix()
# `../shared`, `shared/SPEC.md`, and the same folder built in code: `parents[2] / "shared" / "plans"`.
OUTSIDE = re.compile(r"\.\./shared|\bshared/|/\s*[\"']shared[\"']")
RULES = PROJECT_ROOT / "docs" / "rules.md"
CODE_FOLDERS = ("api", "domain", "services", "activities", "workflows", "db")


def repository_files() -> list[str]:
    """What a clone holds: the tracked files, plus new ones not yet committed (but not what git ignores)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=PROJECT_ROOT,
                            capture_output=True, check=True).stdout.decode()
    return sorted({name for name in listed.split("\0") if name and (PROJECT_ROOT / name).is_file()})


class TestNothingPointsOutsideTheRepository:
    def test_no_file_refers_to_a_shared_folder_beside_the_repository(self) -> None:
        files = repository_files()
        assert "README.md" in files
        assert "scripts/dev.py" in files
        found = []
        for name in files:
            if name == THIS_FILE:
                continue
            text = (PROJECT_ROOT / name).read_bytes().decode("utf-8", errors="replace")
            found += [f"{name}:{number}: {line.strip()}" for number, line in enumerate(text.splitlines(), 1)
                      if OUTSIDE.search(line)]
        assert found == []

    def test_the_pattern_catches_each_way_of_pointing_there(self) -> None:
        for line in ('PLANS = ROOT.parent / "shared" / "plans"', "see ../shared/plans", "Rules: shared/SPEC.md"):
            assert OUTSIDE.search(line), line
        assert not OUTSIDE.search("team designs are shared and own designs are private")

    def test_the_sample_plans_are_in_the_repository(self) -> None:
        names = {path.name for path in SAMPLES_DIR.glob("*.json")}
        assert names == {"8x8-new-lead.json", "33-touch-sphere.json", "open-house-follow-up.json"}
        assert {f"samples/{name}" for name in names} <= set(repository_files())


class TestEveryRuleIsExplained:
    def test_every_rule_code_the_code_quotes_has_its_section_in_docs_rules(self) -> None:
        explained = set(re.findall(r"^### (R-[A-Z]+-\d+)$", RULES.read_text(), re.MULTILINE))
        quoted: set[str] = set()
        for folder in CODE_FOLDERS:
            for path in (PROJECT_ROOT / folder).rglob("*.py"):
                quoted |= set(RULE_CODE.findall(path.read_text()))
        assert {"R-MERGE-1", "R-PLAN-5", "R-TEAM-1"} <= quoted
        assert sorted(quoted - explained) == []

    def test_the_rules_page_explains_every_numbered_rule_once(self) -> None:
        headings = re.findall(r"^### (R-[A-Z]+-\d+)$", RULES.read_text(), re.MULTILINE)
        assert len(headings) == len(set(headings)) == 57
        counts = {prefix: sum(1 for h in headings if h.startswith(prefix + "-")) for prefix in (
            "R-PLAN", "R-TASK", "R-CALL", "R-EMAIL", "R-TXT", "R-ADD", "R-MERGE", "R-ENR", "R-RULE", "R-TEAM", "R-LIB",
            "R-ROUTE", "R-OFFER", "R-POOL", "R-STATS", "R-COMP")}
        assert counts == {"R-PLAN": 10, "R-TASK": 2, "R-CALL": 1, "R-EMAIL": 4, "R-TXT": 5, "R-ADD": 1, "R-MERGE": 1,
                          "R-ENR": 4, "R-RULE": 5, "R-TEAM": 4, "R-LIB": 5, "R-ROUTE": 7, "R-OFFER": 4, "R-POOL": 1,
                          "R-STATS": 1, "R-COMP": 2}

    def test_the_rules_page_is_written_for_users_not_for_the_developers(self) -> None:
        text = RULES.read_text().lower()
        for word in (r"seeds?", "spec", r"workflow ids?", r"activit(y|ies)", "developers?"):
            assert not re.search(rf"\b{word}\b", text), word
