"""A simulated bot: plays scripted conversations against a running console over the public bot API.

It has no private shortcut into Warmline. Every request is an HTTP call to ``/api/v1/bots/{bot_id}/…``
signed with Standard Webhooks (GETs over an empty body), exactly what an external integration sends,
so the demo exercises the same path as production traffic: signature checks, idempotency, ingest,
the context engines, escalation, queue broadcasts and the bot's view of its handoffs.

One ``ConversationRun`` is one customer: it streams the script with typing pauses, escalates, says
the console's announcement, waits (polling its handoff) until a person connects, then sends the
customer's follow-up lines slowly. If a bot turn is refused with 409 (a person owns the conversation)
the bot stays quiet. ``Simulator`` starts runs on a schedule, each in its own thread.
"""

import json
import math
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from handoffs.demo.scenarios import SCENARIOS, Scenario
from handoffs.signing import sign

WAITING = ("queued", "preparing")
OPEN = (*WAITING, "connected")
# Worth another try with the same webhook-id: the server replays an applied request, never doubles it.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRIES = 4

GIVING_UP = {
    "en": "Sorry, I can't wait any longer. I'll try again later.",
    "es": "Lo siento, no puedo esperar más. Lo intentaré más tarde.",
}


class SimulatorError(Exception):
    """Something the simulator cannot carry on from; the message is safe to print (no secret)."""


class CredentialsRejected(SimulatorError):
    pass


class ServerUnavailable(SimulatorError):
    pass


class Stopped(Exception):
    """The simulator is shutting down; a run unwinds quietly."""


class Log(Protocol):
    def __call__(self, message: str, *, verbose: bool = False) -> None: ...


def _quiet(message: str, *, verbose: bool = False) -> None:
    return None


@dataclass(frozen=True)
class Credentials:
    bot_id: str
    secret: str = field(repr=False)

    @classmethod
    def from_file(cls, path: Path) -> "Credentials":
        """Read ``{"bot_id", "secret"}`` as ``seed_demo`` writes it to ``.demo-bot.json``."""
        try:
            data = json.loads(path.read_text())
            return cls(bot_id=str(data["bot_id"]), secret=str(data["secret"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise SimulatorError(f"Cannot read bot credentials from {path} ({type(exc).__name__}).") from None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile (an observed value, no interpolation); None without values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), math.ceil(pct / 100 * len(ordered)))) - 1]


@dataclass
class Traffic:
    """Every HTTP attempt one simulator made and how the console answered it (shared by its threads).

    An attempt is one request on the wire: a retry of the same event is a second attempt with the same
    ``webhook-id``. ``statuses`` counts attempts by status (0: no answer, a transport error).
    """

    statuses: Counter[int] = field(default_factory=Counter)
    post_ms: list[float] = field(default_factory=list)  # latency of each event POST attempt answered
    replayed: int = 0  # answers with ``Idempotent-Replayed: true`` (a retry of an applied request)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, method: str, status: int, seconds: float, *, replayed: bool = False) -> None:
        with self._lock:
            self.statuses[status] += 1
            if method == "POST" and status:
                self.post_ms.append(seconds * 1000)
            self.replayed += replayed

    def failed_attempts(self, *, allowed: int = 0) -> int:
        """Attempts answered neither 2xx nor with an expected refusal (``allowed`` 409s), transport errors
        included: a retried 503 counts here even when the retry then succeeded."""
        bad = sum(count for status, count in self.statuses.items() if not 200 <= status < 300)
        return bad - allowed


