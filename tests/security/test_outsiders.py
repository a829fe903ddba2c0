"""Outsiders: every route that takes an id, asked for another team's objects, answers 401/403/404 (or sends
an anonymous caller to sign in) and never shows the victim's data.

Routes are enumerated from Django's URL resolver (console pages and htmx endpoints, the supervisor
dashboard, the widget, the admin and the API, whose paths are cross-checked against the OpenAPI document)
and from the websocket routing. A route with an id is checked automatically when its parameters are known
below; a new parameter, or a new route without ids that is not in the allow-list, fails the test until
someone decides how it is checked.

The victim is the Support team: its bot (also a widget bot), a conversation with Dana Reyes about parcel
KX-48213, a $129.99 refund promise and a handoff that ada has claimed and connected. The outsiders are:
mallory (an agent of other teams, who has claimed a handoff of her own), oscar (a supervisor of those
teams) and the other teams' bot. Each request carries everything the persona has: its session, its API
token, its Standard Webhooks signature; with a route of several ids, the persona's own ids are mixed in
(its own handoff with the victim's commitment, its own bot with the victim's conversation…).
"""

import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from handoffs.models import Bot, Commitment, Conversation, Handoff, Turn
from tests.botclient import BotClient, escalation, event, turn
from tests.factories import AgentFactory, TeamFactory

# What no outsider may ever read: the customer, what they said, what was promised, why they escalated.
VICTIM_DATA = ("Dana Reyes", "dana@example.com", "KX-48213", "129.99", "Lisbon")

# Routes without an id, and why an outsider asking them is not asking for someone else's object. They are
# still requested by every outsider (with the victim's team and bot as filters) and must not show its data.
WITHOUT_IDS = {
    "": "the caller's own queue",
    "presence": "the caller's own presence (POST)",
    "handover": "the caller's own open handoffs (GET the plan; a POST naming others' ids is a 404)",
    "accounts/login/": "sign-in",
    "accounts/logout/": "sign-out",
    "healthz": "liveness",
    "supervisor/": "dashboard, scoped to the caller's teams",
    "supervisor/report.csv": "dashboard export, scoped to the caller's teams",
    "supervisor/floor": "live floor, scoped to the caller's teams",
    "supervisor/handoffs/": "handoff list, scoped to the caller's teams",
    "supervisor/breakdown/<str:by>": "a dashboard table by team, bot, issue type or agent, scoped likewise",
    "api/v1/": "the API root",
    "api/v1/openapi.json": "the public API document",
    "api/v1/docs": "the public API docs",
    "api/v1/agent/queue": "the token's own queue",
    "api/v1/agent/presence": "the token's own presence (PUT)",
    "api/v1/agent/handover": "the token's own open handoffs (GET the plan; a POST naming others' ids is a 404)",
    "api/v1/reports/handoff-quality": "report, scoped to the token's teams",
}
WEBSOCKETS_WITHOUT_IDS = {
    "ws/console/queue/": "the caller's own teams' queue",
    "ws/supervisor/floor/": "the caller's own teams' floor",
}
# Parameters that name a view of the caller's own scope rather than an object, with the values to try.
NOT_IDS = {"by": ("team", "bot", "issue_type", "agent")}
# Public by design although they take an id: the customer widget for a bot. A visitor gets a fresh,
# random conversation; nothing of anyone else's.
PUBLIC = {
    "chat/<str:bot_id>/": "the chat page a website embeds",
    "chat/<str:bot_id>/embed": "the embed snippet",
}
# The admin's own sign-in and sign-out pages (signing out would end the persona's session mid-test).
ADMIN_SIGN_IN = ("admin/login/", "admin/logout/")
# Parameters named like these take the victim's ids; a persona's own ids (where it has them) are mixed in.
VICTIM_PARAMETERS = ("handoff_id", "commitment_id", "bot_id", "conversation_id", "customer_id")
# The admin is for staff only: every admin route, with ids or not, must send an outsider to sign in.
ADMIN_PARAMETERS = ("object_id", "content_type_id", "id", "app_label", "url")

