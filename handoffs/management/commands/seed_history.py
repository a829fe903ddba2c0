"""Weeks of handoff history for the demo's supervisor dashboard (``make demo`` runs it after seed_demo).

Conversations come from the demo simulator's scenarios (handoffs/demo/scenarios.py): each is replayed
once through the real context engines to get its package (summary, provided details, promises, mood),
then stamped out across the weeks with other customer names, times, agents and outcomes, and written
with ``bulk_create``. The result has what a supervisor looks for:

- three teams with their own bots, issue types, volumes and waits; quiet weekends; a Technical outage
  ten days ago (a spike in volume, long waits, abandonment);
- agents who differ: some rarely ask again for what the customer gave the bot, some often (a flagged
  agent turn with the draft checker's own warning), a few contradict an earlier promise; repeats get
  rarer over the weeks, as agents take the draft checker's warnings to heart;
- resolved, abandoned, transferred (with a note) and returned handoffs, re-escalations within 72 h,
  CSAT for the bot phase and the human phase that follows how the handoff went, promises kept, open
  and broken, and customer turns with sentiment before and after the handoff.

Idempotent: nothing is written when history already exists (``--force`` is not offered on purpose:
delete the ``hist-`` conversations to start over). The demo supervisor is added to every team.
"""

import copy
import json
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from handoffs.context import package as pkg
from handoffs.context.sentiment import score_text
from handoffs.demo import scenarios as sc
from handoffs.models import (
    AgentProfile,
    Bot,
    Commitment,
    Conversation,
    CsatRating,
    Customer,
    Handoff,
    MessageWarning,
    Team,
    Turn,
)
from handoffs.services.bots import bot_create, team_get_or_create
from handoffs.services.drafts import draft_check
from handoffs.services.report_columns import report_columns_refresh

PREFIX = "hist-"
SUPERVISOR = "morgan"


@dataclass(frozen=True)
class TeamPlan:
    name: str
    per_day: float  # handoffs on an ordinary weekday
    wait_median: float  # seconds, queued → claimed
    industries: tuple[str, ...]
    bots: tuple[tuple[str, float], ...]  # bot name, share
    agents: tuple[str, ...]


TEAMS = (
    TeamPlan(
        "Support", 16, 80, ("retail", "travel"), (("Demo assistant", 1.0),), ("ada", "grace", "jonas", "mei")
    ),
    TeamPlan(
        "Billing",
        9,
        140,
        ("billing", "insurance"),
        (("Billing bot", 0.75), ("Demo assistant", 0.25)),
        ("lucia", "priya"),
    ),
    TeamPlan(
        "Technical",
        7,
        210,
        ("telecom", "saas"),
        (("Tech helper", 0.7), ("Demo assistant", 0.3)),
        ("sam", "tomas"),
    ),
)
BOTS = (("Billing bot", "Billing"), ("Tech helper", "Technical"))


@dataclass(frozen=True)
class AgentPlan:
    display: str
    team: str
    repeats: float  # chance of asking again for a given detail, at the start of the history
    speed: float  # resolution time multiplier
    csat: float  # bonus on the human-phase rating


