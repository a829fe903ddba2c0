"""Accuracy of the draft check on labelled drafts, per warning kind (print the figures with ``pytest -s``).

``data/drafts_dev.json`` is what the rules were developed on (it includes the shared fixtures' drafts).
``data/drafts_heldout.json`` (41 drafts, 10 in Spanish, four packages of its own) was written, texts and
labels, before any rule existed, and scored once after development had finished (2026-11-21):

    repeat_question          P 0.94 R 1.00 (tp 15, fp 1, fn 0)
    contradicts_commitment   P 0.91 R 1.00 (tp 10, fp 1, fn 0)

That first measurement is the honest estimate for unseen drafts. Its two false positives were then read:
"Is there a landline we could use as a backup?" (asks for a second phone; left alone, the wording is
ambiguous) and "The earliest engineer slot …" tied to a promise about "the engineer's arrival window" (a
possessive counted as the topic: a generic defect, fixed for both topic signals and tested with other
wording in test_draft_check.py). After that fix the set scores contradicts_commitment P 1.00 R 1.00; it
is no longer blind for that kind and must not be tuned on further. Its floors sit under the first
measurement to catch regressions.
"""

from __future__ import annotations

import pytest

from tests.handoffs.assist.labelled import KINDS, Scores, load, score

DEV_FLOOR = 0.95
HELDOUT_FLOORS = {"repeat_question": (0.9, 0.95), "contradicts_commitment": (0.9, 0.95)}


def _print(result: Scores) -> None:
    print("\n" + result.report())
    for miss in result.misses:
        print("  ", miss)


def test_dev_set_precision_and_recall() -> None:
    result = score("drafts_dev.json")
    _print(result)
    for kind in KINDS:
        assert result.precision(kind) >= DEV_FLOOR, kind
        assert result.recall(kind) >= DEV_FLOOR, kind


def test_heldout_set_does_not_regress() -> None:
    result = score("drafts_heldout.json")
    _print(result)
    for kind, (precision, recall) in HELDOUT_FLOORS.items():
        assert result.precision(kind) >= precision, kind
        assert result.recall(kind) >= recall, kind


@pytest.mark.parametrize(("name", "at_least"), [("drafts_dev.json", 80), ("drafts_heldout.json", 30)])
def test_labelled_sets_are_large_and_varied(name: str, at_least: int) -> None:
    data = load(name)
    drafts = data["drafts"]
    assert len(drafts) >= at_least
    assert len(data["packages"]) >= 4
    spanish = [d for d in drafts if d["package"].endswith("-es") or d["package"] == "p05-spanish"]
    assert len(spanish) >= 8
    for kind in KINDS:
        assert sum(any(e["kind"] == kind for e in d["expect"]) for d in drafts) >= 8, kind
    assert sum(not d["expect"] for d in drafts) >= 10
