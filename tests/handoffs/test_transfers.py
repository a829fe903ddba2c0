"""Warm transfers with an overlap window, and a supervisor's live actions (issue 9), at the service level.

The personas: ada (Support) has the customer, grace (Support) receives, mallory is of another team, morgan
supervises Support and oscar supervises another team.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from handoffs.errors import Conflict, Forbidden, NotFound
from handoffs.models import Conversation, CsatRating, Handoff, OutboundDelivery, PrivateNote, Turn
from handoffs.services.handoffs import (
    handoff_claim,
    handoff_connect,
    handoff_connect_due,
    handoff_message_send,
    handoff_resolve,
    handoff_transfer,
    handoffs_connect_overdue,
    handoffs_reassign_overdue,
)
from handoffs.services.transfers import (
    handoff_take_over,
    private_note_add,
    private_notes_for,
    private_notes_readable,
    supervisor_reassign,
    transfer_cancel,
)
from tests.botclient import event
from tests.factories import AgentFactory, TeamFactory
from tests.handoffs.test_routing import here


@pytest.fixture(autouse=True)
def _callbacks_recorded(bot):
    """A callback URL, so every callback the services send is recorded as a delivery (never sent here: the
    test's transaction never commits)."""
    bot.callback_url = "http://127.0.0.1:9/callbacks"
    bot.save(update_fields=["callback_url"])


@pytest.fixture
def morgan(support_team):
    return AgentFactory(
        user__username="morgan", display_name="Morgan", teams=[support_team], is_supervisor=True
    )


@pytest.fixture
def oscar(outsider):
    return AgentFactory(user__username="oscar", teams=list(outsider.teams.all()), is_supervisor=True)


@pytest.fixture
def chatting(escalate, agent, teammate):
    """A handoff ada has claimed and is connected on; returns its id."""
    handoff_id = escalate("c-warm")
    handoff_claim(handoff_id=handoff_id, agent=agent)
    handoff_connect(handoff_id=handoff_id, agent=agent)
    handoff_message_send(handoff_id=handoff_id, agent=agent, text="Hi Dana, I'm Ada. I'm on it.")
    return handoff_id


def _to_grace(handoff_id, agent, note="Refund approved up to $50; she is upset about the second delay."):
    return handoff_transfer(handoff_id=handoff_id, agent=agent, note=note, to_agent="grace", overlap=True)


def _callbacks():
    return list(OutboundDelivery.objects.order_by("id").values_list("type", flat=True))


def _system_lines(handoff_id):
    conversation = Handoff.objects.get(pk=handoff_id).conversation
    return list(Turn.objects.filter(conversation=conversation, role="system").values_list("text", flat=True))


# --- the overlap window -----------------------------------------------------------------------------


def test_during_the_overlap_the_sender_keeps_the_customer_and_the_customer_hears_nothing(chatting, agent):
    # given
    callbacks_before, lines_before = _callbacks(), _system_lines(chatting)
    # when
    new = _to_grace(chatting, agent)
    # then
    old = Handoff.objects.get(pk=chatting)
    assert old.status == "connected" and old.agent_id == agent.user_id
    assert new.status == "queued" and new.overlap_until is not None and new.reserved_for.username == "grace"
    conversation = Conversation.objects.get(pk=old.conversation_id)
    assert conversation.status == "connected"
    assert str(new.id) not in [entry["id"] for entry in conversation.context["handoffs"]]
    assert _callbacks() == callbacks_before and _system_lines(chatting) == lines_before
    # and ada still writes to the customer
    turn, created = handoff_message_send(handoff_id=chatting, agent=agent, text="Still here, one moment.")
    assert created and turn.role == "agent"


def test_the_receiver_reads_in_without_writing_to_the_customer(chatting, agent, teammate):
    # given
    new = _to_grace(chatting, agent)
    before = _callbacks()
    claimed = handoff_claim(handoff_id=str(new.id), agent=teammate)
    assert claimed.status == "preparing" and claimed.prepare_until == claimed.overlap_until
    # when / then
    with pytest.raises(Conflict) as refused:
        handoff_message_send(handoff_id=str(new.id), agent=teammate, text="Hello from Grace")
    assert refused.value.code == "take_over_first"
    assert _callbacks() == before  # no handoff.preparing: the customer is still with ada
    assert Conversation.objects.get(pk=new.conversation_id).status == "connected"


def test_sender_and_receiver_exchange_private_notes_the_customer_never_gets(chatting, agent, teammate):
    # given
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    # when
    asked = private_note_add(handoff_id=str(new.id), agent=teammate, text="Did she accept the $50 credit?")
    answered = private_note_add(handoff_id=chatting, agent=agent, text="Not yet <b>she wants</b> a refund.")
    # then both hang on the sender's handoff, in order, and both pages show them
    assert [note.kind for note in (asked, answered)] == ["transfer", "transfer"]
    assert {asked.handoff_id, answered.handoff_id} == {Handoff.objects.get(pk=chatting).pk}
    texts = [note.text for note in private_notes_for(Handoff.objects.get(pk=new.id))]
    assert texts == ["Did she accept the $50 credit?", "Not yet <b>she wants</b> a refund."]
    assert [note.text for note in private_notes_for(Handoff.objects.get(pk=chatting))] == texts
    # and nothing of them reaches the customer: no turn, no package, no callback
    conversation = Conversation.objects.get(pk=new.conversation_id)
    assert not Turn.objects.filter(conversation=conversation, text__contains="$50 credit").exists()
    assert "$50 credit" not in str(conversation.context)
    assert not any("$50 credit" in str(row.payload) for row in OutboundDelivery.objects.all())


def test_taking_over_ends_the_sender_tells_the_customer_and_the_frame_keeps_both_notes(
    chatting, agent, teammate
):
    # given
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    private_note_add(handoff_id=str(new.id), agent=teammate, text="Anything promised?")
    private_note_add(handoff_id=chatting, agent=agent, text="A call back by Friday.")
    handoff_message_send(handoff_id=chatting, agent=agent, text="Grace will take it from here.")
    before = len(_callbacks())
    # when
    taken = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    # then
    old = Handoff.objects.get(pk=chatting)
    assert (old.status, taken.status, taken.agent_id) == ("transferred", "connected", teammate.user_id)
    assert taken.overlap_until is None
    assert _callbacks()[before:] == ["handoff.transferred", "handoff.connected"]
    transferred, connected = OutboundDelivery.objects.order_by("id")[before:]
    assert transferred.payload["data"]["to_handoff_id"] == str(taken.id)
    assert connected.payload["data"]["agent"] == teammate.name
    assert _system_lines(chatting)[-2:] == [
        f"{agent.name} transferred the conversation to {teammate.name}.",
        f"{teammate.name} joined the conversation.",
    ]
    transfer = taken.frame["transfer"]
    assert transfer["note"].startswith("Refund approved up to $50")
    assert [(n["author"], n["text"]) for n in transfer["private_notes"]] == [
        (teammate.name, "Anything promised?"),
        (agent.name, "A call back by Friday."),
    ]
    # the frame is the package at take-over: what ada said during the overlap is in it
    assert "Grace will take it from here." in [line["text"] for line in taken.frame["transcript"]]
    conversation = Conversation.objects.get(pk=taken.conversation_id)
    assert conversation.status == "connected"
    # and grace writes to the customer now
    turn, _ = handoff_message_send(handoff_id=str(taken.id), agent=teammate, text="Hi Dana, Grace here.")
    assert turn.author_id == teammate.user_id


def test_a_named_receiver_takes_over_without_claiming_first(chatting, agent, teammate):
    new = _to_grace(chatting, agent)
    taken = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    assert taken.status == "connected" and taken.agent_id == teammate.user_id


def test_a_taken_over_transfer_is_taken_again_without_a_change(chatting, agent, teammate):
    new = _to_grace(chatting, agent)
    first = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    before = len(_callbacks())
    again = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    assert again.pk == first.pk and len(_callbacks()) == before


def test_the_sender_cancels_and_keeps_the_chat(chatting, agent, teammate):
    # given
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    private_note_add(handoff_id=str(new.id), agent=teammate, text="I'm swamped, sorry.")
    before = _callbacks()
    # when
    kept = transfer_cancel(handoff_id=chatting, agent=agent)
    # then
    assert kept.status == "connected" and kept.agent_id == agent.user_id
    assert not Handoff.objects.filter(pk=new.pk).exists()
    assert _callbacks() == before
    assert PrivateNote.objects.filter(handoff_id=chatting, text="I'm swamped, sorry.").exists()
    # and ada can resolve or transfer again
    again = _to_grace(chatting, agent, note="Second try.")
    assert again.overlap_until is not None


def test_the_receiver_cannot_cancel_the_senders_transfer(chatting, agent, teammate):
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    with pytest.raises(Forbidden):
        transfer_cancel(handoff_id=str(new.id), agent=teammate)


def test_the_sender_cannot_resolve_while_a_transfer_is_pending(chatting, agent):
    _to_grace(chatting, agent)
    with pytest.raises(Conflict) as refused:
        handoff_resolve(handoff_id=chatting, agent=agent, resolution="Done")
    assert refused.value.code == "transfer_pending"


def test_at_the_end_of_the_window_a_receiver_who_has_it_is_connected(chatting, agent, teammate):
    # given
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    assert handoff_connect_due(handoff_id=str(new.id)) is False  # not due yet
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    # when
    assert handoffs_connect_overdue() == 1  # the beat's sweep (the timer does the same)
    # then
    new.refresh_from_db()
    assert (new.status, new.agent_id, new.overlap_until) == ("connected", teammate.user_id, None)
    assert Handoff.objects.get(pk=chatting).status == "transferred"
    assert new.frame["transfer"]["taken_over"] is True


def test_at_the_end_of_the_window_an_unclaimed_transfer_waits_as_an_ordinary_one(chatting, agent):
    # given
    new = handoff_transfer(
        handoff_id=chatting, agent=agent, note="Billing question", team="Support", overlap=True
    )
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    # when
    assert handoff_connect_due(handoff_id=str(new.id)) is True
    # then
    new.refresh_from_db()
    assert (new.status, new.agent_id, new.overlap_until) == ("queued", None, None)
    assert Handoff.objects.get(pk=chatting).status == "transferred"
    assert Conversation.objects.get(pk=new.conversation_id).status == "queued"
    assert _callbacks()[-1] == "handoff.transferred"
    assert _system_lines(chatting)[-1] == f"{agent.name} transferred the conversation to the Support team."


def test_in_an_offer_team_the_overlap_transfer_is_offered_and_the_offered_person_reads_in(
    chatting, agent, teammate, support_team
):
    # given: an offer team where grace and ada are both available
    support_team.routing_mode = "offer"
    support_team.save(update_fields=["routing_mode"])
    for person in (agent, teammate):
        person.presence, person.last_seen_at = "available", timezone.now()
        person.save(update_fields=["presence", "last_seen_at"])
    # when
    new = handoff_transfer(handoff_id=chatting, agent=agent, note="Over to you", team="Support", overlap=True)
    # then: offered to grace, not back to ada; grace may write notes and take over
    assert new.offered_to_id == teammate.user_id
    note = private_note_add(handoff_id=str(new.id), agent=teammate, text="On it, reading now.")
    assert note.kind == "transfer"
    taken = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    assert (taken.status, taken.agent_id) == ("connected", teammate.user_id)


def test_a_team_with_no_overlap_window_transfers_in_one_step(chatting, agent, support_team):
    support_team.overlap_seconds = 0
    support_team.save(update_fields=["overlap_seconds"])
    new = _to_grace(chatting, agent)
    assert new.overlap_until is None and Handoff.objects.get(pk=chatting).status == "transferred"


def test_the_api_default_stays_one_step(chatting, agent):
    new = handoff_transfer(handoff_id=chatting, agent=agent, note="Over to you", to_agent="grace")
    assert new.overlap_until is None and Handoff.objects.get(pk=chatting).status == "transferred"


# --- who may do what --------------------------------------------------------------------------------


def test_a_teammate_who_is_not_part_of_the_transfer_cannot_write_or_read_notes(chatting, agent, support_team):
    _to_grace(chatting, agent)
    bystander = AgentFactory(user__username="bea", teams=[support_team])
    with pytest.raises(Forbidden):
        private_note_add(handoff_id=chatting, agent=bystander, text="psst")
    assert not private_notes_readable(Handoff.objects.get(pk=chatting), bystander)


def test_an_outsider_gets_not_found_for_every_action(chatting, agent, outsider, oscar):
    new = _to_grace(chatting, agent)
    for person in (outsider, oscar):
        for action in (
            lambda who: private_note_add(handoff_id=chatting, agent=who, text="hi"),
            lambda who: handoff_take_over(handoff_id=str(new.id), agent=who),
            lambda who: transfer_cancel(handoff_id=chatting, agent=who),
            lambda who: supervisor_reassign(handoff_id=chatting, supervisor=who, note="n", team="Support"),
        ):
            with pytest.raises(NotFound):
                action(person)


def test_an_agent_cannot_take_over_or_reassign_a_colleagues_chat(chatting, teammate):
    with pytest.raises(Forbidden):
        handoff_take_over(handoff_id=chatting, agent=teammate)
    with pytest.raises(Forbidden):
        supervisor_reassign(handoff_id=chatting, supervisor=teammate, note="mine now", to_agent="grace")
    with pytest.raises(Forbidden):
        private_note_add(handoff_id=chatting, agent=teammate, text="a whisper")


# --- supervisors ------------------------------------------------------------------------------------


def test_a_supervisor_whispers_to_the_agent_and_the_customer_never_hears_it(chatting, agent, morgan):
    note = private_note_add(handoff_id=chatting, agent=morgan, text="Offer the $20 voucher.")
    assert (note.kind, note.handoff_id, note.author_name) == (
        "whisper",
        Handoff.objects.get(pk=chatting).pk,
        "Morgan",
    )
    handoff = Handoff.objects.get(pk=chatting)
    assert private_notes_readable(handoff, agent) and private_notes_readable(handoff, morgan)
    assert [n.text for n in private_notes_for(handoff)] == ["Offer the $20 voucher."]
    assert not Turn.objects.filter(text__contains="voucher").exists()
    assert not any("voucher" in str(row.payload) for row in OutboundDelivery.objects.all())


def test_a_supervisor_reassigns_as_a_warm_transfer_the_agent_cannot_cancel(chatting, agent, teammate, morgan):
    # when
    new = supervisor_reassign(
        handoff_id=chatting, supervisor=morgan, note="Grace knows this one.", to_agent="grace"
    )
    # then
    assert new.overlap_until is not None and new.frame["transfer"]["by_supervisor"] is True
    assert new.frame["transfer"]["from_agent"] == agent.name
    with pytest.raises(Forbidden):
        transfer_cancel(handoff_id=chatting, agent=agent)
    taken = handoff_take_over(handoff_id=str(new.id), agent=teammate)
    assert taken.status == "connected"
    assert _system_lines(chatting)[-2] == f"The conversation was transferred to {teammate.name}."


def test_a_supervisor_reassigns_back_to_the_queue(chatting, morgan):
    new = supervisor_reassign(
        handoff_id=chatting, supervisor=morgan, note="Back in line, please.", team="Support"
    )
    assert new.reserved_for is None and new.team.name == "Support" and new.overlap_until is not None


def test_a_supervisor_takes_over_at_once(chatting, agent, morgan):
    before = len(_callbacks())
    taken = handoff_take_over(handoff_id=chatting, agent=morgan)
    assert (taken.status, taken.agent_id) == ("connected", morgan.user_id)
    assert Handoff.objects.get(pk=chatting).status == "transferred"
    assert _callbacks()[before:] == ["handoff.transferred", "handoff.connected"]
    assert taken.frame["transfer"]["from_agent"] == agent.name
    turn, _ = handoff_message_send(handoff_id=str(taken.id), agent=morgan, text="Hello, I'm Morgan.")
    assert turn.role == "agent"


def test_a_supervisor_of_another_team_cannot_whisper(chatting, agent):
    elsewhere = TeamFactory(name="Elsewhere team")
    other = AgentFactory(user__username="olga", teams=[elsewhere], is_supervisor=True)
    with pytest.raises(NotFound):
        private_note_add(handoff_id=chatting, agent=other, text="hi")


# --- the customer leaves during the overlap window --------------------------------------------------


def test_a_customer_who_left_during_the_window_is_not_queued_again_when_nobody_took_it(
    chatting, agent, bot_client
):
    # given: ada hands the chat to the Support queue, and the customer leaves during the window
    new = handoff_transfer(
        handoff_id=chatting, agent=agent, note="Billing question", team="Support", overlap=True
    )
    assert bot_client.post(event("customer_left", "c-warm")).status_code == 200
    before = _callbacks()
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    # when: the window ends unclaimed
    assert handoff_connect_due(handoff_id=str(new.id)) is True
    # then: it ends, nobody is queued, offered or told
    new.refresh_from_db()
    assert (new.status, new.overlap_until, new.agent_id) == ("abandoned", None, None)
    assert Handoff.objects.get(pk=chatting).status == "transferred"
    assert Conversation.objects.get(pk=new.conversation_id).status == "abandoned"
    assert _callbacks() == before
    assert handoffs_connect_overdue() == 0  # and the sweep finds nothing left to do


def test_a_receiver_connected_after_the_customer_left_has_no_reply_deadline(
    chatting, agent, teammate, bot_client
):
    # given: grace reads in, and the customer leaves
    new = _to_grace(chatting, agent)
    handoff_claim(handoff_id=str(new.id), agent=teammate)
    bot_client.post(event("customer_left", "c-warm"))
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    # when: the window ends
    assert handoff_connect_due(handoff_id=str(new.id)) is True
    # then: grace has the chat to wrap up, and nothing will reassign it
    new.refresh_from_db()
    assert (new.status, new.agent_id, new.reply_due_at) == ("connected", teammate.user_id, None)
    assert handoffs_reassign_overdue() == 0


# --- offers around the overlap window ---------------------------------------------------------------


def _offer_team(support_team, *present):
    support_team.routing_mode = "offer"
    support_team.save(update_fields=["routing_mode"])
    for person in present:
        here(person)


def test_an_overlap_transfer_nobody_could_be_offered_is_not_offered_back_to_its_sender(
    chatting, agent, support_team
):
    # given: an offer team where only ada, the sender, is available
    _offer_team(support_team, agent)
    new = handoff_transfer(handoff_id=chatting, agent=agent, note="Over to you", team="Support", overlap=True)
    assert new.offered_to_id is None
    assert Handoff.objects.get(pk=new.pk).offered_before == [agent.user_id]  # stored, not only in memory
    # when: the window ends unclaimed (ada's chat ends, so she has capacity again)
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    assert handoff_connect_due(handoff_id=str(new.id)) is True
    # then: it waits in the pool, not offered to ada
    new.refresh_from_db()
    assert (new.status, new.offered_to_id) == ("queued", None)


def test_an_offer_still_running_when_the_window_ends_is_not_cut_short(
    chatting, agent, teammate, support_team
):
    # given: the transfer is offered to grace, and her offer outlasts the window
    _offer_team(support_team, agent, teammate)
    new = handoff_transfer(handoff_id=chatting, agent=agent, note="Over to you", team="Support", overlap=True)
    offer = Handoff.objects.get(pk=new.pk)
    assert offer.offered_to_id == teammate.user_id
    Handoff.objects.filter(pk=new.pk).update(overlap_until=timezone.now() - timedelta(seconds=1))
    # when
    assert handoff_connect_due(handoff_id=str(new.id)) is True
    # then: grace keeps her offer until it expires
    new.refresh_from_db()
    assert (new.offered_to_id, new.offer_expires_at) == (teammate.user_id, offer.offer_expires_at)


# --- a rating during the overlap window -------------------------------------------------------------


def test_a_rating_during_the_overlap_window_belongs_to_the_senders_handoff(chatting, agent, bot_client):
    # given
    _to_grace(chatting, agent)
    # when: the customer rates, and ada then cancels the transfer
    assert bot_client.post(event("csat", "c-warm", phase="human", score=5)).status_code == 200
    transfer_cancel(handoff_id=chatting, agent=agent)
    # then: the rating is ada's
    rating = CsatRating.objects.get()
    assert str(rating.handoff_id) == chatting
    assert (
        Handoff.objects.get(pk=chatting).csat_human_sum,
        Handoff.objects.get(pk=chatting).csat_human_count,
    ) == (
        5,
        1,
    )


# --- supervisors act only on their teams' chats ------------------------------------------------------


def test_a_supervisor_of_the_receiving_team_cannot_whisper_into_the_senders_chat(
    chatting, agent, outsider, oscar
):
    # given: ada transfers her Support chat to mallory, of oscar's team
    new = handoff_transfer(handoff_id=chatting, agent=agent, note="Yours", to_agent="mallory", overlap=True)
    assert new.overlap_until is not None
    # when / then
    with pytest.raises(Forbidden):
        private_note_add(handoff_id=str(new.id), agent=oscar, text="psst, ada")
    assert not PrivateNote.objects.exists()


def test_a_supervisor_reassigns_only_to_people_of_their_teams(chatting, morgan, outsider):
    with pytest.raises(NotFound):
        supervisor_reassign(handoff_id=chatting, supervisor=morgan, note="Over to you", to_agent="mallory")
    assert Handoff.objects.filter(conversation__external_id="c-warm").count() == 1


def test_a_supervisors_retried_take_over_returns_the_same_handoff(chatting, morgan):
    taken = handoff_take_over(handoff_id=chatting, agent=morgan)
    before = len(_callbacks())
    again = handoff_take_over(handoff_id=chatting, agent=morgan)
    assert again.pk == taken.pk and len(_callbacks()) == before
    assert Handoff.objects.filter(conversation_id=taken.conversation_id).count() == 2
