"""Shift handover (issue 9): ranking, snapshots, and applying it all or nothing, once."""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs import selectors
from handoffs.context.summary import readable_due
from handoffs.errors import Conflict, InvalidInput, NotFound
from handoffs.models import AgentProfile, Handoff, Handover, OutboundDelivery, Turn
from handoffs.services.handover import HandoverChoice, handover_apply, handover_colleagues, handover_plan
from tests.botclient import escalation, event, turn
from tests.factories import AgentFactory, TeamFactory
from tests.support.shift import held, here, three_held

pytestmark = pytest.mark.django_db


@pytest.fixture
def shift(bot_client, api_as, agent):
    return three_held(bot_client, api_as, agent)


def choices(plan, **targets) -> list[HandoverChoice]:
    """Every planned handoff with its draft snapshot, to its own team unless ``targets`` say otherwise."""
    out = []
    for item in plan:
        target = targets.get(str(item.handoff.id), f"team:{item.handoff.team.name}")
        kind, _, name = target.partition(":")
        out.append(
            HandoverChoice(
                handoff_id=str(item.handoff.id),
                snapshot=item.snapshot.text(),
                team=name if kind == "team" else "",
                agent=name if kind == "agent" else "",
            )
        )
    return out


def state_of_everything():
    return (
        list(Handoff.objects.order_by("pk").values_list("pk", "status", "agent_id", "reserved_for_id")),
        OutboundDelivery.objects.count(),
        Turn.objects.count(),
        Handover.objects.count(),
        list(AgentProfile.objects.order_by("pk").values_list("pk", "presence")),
    )


# --- ranking and snapshots ------------------------------------------------------------------------


def test_the_plan_puts_the_most_fragile_first_and_says_why(shift, agent):
    # when
    plan = handover_plan(agent=agent)
    # then: the angry customer waiting for a reply, then the overdue promise, then the calm one
    assert [str(item.handoff.id) for item in plan] == [shift["upset"], shift["promise"], shift["calm"]]
    assert [item.rank for item in plan] == [1, 2, 3]
    assert plan[0].priority > plan[1].priority > plan[2].priority
    upset, promise, calm = plan
    assert "customer's last message unanswered" in upset.reasons
    assert "mood deteriorating" in upset.reasons
    assert "1 promise overdue" in promise.reasons
    assert not calm.fragility.reasons and calm.fragility.base == 0


def test_a_promise_due_soon_and_an_earlier_handoff_make_a_conversation_fragile(bot_client, api_as, agent):
    here(agent)
    soon = (timezone.now() + timedelta(minutes=30)).isoformat()
    steady = held(
        bot_client, api_as, agent, "c-a", name="Al", lines=[("customer", "A question about my plan.")]
    )
    # Bea's conversation went back to the assistant once and came back: a re-escalation
    first = held(
        bot_client, api_as, agent, "c-b", name="Bea", lines=[("customer", "A question about my bill.")]
    )
    assert api_as(agent).post(f"/handoffs/{first}/return-to-bot", {"note": "answered"}).status_code == 200
    bot_client.post(event("commitment", "c-b", text="A call back from billing", kind="callback", due=soon))
    fragile = bot_client.post(escalation("c-b")).json()["handoff"]["id"]
    assert api_as(agent).post(f"/handoffs/{fragile}/claim").status_code == 200
    # when
    plan = handover_plan(agent=agent)
    # then
    assert [str(item.handoff.id) for item in plan] == [fragile, steady]
    assert plan[0].fragility.reasons == ["1 promise due soon", "handed over 1× before"]


def test_the_snapshot_is_drawn_from_the_package(shift, agent):
    plan = {str(item.handoff.id): item for item in handover_plan(agent=agent)}
    upset = plan[shift["upset"]].snapshot
    promise = plan[shift["promise"]].snapshot
    # state: who, since when, what about, mood
    assert "Connected with Uma Upset" in upset.state[0]
    assert any("Parcel KX-48213 lost in transit" in line for line in upset.state)
    # pending: the unanswered message, quoted
    assert any("Hello?? I have been waiting forever" in line for line in upset.pending)
    # watch for: the mood trend, what not to ask again, the focus
    assert any("getting worse" in line for line in upset.watch_for)
    assert any("KX-48213" in line and "don't ask again" in line for line in upset.watch_for)
    # commitments due: the overdue refund with its due time
    assert len(promise.commitments_due) == 1 and "Refund of $40.00" in promise.commitments_due[0]
    due = Handoff.objects.get(pk=shift["promise"]).conversation.context["commitments"][0]["due"]
    assert f"(due {readable_due(due)}, overdue by 3 h)" in promise.commitments_due[0]
    assert not upset.commitments_due
    # the text holds the four parts in order
    text = upset.text()
    assert text.splitlines()[1].startswith("Why: Customer asked for a person. Focus: Parcel KX-48213")
    assert [line.split(":")[0] for line in text.splitlines() if not line.startswith(("- ", "Why: "))] == [
        "State",
        "Pending",
        "Watch for",
        "Commitments due",
    ]


