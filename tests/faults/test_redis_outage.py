"""Redis stops during ingest: PostgreSQL is the source of truth, so bots are still answered and nothing
they send is lost; live pushes and tasks come back with Redis, and sockets resync on reconnect."""

from tests.botclient import escalation, turn
from tests.faults.harness import HandshakeRefused, console_socket, wait_until
from tests.support.receiver import callback_receiver


def test_events_are_stored_while_redis_is_down_and_sockets_resync_when_it_is_back(world):
    with callback_receiver() as receiver:
        world.start(callback_url=receiver.url, worker=True)
        bot = world.bot

        # Before the outage: a queued handoff, watched live by a signed-in agent.
        assert (
            bot.post(turn("My parcel never arrived.", conversation="c-before", first=True)).status_code == 200
        )
        response = bot.post(escalation("c-before"))
        assert response.status_code == 201, response.text
        handoff_id = response.json()["handoff"]["id"]
        assert len(receiver.wait_for(1)) == 1  # its handoff.queued callback: the worker is delivering
        session = world.log_in()
        chat = console_socket(world.url, f"/ws/console/handoffs/{handoff_id}/", session)
        assert "My parcel never arrived." in (chat.recv() or "")  # the resync frame
        assert bot.post(turn("Still there?", conversation="c-before")).status_code == 200
        chat.recv_until(lambda frame: "Still there?" in frame)

        world.redis.stop()

        # During the outage: turns on the watched conversation and a whole new escalation are accepted.
        during = [f"Outage message {index}" for index in range(5)]
        for text in during:
            response = bot.post(turn(text, conversation="c-before"))
            assert response.status_code == 200, response.text
        response = bot.post(turn("Where is my refund?", conversation="c-during", first=True))
        assert response.status_code == 200, response.text
        response = bot.post(escalation("c-during"))
        assert response.status_code == 201, response.text
        during_handoff = response.json()["handoff"]["id"]
        for text in during:
            assert world.turns("c-before", text) == 1
        assert world.turns("c-during", "Where is my refund?") == 1
        chat.close()

        world.redis.start()  # empty: queued tasks and channel-layer state are gone

        # Back: the consoles reconnect and the first frame is the whole state, outage included.
        def reconnect(path: str):
            try:
                return console_socket(world.url, path, session)
            except (HandshakeRefused, OSError):
                return None

        chat = wait_until(
            lambda: reconnect(f"/ws/console/handoffs/{handoff_id}/"), timeout=15, what="the chat socket"
        )
        resync = chat.recv() or ""
        for text in during:
            assert text in resync
        queue = wait_until(lambda: reconnect("/ws/console/queue/"), timeout=15, what="the queue socket")
        assert during_handoff in (queue.recv() or "")

        # Live pushes flow again.
        assert bot.post(turn("Back online?", conversation="c-before")).status_code == 200
        chat.recv_until(lambda frame: "Back online?" in frame)

        # Tasks: the callback recorded during the outage lost its task with Redis; beat's sweep sends it.
        world.send_task("handoffs.tasks.deliver_due_callbacks")
        delivered = receiver.wait_for(2, timeout=20)
        assert [r.json["conversation_id"] for r in delivered] == ["c-before", "c-during"]
        chat.close()
        queue.close()
