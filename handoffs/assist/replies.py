"""Suggested replies for the agent, grounded in the package: the customer's own details, what was
promised, what was already tried (a failed step is never suggested again), and the articles found.

Templates, not generation: each suggestion states something specific the agent can stand behind, and
none asks for anything the customer already gave.
"""

from typing import Any

_EN = {
    "ack": "I'm sorry you've had to chase this{name}. I have {detail} in front of me, so you won't need to repeat anything.",
    "ack_plain": "Thanks for your patience{name}. I have everything you told the assistant, so you won't need to repeat anything.",
    "commitment": "I've checked the {kind} we promised ({text}){due}, and I'm following it through now.",
    "failed": "I can see {action} didn't work, so I won't ask you to try that again; I'll take it from here.",
    "article": "This guide covers exactly this: “{title}”. I'll walk you through it.",
}
_ES = {
    "ack": "Siento que haya tenido que insistir{name}. Tengo {detail} delante, así que no tendrá que repetir nada.",
    "ack_plain": "Gracias por su paciencia{name}. Tengo todo lo que le contó al asistente, así que no tendrá que repetir nada.",
    "commitment": "He revisado el {kind} que le prometimos ({text}){due} y me encargo ahora mismo.",
    "failed": "Veo que {action} no funcionó, así que no le pediré que lo intente de nuevo; me encargo yo.",
    "article": "Esta guía explica justo esto: «{title}». Se lo explico paso a paso.",
}
_KIND = {
    "en": {"refund": "refund", "credit": "credit", "replacement": "replacement", "callback": "call back",
           "follow_up": "follow-up", "other": "action"},
    "es": {"refund": "reembolso", "credit": "abono", "replacement": "reemplazo", "callback": "llamada",
           "follow_up": "seguimiento", "other": "compromiso"},
}  # fmt: skip
_DETAIL_ORDER = ("order_number", "account_id", "tracking_number", "request_id", "product", "amount")
NEGATIVE = ("concerned", "frustrated", "angry")


def suggest_replies(
    *, package: dict[str, Any], articles: list[dict[str, Any]], last_customer_text: str = "", limit: int = 3
) -> list[str]:
    """Two or three replies the agent could send next."""
    lang = "es" if (package.get("customer", {}).get("locale") or "").lower().startswith("es") else "en"
    words = _ES if lang == "es" else _EN
    first_name = (package.get("customer", {}).get("name") or "").split(" ")[0]
    name = f", {first_name}" if first_name and first_name.isalpha() else ""
    suggestions: list[str] = []

    detail = _best_detail(package, lang)
    if package["emotion"]["current"] in NEGATIVE:
        suggestions.append(
            words["ack"].format(name=name, detail=detail) if detail else words["ack_plain"].format(name=name)
        )
    for commitment in package["commitments"]:
        if commitment.get("status") == "open":
            due = f", {commitment['due']}" if commitment.get("due") else ""
            kind = _KIND[lang].get(commitment.get("kind") or "other", _KIND[lang]["other"])
            suggestions.append(
                words["commitment"].format(kind=kind, text=_short(commitment["text"]), due=due)
            )
            break
    failed = [step for step in package["steps_attempted"] if step.get("outcome") == "failed"]
    if failed:
        suggestions.append(words["failed"].format(action=_lower_first(failed[-1]["action"])))
    for article in articles[:1]:
        suggestions.append(words["article"].format(title=article["title"]))
    return suggestions[:limit]


_DETAIL = {
    "en": {"order_number": "your order {}", "account_id": "your account {}", "tracking_number": "tracking {}",
           "request_id": "request {}", "product": "the {}", "amount": "the {} payment"},
    "es": {"order_number": "su pedido {}", "account_id": "su cuenta {}", "tracking_number": "el envío {}",
           "request_id": "la solicitud {}", "product": "el {}", "amount": "el pago de {}"},
}  # fmt: skip


def _best_detail(package: dict[str, Any], lang: str) -> str:
    provided = {item["slot"]: item["value"] for item in package["information_provided"]}
    for slot in _DETAIL_ORDER:
        if slot in provided:
            return _DETAIL[lang][slot].format(provided[slot])
    return ""


def _short(text: str, limit: int = 90) -> str:
    text = text.strip().rstrip(".")
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text