def test_a_claimed_handoff_not_yet_connected_says_so(bot_client, api_as, agent):
    here(agent)
    held(
        bot_client,
        api_as,
        agent,
        "c-p",
        name="Pat",
        lines=[("customer", "Help with my order please.")],
        connect=False,
    )
    (item,) = handover_plan(agent=agent)
    assert "not yet connected with Pat" in item.snapshot.state[0]


# --- applying -------------------------------------------------------------------------------------


def test_a_handover_transfers_every_handoff_with_its_snapshot_as_the_frames_note(shift, agent, teammate):
    here(teammate)
    plan = handover_plan(agent=agent)
    edited = choices(plan, **{shift["upset"]: "agent:grace"})
    edited[0] = HandoverChoice(
        handoff_id=edited[0].handoff_id, snapshot=edited[0].snapshot + "\nShe prefers email.", agent="grace"
    )
    # when
    handover, created = handover_apply(agent=agent, items=edited, key="k-1")
    # then: each old handoff ended as transferred; each new one's frame carries its snapshot
    assert created
    assert len(handover.items) == 3
    for choice, result in zip(edited, sorted(handover.items, key=lambda r: r["rank"]), strict=True):
        old = Handoff.objects.get(pk=choice.handoff_id)
        new = Handoff.objects.get(pk=result["next_handoff_id"])
        assert old.status == "transferred" and new.previous_id == old.id
        assert new.status == "queued" and new.note == choice.snapshot
        assert new.frame["transfer"]["note"] == choice.snapshot
        assert (
            new.frame["transcript"] == old.conversation.context["transcript"][: len(new.frame["transcript"])]
        )
    upset = Handoff.objects.get(previous_id=shift["upset"])
    assert upset.reserved_for == teammate.user and upset.note.endswith("She prefers email.")
    assert "customer's last message unanswered" in upset.priority_reasons
    agent.refresh_from_db()
    assert agent.presence == "away"


def test_the_receivers_queue_lists_them_most_critical_first(shift, agent, teammate):
    here(teammate)
    plan = handover_plan(agent=agent)
    handover, _ = handover_apply(agent=agent, items=choices(plan), key="k-1")
    # when grace looks at the team queue
    queue = selectors.queue_for_agent(agent=teammate)
    # then: the plan's order
    new_ids = {r["handoff_id"]: r["next_handoff_id"] for r in handover.items}
    assert [str(h.id) for h in queue] == [new_ids[str(item.handoff.id)] for item in plan]


def test_one_invalid_target_changes_nothing(shift, agent, teammate):
    here(teammate)
    plan = handover_plan(agent=agent)
    items = choices(plan)
    items[-1] = HandoverChoice(handoff_id=items[-1].handoff_id, snapshot="x", team="No such team")
    before = state_of_everything()
    # when
    with pytest.raises(InvalidInput) as error:
        handover_apply(agent=agent, items=items, key="k-1")
    # then
    assert "not one of your teams" in error.value.detail
    assert error.value.errors[0]["loc"] == ["body", "items", 2, "team"]
    assert state_of_everything() == before


def test_a_failure_in_the_last_transfer_rolls_back_the_earlier_ones(shift, agent, teammate):
    # grace has room for two; the three go to her: the room check fails after the transfers ran
    here(teammate, capacity=2)
    plan = handover_plan(agent=agent)
    before = state_of_everything()
    targets = {str(item.handoff.id): "agent:grace" for item in plan}
    with pytest.raises(InvalidInput) as error:
        handover_apply(agent=agent, items=choices(plan, **targets), key="k-1")
    assert "room for 2 more conversations; you routed 3" in error.value.detail
    assert state_of_everything() == before


def test_a_receivers_capacity_counts_what_they_hold_and_what_waits_for_them(
    shift, agent, teammate, bot_client, api_as
):
    here(teammate, capacity=3)
    # grace holds one conversation of her own already
    held(bot_client, api_as, teammate, "c-grace", name="Gil", lines=[("customer", "My own question.")])
    plan = handover_plan(agent=agent)
    (room,) = [person.room for person in handover_colleagues(agent=agent) if person.profile == teammate]
    assert room == 2
    too_many = {str(item.handoff.id): "agent:grace" for item in plan}
    with pytest.raises(InvalidInput):
        handover_apply(agent=agent, items=choices(plan, **too_many), key="k-1")
    # two fit
    two = {str(item.handoff.id): "agent:grace" for item in plan[:2]}
    handover_apply(agent=agent, items=choices(plan, **two), key="k-2")
    assert Handoff.objects.filter(reserved_for=teammate.user, status="queued").count() == 2
    assert [person.room for person in handover_colleagues(agent=agent) if person.profile == teammate] == [0]