AGENTS = {
    "ada": AgentPlan("Ada Okafor", "Support", 0.06, 1.0, 0.25),
    "grace": AgentPlan("Grace Liu", "Support", 0.11, 1.1, 0.0),
    "jonas": AgentPlan("Jonas Berg", "Support", 0.30, 0.85, -0.35),
    "mei": AgentPlan("Mei Tanaka", "Support", 0.36, 1.35, -0.2),
    "lucia": AgentPlan("Lucía Martín", "Billing", 0.07, 1.0, 0.2),
    "priya": AgentPlan("Priya Nair", "Billing", 0.16, 0.8, 0.0),
    "sam": AgentPlan("Sam Patel", "Technical", 0.12, 1.2, 0.05),
    "tomas": AgentPlan("Tomás Rivera", "Technical", 0.26, 1.45, -0.25),
}
WEEKDAY_LOAD = (1.15, 1.1, 1.0, 1.0, 0.95, 0.45, 0.35)
NAMES = {
    "en": (
        "Alex Morgan",
        "Jamie Chen",
        "Priya Shah",
        "Tom Becker",
        "Olivia Brown",
        "Noah Wilson",
        "Emma Davis",
        "Liam Turner",
        "Ava Collins",
        "Ethan Wright",
        "Mia Harris",
        "Lucas Green",
        "Chloe Adams",
        "Ryan Scott",
        "Zoe Baker",
        "Daniel Reed",
        "Grace Kim",
        "Samuel Price",
        "Hannah Lee",
        "Owen Hughes",
        "Isla Murphy",
        "Leo Carter",
        "Ruby Evans",
        "Max Fischer",
    ),
    "es": (
        "Lucía García",
        "Javier López",
        "Carmen Ruiz",
        "Pablo Moreno",
        "Elena Navarro",
        "Diego Torres",
        "Marta Gil",
        "Sergio Romero",
        "Ana Castillo",
        "Raúl Ortega",
    ),
}
# What people say after the handoff, in the conversation's language. ``ask_again``: how an agent asks
# again for a detail the customer already gave (by slot); ``contradict``: going back on a promise.
LINES: dict[str, dict[str, Any]] = {
    "en": {
        "ask_again": {
            "order_number": "Could you give me your order number so I can look it up?",
            "email": "What's the email address on your account?",
            "phone": "Can I have a phone number to reach you on?",
            "card_last4": "Which card was charged? The last four digits, please.",
            "invoice_number": "What's the invoice number?",
            "account_id": "What's your account ID?",
            "booking_reference": "Could you share your booking reference?",
            "policy_number": "What's your policy number?",
            "amount": "How much were you charged?",
            "date": "When did this happen?",
        },
        "ask_default": "Sorry, could you tell me your account details again?",
        "contradict": "I'm afraid we can't offer that; it's not something we do.",
        "replies": (
            "Thanks, I can see everything the assistant collected. I've sorted it on our side just now.",
            "I've approved it; you'll get a confirmation email within the hour.",
            "Done. I've added a note to your account so nobody asks you about this again.",
            "I've escalated it internally and put a priority flag on it; it's confirmed.",
        ),
        "closings": ("Is there anything else I can help you with today?", "You're all set. Have a good day!"),
        "thanks": (
            "Great, thank you so much!",
            "Perfect, that's exactly what I needed. Thanks.",
            "Thanks, that helps.",
        ),
        "grudging": "OK. Fine.",
        "annoyed": "Seriously? I already gave that to the bot. This is so frustrating, why do I have to repeat everything?",
        "confused": "That is not what I was promised. This is really annoying.",
        "back": "Hi again. The problem is back, and nothing you promised has happened yet.",
    },
    "es": {
        "ask_again": {
            "order_number": "¿Me puede dar el número de pedido o de reserva para buscarlo?",
            "email": "¿Cuál es el correo electrónico de su cuenta?",
            "phone": "¿Me da un teléfono de contacto?",
            "amount": "¿Cuánto le cobraron exactamente?",
            "date": "¿Cuándo ocurrió?",
        },
        "ask_default": "Perdone, ¿me puede repetir los datos de su cuenta?",
        "contradict": "Me temo que eso no lo podemos ofrecer; no es algo que hagamos.",
        "replies": (
            "Gracias, veo todo lo que recogió el asistente. Ya está resuelto por nuestra parte.",
            "Lo he aprobado; recibirá un correo de confirmación en la próxima hora.",
            "Hecho. He dejado una nota en su cuenta para que nadie le vuelva a preguntar.",
        ),
        "closings": ("¿Puedo ayudarle en algo más?", "Todo listo. ¡Que tenga un buen día!"),
        "thanks": ("Perfecto, muchas gracias por la ayuda.", "Genial, muchas gracias."),
        "grudging": "Vale.",
        "annoyed": "Ya se lo di al bot. ¿Por qué tengo que repetirlo todo? Qué frustrante.",
        "confused": "Pero el asistente me dijo que sí. Esto es muy molesto.",
        "back": "Hola de nuevo. El problema ha vuelto y nada de lo prometido ha pasado.",
    },
}
RESOLUTIONS = (
    "Approved and confirmed with the customer; confirmation sent by email.",
    "Fixed on our side; customer confirmed it works.",
    "Refund issued; customer informed of the 3–5 day timeline.",
    "Replacement shipped express; tracking sent.",
    "Explained the policy and applied a goodwill credit.",
)
TRANSFER_NOTES = (
    "Needs a billing adjustment I can't make. Customer is patient but has repeated the story twice already.",
    "Technical fault confirmed on the line; please book the engineer. Don't ask for the account again.",
    "Customer asked for a specialist. Everything is in the frame; the refund is already promised.",
)


