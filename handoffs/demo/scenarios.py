"""Scripted customer conversations for the demo simulator.

Each scenario is what one customer and the bot say before the bot gives up, what the bot tried and
promised along the way, how it classifies the case, why it escalates, and a few lines the customer
sends once a person has joined. The scripts are plain data: ``Scenario.script_events`` and friends
render them into bot API events (spec §Bots), which the simulator posts one by one.

The industries (retail, billing, telecom, travel, SaaS, insurance), languages and moods (calm,
concerned, angry, improving) vary so that the queue shows different priorities, emotions and
urgencies at once.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

Mood = Literal["calm", "concerned", "angry", "improving"]
Role = Literal["customer", "bot"]


@dataclass(frozen=True)
class Say:
    role: Role
    text: str


def customer(text: str) -> Say:
    return Say("customer", text)


def bot(text: str) -> Say:
    return Say("bot", text)


@dataclass(frozen=True)
class Step:
    action: str
    outcome: Literal["succeeded", "failed", "pending"]
    detail: str | None = None


@dataclass(frozen=True)
class Commitment:
    text: str
    kind: Literal["refund", "credit", "replacement", "callback", "follow_up", "other"] = "other"
    due_in_days: int | None = None
    due_in_hours: int | None = None
    amount: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class Classification:
    issue_type: str
    complexity: Literal["low", "medium", "high"]
    intent: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class Observation:
    key: str
    value: Any
    confidence: float
    scope: Literal["general", "billing", "technical", "sensitive"] = "general"


@dataclass(frozen=True)
class Escalation:
    reason: str
    reason_code: Literal[
        "customer_request", "authority_required", "frustration", "complexity", "repeated_failure", "language"
    ]
    urgency: Literal["low", "normal", "high", "critical"] = "normal"
    focus: str | None = None
    skills: tuple[str, ...] = ()
    language: str | None = None
    summary: str | None = None


Beat = Say | Step | Commitment | Classification | Observation


@dataclass(frozen=True)
class Scenario:
    key: str
    industry: Literal["retail", "billing", "telecom", "travel", "saas", "insurance"]
    mood: Mood
    locale: str
    customer_name: str
    customer_email: str
    script: tuple[Beat, ...]
    escalation: Escalation
    # Sent after a person connects, slowly, so the agent's chat shows the customer talking.
    follow_ups: tuple[str, ...]
    # The customer's reply to the bot's "you're in the queue" announcement.
    while_waiting: str | None = None
    # What the bot says if the person hands the conversation back to it.
    back_to_bot: str = "Welcome back! Is there anything else I can help you with today?"
    # Satisfaction the customer gives after a person resolves the case (1 to 5).
    csat_after: int | None = None

    # --- rendering into bot API events ------------------------------------------------------------

    def customer_ref(self, customer_id: str) -> dict[str, Any]:
        return {
            "id": customer_id,
            "name": self.customer_name,
            "email": self.customer_email,
            "locale": self.locale,
        }

    def script_events(
        self, conversation_id: str, customer_id: str, *, now: datetime | None = None
    ) -> list[dict[str, Any]]:
        """The conversation before the escalation; the first event introduces the customer."""
        now = now or datetime.now(tz=UTC)
        events = [_event(conversation_id, *_render(beat, now)) for beat in self.script]
        events[0]["customer"] = self.customer_ref(customer_id)
        return events

    def escalation_event(self, conversation_id: str) -> dict[str, Any]:
        esc = self.escalation
        data: dict[str, Any] = {"reason": esc.reason, "reason_code": esc.reason_code, "urgency": esc.urgency}
        if esc.focus:
            data["focus"] = esc.focus
        if esc.skills:
            data["skills"] = list(esc.skills)
        if esc.language:
            data["language"] = esc.language
        if esc.summary:
            data["summary"] = esc.summary
        return _event(conversation_id, "escalation", data)

    def customer_turn(self, conversation_id: str, text: str) -> dict[str, Any]:
        return _event(conversation_id, "turn", {"role": "customer", "text": text})

    def bot_turn(self, conversation_id: str, text: str) -> dict[str, Any]:
        return _event(conversation_id, "turn", {"role": "bot", "text": text})

    def follow_up_events(self, conversation_id: str) -> list[dict[str, Any]]:
        return [self.customer_turn(conversation_id, text) for text in self.follow_ups]

    def all_events(self, conversation_id: str, customer_id: str) -> list[dict[str, Any]]:
        """Every event this scenario can send (for validation)."""
        events = self.script_events(conversation_id, customer_id)
        events.append(self.escalation_event(conversation_id))
        if self.while_waiting:
            events.append(self.customer_turn(conversation_id, self.while_waiting))
        events.extend(self.follow_up_events(conversation_id))
        events.append(self.bot_turn(conversation_id, self.back_to_bot))
        if self.csat_after is not None:
            events.append(_event(conversation_id, "csat", {"score": self.csat_after, "phase": "human"}))
        events.append(_event(conversation_id, "customer_left", {}))
        return events


def _event(conversation_id: str, type_: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "conversation_id": conversation_id, "data": data}


def _render(beat: Beat, now: datetime) -> tuple[str, dict[str, Any]]:
    if isinstance(beat, Say):
        return "turn", {"role": beat.role, "text": beat.text}
    if isinstance(beat, Step):
        data: dict[str, Any] = {"action": beat.action, "outcome": beat.outcome}
        if beat.detail:
            data["detail"] = beat.detail
        return "step", data
    if isinstance(beat, Commitment):
        data = {"text": beat.text, "kind": beat.kind}
        if beat.due_in_days is not None:
            data["due"] = (now.date() + timedelta(days=beat.due_in_days)).isoformat()
        elif beat.due_in_hours is not None:
            data["due"] = (now + timedelta(hours=beat.due_in_hours)).replace(microsecond=0).isoformat()
        if beat.amount is not None:
            data["amount"] = beat.amount
            data["currency"] = beat.currency or "USD"
        return "commitment", data
    if isinstance(beat, Classification):
        data = {"issue_type": beat.issue_type, "complexity": beat.complexity}
        if beat.intent:
            data["intent"] = beat.intent
        if beat.confidence is not None:
            data["confidence"] = beat.confidence
        return "classification", data
    return "observation", {
        "key": beat.key,
        "value": beat.value,
        "confidence": beat.confidence,
        "scope": beat.scope,
    }


# --- the scenarios --------------------------------------------------------------------------------

SCENARIOS: tuple[Scenario, ...] = (
    # Retail -----------------------------------------------------------------------------------------
    Scenario(
        key="retail-parcel-lost",
        industry="retail",
        mood="angry",
        locale="en",
        customer_name="Dana Whitfield",
        customer_email="dana.whitfield@example.com",
        script=(
            customer("Hi. My order was supposed to arrive last Tuesday and it still isn't here."),
            bot("Sorry about the wait, Dana. Could you give me the order number so I can take a look?"),
            customer("It's order 58213-4470."),
            Step("Look up order 58213-4470", "succeeded", "Shipped 9 days ago, standard delivery"),
            Step(
                "Check carrier tracking 1Z88A0457731",
                "succeeded",
                "No scan since leaving the regional depot 7 days ago",
            ),
            bot(
                "Thanks. The parcel left our warehouse 9 days ago, but the carrier hasn't scanned it "
                "for a week. It seems to be stuck at their regional depot."
            ),
            customer(
                "A week with no scan? It was a birthday present and the birthday was on Saturday. "
                "This is ridiculous."
            ),
            Classification("delivery_lost", "medium", intent="locate_or_replace_parcel", confidence=0.87),
            Step(
                "Open a trace request with the carrier",
                "pending",
                "Carrier answers traces within 3 business days",
            ),
            bot(
                "I've opened a trace with the carrier. They usually answer within three business days, "
                "and I'll refund the shipping fee either way."
            ),
            Commitment(
                "Refund the $7.95 shipping fee", kind="refund", due_in_days=3, amount="7.95", currency="USD"
            ),
            customer(
                "Three more days? No. I want a replacement sent today by express, not another wait. "
                "I'm done being patient with this."
            ),
            bot(
                "I understand. Sending an express replacement before the trace closes needs a "
                "colleague's approval, so I'm bringing in a person now."
            ),
        ),
        escalation=Escalation(
            reason="Parcel lost in transit for 7 days; customer wants an express replacement before the trace ends",
            reason_code="frustration",
            urgency="high",
            focus="Approve an express replacement now; the trace and shipping refund are already under way",
            skills=("orders",),
        ),
        while_waiting="Just hurry up. I've wasted enough time on this already.",
        follow_ups=(
            "Hi. So can you actually send a new one?",
            "It needs to go to the same address as before, nothing has changed.",
            "And the shipping refund the bot mentioned, is that still happening?",
        ),
        csat_after=3,
    ),
    Scenario(
        key="retail-gift-return",
        industry="retail",
        mood="calm",
        locale="en",
        customer_name="Theo Marsh",
        customer_email="theo.marsh@example.org",
        script=(
            customer("Hello! I got a jacket as a gift and it's a size too small. Can I exchange it?"),
            bot(
                "Of course. Gift exchanges are free within 60 days. Do you have the gift receipt "
                "or the order number?"
            ),
            customer("The gift receipt says order 77120-0931. I don't have an account though."),
            Step(
                "Look up order 77120-0931", "succeeded", "Ordered 3 weeks ago by another customer as a gift"
            ),
            Classification("return_exchange", "low", intent="exchange_size", confidence=0.93),
            Step(
                "Generate a return label for a gift recipient",
                "failed",
                "Label service needs the buyer's account login",
            ),
            bot(
                "I found the order, but our label tool only works from the buyer's account, and "
                "I don't want to spoil the surprise by emailing them."
            ),
            customer("Ha, I appreciate that. Is there another way? No rush at all."),
            bot(
                "A colleague can create the label by hand. I'll pass this over with everything you've told me."
            ),
        ),
        escalation=Escalation(
            reason="Return label can't be created for a gift recipient without the buyer's account",
            reason_code="complexity",
            urgency="low",
            focus="Create a manual exchange label (size M to L) sent to the recipient's email, not the buyer's",
            skills=("returns",),
        ),
        follow_ups=(
            "Hi there, thanks for helping!",
            "I'd like the same jacket in a large, same colour if you have it.",
            "You can send the label to this email, that's perfect.",
        ),
        csat_after=5,
    ),
    Scenario(
        key="retail-es-cafetera",
        industry="retail",
        mood="concerned",
        locale="es",
        customer_name="Marta Delgado",
        customer_email="marta.delgado@example.es",
        script=(
            customer("Hola, me ha llegado la cafetera con el depósito de agua roto."),
            bot("¡Vaya, lo siento mucho, Marta! ¿Me indica el número de pedido, por favor?"),
            customer("Es el pedido 30418-2265. La caja venía abollada por un lado."),
            Step("Buscar el pedido 30418-2265", "succeeded", "Cafetera Barista Pro, entregada ayer"),
            Classification("damaged_item", "medium", intent="replacement", confidence=0.9),
            bot("Gracias. ¿Podría enviarme una foto del depósito y de la caja?"),
            customer("Ya las he subido. Me preocupa un poco que tarde mucho, la uso todas las mañanas."),
            Step("Comprobar stock para reposición", "succeeded", "2 unidades en el almacén de Madrid"),
            Commitment(
                "Enviar una cafetera de reposición en cuanto se apruebe",
                kind="replacement",
                due_in_days=2,
            ),
            bot(
                "Hay unidades en stock. Como el importe supera lo que puedo aprobar yo, le paso con "
                "una persona del equipo para que confirme la reposición."
            ),
        ),
        escalation=Escalation(
            reason="Artículo dañado en el transporte; la reposición supera el límite que el asistente puede aprobar",
            reason_code="authority_required",
            urgency="normal",
            focus="Aprobar la reposición y decidir si hace falta recoger la cafetera dañada",
            skills=("returns",),
            language="es",
        ),
        while_waiting="Vale, espero. Ojalá no tarde mucho, de verdad.",
        follow_ups=(
            "Hola, gracias por atenderme.",
            "¿Tengo que devolver la cafetera rota o la puedo tirar?",
            "Perfecto. ¿Me llegará un correo con el seguimiento?",
        ),
        back_to_bot="¡Hola de nuevo! ¿Puedo ayudarle con algo más?",
        csat_after=4,
    ),
    # Billing ----------------------------------------------------------------------------------------
    Scenario(
        key="billing-double-charge",
        industry="billing",
        mood="concerned",
        locale="en",
        customer_name="Priya Raman",
        customer_email="priya.raman@example.net",
        script=(
            customer("I was charged twice for my membership this month. Two payments of $49.99 on the 3rd."),
            bot("Let me check that for you, Priya. Is the card ending in 4417 the one on your account?"),
            customer(
                "Yes, that's the one. Money is a bit tight this month so I really need the extra one back."
            ),
            Step(
                "Look up account payments", "succeeded", "Two captures of $49.99 on the 3rd, 40 seconds apart"
            ),
            Classification("duplicate_charge", "medium", intent="refund", confidence=0.95),
            bot(
                "I can see both payments, 40 seconds apart. It looks like a retry that went through "
                "twice. I'm sorry about that."
            ),
            Step(
                "Issue automatic refund of duplicate payment",
                "failed",
                "Refunds over $25 need a billing specialist",
            ),
            Commitment(
                "Refund the duplicate $49.99 charge to the card ending 4417",
                kind="refund",
                due_in_days=5,
                amount="49.99",
                currency="USD",
            ),
            customer("How long will it take to come back? I have rent going out on Friday."),
            bot(
                "The refund needs a billing specialist to approve it, so I'm connecting you with one. "
                "They'll see everything we've gone through."
            ),
        ),
        escalation=Escalation(
            reason="Duplicate membership charge; refund is over the bot's limit",
            reason_code="authority_required",
            urgency="high",
            focus="Approve the $49.99 refund; the customer needs it before Friday, so check if an expedited reversal is possible",
            skills=("refunds", "cards"),
            summary="Charged twice ($49.99) on the 3rd by a payment retry; duplicate confirmed; refund needs approval.",
        ),
        while_waiting="Okay. I just really need this sorted before Friday.",
        follow_ups=(
            "Hi, thanks for joining.",
            "Is there any way to get it back before Friday?",
            "Okay, that helps a lot. Thank you.",
        ),
        csat_after=5,
    ),
    Scenario(
        key="billing-es-penalizacion",
        industry="billing",
        mood="angry",
        locale="es",
        customer_name="Javier Ortega",
        customer_email="javier.ortega@example.mx",
        script=(
            customer("Me habéis cobrado 120 euros de penalización por cancelar. ¡Nadie me dijo nada de eso!"),
            bot("Lo siento, Javier. Voy a revisar su contrato. ¿Me confirma el número de cliente?"),
            customer("CL-558102. Y quiero que me devolváis ese dinero ya."),
            Step(
                "Revisar el contrato CL-558102", "succeeded", "Permanencia de 12 meses; canceló en el mes 10"
            ),
            Classification("cancellation_fee_dispute", "medium", intent="waive_fee", confidence=0.84),
            bot(
                "Veo que el contrato tenía una permanencia de 12 meses y la baja se hizo en el mes 10. "
                "Por eso se aplicó la penalización."
            ),
            customer(
                "Eso es mentira, cuando me di de alta me dijeron que no había permanencia. "
                "Es una vergüenza, llevo cinco años con vosotros."
            ),
            Step(
                "Solicitar anulación de la penalización",
                "failed",
                "El asistente no puede anular penalizaciones",
            ),
            bot(
                "Entiendo su enfado. Yo no puedo anular la penalización, pero una persona sí puede revisarlo ahora."
            ),
        ),
        escalation=Escalation(
            reason="El cliente disputa la penalización por cancelación; dice que le ofrecieron el alta sin permanencia",
            reason_code="frustration",
            urgency="high",
            focus="Revisar la grabación o el documento de alta y decidir si se anula la penalización de 120 €",
            skills=("refunds",),
            language="es",
        ),
        follow_ups=(
            "Hola. A ver si alguien me da una solución de una vez.",
            "Me dieron de alta por teléfono en marzo de hace cinco años, lo podéis comprobar.",
            "Vale. Si me devolvéis los 120 euros, lo dejamos aquí.",
        ),
        back_to_bot="De nuevo conmigo. ¿Hay algo más en lo que pueda ayudarle?",
        csat_after=3,
    ),
    Scenario(
        key="billing-invoice-vat",
        industry="billing",
        mood="calm",
        locale="en",
        customer_name="Henrik Aalto",
        customer_email="accounts@aalto-design.example",
        script=(
            customer("Hello, I need invoice INV-2291 reissued with our company's VAT number on it."),
            bot("Happy to help. What VAT number should appear on the invoice?"),
            customer("FI28374615. Our accountant needs it by the end of the month."),
            Observation("billing.vat_number", "FI28374615", 0.95, scope="billing"),
            Step(
                "Edit invoice INV-2291",
                "failed",
                "Issued invoices are locked; a credit note and reissue are required",
            ),
            Classification("invoice_correction", "low", intent="reissue_invoice", confidence=0.91),
            bot(
                "Issued invoices are locked, so this needs a credit note and a new invoice. "
                "That's something our billing team does by hand."
            ),
            customer("No problem, as long as it's done before the 30th."),
            Commitment("Reissue INV-2291 with VAT number FI28374615", kind="follow_up", due_in_days=7),
        ),
        escalation=Escalation(
            reason="Issued invoice needs a credit note and reissue with the customer's VAT number",
            reason_code="complexity",
            urgency="low",
            focus="Issue the credit note and the corrected invoice; VAT number already given",
            skills=("refunds",),
        ),
        follow_ups=(
            "Hi! Thanks for taking this.",
            "Please send the new invoice to accounts@aalto-design.example.",
        ),
        csat_after=5,
    ),
    # Telecom ----------------------------------------------------------------------------------------
    Scenario(
        key="telecom-evening-dropouts",
        industry="telecom",
        mood="angry",
        locale="en",
        customer_name="Marcus Bell",
        customer_email="marcus.bell@example.com",
        script=(
            customer(
                "This is the third time I'm contacting you. My internet drops every evening between 7 and 10."
            ),
            bot("I'm sorry you've had to come back, Marcus. Can you confirm the account number?"),
            customer("ACC-604471. I work from home. I've lost two client calls this week because of this."),
            Step(
                "Run line diagnostics",
                "succeeded",
                "Line sync drops 6-9 times nightly; errors rise after 19:00",
            ),
            Step("Remote router restart", "failed", "Dropouts continued after the last two restarts"),
            Classification("connectivity_intermittent", "high", intent="fix_connection", confidence=0.89),
            bot(
                "The diagnostics show your line losing sync several times every evening. "
                "Restarting the router again won't fix that."
            ),
            customer(
                "I know it won't. I've restarted it a dozen times. Every time I'm told someone will call "
                "and nobody ever does. I'm sick of this."
            ),
            Commitment("A technician visit to check the line", kind="callback", due_in_days=2),
            bot(
                "That's not good enough, and I'm sorry. I'm getting a person who can book an engineer visit now."
            ),
        ),
        escalation=Escalation(
            reason="Third contact about nightly dropouts; restarts failed and promised callbacks never came",
            reason_code="repeated_failure",
            urgency="high",
            focus="Book an engineer visit and own the follow-up; the customer works from home",
            skills=("connectivity",),
            summary="Line loses sync 6-9 times between 19:00 and 22:00; two remote restarts didn't help; third contact.",
        ),
        while_waiting="We'll see. I'm not holding my breath after last time.",
        follow_ups=(
            "Hello. Please tell me you can actually fix this.",
            "Mornings are best for a visit, any day except Thursday.",
            "Fine. I'll believe it when the engineer shows up.",
        ),
        csat_after=3,
    ),
    Scenario(
        key="telecom-roaming-bill",
        industry="telecom",
        mood="improving",
        locale="en",
        customer_name="Aisha Karimi",
        customer_email="aisha.karimi@example.co.uk",
        script=(
            customer("My bill is £86 higher than usual. I was in Portugal for a week, is that roaming?"),
            bot("Let me look, Aisha. Could you confirm the mobile number on the account?"),
            customer("07700 900418. I thought roaming in Europe was included?!"),
            Step(
                "Look up recent usage", "succeeded", "£86.40 of roaming data charges over 6 days in Portugal"
            ),
            Classification("roaming_charges", "medium", intent="dispute_charge", confidence=0.86),
            bot(
                "Your plan includes EU roaming, but the data add-on you bought in May isn't covered, "
                "so that data was charged separately."
            ),
            customer("Oh no. That's annoying, but I suppose I didn't read the small print."),
            Step("Apply goodwill credit", "succeeded", "£20 goodwill credit applied"),
            Commitment("£20 goodwill credit on the next bill", kind="credit", amount="20.00", currency="GBP"),
            bot(
                "I've added a £20 credit as a goodwill gesture. A colleague can look at refunding more of it."
            ),
            customer(
                "Thank you, that's kind. Actually, could a person also set up a travel pass for next month?"
            ),
        ),
        escalation=Escalation(
            reason="Customer asked for a person to review the remaining roaming charges and set up a travel pass",
            reason_code="customer_request",
            urgency="normal",
            focus="Decide on refunding more of the £66.40 left and add a travel pass before her next trip",
            skills=("connectivity",),
        ),
        follow_ups=(
            "Hi, thanks! The bot was really helpful already.",
            "I'm going to Lisbon again on the 14th for five days.",
            "Great, that sounds much better. Thanks so much.",
        ),
        csat_after=5,
    ),
    # Travel -----------------------------------------------------------------------------------------
    Scenario(
        key="travel-missed-connection",
        industry="travel",
        mood="concerned",
        locale="en",
        customer_name="Olivia Brandt",
        customer_email="olivia.brandt@example.com",
        script=(
            customer(
                "My first flight was delayed and I've missed my connection in Frankfurt. I'm at the airport "
                "with two kids. What do I do?"
            ),
            bot("I'm sorry, Olivia. Let's get you moving. What's your booking reference?"),
            customer("QX7R2P. We were supposed to fly to Oslo at 18:40."),
            Step("Look up booking QX7R2P", "succeeded", "3 passengers; FRA-OSL segment missed"),
            Step("Search same-day rebooking", "succeeded", "Partner flight at 21:15 with 3 seats"),
            Classification("missed_connection", "high", intent="rebook", confidence=0.92),
            bot(
                "There's a partner airline flight at 21:15 with three seats, but I can't book on a partner "
                "carrier myself."
            ),
            customer(
                "Please don't let those seats go. The kids are exhausted and I don't want to sleep here."
            ),
            Step("Hold partner seats", "pending", "Hold expires in 30 minutes"),
            Commitment("Cover a hotel night if no flight tonight works", kind="other", due_in_hours=6),
            bot(
                "I've asked for a hold on the seats and I'm getting an agent right away to finish the booking."
            ),
        ),
        escalation=Escalation(
            reason="Missed connection with children; same-day rebooking is on a partner airline",
            reason_code="authority_required",
            urgency="critical",
            focus="Book the 21:15 partner flight for 3 before the hold expires",
            skills=("orders",),
        ),
        while_waiting="Okay. Please be quick, the kids are falling asleep on the floor here.",
        follow_ups=(
            "Hi! Are the seats still there?",
            "We don't have checked bags, just carry-ons.",
            "Thank you so much. Which gate do we go to?",
        ),
        csat_after=5,
    ),
    Scenario(
        key="travel-es-hotel",
        industry="travel",
        mood="improving",
        locale="es",
        customer_name="Lucía Ferrer",
        customer_email="lucia.ferrer@example.es",
        script=(
            customer(
                "Hello... perdón, mejor en español. Llego mañana a Roma y el hotel dice que no tiene mi reserva."
            ),
            bot("No se preocupe, Lucía, seguimos en español. ¿Me da el código de la reserva?"),
            customer("HT-88213. Pagué hace un mes, tengo el correo de confirmación."),
            Step(
                "Buscar la reserva HT-88213",
                "succeeded",
                "Confirmada con el proveedor; el hotel no la tiene cargada",
            ),
            Step("Reenviar la reserva al hotel", "pending", "El hotel responde en horario de oficina"),
            Classification("booking_missing_at_hotel", "medium", intent="confirm_booking", confidence=0.83),
            bot(
                "Su reserva está confirmada en nuestro sistema. Le he reenviado los datos al hotel, "
                "pero hace falta que alguien lo confirme por teléfono."
            ),
            customer("Ay, menos mal que la reserva existe. Estaba muy nerviosa, gracias."),
            Commitment(
                "Confirmar la reserva directamente con el hotel antes de la llegada",
                kind="follow_up",
                due_in_days=1,
            ),
        ),
        escalation=Escalation(
            reason="La clienta prefiere español y hace falta llamar al hotel para confirmar la reserva",
            reason_code="language",
            urgency="high",
            focus="Llamar al hotel y confirmar la reserva HT-88213 para mañana",
            skills=("orders",),
            language="es",
        ),
        while_waiting="Muchas gracias, espero.",
        follow_ups=(
            "¡Hola! Gracias por ayudarme.",
            "Llego sobre las 15:00, por si se lo preguntan en el hotel.",
            "¡Genial, qué alivio! Muchísimas gracias.",
        ),
        back_to_bot="¡Hola otra vez! ¿Necesita algo más para su viaje?",
        csat_after=5,
    ),
    # SaaS -------------------------------------------------------------------------------------------
    Scenario(
        key="saas-sso-lockout",
        industry="saas",
        mood="concerned",
        locale="en",
        customer_name="Kenji Watanabe",
        customer_email="kenji.watanabe@example.io",
        script=(
            customer(
                "Nobody in our company can log in since this morning. We rotated our SSO certificate "
                "yesterday. I'm the workspace admin."
            ),
            bot("That sounds urgent, Kenji. What's your workspace URL?"),
            customer("northwind-labs. About 140 people are locked out and we have a release today."),
            Step(
                "Check SSO configuration for northwind-labs",
                "succeeded",
                "IdP certificate fingerprint does not match",
            ),
            Step("Send admin recovery link", "failed", "Recovery is disabled when SSO is enforced"),
            Classification("sso_login_failure", "high", intent="restore_access", confidence=0.9),
            bot(
                "The certificate we have on file no longer matches your identity provider, and the "
                "recovery link is blocked while SSO is enforced."
            ),
            customer("So what now? I'm really worried, the whole team is blocked."),
            Observation("workspace.plan", "business", 0.9, scope="technical"),
            bot(
                "An engineer can temporarily turn off SSO enforcement after verifying you. Bringing one in now."
            ),
        ),
        escalation=Escalation(
            reason="Whole workspace locked out after an SSO certificate rotation; recovery is blocked",
            reason_code="complexity",
            urgency="critical",
            focus="Verify the admin, relax SSO enforcement, and help upload the new certificate",
            skills=("licensing",),
        ),
        while_waiting="Please hurry, I'm getting messages from everyone asking what's going on.",
        follow_ups=(
            "Hi, thanks for jumping on this.",
            "I can send the new certificate fingerprint right now if that helps.",
            "It works! People are getting in again. Thank you.",
        ),
        csat_after=5,
    ),
    Scenario(
        key="saas-seat-downgrade",
        industry="saas",
        mood="calm",
        locale="en",
        customer_name="Rosa Lindqvist",
        customer_email="rosa@lindqvist-studio.example",
        script=(
            customer("Hi, we've gone from 25 people to 15. Can we reduce our seats on the annual plan?"),
            bot("Sure, Rosa. You can remove seats any time. Would you like the reduction to apply now?"),
            customer("Yes please. Do we get anything back for the 10 seats we won't use?"),
            Step("Reduce seats from 25 to 15", "succeeded", "Effective now"),
            Step(
                "Calculate prorated credit for an annual plan",
                "failed",
                "Mid-term proration needs account management approval",
            ),
            Classification("plan_change", "medium", intent="prorated_credit", confidence=0.88),
            bot(
                "The seats are reduced. Credit for the rest of an annual term has to be approved by a "
                "person, so I'll pass you over."
            ),
            Commitment("Confirm the prorated credit for 10 seats", kind="credit", due_in_days=5),
            customer("Sounds good, thanks."),
        ),
        escalation=Escalation(
            reason="Prorated credit for removed seats on an annual plan needs approval",
            reason_code="authority_required",
            urgency="low",
            focus="Approve the prorated credit for 10 seats (7 months left on the term)",
            skills=("licensing",),
        ),
        follow_ups=(
            "Hello! Thanks for picking this up.",
            "Credit on the next invoice is completely fine for us.",
        ),
        csat_after=4,
    ),
    Scenario(
        key="saas-data-export",
        industry="saas",
        mood="angry",
        locale="en",
        customer_name="Greg Halloran",
        customer_email="greg.halloran@example.com",
        script=(
            customer("Your export has failed three times. I need all our project data out today."),
            bot("Sorry about that, Greg. Which workspace and which export format are you using?"),
            customer(
                "Workspace 'halloran-build', CSV. It spins for twenty minutes and then says 'Something went wrong'."
            ),
            Step(
                "Retry the export in the background",
                "failed",
                "Timed out after 30 minutes (export size 14 GB)",
            ),
            Step("Offer a per-project export", "failed", "Customer needs one consistent snapshot"),
            Classification("data_export_failure", "high", intent="export_data", confidence=0.85),
            customer(
                "Per project is useless to me. This is exactly why we're leaving. I want a real person "
                "now, not another retry."
            ),
            bot("Understood. I'm handing this to a person who can run a full export on our side."),
        ),
        escalation=Escalation(
            reason="Customer asked for a person after three failed full exports",
            reason_code="customer_request",
            urgency="high",
            focus="Run a server-side full export (14 GB) and share a download link today",
            skills=("licensing",),
        ),
        follow_ups=(
            "Right. What's the plan?",
            "A download link by email is fine, as long as it's today.",
            "Okay. That's more like it.",
        ),
        csat_after=4,
    ),
    # Insurance --------------------------------------------------------------------------------------
    Scenario(
        key="insurance-burst-pipe",
        industry="insurance",
        mood="concerned",
        locale="en",
        customer_name="Eleanor Price",
        customer_email="eleanor.price@example.org",
        script=(
            customer(
                "A pipe burst in my kitchen five days ago. I filed a claim and was told an adjuster "
                "would call within 48 hours. Nobody has."
            ),
            bot("I'm sorry, Eleanor. Could you give me the claim number?"),
            customer("CLM-2024-71893. The floor is still wet and I'm worried about mould."),
            Step("Look up claim CLM-2024-71893", "succeeded", "Opened 5 days ago; no adjuster assigned"),
            Step("Request adjuster assignment", "pending", "Regional queue is backed up"),
            Classification("claim_delay", "medium", intent="adjuster_contact", confidence=0.9),
            bot(
                "Your claim was opened but no adjuster was assigned, which is why nobody called. "
                "I'm sorry, that shouldn't have happened."
            ),
            Commitment("An adjuster will call you", kind="callback", due_in_hours=24),
            customer("Can I at least get a drying company in? I can't wait another week."),
            bot("A claims specialist can approve emergency drying right away. I'll connect you now."),
        ),
        escalation=Escalation(
            reason="Claim stalled 5 days without an adjuster; customer needs emergency drying approved",
            reason_code="authority_required",
            urgency="high",
            focus="Approve emergency water mitigation and get an adjuster assigned today",
            skills=("claims",),
        ),
        while_waiting="Thank you. I'm just worried about the damp spreading.",
        follow_ups=(
            "Hello, thank you for taking this.",
            "I have photos from the day it happened, where should I send them?",
            "That's a relief. I'll book the drying company this afternoon.",
        ),
        csat_after=4,
    ),
    Scenario(
        key="insurance-windscreen",
        industry="insurance",
        mood="improving",
        locale="en",
        customer_name="Samuel Osei",
        customer_email="samuel.osei@example.com",
        script=(
            customer(
                "My windscreen claim was rejected and I have no idea why. I pay for comprehensive cover!"
            ),
            bot("Let me look into it, Samuel. What's your policy number?"),
            customer("POL-339021. The crack is right in my line of sight, I can't drive like this."),
            Step("Review policy POL-339021", "succeeded", "Comprehensive with glass cover, £95 excess"),
            Step(
                "Review the rejection", "succeeded", "Rejected as 'no glass cover'; looks like a coding error"
            ),
            Classification("claim_rejection", "medium", intent="appeal_rejection", confidence=0.87),
            bot(
                "Your policy does include glass cover. The rejection looks like a mistake on our side, "
                "and I'm sorry for the stress."
            ),
            customer("Oh, thank goodness. I thought I'd have to pay for it myself."),
            Commitment("Reopen the windscreen claim", kind="follow_up", due_in_days=1),
            bot("Reversing a rejection needs a claims handler, so I'm passing you to one with all of this."),
            customer("That's great, thanks for sorting it out so quickly."),
        ),
        escalation=Escalation(
            reason="Windscreen claim wrongly rejected; reversing a rejection needs a claims handler",
            reason_code="authority_required",
            urgency="normal",
            focus="Reverse the rejection and book the windscreen repair",
            skills=("claims",),
        ),
        follow_ups=(
            "Hi! Thanks for helping.",
            "Any weekday works for the repair, I'm flexible.",
            "Brilliant, thank you so much.",
        ),
        csat_after=5,
    ),
)

BY_KEY: dict[str, Scenario] = {scenario.key: scenario for scenario in SCENARIOS}