def test_a_retry_returns_the_first_handover_and_transfers_nothing_more(shift, agent):
    plan = handover_plan(agent=agent)
    items = choices(plan)
    first, created = handover_apply(agent=agent, items=items, key="k-1")
    after_first = state_of_everything()
    # when the same request comes again (a double click, a retried POST)
    again, created_again = handover_apply(agent=agent, items=items, key="k-1")
    # then
    assert created and not created_again
    assert again.pk == first.pk and again.items == first.items
    assert state_of_everything() == after_first
    # the key cannot be reused for something else
    with pytest.raises(Conflict) as error:
        handover_apply(agent=agent, items=items[:1], key="k-1")
    assert error.value.code == "idempotency_key_reused"


def test_a_handoff_claimed_since_the_plan_must_be_included(shift, agent, bot_client, api_as):
    here(agent, capacity=4)
    plan = handover_plan(agent=agent)
    held(bot_client, api_as, agent, "c-late", name="Lee", lines=[("customer", "One more question.")])
    before = state_of_everything()
    with pytest.raises(Conflict) as error:
        handover_apply(agent=agent, items=choices(plan), key="k-1")
    assert error.value.code == "handover_incomplete"
    assert state_of_everything() == before


def test_an_away_colleague_is_no_target(shift, agent, teammate):
    teammate.presence = "away"
    teammate.save()
    assert teammate not in [person.profile for person in handover_colleagues(agent=agent)]
    plan = handover_plan(agent=agent)
    with pytest.raises(InvalidInput) as error:
        handover_apply(agent=agent, items=choices(plan, **{str(plan[0].handoff.id): "agent:grace"}), key="k")
    assert "not an available colleague" in error.value.detail


def test_another_teams_handoff_colleague_or_queue_is_out_of_reach(
    shift, agent, outsider, other_bot_client, api_as
):
    here(outsider)
    other_team = outsider.teams.get()
    # mallory's own handoff, in her team
    other_bot_client.post(turn("Outsider's customer here.", conversation="c-o", first=True))
    theirs = other_bot_client.post(escalation("c-o")).json()["handoff"]["id"]
    plan = handover_plan(agent=agent)
    before = state_of_everything()
    # another team's handoff is "not found"
    with pytest.raises(NotFound):
        handover_apply(
            agent=agent, items=[*choices(plan), HandoverChoice(theirs, "x", team="Support")], key="a"
        )
    # another team's queue, or one of its people, is no target
    first = str(plan[0].handoff.id)
    with pytest.raises(InvalidInput):
        handover_apply(agent=agent, items=choices(plan, **{first: f"team:{other_team.name}"}), key="b")
    with pytest.raises(InvalidInput):
        handover_apply(agent=agent, items=choices(plan, **{first: "agent:mallory"}), key="c")
    assert state_of_everything() == before
    # and mallory's plan never lists ada's handoffs
    assert handover_plan(agent=outsider) == []


def test_someone_from_another_team_who_shares_no_team_is_not_listed(agent, teammate):
    elsewhere = AgentFactory(user__username="eve", teams=[TeamFactory(name="Elsewhere")])
    here(elsewhere)
    here(teammate)
    assert [person.username for person in handover_colleagues(agent=agent)] == ["grace"]


def test_a_warm_transfer_already_in_its_overlap_window_is_left_to_complete(shift, agent, teammate):
    from handoffs.services.handoffs import handoff_transfer

    here(teammate)
    # ada already started a warm transfer of the calm conversation to grace (overlap window running)
    pending = handoff_transfer(
        handoff_id=shift["calm"], agent=agent, note="Address change", to_agent="grace", overlap=True
    )
    assert pending.overlap_until is not None
    # when
    plan = handover_plan(agent=agent)
    # then: it is not handed over a second time; the other two are
    assert [str(item.handoff.id) for item in plan] == [shift["upset"], shift["promise"]]
    handover, _ = handover_apply(agent=agent, items=choices(plan), key="k-1")
    assert {r["handoff_id"] for r in handover.items} == {shift["upset"], shift["promise"]}
    assert Handoff.objects.get(pk=pending.pk).overlap_until is not None  # still on its way to grace
