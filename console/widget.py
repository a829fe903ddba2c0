"""The customer chat widget's pages and the reference bot's callback endpoint.

A widget serves a bot whose callbacks come back here (``callback_url`` ending in
``/widget/callbacks/<bot_id>``): the reference bot (handoffs.reference_bot). Other bots have no widget,
so nobody can post events as them through this page.

Customers are anonymous. Each page load issues a conversation token: a ``TimestampSigner`` signature over
the bot id, a random conversation id and the locale. The page keeps it in ``sessionStorage`` so a reload
continues the conversation; the socket refuses a token that is forged, expired or for another bot. The
conversation id is random and never shown in a URL, so a customer's chat cannot be guessed or listed.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from csp.decorators import csp_replace
from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation.trans_real import parse_accept_lang_header
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from console import widget_partials
from handoffs.broadcast import broadcast_on_commit
from handoffs.errors import DomainError, NotAuthenticated, problem_from
from handoffs.models import Bot
from handoffs.reference_bot import BotError, ReferenceBot, Screen

TOKEN_SALT = "warmline.widget.conversation"  # noqa: S105 - a signing namespace, not a secret
TOKEN_MAX_AGE = 12 * 3600  # seconds; an older token starts a new chat
MAX_TOKEN_LENGTH = 400
_CONVERSATION = re.compile(r"^web-[A-Za-z0-9_-]{20,40}$")
LANGUAGES = ("en", "es")
# Which sites may frame the chat (CSP frame-ancestors). Any, by default: it is made to be embedded, it
# holds nothing but the visitor's own conversation, and every action in it is a deliberate message.
FRAME_ANCESTORS: list[str] = list(getattr(settings, "WARMLINE_WIDGET_FRAME_ANCESTORS", ["*"]))


# --- the conversation token -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claims:
    bot_id: str
    conversation_id: str
    locale: str

    @property
    def customer(self) -> dict[str, Any]:
        """The customer as the bot reports them: an id derived from the conversation, a readable label."""
        tag = hashlib.sha256(self.conversation_id.encode()).hexdigest()[:4].upper()
        return {
            "id": f"visitor-{self.conversation_id[4:]}",
            "name": f"Web visitor {tag}",
            "locale": self.locale,
        }


def token_issue(*, bot_id: str, locale: str) -> str:
    conversation_id = "web-" + secrets.token_urlsafe(18)
    return signing.TimestampSigner(salt=TOKEN_SALT).sign_object(
        {"b": bot_id, "c": conversation_id, "l": locale if locale in LANGUAGES else "en"}
    )


def token_read(token: str, *, bot_id: str, max_age: int = TOKEN_MAX_AGE) -> Claims | None:
    """The token's claims if it is ours, unexpired and for this bot; None otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        data = signing.TimestampSigner(salt=TOKEN_SALT).unsign_object(token, max_age=max_age)
    except (signing.BadSignature, ValueError):  # SignatureExpired is a BadSignature
        return None
    if not isinstance(data, dict) or data.get("b") != bot_id:
        return None
    conversation_id, locale = data.get("c"), data.get("l")
    if not isinstance(conversation_id, str) or not _CONVERSATION.match(conversation_id):
        return None
    return Claims(
        bot_id=bot_id, conversation_id=conversation_id, locale=locale if locale in LANGUAGES else "en"
    )


# --- which bots have a widget ---------------------------------------------------------------------------


def callback_path(bot_id: str) -> str:
    return reverse("widget:callback", kwargs={"bot_id": bot_id})


def widget_bot(bot_id: str) -> Bot | None:
    """The active bot behind a widget: one whose callbacks come to this endpoint (the reference bot)."""
    bot = Bot.objects.select_related("team").filter(bot_id=bot_id, is_active=True).first()
    if bot is None or urlsplit(bot.callback_url).path != callback_path(bot.bot_id):
        return None
    return bot


def widget_group(bot_id: str, conversation_id: str) -> str:
    """Every open widget tab of one conversation (bot ids and conversation ids are [A-Za-z0-9_-])."""
    return f"widget.{bot_id}.{conversation_id}"


def relay(*, bot_id: str, conversation_id: str, screens: list[Screen]) -> None:
    for screen in screens:
        broadcast_on_commit(widget_group(bot_id, conversation_id), dict(screen))


# --- pages ----------------------------------------------------------------------------------------------


def _language(request: HttpRequest) -> str:
    asked = request.GET.get("lang", "")
    if asked in LANGUAGES:
        return asked
    for tag, _quality in parse_accept_lang_header(request.headers.get("accept-language", "")[:200]):
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def _widget_bot_or_404(bot_id: str) -> Bot:
    bot = widget_bot(bot_id)
    if bot is None:
        raise Http404("No chat here.")
    return bot


@require_safe
@never_cache
@xframe_options_exempt  # made to be embedded in other sites' pages (see the embed page)
@csp_replace({"frame-ancestors": FRAME_ANCESTORS})  # type: ignore[arg-type]  # typed for request-only views
def chat_page(request: HttpRequest, bot_id: str) -> HttpResponse:
    bot = _widget_bot_or_404(bot_id)
    language = _language(request)
    context = widget_partials.page_context(
        bot=bot, language=language, token=token_issue(bot_id=bot.bot_id, locale=language)
    )
    return render(request, "chat/chat.html", context)


@require_safe
def embed_page(request: HttpRequest, bot_id: str) -> HttpResponse:
    """The copy-paste snippet for a website, with a live preview."""
    bot = _widget_bot_or_404(bot_id)
    chat_url = request.build_absolute_uri(reverse("widget:chat", kwargs={"bot_id": bot.bot_id}))
    return render(request, "chat/embed.html", {"bot": bot, "chat_url": chat_url})


# --- callbacks: the reference bot's receiving end -------------------------------------------------------


@csrf_exempt  # a server-to-server POST, authenticated by its Standard Webhooks signature
@require_POST
def callback(request: HttpRequest, bot_id: str) -> HttpResponse:
    """Verify a callback like any bot would, then show it to the customer's open widget tabs."""
    bot = widget_bot(bot_id)
    try:
        if bot is None:
            raise NotAuthenticated("The request is not signed by an active secret of this bot.")
        conversation_id, screens = ReferenceBot(bot).callback_receive(
            body=request.body, headers=request.headers
        )
    except DomainError as error:
        return JsonResponse(problem_from(error), status=error.status, content_type="application/problem+json")
    except BotError:
        return HttpResponse(status=503)  # not handled: Warmline delivers it again later
    relay(bot_id=bot.bot_id, conversation_id=conversation_id, screens=screens)
    return HttpResponse(status=204)
