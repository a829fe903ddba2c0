"""Warmline's own observations about a customer, read from what they write.

Cheap, conservative cues; each yields an observation with a modest confidence so that a bot's or a
person's statement about the same key outweighs it (inferred evidence is the weakest source, see
docs/self-model.md).
"""

import re
from dataclasses import dataclass

from handoffs.context.language import is_spanish


@dataclass(frozen=True)
class Inference:
    key: str
    value: str
    confidence: float
    scope: str = "general"


_PREFERS = [
    (re.compile(r"\b(call me|phone me|give me a call|ring me|llámame|llamadme)\b", re.I), "phone"),
    (re.compile(r"\b(email me|e-mail me|send (it|me) an email|by email|por correo)\b", re.I), "email"),
    (re.compile(r"\b(text me|sms me|send me a text|whatsapp me)\b", re.I), "sms"),
    (
        re.compile(r"\b(keep (it|this) in (the )?chat|rather chat|prefer chat|no calls?( please)?)\b", re.I),
        "chat",
    ),
]

# Vocabulary that people without a technical background rarely use unprompted in a support chat.
_TECHNICAL = re.compile(
    r"\b(dns|dhcp|ip address|ipv[46]|ssid|mtu|latency|packet loss|firmware|api|endpoint|oauth|ssl|tls|"
    r"certificate|cache|cookies?|browser console|http ?\d{3}|stack ?trace|traceback|json|webhook|ssh|"
    r"vpn|subnet|gateway|port forwarding|router logs?|registry|kernel|driver)\b",
    re.I,
)


def infer_from_customer_text(text: str) -> list[Inference]:
    inferences: list[Inference] = []
    words = len(text.split())
    if words >= 4:
        language = "es" if is_spanish(text) else "en"
        inferences.append(Inference("preferred_language", language, 0.6 if words >= 8 else 0.45))
    for pattern, channel in _PREFERS:
        if pattern.search(text):
            inferences.append(Inference("communication_preference", channel, 0.6))
            break
    technical_terms = {match.group(0).lower() for match in _TECHNICAL.finditer(text)}
    if len(technical_terms) >= 2:
        inferences.append(
            Inference("expertise", "technical", min(0.4 + 0.1 * len(technical_terms), 0.7), scope="technical")
        )
    return inferences