PARAMETER = re.compile(r"<(?:\w+:)?(?P<name>\w+)>|\(\?P<(?P<regex_name>\w+)>[^)]*\)")

# Enough for every form and body to pass validation, so that the check that answers is the ownership one.
FORM = {
    "text": "Checking on it",
    "resolution": "Resolved",
    "note": "A note",
    "to": "team:Support",
    "status": "kept",
    "key": "preferred_channel",
    "value": "email",
    "presence": "away",
}
JSON_BODY = FORM | {"team": "Support"}


@dataclass
class Persona:
    name: str
    client: Client
    token: str = ""
    bot: BotClient | None = None
    own: dict[str, Any] = field(default_factory=dict)
    widget_token: str = ""

    def send(self, method: str, path: str) -> Any:
        api = path.startswith("/api/")
        if method == "GET":
            body, content_type = b"", "application/octet-stream"
        elif api:
            body, content_type = json.dumps(JSON_BODY).encode(), "application/json"
        else:
            body, content_type = urlencode(FORM).encode(), "application/x-www-form-urlencoded"
        headers: dict[str, str] = {}
        if self.token:
            headers["HTTP_AUTHORIZATION"] = f"Token {self.token}"
        if self.bot is not None:
            headers |= self.bot.headers(body)
        return self.client.generic(method, path, data=body, content_type=content_type, **headers)


@dataclass
class Victim:
    ids: dict[str, Any]
    admin: dict[str, Any]

    def state(self) -> dict[str, Any]:
        """What an outsider's request must not change."""
        handoff = Handoff.objects.get(pk=self.ids["handoff_id"])
        return {
            "handoff": (handoff.status, handoff.agent_id, handoff.note, handoff.resolution, handoff.ended_at),
            "turns": list(Turn.objects.filter(conversation=handoff.conversation).values_list("seq", "text")),
            "commitment": Commitment.objects.get(pk=self.ids["commitment_id"]).status,
            "conversation": Conversation.objects.values_list("status", "last_seq").get(
                pk=handoff.conversation_id
            ),
            "bot": Bot.objects.values_list("is_active", "callback_url").get(bot_id=self.ids["bot_id"]),
        }


# --- the world ------------------------------------------------------------------------------------------


def victim_world(bot_client: BotClient, agent, api_as) -> Victim:
    bot_client.post(turn("My order #KX-48213 never arrived and I'm annoyed.", conversation="c-1", first=True))
    bot_client.post(event("commitment", "c-1", text="Refund of $129.99 if it is lost", kind="refund"))
    response = bot_client.post(escalation("c-1", reason="Parcel lost near Lisbon"))
    handoff_id = response.json()["handoff"]["id"]
    ada = api_as(agent)
    assert ada.post(f"/handoffs/{handoff_id}/claim").status_code == 200
    assert ada.post(f"/handoffs/{handoff_id}/connect").status_code == 200
    assert (
        ada.post(f"/handoffs/{handoff_id}/messages", {"text": "Dana Reyes, I'm on KX-48213."}).status_code
        == 201
    )
    # The victim's bot is also a widget bot (the reference bot's callbacks come back to this site).
    Bot.objects.filter(bot_id=bot_client.bot_id).update(
        callback_url=f"http://testserver/widget/callbacks/{bot_client.bot_id}"
    )
    handoff = Handoff.objects.select_related("conversation__customer").get(pk=handoff_id)
    commitment = Commitment.objects.get(conversation=handoff.conversation)
    ids = {
        "handoff_id": handoff_id,
        "commitment_id": commitment.pk,
        "bot_id": bot_client.bot_id,
        "conversation_id": "c-1",
        "customer_id": "u-77",
    }
    admin = {
        "content_type_id": ContentType.objects.get_for_model(Handoff).pk,
        "id": agent.user.pk,
        "app_label": "handoffs",
        "url": f"handoffs/handoff/{handoff_id}/change/",
    }
    return Victim(ids=ids, admin=admin)