class BotAPI:
    """Signed requests to one bot's API, retried the way a careful integration retries them.

    A request keeps its ``webhook-id`` across retries (re-signed with a fresh timestamp each time), so
    a retry of something the server already applied is replayed, not applied twice. Connection errors
    are retried for ``startup_timeout`` seconds (the server may still be starting); 429 and 5xx a few
    times with backoff.
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        client: httpx.Client | None = None,
        timeout: float = 15.0,
        startup_timeout: float = 60.0,
        stop: threading.Event | None = None,
        run_id: str = "",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        # In every webhook-id (and, through the runs, every conversation id): one run's rows can be found.
        self.run_id = run_id
        self.traffic = Traffic()
        self.bot_id = credentials.bot_id
        self._secret = credentials.secret
        self._client = client or httpx.Client(timeout=timeout)
        self.startup_timeout = startup_timeout
        self.stop = stop or threading.Event()
        # Set (and ``stop`` with it) when the console rejects the credentials: no run can go on then.
        self.fatal: SimulatorError | None = None

    def __repr__(self) -> str:
        return f"BotAPI({self.base_url!r}, bot_id={self.bot_id!r})"

    def close(self) -> None:
        self._client.close()

    def post_event(self, event: dict[str, Any]) -> httpx.Response:
        return self._send("POST", "/events", json.dumps(event, ensure_ascii=False))

    def get(self, path: str) -> httpx.Response:
        return self._send("GET", path, "")

    def _send(self, method: str, path: str, body: str) -> httpx.Response:
        url = f"{self.base_url}/api/v1/bots/{self.bot_id}{path}"
        webhook_id = f"msg_{self.run_id}_{uuid.uuid4().hex}" if self.run_id else f"msg_{uuid.uuid4().hex}"
        content = body.encode()
        started = time.monotonic()
        connect_failures = retries = 0
        while True:
            if self.stop.is_set():
                raise Stopped
            headers = sign(body, secret=self._secret, webhook_id=webhook_id)
            if method == "POST":
                headers["content-type"] = "application/json"
            sent = time.perf_counter()
            try:
                response = self._client.request(method, url, content=content, headers=headers)
            except httpx.TransportError as exc:
                self.traffic.record(method, 0, time.perf_counter() - sent)
                if time.monotonic() - started >= self.startup_timeout:
                    raise ServerUnavailable(
                        f"{self.base_url} did not answer for {self.startup_timeout:.0f} s ({type(exc).__name__})."
                    ) from None
                self._pause(min(0.25 * 2**connect_failures, 2.0))
                connect_failures += 1
                continue
            replayed = response.headers.get("idempotent-replayed") == "true"
            self.traffic.record(method, response.status_code, time.perf_counter() - sent, replayed=replayed)
            if response.status_code in RETRY_STATUSES and retries < MAX_RETRIES:
                self._pause(_retry_after(response) or 0.5 * 2**retries)
                retries += 1
                continue
            if response.status_code == 401:
                # A bad signature is no conversation's fault: every request would fail the same way.
                self.fatal = CredentialsRejected(
                    f"The console rejected bot {self.bot_id}'s signature: {_problem(response)} "
                    "(run `manage.py seed_demo` again to write fresh credentials)."
                )
                self.stop.set()
                raise self.fatal
            return response

    def _pause(self, seconds: float) -> None:
        if self.stop.wait(seconds):
            raise Stopped


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(float(response.headers.get("retry-after", "")), 30.0)
    except ValueError:
        return None


def _problem(response: httpx.Response) -> str:
    """A short description of an error answer (RFC 9457 title and detail when there is one)."""
    try:
        body = response.json()
    except ValueError:
        return str(response.status_code)
    if isinstance(body, dict) and "title" in body:
        return f"{response.status_code} {body.get('title')}: {body.get('detail', '')}".strip()
    return str(response.status_code)


@dataclass(frozen=True)
class Pace:
    """How fast the simulated people type and wait. ``scale=0`` plays a script without pauses."""

    scale: float = 1.0
    poll_seconds: float = 3.0  # between checks of the handoff's status
    patience_seconds: float = 900.0  # a queued customer gives up after this (0: waits forever)
    stay_seconds: float = 1800.0  # after a person connects, how long the customer stays around
    follow_up_gap: tuple[float, float] = (12.0, 25.0)  # between follow-up lines (scaled)

    def typing(self, rng: random.Random, role: str, text: str) -> float:
        base = min(2.5 + len(text) / 30, 10.0) if role == "customer" else min(1.0 + len(text) / 120, 4.0)
        return self.scale * base * rng.uniform(0.7, 1.3)

    def faster(self, factor: float) -> "Pace":
        return Pace(
            scale=self.scale * factor,
            poll_seconds=self.poll_seconds,
            patience_seconds=self.patience_seconds,
            stay_seconds=self.stay_seconds,
            follow_up_gap=self.follow_up_gap,
        )


@dataclass
class RunResult:
    scenario: str
    conversation_id: str
    customer_id: str
    handoff_id: str | None = None
    status: str = "bot"  # the handoff's last known status ("bot" before escalating)
    queue_position: int | None = None
    announcement: str = ""
    events_posted: int = 0  # event POSTs made (each once, however often it was retried)
    events_sent: int = 0  # answered 2xx
    follow_ups_sent: int = 0
    bot_turns_refused: int = 0
    error: str | None = None
    accepted: Counter[str] = field(default_factory=Counter)  # events answered 2xx, by type
    started_at: float = 0.0  # time.time() of the first event
    escalation_sent_at: float = 0.0  # time.time() the escalation was sent
    escalated_at: float = 0.0  # time.time() the escalation was answered (0: it was not)


class ConversationRun:
    """One simulated customer and the bot talking to them, from first turn to the end of the handoff."""

    def __init__(
        self,
        api: BotAPI,
        scenario: Scenario,
        *,
        pace: Pace | None = None,
        rng: random.Random | None = None,
        log: Log = _quiet,
    ) -> None:
        self.api = api
        self.scenario = scenario
        self.pace = pace or Pace()
        self.rng = rng or random.Random()
        self.log = log
        suffix = f"{self.rng.getrandbits(40):010x}"
        run = f"{api.run_id}-" if api.run_id else ""
        self.conversation_id = f"sim-{run}{scenario.key}-{suffix}"
        self.customer_id = f"cust-{self.rng.getrandbits(40):010x}"
        self.bot_silenced = False
        self.result = RunResult(
            scenario=scenario.key, conversation_id=self.conversation_id, customer_id=self.customer_id
        )

    # --- the whole story --------------------------------------------------------------------------

    def run(self) -> RunResult:
        self.result.started_at = time.time()
        try:
            self.play_script()
            self.escalate()
            if self.wait_for_person():
                self.follow_up()
                self.see_it_through()
        except Stopped:
            pass
        except CredentialsRejected as exc:
            self.result.error = str(exc)  # the simulator reports it once, for all runs
        except SimulatorError as exc:
            self.result.error = str(exc)
            self.log(f"{self.scenario.key}: stopped ({exc})")
        except Exception as exc:  # a thread must never die silently in the demo
            self.result.error = f"{type(exc).__name__}: {exc}"
            self.log(f"{self.scenario.key}: stopped ({self.result.error})")
        return self.result

    def play_script(self) -> None:
        for event in self.scenario.script_events(self.conversation_id, self.customer_id):
            if event["type"] == "turn":
                role, text = event["data"]["role"], event["data"]["text"]
                self.pause(self.pace.typing(self.rng, role, text))
                if role == "bot":
                    self.say_bot(text, event=event)
                else:
                    self.post(event)
            else:
                # Steps, commitments, classifications: the bot's bookkeeping, right after its work.
                self.pause(self.pace.scale * self.rng.uniform(0.2, 0.8))
                self.post(event)

    def escalate(self) -> None:
        self.pause(self.pace.scale * self.rng.uniform(0.5, 1.5))
        self.result.escalation_sent_at = time.time()
        response = self.post(self.scenario.escalation_event(self.conversation_id))
        self.result.escalated_at = time.time()
        handoff = response.json()["handoff"]
        self.result.handoff_id = handoff["id"]
        self.result.status = handoff["status"]
        self.result.queue_position = handoff.get("queue_position")
        self.result.announcement = handoff.get("announcement") or ""
        esc = self.scenario.escalation
        wait = handoff.get("estimated_wait_seconds")
        self.log(
            f"escalated  {self.scenario.customer_name} ({self.scenario.locale}, {self.scenario.industry}, "
            f"{self.scenario.mood})  {esc.reason_code}/{esc.urgency}  "
            f"queue #{handoff.get('queue_position') or '-'}"
            + (f", ~{wait} s" if wait else "")
            + f"  conversation {self.conversation_id}  handoff {handoff['id']}"
        )
        if self.result.announcement:
            # The bot tells the customer what the console announced: why, who, how long.
            self.pause(self.pace.typing(self.rng, "bot", self.result.announcement))
            self.say_bot(self.result.announcement)
        if self.scenario.while_waiting:
            self.pause(self.pace.typing(self.rng, "customer", self.scenario.while_waiting))
            if self.handoff_status() in WAITING:  # a quick person may already be talking to them
                self.say_customer(self.scenario.while_waiting)

    def wait_for_person(self) -> bool:
        """Poll the handoff until a person connects (True) or it ends some other way (False)."""
        started = time.monotonic()
        patience = self.pace.patience_seconds
        while True:
            status = self.handoff_status()
            if status == "connected":
                self.log(f"{self.scenario.key}: a person connected ({self.conversation_id})", verbose=True)
                return True
            if status not in WAITING:
                self.log(f"{self.scenario.key}: handoff {status} before anyone connected", verbose=True)
                return False
            waited = time.monotonic() - started
            if status == "queued" and patience and waited >= patience:
                self.leave()
                return False
            # Queued, a claim then a preparation window come before anyone talks: check less often.
            interval = self.pace.poll_seconds * (2 if status == "queued" else 1)
            if status == "queued" and patience:
                interval = min(interval, max(patience - waited, 0.0))
            self.pause(interval)

    def follow_up(self) -> None:
        """The customer keeps talking once a person is there, one line at a time."""
        for index, text in enumerate(self.scenario.follow_ups):
            low, high = (3.0, 8.0) if index == 0 else self.pace.follow_up_gap
            self.pause(self.pace.scale * self.rng.uniform(low, high))
            if self.handoff_status() != "connected":
                return  # resolved, returned or transferred meanwhile: a new line would reopen the chat
            self.say_customer(text)
            self.result.follow_ups_sent += 1

    def see_it_through(self) -> None:
        """Follow the handoff to its end: rate a resolution, or let the bot greet a returned customer."""
        deadline = time.monotonic() + self.pace.stay_seconds
        while time.monotonic() < deadline:
            status = self.handoff_status()
            if status == "resolved":
                if self.scenario.csat_after is not None:
                    self.post(
                        {
                            "type": "csat",
                            "conversation_id": self.conversation_id,
                            "data": {"score": self.scenario.csat_after, "phase": "human"},
                        }
                    )
                self.log(f"{self.scenario.key}: resolved ({self.conversation_id})", verbose=True)
                return
            if status == "returned_to_bot":
                self.bot_silenced = False  # the bot has the customer again
                self.pause(self.pace.scale * self.rng.uniform(1.0, 3.0))
                self.say_bot(self.scenario.back_to_bot)
                self.log(f"{self.scenario.key}: returned to the bot ({self.conversation_id})", verbose=True)
                return
            if status not in OPEN:
                return
            self.pause(self.pace.poll_seconds)

    def leave(self) -> None:
        self.say_customer(GIVING_UP.get(self.scenario.locale, GIVING_UP["en"]))
        self.post({"type": "customer_left", "conversation_id": self.conversation_id, "data": {}})
        self.result.status = "abandoned"
        self.log(f"{self.scenario.key}: the customer gave up waiting ({self.conversation_id})", verbose=True)

    # --- talking to the API -----------------------------------------------------------------------

    def say_customer(self, text: str) -> None:
        self.post(self.scenario.customer_turn(self.conversation_id, text))

    def say_bot(self, text: str, *, event: dict[str, Any] | None = None) -> bool:
        """Post a bot turn unless a person owns the conversation; a 409 silences the bot from then on."""
        if self.bot_silenced:
            return False
        response = self.post(event or self.scenario.bot_turn(self.conversation_id, text), allow=(409,))
        if response.status_code == 409:
            self.bot_silenced = True
            self.result.bot_turns_refused += 1
            self.log(f"{self.scenario.key}: a person has the conversation; the bot goes quiet", verbose=True)
            return False
        return True

    def post(self, event: dict[str, Any], *, allow: Sequence[int] = ()) -> httpx.Response:
        self.result.events_posted += 1
        response = self.api.post_event(event)
        if response.is_success:
            self.result.events_sent += 1
            self.result.accepted[event["type"]] += 1
        elif response.status_code not in allow:
            raise SimulatorError(f"{event['type']} event answered {_problem(response)}")
        return response

    def handoff_status(self) -> str:
        """The handoff's status as the bot sees it; follows a transfer to the handoff that replaced it."""
        response = self.api.get(f"/handoffs/{self.result.handoff_id}")
        if not response.is_success:
            raise SimulatorError(f"GET handoff answered {_problem(response)}")
        status = str(response.json()["status"])
        if status == "transferred":
            successor = self._successor()
            if successor is not None:
                self.log(f"{self.scenario.key}: transferred to another handoff", verbose=True)
                self.result.handoff_id = successor
                return self.handoff_status()
        self.result.status = status
        return status

    def _successor(self) -> str | None:
        response = self.api.get(f"/conversations/{self.conversation_id}")
        if not response.is_success:
            return None
        records = response.json().get("context", {}).get("handoffs", [])
        for record in reversed(records):
            if record.get("status") in OPEN and record.get("id") != self.result.handoff_id:
                return str(record["id"])
        return None

    def pause(self, seconds: float) -> None:
        if seconds > 0 and self.api.stop.wait(seconds):
            raise Stopped
        if self.api.stop.is_set():
            raise Stopped


