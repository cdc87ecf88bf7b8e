"""What a schemathesis run did, read from its NDJSON event stream: every request it sent, by operation and answer."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Answers:
    by_operation: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))

    @classmethod
    def read(cls, events: Path) -> Answers:
        answers = cls()
        with events.open() as lines:
            for line in lines:
                event = json.loads(line)
                finished = event.get("ScenarioFinished")
                if finished is None:
                    continue
                recorder = finished["recorder"]
                for case_id, interaction in recorder.get("interactions", {}).items():
                    response = interaction.get("response")
                    case = recorder["cases"].get(case_id, {}).get("value", {})
                    # A probe with a method the operation does not declare reaches no operation: counted as sent.
                    label = f"{case.get('method', '?')} {case.get('path', recorder['label'])}"
                    if response is not None:
                        answers.by_operation[label][response["status_code"]] += 1
        return answers

    @property
    def requests(self) -> int:
        return sum(sum(statuses.values()) for statuses in self.by_operation.values())

    def server_errors(self) -> dict[str, Counter[int]]:
        return {label: Counter({status: n for status, n in statuses.items() if status >= 500})
                for label, statuses in self.by_operation.items() if any(status >= 500 for status in statuses)}

    def served(self, operations: list[str]) -> list[str]:
        """The operations among `operations` that answered at least one request with a 2xx."""
        return [label for label in operations if any(200 <= status < 300 for status in self.by_operation[label])]

    def table(self, operations: list[str]) -> str:
        return "\n".join(f"  {label}: " + ", ".join(f"{status}×{n}" for status, n in
                                                   sorted(self.by_operation[label].items()))
                         for label in operations)