def outsiders(outsider, other_bot_client: BotClient, token_for, api_as) -> list[Persona]:
    """mallory (with a claimed handoff of her own), oscar (a supervisor of her teams) and their bot."""
    elsewhere = TeamFactory(name="Elsewhere")  # the other bot's team
    outsider.teams.add(elsewhere)
    other_bot_client.post(
        {
            "type": "turn",
            "conversation_id": "c-own",
            "customer": {"id": "u-own", "name": "Olive Own"},
            "data": {"role": "customer", "text": "Where is my refund?"},
        }
    )
    other_bot_client.post(event("commitment", "c-own", text="A call back tomorrow", kind="callback"))
    own_handoff = other_bot_client.post(escalation("c-own")).json()["handoff"]["id"]
    assert api_as(outsider).post(f"/handoffs/{own_handoff}/claim").status_code == 200
    own_commitment = Commitment.objects.get(conversation__external_id="c-own").pk
    oscar = AgentFactory(
        user__username="oscar", teams=[TeamFactory(name="Other team"), elsewhere], is_supervisor=True
    )

    def signed_in(profile) -> Client:
        client = Client()
        client.force_login(profile.user)
        return client

    return [
        Persona(
            "outsider",
            signed_in(outsider),
            token=token_for(outsider),
            own={"handoff_id": own_handoff, "commitment_id": own_commitment},
        ),
        Persona("outsider supervisor", signed_in(oscar), token=token_for(oscar)),
        Persona(
            "other bot",
            Client(),
            bot=other_bot_client,
            own={
                "bot_id": other_bot_client.bot_id,
                "conversation_id": "c-own",
                "customer_id": "u-own",
                "handoff_id": own_handoff,
            },
        ),
    ]


# --- routes ---------------------------------------------------------------------------------------------


def http_routes() -> list[str]:
    def walk(patterns: list[Any], prefix: str) -> Any:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                assert isinstance(pattern, URLPattern)
                yield prefix + str(pattern.pattern)

    return list(walk(get_resolver().url_patterns, ""))


def websocket_routes() -> list[str]:
    from console.routing import websocket_urlpatterns

    return [str(pattern.pattern) for pattern in websocket_urlpatterns]


def parameters(route: str) -> list[str]:
    return [match["name"] or match["regex_name"] for match in PARAMETER.finditer(route)]


def build(route: str, values: dict[str, Any]) -> str:
    path = PARAMETER.sub(lambda match: str(values[match["name"] or match["regex_name"]]), route)
    return "/" + path.replace("^", "").replace("$", "")


def admin_values(route: str, victim: Victim) -> dict[str, Any]:
    values = dict(victim.admin)
    model = re.match(r"admin/(\w+)/(\w+)/<path:object_id>", route)
    if model is not None:
        rows = apps.get_model(model[1], model[2]).objects.order_by("pk")
        values["object_id"] = rows.values_list("pk", flat=True).first() or 1
    else:
        values["object_id"] = victim.ids["handoff_id"]
    return values


def combinations(names: list[str], victim: dict[str, Any], own: dict[str, Any]) -> list[dict[str, Any]]:
    """Every mix of the victim's and the persona's own ids with at least one of the victim's."""
    mixes = []
    for choice in itertools.product(("victim", "own"), repeat=len(names)):
        if "victim" not in choice or any(
            c == "own" and n not in own for n, c in zip(names, choice, strict=True)
        ):
            continue
        mixes.append(
            {n: (victim[n] if c == "victim" else own[n]) for n, c in zip(names, choice, strict=True)}
        )
    return mixes