@dataclass(frozen=True)
class Summary:
    """What a simulator run did, for the closing lines of ``simulate`` and for the benchmarks."""

    run_id: str
    rate: float
    conversations: int  # started
    escalations: int  # answered with a handoff
    events_sent: int  # event POSTs, each counted once however often it was retried
    accepted: int  # events answered 2xx
    refused: int  # bot turns answered 409 because a person had the conversation (expected)
    errors: int  # conversations stopped by an error (an event or a status read that failed)
    failed_attempts: (
        int  # attempts answered neither 2xx nor an expected 409, or not at all (retried ones too)
    )
    replayed: int  # retries the console recognised as already applied
    accepted_by_type: dict[str, int]
    statuses: dict[str, int]  # every attempt, by status ("0": no answer)
    post_p50_ms: float | None
    post_p95_ms: float | None
    post_p99_ms: float | None
    escalate_p50_s: float | None  # from a conversation's first event to its escalation's answer
    escalate_p95_s: float | None
    start_late_max_s: float  # how far behind its schedule the latest conversation started
    seconds: float
    error_samples: list[str]
    # (handoff id, time.time() its escalation was sent), for matching the rows agents' consoles receive
    escalations_sent: list[tuple[str, float]]

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    def lines(self) -> list[str]:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value:.0f}"

        lines = [
            f"done in {self.seconds:.0f} s (run {self.run_id}): {self.conversations} conversations started, "
            f"{self.escalations} escalated",
            f"events sent {self.events_sent}, accepted {self.accepted}, refused {self.refused} (a person had "
            f"the conversation), errors {self.errors}",
            f"requests: p50 {ms(self.post_p50_ms)} ms, p95 {ms(self.post_p95_ms)} ms; failed attempts "
            f"{self.failed_attempts} (retried or not), replays {self.replayed}",
        ]
        lines += [f"error: {sample}" for sample in self.error_samples]
        return lines