@dataclass
class Template:
    """One scenario replayed through the engines: the package at escalation and per-turn facts."""

    scenario: sc.Scenario
    package: dict[str, Any]
    turns: list[tuple[str, str, float | None]]  # role, text, sentiment
    ask_again: str
    repeat_warning: dict[str, Any]
    contradiction_warning: dict[str, Any]
    follow_ups: list[tuple[str, float | None]] = field(default_factory=list)


class Command(BaseCommand):
    help = "Seed weeks of realistic handoff history for the supervisor dashboard (skipped if it exists)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=63,
            help="days of history before today (default 63: the dashboard's "
            "30-day view and the 30 days it is compared with)",
        )
        parser.add_argument("--scale", type=float, default=1.0, help="volume multiplier (default 1)")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        if Conversation.objects.filter(external_id__startswith=PREFIX).exists():
            self.stdout.write("History already seeded; nothing to do.")
            return
        rng = random.Random(options["seed"])
        with transaction.atomic():
            teams, bots, agents = self._people()
            writer = Writer(rng, teams=teams, bots=bots, agents=agents, templates=_templates())
            writer.generate(days=max(1, options["days"]), scale=max(0.05, options["scale"]))
            counts = writer.save()
        self.stdout.write(
            f"History: {counts['handoffs']:,} handoffs over {options['days']} days "
            f"({counts['turns']:,} turns, {counts['warnings']:,} flagged agent messages, "
            f"{counts['ratings']:,} CSAT ratings); {SUPERVISOR} supervises every team."
        )

    def _people(self) -> tuple[dict[str, Team], dict[str, Bot], dict[str, AgentProfile]]:
        teams = {plan.name: team_get_or_create(name=plan.name) for plan in TEAMS}
        if not Bot.objects.filter(name="Demo assistant").exists():
            bot_create(name="Demo assistant", team_name="Support", scopes=["general", "billing", "technical"])
        for name, team in BOTS:
            if not Bot.objects.filter(name=name).exists():
                bot_create(name=name, team_name=team, scopes=["general", "billing", "technical"])
        bots = {
            bot.name: bot for bot in Bot.objects.filter(name__in=["Demo assistant", *(n for n, _ in BOTS)])
        }
        users = get_user_model().objects
        agents = {}
        for username, plan in AGENTS.items():
            if not users.filter(username=username).exists():
                # History-only colleagues: nobody signs in as them (no usable password, and no slow hash).
                user = users.create(username=username)
                user.set_unusable_password()
                user.save(update_fields=["password"])
                profile = AgentProfile.objects.create(user=user, display_name=plan.display, languages=["en"])
                profile.teams.add(teams[plan.team])
            agents[username] = AgentProfile.objects.select_related("user").get(user__username=username)
        supervisor = AgentProfile.objects.filter(user__username=SUPERVISOR, is_supervisor=True).first()
        if supervisor is not None:
            supervisor.teams.add(*teams.values())
        return teams, bots, agents


