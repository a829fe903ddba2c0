"""What the chat widget shows, rendered from templates/chat/chat.html's partials: the page (first paint),
the resync a socket sends when it (re)connects, and one fragment per screen event of the reference bot.

Every fragment is an out-of-band swap the htmx ws extension applies by id; no HTML is built here.
"""

from dataclasses import dataclass, field
from typing import Any

from django.template.loader import render_to_string

from handoffs.models import Bot
from handoffs.reference_bot import SAY, Resume, Screen, wait_words

PAGE = "chat/chat.html"
SCORES = (1, 2, 3, 4, 5)

TEXT: dict[str, dict[str, str]] = {
    "en": {
        "title": "Help",
        "assistant": "Assistant",
        "status_bot": "Assistant · replies instantly",
        "status_queued": "Waiting for a specialist",
        "status_preparing": "A specialist is getting ready",
        "status_connected": "Chatting with {agent}",
        "status_resolved": "Resolved · you can keep writing",
        "status_ended": "Chat ended",
        "you": "You",
        "specialist": "Specialist",
        "label": "Your message",
        "placeholder": "Write a message…",
        "send": "Send",
        "end": "End chat",
        "end_confirm": "End this chat?",
        "end_yes": "Yes, end it",
        "end_no": "Keep chatting",
        "position": "You're number {n} in line",
        "position_next": "You're next in line",
        "waiting": "Waiting for a specialist",
        "eta": "Estimated wait: {wait}",
        "keeps": "They'll see everything so far; you can keep adding details here.",
        "preparing": "A specialist is reviewing your conversation",
        "preparing_who": "{agent} is reading what you've discussed, so you won't need to repeat anything.",
        "preparing_anon": "They're reading what you've discussed, so you won't need to repeat anything.",
        "rate_bot": "While you wait: how helpful was the assistant?",
        "rate_human": "How was your conversation with {agent}?",
        "rate_human_anon": "How was your conversation with our specialist?",
        "optional": "optional",
        "rate_group": "Rate from 1 (poor) to 5 (excellent)",
        "score": "{n} out of 5",
        "thanks_rating": "Thanks for your rating!",
        "ended": "This chat has ended.",
        "new_chat": "Start a new chat",
        "failed": "Sorry, that message could not be delivered. Please try again.",
        "too_fast": "You're sending messages quickly; please wait a moment.",
        "conversation": "Conversation",
        "live_connecting": "Connecting…",
        "live_reconnecting": "Connection lost; reconnecting…",
        "live_refused": "This chat is not available. Please reload the page.",
    },
    "es": {
        "title": "Ayuda",
        "assistant": "Asistente",
        "status_bot": "Asistente · responde al momento",
        "status_queued": "Esperando a un especialista",
        "status_preparing": "Un especialista se está preparando",
        "status_connected": "Hablando con {agent}",
        "status_resolved": "Resuelto · puede seguir escribiendo",
        "status_ended": "Chat finalizado",
        "you": "Usted",
        "specialist": "Especialista",
        "label": "Su mensaje",
        "placeholder": "Escriba un mensaje…",
        "send": "Enviar",
        "end": "Terminar",
        "end_confirm": "¿Terminar este chat?",
        "end_yes": "Sí, terminar",
        "end_no": "Seguir",
        "position": "Es el número {n} en la fila",
        "position_next": "Es el siguiente en la fila",
        "waiting": "Esperando a un especialista",
        "eta": "Espera estimada: {wait}",
        "keeps": "Verá todo lo hablado; puede seguir añadiendo detalles aquí.",
        "preparing": "Un especialista está revisando su conversación",
        "preparing_who": "{agent} está leyendo lo que han hablado, así que no tendrá que repetir nada.",
        "preparing_anon": "Está leyendo lo que han hablado, así que no tendrá que repetir nada.",
        "rate_bot": "Mientras espera: ¿le ha resultado útil el asistente?",
        "rate_human": "¿Qué tal su conversación con {agent}?",
        "rate_human_anon": "¿Qué tal su conversación con nuestro especialista?",
        "optional": "opcional",
        "rate_group": "Valore de 1 (mal) a 5 (excelente)",
        "score": "{n} de 5",
        "thanks_rating": "¡Gracias por su valoración!",
        "ended": "Este chat ha terminado.",
        "new_chat": "Empezar un chat nuevo",
        "failed": "Lo sentimos, el mensaje no se pudo entregar. Inténtelo de nuevo.",
        "too_fast": "Está enviando mensajes muy rápido; espere un momento.",
        "conversation": "Conversación",
        "live_connecting": "Conectando…",
        "live_reconnecting": "Conexión perdida; reconectando…",
        "live_refused": "Este chat no está disponible. Recargue la página.",
    },
}