class Simulator:
    """Starts conversations at ``rate`` per second, each in its own thread, on a fixed schedule.

    The ``burst`` first start at once (and play faster: "already under way"); the others follow at
    ``1 / rate`` intervals from then, so a slow console shows up as conversations starting late
    (``Summary.start_late_max_s``), not as a lower rate than asked for going unnoticed.
    """

    def __init__(
        self,
        api: BotAPI,
        *,
        rate: float = 0.025,
        count: int | None = None,
        burst: int = 0,
        pace: Pace | None = None,
        scenarios: Sequence[Scenario] = SCENARIOS,
        rng: random.Random | None = None,
        log: Log = _quiet,
    ) -> None:
        if not scenarios:
            raise ValueError("no scenarios to play")
        if rate <= 0:
            raise ValueError("the rate must be positive")
        self.api = api
        self.rate = rate
        self.count = count
        self.burst = max(burst, 0)
        self.pace = pace or Pace()
        self.scenarios = list(scenarios)
        self.rng = rng or random.Random()
        self.log = log
        self.runs: list[ConversationRun] = []
        self.threads: list[threading.Thread] = []
        self._bag: list[Scenario] = []
        self.start_late_max = 0.0
        self.seconds = 0.0

    @property
    def stop(self) -> threading.Event:
        return self.api.stop

    def pick(self) -> Scenario:
        """Every scenario once, in random order, before any repeats."""
        if not self._bag:
            self._bag = self.rng.sample(self.scenarios, len(self.scenarios))
        return self._bag.pop()

    def start(self, *, pace: Pace | None = None) -> ConversationRun:
        run = ConversationRun(
            self.api,
            self.pick(),
            pace=pace or self.pace,
            rng=random.Random(self.rng.getrandbits(64)),
            log=self.log,
        )
        thread = threading.Thread(target=run.run, name=f"simulate-{run.scenario.key}", daemon=True)
        self.runs.append(run)
        self.threads.append(thread)
        thread.start()
        return run

    def run(self) -> list[RunResult]:
        """Play until ``count`` conversations ran (or forever, until ``stop``).

        Raises ``CredentialsRejected`` as soon as the console refuses a signature. Until the server
        answers, each run retries its first request (see ``BotAPI``).
        """
        began = time.monotonic()
        burst = min(self.burst, self.count if self.count is not None else self.burst)
        for _ in range(burst):
            self.start(pace=self.pace.faster(0.1))
        started = 0
        while self.count is None or burst + started < self.count:
            due = began + (started + (1 if burst else 0)) / self.rate
            if self.stop.wait(max(0.0, due - time.monotonic())):
                break
            self.start_late_max = max(self.start_late_max, time.monotonic() - due)
            self.start()
            started += 1
        for thread in self.threads:
            while thread.is_alive() and not self.stop.is_set():
                thread.join(0.5)
        self.seconds = time.monotonic() - began
        if self.api.fatal is not None:
            raise self.api.fatal
        return [run.result for run in self.runs]

    def summary(self) -> Summary:
        results = [run.result for run in self.runs]
        traffic = self.api.traffic
        refused = sum(result.bot_turns_refused for result in results)
        accepted: Counter[str] = Counter()
        for result in results:
            accepted.update(result.accepted)
        to_escalate = [r.escalated_at - r.started_at for r in results if r.escalated_at and r.started_at]
        errors = [result for result in results if result.error]
        return Summary(
            run_id=self.api.run_id,
            rate=self.rate,
            conversations=len(results),
            escalations=sum(1 for result in results if result.handoff_id),
            events_sent=sum(result.events_posted for result in results),
            accepted=sum(result.events_sent for result in results),
            refused=refused,
            errors=len(errors),
            failed_attempts=traffic.failed_attempts(allowed=refused),
            replayed=traffic.replayed,
            accepted_by_type=dict(accepted),
            statuses={str(status): count for status, count in sorted(traffic.statuses.items())},
            post_p50_ms=percentile(traffic.post_ms, 50),
            post_p95_ms=percentile(traffic.post_ms, 95),
            post_p99_ms=percentile(traffic.post_ms, 99),
            escalate_p50_s=percentile(to_escalate, 50),
            escalate_p95_s=percentile(to_escalate, 95),
            start_late_max_s=self.start_late_max,
            seconds=self.seconds,
            error_samples=[f"{result.conversation_id}: {result.error}" for result in errors[:5]],
            escalations_sent=[(r.handoff_id, r.escalation_sent_at) for r in results if r.handoff_id],
        )