def _templates() -> dict[str, list[Template]]:
    """Each scenario through the context engines once, grouped by industry."""
    by_industry: dict[str, list[Template]] = {}
    at = "2000-01-01T00:00:00+00:00"
    for scenario in sc.SCENARIOS:
        package = pkg.new_package(customer_name=scenario.customer_name, locale=scenario.locale)
        turns: list[tuple[str, str, float | None]] = []
        for beat in scenario.script:
            if isinstance(beat, sc.Say):
                insight = pkg.add_turn(package, seq=len(turns) + 1, role=beat.role, text=beat.text, at=at)
                turns.append((beat.role, beat.text, insight.sentiment))
            elif isinstance(beat, sc.Step):
                pkg.add_step(
                    package, action=beat.action, outcome=beat.outcome, detail=beat.detail or "", at=at
                )
            elif isinstance(beat, sc.Commitment):
                due = f"+{beat.due_in_days}d" if beat.due_in_days is not None else ""
                pkg.add_commitment(
                    package,
                    {
                        "text": beat.text,
                        "kind": beat.kind,
                        "due": due,
                        "source": "event",
                        "status": "open",
                        "seq": len(turns),
                    },
                )
            elif isinstance(beat, sc.Classification):
                pkg.set_classification(
                    package,
                    issue_type=beat.issue_type,
                    complexity=beat.complexity,
                    intent=beat.intent or "",
                    confidence=beat.confidence,
                )
        esc = scenario.escalation
        pkg.set_escalation(
            package,
            reason=esc.reason,
            reason_code=esc.reason_code,
            focus=esc.focus or "",
            urgency=esc.urgency,
            skills=list(esc.skills),
            at=at,
        )
        lines = LINES["es" if scenario.locale == "es" else "en"]
        slots = [item["slot"] for item in package["information_provided"]]
        ask = next(
            (lines["ask_again"][slot] for slot in slots if slot in lines["ask_again"]), lines["ask_default"]
        )
        repeat = _warning(package, ask, "repeat_question", "Already provided by the customer earlier.")
        contradiction = _warning(
            package,
            lines["contradict"],
            "contradicts_commitment",
            "This conflicts with a promise made earlier.",
        )
        template = Template(
            scenario=scenario,
            package=package,
            turns=turns,
            ask_again=ask,
            repeat_warning=repeat,
            contradiction_warning=contradiction,
            follow_ups=[(text, score_text(text, locale=scenario.locale)) for text in scenario.follow_ups],
        )
        by_industry.setdefault(scenario.industry, []).append(template)
    return by_industry


def _warning(package: dict[str, Any], text: str, kind: str, fallback: str) -> dict[str, Any]:
    """The draft checker's own warning for ``text`` when it gives one, else a plain one of ``kind``."""
    for warning in draft_check(context=package, text=text):
        if warning["kind"] == kind:
            return warning
    return {"kind": kind, "message": fallback, "evidence": {}}


SCORES: dict[str, float] = {}


def _score(text: str, locale: str) -> float:
    if text not in SCORES:
        SCORES[text] = score_text(text, locale=locale)
    return SCORES[text]