def openapi_methods(client: Client) -> dict[str, set[str]]:
    document = client.get("/api/v1/openapi.json").json()
    return {path: {method.upper() for method in item} for path, item in document["paths"].items()}


def api_path(route: str) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


# --- checks ---------------------------------------------------------------------------------------------


LOGIN_PAGES = ("/accounts/login/", "/admin/login/")


def body_of(response: Any) -> str:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return raw.decode("utf-8", errors="replace") + " " + response.get("Location", "")


def leaked(text: str) -> list[str]:
    return [marker for marker in VICTIM_DATA if marker in text]


def denial(response: Any) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = urlsplit(response.get("Location", "")).path
    return response.status_code == 302 and location in LOGIN_PAGES


def test_the_login_pages_are_where_anonymous_callers_go():
    assert resolve_url(settings.LOGIN_URL) == LOGIN_PAGES[0]


# --- HTTP -----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_no_outsider_reads_or_changes_another_teams_objects_over_http(
    bot_client, agent, api_as, outsider, other_bot_client, token_for
):
    victim = victim_world(bot_client, agent, api_as)
    personas = outsiders(outsider, other_bot_client, token_for, api_as)
    documented = openapi_methods(Client())
    before = victim.state()
    problems: list[str] = []
    unchecked: list[str] = []
    checked = 0

    routes = http_routes()
    api_routes = {api_path(route) for route in routes if route.startswith("api/")}
    problems += [f"OpenAPI path {path} has no URL pattern" for path in documented if path not in api_routes]

    for route in routes:
        names = parameters(route)
        if route in ADMIN_SIGN_IN:
            continue
        if route.startswith("admin/") and not names:
            # Lists and forms (every handoff, every customer): staff only.
            for persona in personas:
                response = persona.send("GET", "/" + route)
                if not denial(response) or leaked(body_of(response)):
                    problems.append(f"{persona.name} GET /{route}: {response.status_code}")
            continue
        if route.startswith("admin/"):
            if unknown := [name for name in names if name not in ADMIN_PARAMETERS]:
                unchecked.append(f"{route!r}: admin parameters {unknown} have no value here; add one")
                continue
            mixes = [admin_values(route, victim)]
        elif all(name in NOT_IDS for name in names):
            if route not in WITHOUT_IDS:
                unchecked.append(f"{route!r}: a new route without ids; add it to WITHOUT_IDS with a reason")
                continue
            query = "?" + urlencode({"team": "Support", "bot": victim.ids["bot_id"]})
            for choice in itertools.product(*(NOT_IDS[name] for name in names)):
                path = build(route, dict(zip(names, choice, strict=True))) + query
                for persona in personas:
                    response = persona.send("GET", path)
                    if response.status_code >= 500 or leaked(body_of(response)):
                        problems.append(
                            f"{persona.name} GET {path}: {response.status_code} {leaked(body_of(response))}"
                        )
            continue
        elif unknown := [name for name in names if name not in VICTIM_PARAMETERS]:
            unchecked.append(f"{route!r}: parameters {unknown} have no victim value here; add a check")
            continue
        else:
            mixes = None
        methods = {"GET", "POST"} | documented.get(api_path(route), set())
        for persona in personas:
            for values in mixes or combinations(names, victim.ids, persona.own):
                path = build(route, values)
                answered = False
                for method in sorted(methods):
                    response = persona.send(method, path)
                    if response.status_code == 405:
                        continue
                    answered = True
                    checked += 1
                    text = body_of(response)
                    ok = response.status_code in (200, 404) if route in PUBLIC else denial(response)
                    if not ok or leaked(text):
                        problems.append(
                            f"{persona.name} {method} {path}: {response.status_code} "
                            f"leaked={leaked(text)} {text[:200]!r}"
                        )
                if not answered:
                    problems.append(f"{persona.name} {path}: every method was 405; which one does it take?")

    assert not unchecked, "\n".join(unchecked)
    assert not problems, "\n".join(problems)
    assert victim.state() == before
    assert checked > 100  # the enumeration found the routes
    # The personas were still themselves at the end (nothing signed them out halfway).
    assert personas[0].send("GET", "/").status_code == 200
    assert personas[1].send("GET", "/supervisor/").status_code == 200


