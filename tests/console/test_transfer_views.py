"""The warm transfer's overlap window and the supervisor's live actions in the console: pages, forms,
permissions, escaping, and the live pushes of private notes."""

import pytest
from asgiref.sync import sync_to_async

from handoffs.models import Handoff, PrivateNote
from handoffs.services.handoffs import handoff_claim, handoff_connect, handoff_transfer
from handoffs.services.transfers import private_note_add
from tests.console.test_sockets import frames_until, open_socket
from tests.factories import AgentFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
MARKUP = '<img src=x onerror="alert(1)">'


@pytest.fixture
def morgan(support_team):
    return AgentFactory(
        user__username="morgan", display_name="Morgan", teams=[support_team], is_supervisor=True
    )


@pytest.fixture
def chatting(escalate, agent, teammate):
    handoff_id = escalate("c-console")
    handoff_claim(handoff_id=handoff_id, agent=agent)
    handoff_connect(handoff_id=handoff_id, agent=agent)
    return handoff_id


@pytest.fixture
def pending(chatting, agent):
    """ada has started a warm transfer to grace with a note; returns the new handoff."""
    return handoff_transfer(
        handoff_id=chatting, agent=agent, note="Refund approved; be gentle.", to_agent="grace", overlap=True
    )


@pytest.mark.django_db
def test_the_console_transfer_keeps_the_sender_on_the_chat(chatting, login, agent, teammate):
    client = login(agent)
    response = client.post(f"/handoffs/{chatting}/transfer", {"to": "agent:grace", "note": "VIP"}, **HTMX)
    assert response["HX-Redirect"] == f"/handoffs/{chatting}/"
    page = client.get(f"/handoffs/{chatting}/").content.decode()
    assert "Cancel transfer" in page and 'id="private-notes"' in page and 'id="composer"' in page
    assert "Transfer warmly" not in page  # no second transfer, resolve or return while one is pending
    assert Handoff.objects.get(pk=chatting).status == "connected"


@pytest.mark.django_db
def test_the_receiver_sees_the_note_the_chat_and_take_over_but_no_composer(pending, login, teammate):
    page = login(teammate).get(f"/handoffs/{pending.id}/").content.decode()
    assert "Refund approved; be gentle." in page and "Warm transfer from" in page
    assert "Take over" in page and 'id="note-text"' in page
    assert 'id="composer"' not in page and "Read-only until you take over" in page
    assert "Claim</button>" not in page


@pytest.mark.django_db
def test_notes_are_escaped_on_both_pages(chatting, pending, login, agent, teammate):
    login(teammate).post(f"/handoffs/{pending.id}/notes", {"text": MARKUP}, **HTMX)
    assert PrivateNote.objects.filter(text=MARKUP).exists()
    for who, url in ((agent, chatting), (teammate, pending.id)):
        page = login(who).get(f"/handoffs/{url}/").content.decode()
        assert MARKUP not in page
        assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page


@pytest.mark.django_db
def test_a_bystander_of_the_team_sees_no_notes_and_cannot_write_one(chatting, pending, login, support_team):
    private_note_add(handoff_id=chatting, agent=pending.previous.agent.agent, text="secret between us")
    bystander = AgentFactory(user__username="bea", teams=[support_team])
    client = login(bystander)
    for url in (chatting, pending.id):
        page = client.get(f"/handoffs/{url}/").content.decode()
        assert "secret between us" not in page and 'id="private-notes"' not in page
    response = client.post(f"/handoffs/{chatting}/notes", {"text": "hi"}, **HTMX)
    assert response.status_code == 403 and "supervisor" in response.content.decode()


@pytest.mark.django_db
def test_an_empty_note_is_refused_readably(pending, login, teammate):
    response = login(teammate).post(f"/handoffs/{pending.id}/notes", {"text": "  "}, **HTMX)
    assert response.status_code == 422 and "Write the note" in response.content.decode()
    assert not PrivateNote.objects.exists()


@pytest.mark.django_db
def test_take_over_and_cancel_through_the_console(chatting, pending, login, agent, teammate):
    # the sender cancels; the receiver's attempt then finds nothing
    response = login(agent).post(f"/handoffs/{chatting}/cancel-transfer", **HTMX)
    assert response["HX-Redirect"] == f"/handoffs/{chatting}/"
    assert login(teammate).post(f"/handoffs/{pending.id}/take-over", **HTMX).status_code == 404
    # a second transfer, taken over
    again = handoff_transfer(handoff_id=chatting, agent=agent, note="Again", to_agent="grace", overlap=True)
    response = login(teammate).post(f"/handoffs/{again.id}/take-over", **HTMX)
    assert response["HX-Redirect"] == f"/handoffs/{again.id}/"
    page = login(teammate).get(f"/handoffs/{again.id}/").content.decode()
    assert 'id="composer"' in page and "Again" in page