class Writer:
    """Builds the rows in memory, then writes each table with one ``bulk_create``."""

    def __init__(
        self,
        rng: random.Random,
        *,
        teams: dict[str, Team],
        bots: dict[str, Bot],
        agents: dict[str, AgentProfile],
        templates: dict[str, list[Template]],
    ) -> None:
        self.rng = rng
        self.teams, self.bots, self.agents, self.templates = teams, bots, agents, templates
        self.now = timezone.now()
        self.customers: list[Customer] = []
        self.conversations: list[Conversation] = []
        self.handoffs: list[Handoff] = []
        self.turns: list[Turn] = []
        self.warnings: list[tuple[Turn, Handoff, dict[str, Any], datetime]] = []
        self.ratings: list[CsatRating] = []
        self.commitments: list[Commitment] = []
        self.poor: set[Any] = set()  # handoffs with a repeat question or a contradiction
        self.names = {profile.user_id: profile.name for profile in agents.values()}
        self.count = 0

    # --- volume ------------------------------------------------------------------------------------

    def generate(self, *, days: int, scale: float) -> None:
        today = timezone.localdate()
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            progress = 1 - back / days  # 0 at the start of the history, ~1 yesterday
            for plan in TEAMS:
                load = WEEKDAY_LOAD[day.weekday()] * scale
                outage = plan.name == "Technical" and back in (10, 11)
                if outage:
                    load *= 3.2
                for _ in range(_poisson(self.rng, plan.per_day * load)):
                    self.conversation(plan, day, progress=progress, outage=outage)

    def _moment(self, day: Any) -> datetime:
        hour = min(max(self.rng.gauss(13.5, 3.2), 7.5), 21.5)
        start = timezone.make_aware(datetime.combine(day, time(0, 0)))
        return start + timedelta(hours=hour)

    # --- one conversation --------------------------------------------------------------------------

    def conversation(self, plan: TeamPlan, day: Any, *, progress: float, outage: bool) -> None:
        rng = self.rng
        template = rng.choice([t for industry in plan.industries for t in self.templates.get(industry, [])])
        scenario = template.scenario
        self.count += 1
        number = self.count
        names = NAMES["es" if scenario.locale == "es" else "en"]
        name = rng.choice(names)
        customer = Customer(
            external_id=f"{PREFIX}cust-{number:05d}",
            name=name,
            email=f"{name.split()[0].lower()}.{number}@example.com",
            locale=scenario.locale,
        )
        self.customers.append(customer)
        bot_name = _pick(rng, plan.bots)
        package = _renamed(template.package, scenario.customer_name, name)
        conversation = Conversation(
            bot=self.bots[bot_name],
            external_id=f"{PREFIX}{number:05d}",
            customer=customer,
            issue_type=package["classification"]["issue_type"],
            complexity=package["classification"]["complexity"],
        )
        self.conversations.append(conversation)
        queued = self._moment(day)
        if queued > self.now - timedelta(minutes=30):
            queued = self.now - timedelta(minutes=rng.randint(31, 300))
        for item in package["commitments"]:  # "+3d" in the template: a date, counted from this escalation
            if item.get("due", "").startswith("+"):
                due = (queued + timedelta(days=int(item["due"].strip("+d")))).date().isoformat()
                package["summary"] = package["summary"].replace(f"due {item['due']}", f"due {due}")
                item["due"] = due
        # the bot phase: the scenario's turns over the minutes before the escalation
        seq = 0
        start = queued - timedelta(seconds=40 * len(template.turns) + rng.randint(30, 240))
        for index, (role, text, sentiment) in enumerate(template.turns):
            seq += 1
            text = text.replace(scenario.customer_name.split()[0], name.split()[0])
            at = start + timedelta(seconds=40 * index + rng.randint(0, 25))
            package["transcript"][index]["at"] = at.isoformat()
            self.turns.append(
                Turn(
                    conversation=conversation,
                    seq=seq,
                    role=role,
                    text=text,
                    sentiment=sentiment,
                    occurred_at=at,
                )
            )
        for point in package["emotion"]["trajectory"]:
            point["at"] = package["transcript"][point["seq"] - 1]["at"]
        package["escalation"]["escalated_at"] = queued.isoformat()
        for step in package["steps_attempted"]:
            step["at"] = start.isoformat()
        first = len(self.handoffs)
        handoff, seq, end = self.handoff(
            plan, conversation, package, template, queued, seq, progress=progress, outage=outage
        )
        if rng.random() < 0.55:  # a bot-phase rating, given as the bot hands over
            score = _bot_score(rng, scenario.mood)
            self.ratings.append(
                CsatRating(
                    conversation=conversation,
                    handoff=self.handoffs[first],
                    phase="bot",
                    score=score,
                    created_at=queued,
                )
            )
        # promises made by the bot before the handoff
        for item in package["commitments"]:
            self.commitment(conversation, item, queued, handoff)
        # a customer who comes back within 72 h (more often after a poor handoff)
        comeback = 0.04 + (0.08 if handoff.id in self.poor else 0)
        if handoff.status == "resolved" and rng.random() < comeback and end is not None:
            again = end + timedelta(hours=rng.uniform(2, 60))
            if again < self.now - timedelta(minutes=30):
                self.re_escalation(plan, conversation, package, template, again, seq)
        conversation.status = (
            "resolved" if handoff.status in ("resolved", "transferred") else str(handoff.status)
        )
        conversation.last_seq = seq
        conversation.context = package

    def handoff(
        self,
        plan: TeamPlan,
        conversation: Conversation,
        package: dict[str, Any],
        template: Template,
        queued: datetime,
        seq: int,
        *,
        progress: float,
        outage: bool,
        previous: Handoff | None = None,
        note: str = "",
    ) -> tuple[Handoff, int, datetime | None]:
        rng = self.rng
        team = self.teams[plan.name]
        esc = template.scenario.escalation
        frame = copy.deepcopy(package)
        wait = rng.lognormvariate(math.log(plan.wait_median * (3.5 if outage else 1.0)), 0.55)
        handoff = Handoff(
            conversation=conversation,
            team=team,
            previous=previous,
            reason=esc.reason,
            reason_code=esc.reason_code,
            focus=esc.focus or "",
            urgency=esc.urgency,
            skills=list(esc.skills),
            language=template.scenario.locale,
            queued_at=queued,
            frame=frame,
            note=note,
            estimated_wait_seconds=int(plan.wait_median),
        )
        if previous is not None:
            frame["transfer"] = {
                "from_handoff": str(previous.id),
                "from_agent": self.names.get(previous.agent_id or 0, ""),
                "from_team": previous.team.name,
                "note": note,
                "at": queued.isoformat(),
            }
        self.handoffs.append(handoff)
        abandon_chance = 0.02 + min(0.35, wait / 2400) if previous is None else 0.0
        if rng.random() < abandon_chance:
            handoff.status = "abandoned"
            handoff.ended_at = queued + timedelta(seconds=wait * rng.uniform(0.4, 0.95))
            package["handoffs"].append(self.entry(handoff))
            return handoff, seq, handoff.ended_at
        username = rng.choice(plan.agents)
        profile, agent_plan = self.agents[username], AGENTS[username]
        handoff.agent = profile.user
        handoff.claimed_at = queued + timedelta(seconds=wait)
        handoff.prepare_until = handoff.claimed_at + timedelta(seconds=team.prepare_seconds)
        handoff.connected_at = handoff.claimed_at + timedelta(seconds=rng.uniform(12, team.prepare_seconds))
        at, seq = handoff.connected_at, seq
        opening = (
            package.get("suggested_opening")
            or f"Hi, I'm {agent_plan.display.split()[0]}. I've read the conversation."
        )

        def say(role: str, text: str, sentiment: float | None = None, gap: float = 50.0) -> Turn:
            nonlocal at, seq
            seq += 1
            at = at + timedelta(seconds=rng.uniform(gap * 0.5, gap * 1.5))
            turn = Turn(
                conversation=conversation,
                seq=seq,
                role=role,
                text=text,
                sentiment=sentiment if role == "customer" else None,
                occurred_at=at,
                handoff=handoff if role == "agent" else None,
                author=profile.user if role == "agent" else None,
            )
            self.turns.append(turn)
            package["transcript"].append({"seq": seq, "role": role, "text": text, "at": at.isoformat()})
            if role == "customer" and sentiment is not None:
                package["emotion"]["trajectory"].append(
                    {"seq": seq, "at": at.isoformat(), "score": sentiment}
                )
            return turn

        locale = template.scenario.locale
        lines = LINES["es" if locale == "es" else "en"]
        say("agent", opening, gap=15)
        follow_ups = list(template.follow_ups)
        if follow_ups:
            text, sentiment = follow_ups.pop(0)
            say("customer", text, sentiment)
        repeated = rng.random() < agent_plan.repeats * (1 - 0.45 * progress) * (1.6 if outage else 1.0)
        contradicted = bool(package["commitments"]) and rng.random() < 0.05
        if repeated:
            turn = say("agent", template.ask_again)
            self.warnings.append((turn, handoff, template.repeat_warning, turn.occurred_at))
            say("customer", lines["annoyed"], _score(lines["annoyed"], locale))
        say("agent", rng.choice(lines["replies"]), gap=90 * agent_plan.speed)
        if contradicted:
            turn = say("agent", lines["contradict"])
            self.warnings.append((turn, handoff, template.contradiction_warning, turn.occurred_at))
            say("customer", lines["confused"], _score(lines["confused"], locale))
        for text, sentiment in follow_ups[:1]:
            say("customer", text, sentiment)
        wait_penalty = 0.0 if wait < 240 else (0.5 if wait < 600 else 1.1)
        poor = repeated or contradicted
        if poor:
            self.poor.add(handoff.id)
        roll = rng.random()
        if previous is None and roll < 0.06 and plan.name == "Support":
            # a warm transfer to billing or technical, with a note
            handoff.status = "transferred"
            handoff.ended_at = at + timedelta(seconds=rng.uniform(60, 240))
            package["handoffs"].append(self.entry(handoff))
            target = rng.choice([p for p in TEAMS if p.name != "Support"])
            note = rng.choice(TRANSFER_NOTES)
            return self.handoff(
                target,
                conversation,
                package,
                template,
                handoff.ended_at,
                seq,
                progress=progress,
                outage=False,
                previous=handoff,
                note=note,
            )
        if roll < 0.10:
            handoff.status = "returned_to_bot"
            handoff.ended_at = at + timedelta(seconds=rng.uniform(30, 120))
            handoff.note = "Customer only needed the tracking link; the assistant can take it from here."
            package["handoffs"].append(self.entry(handoff))
            return handoff, seq, handoff.ended_at
        thanks = lines["grudging"] if poor else rng.choice(lines["thanks"])
        say("customer", thanks, _score(thanks, locale))
        say("agent", rng.choice(lines["closings"]), gap=20)
        minimum = (at - handoff.connected_at).total_seconds()
        duration = max(minimum, rng.lognormvariate(math.log(540 * agent_plan.speed), 0.5))
        handoff.status = "resolved"
        handoff.ended_at = handoff.connected_at + timedelta(seconds=duration)
        handoff.resolution = rng.choice(RESOLUTIONS)
        package["handoffs"].append(self.entry(handoff))
        if rng.random() < 0.68:
            score = 4.4 + agent_plan.csat - wait_penalty + rng.gauss(0, 0.6)
            score -= 1.4 if repeated else 0
            score -= 1.0 if contradicted else 0
            self.ratings.append(
                CsatRating(
                    conversation=conversation,
                    handoff=handoff,
                    phase="human",
                    score=min(5, max(1, round(score))),
                    created_at=handoff.ended_at + timedelta(seconds=30),
                )
            )
        return handoff, seq, handoff.ended_at

    def re_escalation(
        self,
        plan: TeamPlan,
        conversation: Conversation,
        package: dict[str, Any],
        template: Template,
        at: datetime,
        seq: int,
    ) -> None:
        seq += 1
        locale = template.scenario.locale
        text = LINES["es" if locale == "es" else "en"]["back"]
        self.turns.append(
            Turn(
                conversation=conversation,
                seq=seq,
                role="customer",
                text=text,
                sentiment=_score(text, locale),
                occurred_at=at,
            )
        )
        package["transcript"].append({"seq": seq, "role": "customer", "text": text, "at": at.isoformat()})
        self.handoff(
            plan, conversation, package, template, at + timedelta(seconds=45), seq, progress=1, outage=False
        )

    def commitment(
        self, conversation: Conversation, item: dict[str, Any], queued: datetime, handoff: Handoff
    ) -> None:
        rng = self.rng
        due_at = (
            timezone.make_aware(datetime.combine(datetime.fromisoformat(item["due"]).date(), time(17, 0)))
            if item.get("due")
            else None
        )
        if handoff.status == "abandoned":
            status = "open"
        else:
            # mostly kept; broken more often after a poor handoff; a few still open (overdue once due)
            roll = rng.random() + (0.2 if handoff.id in self.poor else 0)
            status = "kept" if roll < 0.84 else ("broken" if roll > 0.95 else "open")
        self.commitments.append(
            Commitment(
                conversation=conversation,
                text=item["text"],
                kind=item.get("kind", "other"),
                due=due_at.date().isoformat() if due_at else "",
                due_at=due_at,
                source="event",
                status=status,
                seq=item.get("seq"),
            )
        )

    def entry(self, handoff: Handoff) -> dict[str, Any]:
        """The handoff as the package lists it (the conversation's handoff history)."""
        return {
            "id": str(handoff.id),
            "status": handoff.status,
            "team": handoff.team.name,
            "agent": self.names.get(handoff.agent_id) if handoff.agent_id else None,
            "reason": handoff.reason,
            "note": handoff.note,
            "queued_at": handoff.queued_at.isoformat(),
        }

    # --- writing -----------------------------------------------------------------------------------

    def save(self) -> dict[str, int]:
        Customer.objects.bulk_create(self.customers, batch_size=1000)
        Conversation.objects.bulk_create(self.conversations, batch_size=500)
        first = [handoff for handoff in self.handoffs if handoff.previous is None]
        Handoff.objects.bulk_create(first, batch_size=500)
        Handoff.objects.bulk_create([h for h in self.handoffs if h.previous is not None], batch_size=500)
        Turn.objects.bulk_create(self.turns, batch_size=2000)
        MessageWarning.objects.bulk_create(
            [
                MessageWarning(
                    turn=turn,
                    handoff=handoff,
                    kind=warning["kind"],
                    message=warning["message"],
                    evidence=warning.get("evidence", {}),
                    created_at=at,
                )
                for turn, handoff, warning, at in self.warnings
            ],
            batch_size=1000,
        )
        CsatRating.objects.bulk_create(self.ratings, batch_size=1000)
        Commitment.objects.bulk_create(self.commitments, batch_size=1000)
        # created_at is stamped "now" by bulk_create: put it back in the past, where the handoff was
        Handoff.objects.filter(conversation__external_id__startswith=PREFIX).update(
            created_at=F("queued_at"), updated_at=F("queued_at")
        )
        # what the quality report reads off each handoff, as the services keep it live
        report_columns_refresh(Handoff.objects.filter(conversation__external_id__startswith=PREFIX))
        return {
            "handoffs": len(self.handoffs),
            "turns": len(self.turns),
            "warnings": len(self.warnings),
            "ratings": len(self.ratings),
        }


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method (means here are small)."""
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for name, share in weighted:
        total += share
        if roll < total:
            return name
    return weighted[-1][0]


def _bot_score(rng: random.Random, mood: str) -> int:
    low, high = {"angry": (1, 2), "concerned": (2, 3), "calm": (3, 4), "improving": (2, 4)}.get(mood, (2, 4))
    return rng.randint(low, high)


def _renamed(package: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """The template package for another customer: their name wherever the scenario's was."""
    text = json.dumps(package, ensure_ascii=False)
    text = text.replace(old, new).replace(old.split()[0], new.split()[0])
    return json.loads(text)