# --- websockets -----------------------------------------------------------------------------------------


async def open_as(persona: Persona, path: str, session: str) -> tuple[bool, list[dict[str, Any]]]:
    """Connect as the persona (its session cookie, the site's Origin, its signature, its widget token);
    whether the socket was accepted and stayed open, and everything it was sent."""
    headers = [(b"origin", b"http://testserver"), (b"host", b"testserver")]
    if session:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    if persona.bot is not None:
        signed = await sync_to_async(persona.bot.headers)(b"")
        headers += [
            (name[5:].lower().replace("_", "-").encode(), value.encode()) for name, value in signed.items()
        ]
    query = f"?{urlencode({'token': persona.widget_token})}" if persona.widget_token else ""
    communicator = WebsocketCommunicator(_application(), path + query, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    frames: list[dict[str, Any]] = []
    if connected:
        # (receive_output's own timeout would cancel the application; receive_nothing only waits.)
        while not await communicator.receive_nothing(timeout=0.5):
            output = await communicator.receive_output()
            frames.append(output)
            if output["type"] == "websocket.close":
                break
        stayed_open = not frames or frames[-1]["type"] != "websocket.close"
        if stayed_open:
            await communicator.disconnect()
        return stayed_open, frames
    return False, frames


def _application() -> Any:
    from console.asgi import application

    return application


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_no_outsider_joins_another_teams_sockets(
    bot_client, agent, api_as, outsider, other_bot_client, token_for
):
    from console.widget import token_issue

    victim = await sync_to_async(victim_world)(bot_client, agent, api_as)
    personas = await sync_to_async(outsiders)(outsider, other_bot_client, token_for, api_as)
    # The other bot's visitors hold widget tokens for that bot; the victim's widget must refuse them.
    await sync_to_async(Bot.objects.filter(bot_id=other_bot_client.bot_id).update)(
        callback_url=f"http://testserver/widget/callbacks/{other_bot_client.bot_id}"
    )
    for persona in personas:
        persona.widget_token = token_issue(bot_id=other_bot_client.bot_id, locale="en")
    sessions = {
        persona.name: persona.client.cookies.get(settings.SESSION_COOKIE_NAME) for persona in personas
    }

    problems: list[str] = []
    unchecked: list[str] = []
    for route in websocket_routes():
        names = parameters(route)
        if not names:
            if route not in WEBSOCKETS_WITHOUT_IDS:
                unchecked.append(f"{route!r}: a new socket without ids; add it to WEBSOCKETS_WITHOUT_IDS")
                continue
            for persona in personas:
                cookie = sessions[persona.name]
                _, frames = await open_as(persona, "/" + route, cookie.value if cookie else "")
                if leaked(json.dumps(frames)):
                    problems.append(f"{persona.name} {route}: {leaked(json.dumps(frames))}")
            continue
        if unknown := [name for name in names if name not in VICTIM_PARAMETERS]:
            unchecked.append(f"{route!r}: parameters {unknown} have no victim value here; add a check")
            continue
        for persona in personas:
            cookie = sessions[persona.name]
            for values in combinations(names, victim.ids, persona.own):
                path = build(route, values)
                stayed_open, frames = await open_as(persona, path, cookie.value if cookie else "")
                sent = [frame for frame in frames if frame["type"] == "websocket.send"]
                if stayed_open or sent or leaked(json.dumps(frames)):
                    problems.append(f"{persona.name} {path}: open={stayed_open} frames={frames!r:.300}")

    assert not unchecked, "\n".join(unchecked)
    assert not problems, "\n".join(problems)