@pytest.mark.django_db
def test_the_supervisor_observes_whispers_and_the_agent_sees_it(chatting, login, agent, morgan):
    client = login(morgan)
    page = client.get(f"/supervisor/handoffs/{chatting}/live").content.decode()
    assert "Whisper" in page and "Reassign warmly" in page and "Take over" in page
    assert (
        client.post(f"/handoffs/{chatting}/notes", {"text": "Offer the voucher"}, **HTMX).status_code == 204
    )
    agent_page = login(agent).get(f"/handoffs/{chatting}/").content.decode()
    assert "Offer the voucher" in agent_page and "whisper" in agent_page


@pytest.mark.django_db
def test_agents_cannot_use_supervisor_actions(chatting, login, teammate):
    client = login(teammate)
    assert client.get(f"/supervisor/handoffs/{chatting}/live").status_code == 403
    response = client.post(f"/handoffs/{chatting}/reassign", {"to": "agent:grace", "note": "mine"}, **HTMX)
    assert response.status_code == 403
    assert client.post(f"/handoffs/{chatting}/take-over", **HTMX).status_code == 403
    assert Handoff.objects.get(pk=chatting).agent.username == "ada"


@pytest.mark.django_db
def test_the_supervisor_reassigns_and_takes_over_from_the_console(chatting, login, morgan, teammate):
    client = login(morgan)
    response = client.post(
        f"/handoffs/{chatting}/reassign", {"to": "team:Support", "note": "Back in line"}, **HTMX
    )
    assert response.status_code == 200 and Handoff.objects.get(previous_id=chatting).overlap_until is not None
    assert client.post(f"/handoffs/{chatting}/cancel-transfer", **HTMX).status_code == 200
    response = client.post(f"/handoffs/{chatting}/take-over", **HTMX)
    taken = Handoff.objects.get(previous_id=chatting)
    assert response["HX-Redirect"] == f"/handoffs/{taken.id}/"
    assert (taken.status, taken.agent.username) == ("connected", "morgan")


# --- live -------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_note_reaches_both_parties_live_and_not_a_bystander(
    escalate, agent, teammate, support_team, session_headers
):
    # given: ada is chatting and transferring to grace; grace, ada and a bystander watch
    handoff_id = await sync_to_async(escalate)("c-live-notes")
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    await sync_to_async(handoff_connect)(handoff_id=handoff_id, agent=agent)
    new = await sync_to_async(handoff_transfer)(
        handoff_id=handoff_id, agent=agent, note="n", to_agent="grace", overlap=True
    )
    bystander = await sync_to_async(AgentFactory)(user__username="bea", teams=[support_team])
    sockets = {
        "ada": await open_socket(
            f"/ws/console/handoffs/{handoff_id}/", await sync_to_async(session_headers)(agent)
        ),
        "grace": await open_socket(
            f"/ws/console/handoffs/{new.id}/", await sync_to_async(session_headers)(teammate)
        ),
        "bea": await open_socket(
            f"/ws/console/handoffs/{handoff_id}/", await sync_to_async(session_headers)(bystander)
        ),
    }
    for socket in sockets.values():
        await frames_until(socket, 'id="state"')
    # when: grace writes a note with markup
    await sync_to_async(private_note_add)(handoff_id=str(new.id), agent=teammate, text=f"Is she ok? {MARKUP}")
    # then: ada and grace get it, escaped; bea gets nothing
    for name in ("ada", "grace"):
        frame = await frames_until(sockets[name], "Is she ok?")
        assert 'hx-swap-oob="beforeend:#note-lines"' in frame and MARKUP not in frame
    assert await sockets["bea"].receive_nothing(timeout=0.5)
    for socket in sockets.values():
        await socket.disconnect()


@pytest.mark.django_db
def test_the_queue_row_says_the_sender_is_still_chatting(pending, login, teammate):
    page = login(teammate).get("/").content.decode()
    assert f'id="h-{pending.id}"' in page and "sender still chatting" in page


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_receiver_is_told_live_when_the_sender_cancels(escalate, agent, teammate, session_headers):
    from handoffs.services.transfers import transfer_cancel

    handoff_id = await sync_to_async(escalate)("c-live-cancel")
    await sync_to_async(handoff_claim)(handoff_id=handoff_id, agent=agent)
    await sync_to_async(handoff_connect)(handoff_id=handoff_id, agent=agent)
    new = await sync_to_async(handoff_transfer)(
        handoff_id=handoff_id, agent=agent, note="n", to_agent="grace", overlap=True
    )
    grace = await open_socket(
        f"/ws/console/handoffs/{new.id}/", await sync_to_async(session_headers)(teammate)
    )
    await frames_until(grace, 'id="state"')
    # when
    await sync_to_async(transfer_cancel)(handoff_id=handoff_id, agent=agent)
    # then: a readable state, and the socket stays up (no server error on the vanished handoff)
    frame = await frames_until(grace, "This transfer was cancelled")
    assert 'data-status="withdrawn"' in frame
    later = []
    while not await grace.receive_nothing(timeout=0.5):
        later.append(await grace.receive_output())
    assert all(message["type"] == "websocket.send" for message in later), later  # never closed
    assert all("withdrawn" in message["text"] for message in later)
    await grace.disconnect()
