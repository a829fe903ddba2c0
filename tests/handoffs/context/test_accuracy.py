"""Accuracy of the engines on labelled conversations (print the figures with `pytest -s`).

`data/heldout.json` was written before the engines were tuned and has not been tuned against;
`data/heldout_fresh.json` was written after tuning, measured blind once (its first figures are recorded in
its "about"), then used to fix three generic defects; `data/dev.json` is what the rules were developed on.
The two blind sets at the end were written by people who never saw the engines; see their notes.
`data/trend_heldout.json` (15 trend-focused conversations) was written with dev.json's trend additions,
before the trend engine was changed, and never tuned against; it is scored for trend and current only.
"""

from __future__ import annotations

import pytest

from tests.handoffs.context.replaying import Scores, load_labelled, score

FLOOR = 0.85


@pytest.fixture(scope="module", params=["heldout.json", "heldout_fresh.json", "dev.json"])
def scores(request: pytest.FixtureRequest) -> tuple[str, Scores]:
    result = score(load_labelled(request.param))
    print("\n" + result.report(request.param))
    for miss in result.misses:
        print("  ", miss)
    return request.param, result


def test_slot_precision_and_recall(scores: tuple[str, Scores]) -> None:
    _, result = scores
    assert result.slot_precision >= FLOOR
    assert result.slot_recall >= FLOOR


def test_commitment_precision_and_recall_per_bot_turn(scores: tuple[str, Scores]) -> None:
    _, result = scores
    assert result.commitment_precision >= FLOOR
    assert result.commitment_recall >= FLOOR


def test_emotion_trend_and_current_accuracy(scores: tuple[str, Scores]) -> None:
    _, result = scores
    assert result.trend_accuracy >= FLOOR
    assert result.current_accuracy >= FLOOR


def test_labelled_sets_are_large_and_varied() -> None:
    for name, at_least in (("heldout.json", 25), ("heldout_fresh.json", 15), ("dev.json", 40)):
        cases = load_labelled(name)
        assert len(cases) >= at_least
        assert len({c["domain"] for c in cases}) >= 6
        assert any(c["customer"]["locale"] == "es" for c in cases)


# `data/heldout_blind.json` was written by someone who never read the engines or the other labels, and
# scored once (2026-11-20): slots P 0.86 R 0.88, commitments P 1.00 R 0.77, trend 0.83, current 0.88. It
# was the honest estimate for unseen conversations until heldout_blind2.json. Re-scored 2026-11-20 after
# clause-level commitment judgement, spaced/slashed phones and dates and resigned endings (all developed on
# dev.json, not on this set's wording; its list of slot misses was seen once while working, and nothing was
# changed for those items): slots P 0.90 R 0.94, commitments P 1.00 R 0.86, trend 0.83, current 0.88.
# Re-scored 2026-11-21 after the trend rework (recent trajectory against the median before it, low-signal
# turns left out, sarcasm, Spanish lexicon; developed on dev.json's trend additions, which were written
# before the code changed; this set's contents were not opened, only these aggregates were read once):
# slots P 0.90 R 0.94, commitments P 1.00 R 0.86, trend 0.88, current 0.88. The floors sit just under that
# to catch regressions; raising them is not a reason to tune to its wording.
BLIND_FLOORS = {"slot_precision": 0.88, "slot_recall": 0.92, "commitment_precision": 0.95,
                "commitment_recall": 0.85, "trend_accuracy": 0.85, "current_accuracy": 0.85}  # fmt: skip

# `data/heldout_blind2.json` (30 conversations, 7 Spanish, 13 domains) was written by a colleague who had not
# seen the engine code or the other labelled sets, after the fixes above were committed, and scored once
# (2026-11-20): slots P 0.89 R 0.78, commitments P 0.97 R 0.92, trend 0.63, current 0.80. That first
# measurement is now the honest estimate for unseen conversations (trend is the weakest engine). Re-scored
# once 2026-11-21 after the trend rework described above (its contents not opened, aggregates only): slots
# P 0.89 R 0.78, commitments P 0.97 R 0.92, trend 0.67, current 0.90. Trend is still the weakest engine
# (20 of 30); the gain is one conversation, so this set's trend figure is the number to quote, not dev's.
# Its floors sit just under it to catch regressions; it must not be tuned on.
BLIND2_FLOORS = {"slot_precision": 0.87, "slot_recall": 0.76, "commitment_precision": 0.95,
                 "commitment_recall": 0.9, "trend_accuracy": 0.65, "current_accuracy": 0.88}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "floors"), [("heldout_blind.json", BLIND_FLOORS), ("heldout_blind2.json", BLIND2_FLOORS)]
)
def test_blind_sets_do_not_regress(name: str, floors: dict[str, float]) -> None:
    result = score(load_labelled(name))
    print("\n" + result.report(name))
    for measure, floor in floors.items():
        assert getattr(result, measure) >= floor, (measure, getattr(result, measure))


# `data/trend_heldout.json` scored once (2026-11-21), aggregates only. Before the trend rework: trend 0.73,
# current 0.87; after: trend 1.00 (15 of 15), current 0.87 (13 of 15). Slots (P 0.89 R 0.73) and
# commitments (P 1.00 R 0.50) on this set are left out: it was written for the trend, and its slot and
# commitment labels have not been checked against those engines' conventions.
TREND_HELDOUT_FLOORS = {"trend_accuracy": 0.93, "current_accuracy": 0.86}


def test_trend_heldout_does_not_regress() -> None:
    result = score(load_labelled("trend_heldout.json"))
    print("\n" + result.report("trend_heldout.json"))
    for measure, floor in TREND_HELDOUT_FLOORS.items():
        assert getattr(result, measure) >= floor, (measure, getattr(result, measure))
