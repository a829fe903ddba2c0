"""Labelled drafts (data/drafts_*.json) scored against the draft check, per warning kind.

A warning counts as right when its kind and its evidence match a label: the slot of the earlier value
for ``repeat_question``, the commitment (by its index in the package) for ``contradicts_commitment``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from handoffs.assist.draft_check import check_draft

DATA = Path(__file__).resolve().parent / "data"
KINDS = ("repeat_question", "contradicts_commitment")


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def _key(warning: dict[str, Any], package: dict[str, Any]) -> tuple[str, Any]:
    evidence = warning["evidence"]
    if warning["kind"] == "repeat_question":
        return warning["kind"], evidence["slot"]
    for index, commitment in enumerate(package.get("commitments") or []):
        if commitment.get("text") == evidence.get("text") and commitment.get("seq") == evidence.get("seq"):
            return warning["kind"], index
    return warning["kind"], None


def _expected(label: dict[str, Any]) -> tuple[str, Any]:
    return label["kind"], label.get("slot", label.get("commitment"))


@dataclass
class Scores:
    name: str
    tp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fp: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    fn: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    misses: list[str] = field(default_factory=list)
    drafts: int = 0

    def precision(self, kind: str) -> float:
        found = self.tp[kind] + self.fp[kind]
        return self.tp[kind] / found if found else 1.0

    def recall(self, kind: str) -> float:
        wanted = self.tp[kind] + self.fn[kind]
        return self.tp[kind] / wanted if wanted else 1.0

    def report(self) -> str:
        lines = [f"{self.name}: {self.drafts} drafts"]
        for kind in KINDS:
            lines.append(
                f"  {kind:<24} P {self.precision(kind):.2f} R {self.recall(kind):.2f} "
                f"(tp {self.tp[kind]}, fp {self.fp[kind]}, fn {self.fn[kind]})"
            )
        return "\n".join(lines)


def score(name: str) -> Scores:
    data = load(name)
    result = Scores(name)
    for draft in data["drafts"]:
        package = data["packages"][draft["package"]]
        got = {_key(w, package) for w in check_draft(package=package, text=draft["text"])}
        want = {_expected(label) for label in draft["expect"]}
        result.drafts += 1
        for kind, what in got | want:
            if (kind, what) in got and (kind, what) in want:
                result.tp[kind] += 1
            elif (kind, what) in got:
                result.fp[kind] += 1
                result.misses.append(f"FP {kind}:{what} [{draft['package']}] {draft['text']}")
            else:
                result.fn[kind] += 1
                result.misses.append(f"FN {kind}:{what} [{draft['package']}] {draft['text']}")
    return result
