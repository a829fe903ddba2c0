"""Replay labelled conversations through the engines, as package.py does on ingest, and score them.

Imported by the tests beside it as tests.handoffs.context.replaying.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from handoffs.context.intelligence import on_turn
from handoffs.context.package import new_package

DATA = Path(__file__).resolve().parent / "data"
# /work/shared beside the repository root (tests/handoffs/context → parents[3] is the repo root).
SHARED_FIXTURES = Path(__file__).resolve().parents[3].parent / "shared/fixtures/conversations.json"
START = datetime(2026, 11, 20, 10, 0, 0)  # a Friday, so business-day deadlines cross a weekend


def empty_package(customer: dict | None = None) -> dict:
    """The package as package.py creates it for a new conversation."""
    customer = customer or {}
    return new_package(customer_name=customer.get("name", ""), locale=customer.get("locale", ""))


def at_for(index: int) -> str:
    return (START + timedelta(minutes=index)).isoformat() + "Z"


def add_turn(package: dict, role: str, text: str, at: str | None = None):
    """Append the transcript entry (the caller's job) and let the engines derive the rest."""
    seq = len(package["transcript"]) + 1
    at = at or at_for(seq)
    package["transcript"].append({"seq": seq, "role": role, "text": text, "at": at})
    return on_turn(package, seq=seq, role=role, text=text, at=at)


def replay(case: dict) -> dict:
    package = empty_package(case.get("customer"))
    for role, text in case["turns"]:
        add_turn(package, role, text)
    return package


def bot_turn_seqs(case: dict) -> list[int]:
    """seq of each bot turn, by its index among bot turns."""
    return [i + 1 for i, (role, _) in enumerate(case["turns"]) if role == "bot"]


def allowed_trends(label: str) -> set[str]:
    return {"improving", "stable", "deteriorating"} if label == "any" else set(label.split("_or_"))


_FUZZY_SLOTS = {"address", "product", "name"}


def value_key(value: str) -> str:
    return re.sub(r"[^0-9a-z@]+", "", value.lower())


def same_value(slot: str, expected: str, found: str) -> bool:
    a, b = value_key(expected), value_key(found)
    if a == b:
        return True
    # Free-text slots may be cut a word early or late; most of the value must still be there.
    if slot in _FUZZY_SLOTS and a and b and (a in b or b in a):
        return min(len(a), len(b)) / max(len(a), len(b)) >= 0.6
    return False


def load_labelled(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text())["conversations"]


@dataclass
class Scores:
    slot_tp: int = 0
    slot_fp: int = 0
    slot_fn: int = 0
    commit_tp: int = 0
    commit_fp: int = 0
    commit_fn: int = 0
    trend_ok: int = 0
    current_ok: int = 0
    cases: int = 0
    misses: list[str] = field(default_factory=list)

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    @property
    def slot_precision(self) -> float:
        return self._ratio(self.slot_tp, self.slot_tp + self.slot_fp)

    @property
    def slot_recall(self) -> float:
        return self._ratio(self.slot_tp, self.slot_tp + self.slot_fn)

    @property
    def commitment_precision(self) -> float:
        return self._ratio(self.commit_tp, self.commit_tp + self.commit_fp)

    @property
    def commitment_recall(self) -> float:
        return self._ratio(self.commit_tp, self.commit_tp + self.commit_fn)

    @property
    def trend_accuracy(self) -> float:
        return self._ratio(self.trend_ok, self.cases)

    @property
    def current_accuracy(self) -> float:
        return self._ratio(self.current_ok, self.cases)

    def report(self, label: str) -> str:
        return (
            f"{label}: {self.cases} conversations | slots P={self.slot_precision:.2f} R={self.slot_recall:.2f} "
            f"(tp={self.slot_tp} fp={self.slot_fp} fn={self.slot_fn}) | commitments per bot turn "
            f"P={self.commitment_precision:.2f} R={self.commitment_recall:.2f} "
            f"(tp={self.commit_tp} fp={self.commit_fp} fn={self.commit_fn}) | trend acc={self.trend_accuracy:.2f} "
            f"| current_negative acc={self.current_accuracy:.2f}"
        )


def score(cases: list[dict]) -> Scores:
    scores = Scores()
    for case in cases:
        package = replay(case)
        expect = case["expect"]
        scores.cases += 1
        found = [(i["slot"], i["value"]) for i in package["information_provided"]]
        unmatched = list(found)
        for slot, value in expect["slots"]:
            hit = next((f for f in unmatched if f[0] == slot and same_value(slot, value, f[1])), None)
            if hit:
                unmatched.remove(hit)
                scores.slot_tp += 1
            else:
                scores.slot_fn += 1
                scores.misses.append(f"{case['id']}: missed slot {slot}={value!r}")
        for slot, value in unmatched:
            scores.slot_fp += 1
            scores.misses.append(f"{case['id']}: extra slot {slot}={value!r}")

        seqs = bot_turn_seqs(case)
        committed = {c["seq"] for c in package["commitments"] if c["source"] == "detected"}
        expected_turns = set(expect["commitment_bot_turns"])
        for index, seq in enumerate(seqs):
            if seq in committed and index in expected_turns:
                scores.commit_tp += 1
            elif seq in committed:
                scores.commit_fp += 1
                scores.misses.append(f"{case['id']}: commitment in bot turn {index} not expected")
            elif index in expected_turns:
                scores.commit_fn += 1
                scores.misses.append(f"{case['id']}: missed commitment in bot turn {index}")

        emotion = package["emotion"]
        if emotion["trend"] in allowed_trends(expect["trend"]):
            scores.trend_ok += 1
        else:
            scores.misses.append(f"{case['id']}: trend {emotion['trend']} not in {expect['trend']}")
        negative = emotion["current"] in ("concerned", "frustrated", "angry")
        if negative == expect["current_negative"]:
            scores.current_ok += 1
        else:
            scores.misses.append(
                f"{case['id']}: current {emotion['current']} (expected negative={expect['current_negative']})"
            )
    return scores