@dataclass
class WidgetState:
    """What one open widget knows about its conversation (kept by the socket, updated by screen events)."""

    language: str = "en"
    mode: str = "bot"
    agent: str = ""
    handoff: dict[str, Any] | None = None
    rate: str = ""  # the rating prompt on offer: "bot", "human" or ""
    rated: set[str] = field(default_factory=set)

    @property
    def handoff_id(self) -> str:
        return str((self.handoff or {}).get("id") or "")

    def apply(self, screen: Screen) -> None:
        kind = screen.get("type")
        if kind == "mode":
            before, self.mode = self.mode, screen.get("mode") or "bot"
            kept = self.agent if self.mode in ("preparing", "connected", "resolved") else ""
            self.agent = screen.get("agent") or kept
            if self.mode == "queued" and before in ("bot", "resolved", "ended"):
                self.rated.discard("bot")  # a new escalation: its bot part can be rated
                self.rate = "bot"
            elif self.mode in ("bot", "connected") and self.rate == "bot":
                self.rate = ""
        elif kind == "wait":
            handoff = dict(screen.get("handoff") or {})
            self.handoff = handoff
            self.agent = handoff.get("agent") or self.agent
        elif kind == "rate":
            phase = screen.get("phase", "")
            self.handoff = {**(self.handoff or {}), **(screen.get("handoff") or {})}
            self.rate = phase if phase not in self.rated else ""
        elif kind == "rated":
            self.rated.add(screen.get("phase", ""))
            self.rate = ""


def _text(language: str) -> dict[str, str]:
    return TEXT.get(language, TEXT["en"])


def _status_text(state: WidgetState) -> str:
    t = _text(state.language)
    if state.mode == "connected":
        return t["status_connected"].format(agent=state.agent or t["specialist"])
    return t.get(f"status_{state.mode}", t["status_bot"])


def _wait_context(state: WidgetState) -> dict[str, Any]:
    t = _text(state.language)
    handoff = state.handoff or {}
    waiting = state.mode in ("queued", "preparing")
    position = handoff.get("queue_position")
    if state.mode == "preparing":
        title = t["preparing"]
        detail = (t["preparing_who"].format(agent=state.agent)) if state.agent else t["preparing_anon"]
        eta = ""
    else:
        if position == 1:
            title = t["position_next"]
        elif position:
            title = t["position"].format(n=position)
        else:
            title = t["waiting"]
        seconds = handoff.get("estimated_wait_seconds")
        eta = t["eta"].format(wait=wait_words(seconds, state.language)) if seconds is not None else ""
        detail = t["keeps"]
    return {
        "waiting": waiting,
        "wait_mode": state.mode,
        "wait_title": title,
        "wait_eta": eta,
        "wait_detail": detail,
        "rate_bot": waiting and state.rate == "bot",
    }


def _rate_context(state: WidgetState) -> dict[str, Any]:
    t = _text(state.language)
    question = t["rate_human"].format(agent=state.agent) if state.agent else t["rate_human_anon"]
    return {"rate_human": state.rate == "human", "rate_question": question}


def context(state: WidgetState, **extra: Any) -> dict[str, Any]:
    return {
        "t": _text(state.language),
        "language": state.language,
        "state": state,
        "status_text": _status_text(state),
        "scores": [(n, _text(state.language)["score"].format(n=n)) for n in SCORES],
        **_wait_context(state),
        **_rate_context(state),
        **extra,
    }


def page_context(*, bot: Bot, language: str, token: str) -> dict[str, Any]:
    state = WidgetState(language=language)
    return context(
        state,
        bot=bot,
        token=token,
        socket_path=f"/ws/chat/{bot.bot_id}/",
        welcome=SAY[language]["welcome"],
        lines=[],
    )


def resync(resume: Resume, state: WidgetState) -> str:
    """Everything the widget shows, for a socket that has just (re)connected."""
    ctx = context(state, oob=True, lines=resume.lines, welcome=SAY[state.language]["welcome"])
    return "".join(
        render_to_string(f"{PAGE}#{name}", ctx) for name in ("chat-log", "chat-status", "wait", "rate")
    )


def screen_html(screen: Screen, state: WidgetState) -> str:
    """The fragment for one screen event (``state`` already has it applied)."""
    kind = screen.get("type")
    ctx = context(state, oob=True)
    if kind == "line":
        return render_to_string(f"{PAGE}#line-oob", ctx | {"line": screen})
    if kind == "mode":
        return "".join(render_to_string(f"{PAGE}#{name}", ctx) for name in ("chat-status", "wait", "rate"))
    if kind == "wait":
        return render_to_string(f"{PAGE}#wait", ctx)
    if kind in ("rate", "rated"):
        thanks = kind == "rated"
        return render_to_string(
            f"{PAGE}#rate", ctx | {"thanks": thanks and screen.get("phase") == "human"}
        ) + (render_to_string(f"{PAGE}#wait", ctx | {"thanks_bot": thanks and screen.get("phase") == "bot"}))
    return ""


def notice_html(message: str, state: WidgetState) -> str:
    return render_to_string(f"{PAGE}#notice", context(state, oob=True, notice=message))


def ended_html(state: WidgetState) -> str:
    state.mode, state.rate = "ended", ""
    ctx = context(state, oob=True, ended=True)
    return "".join(
        render_to_string(f"{PAGE}#{name}", ctx) for name in ("chat-status", "wait", "rate", "composer")
    )
