"""Bot registration and signing-secret rotation."""

from collections.abc import Mapping
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.errors import InvalidInput, MalformedJson, NotAuthenticated
from handoffs.models import Bot, BotSecret, Scope, Team
from handoffs.signing import SignatureError, new_secret, verify

ROTATION_OVERLAP = timedelta(hours=24)


def _check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise InvalidInput(f"Unknown scope(s): {', '.join(unknown)}; known: {', '.join(Scope.values)}.")
    return sorted(set(scopes)) or [Scope.GENERAL.value]


def team_get_or_create(*, name: str) -> Team:
    team, _ = Team.objects.get_or_create(name=name)
    return team


@transaction.atomic
def bot_create(
    *, name: str, team_name: str, callback_url: str = "", scopes: list[str] | None = None
) -> tuple[Bot, str]:
    """Register a bot; return it with its signing secret (shown once)."""
    team = team_get_or_create(name=team_name)
    bot = Bot.objects.create(
        name=name, team=team, callback_url=callback_url, scopes=_check_scopes(scopes or ["general"])
    )
    bot.allowed_teams.add(team)
    secret = new_secret()
    BotSecret.objects.create(bot=bot, secret=secret)
    return bot, secret


@transaction.atomic
def bot_rotate_secret(*, bot: Bot, overlap: timedelta = ROTATION_OVERLAP) -> str:
    """Add a new secret; the current ones stay valid for ``overlap`` so the bot can switch without loss."""
    now = timezone.now()
    BotSecret.objects.filter(bot=bot).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now + overlap)
    ).update(expires_at=now + overlap)
    secret = new_secret()
    BotSecret.objects.create(bot=bot, secret=secret)
    return secret


def bot_authenticate(*, bot_id: str, body: bytes, headers: Mapping[str, str]) -> tuple[Bot, str]:
    """The bot that signed this request, and the request's webhook-id; NotAuthenticated otherwise.

    An unknown or inactive bot is checked against no secret and fails exactly like a wrong signature,
    so bot ids cannot be enumerated.
    """
    try:
        body.decode()
    except UnicodeDecodeError:
        # JSON is UTF-8; such a body cannot be an event whoever signed it (and the signing library
        # only takes text), so it is rejected as malformed before the signature is looked at.
        raise MalformedJson("The body is not UTF-8 encoded JSON.") from None
    # One query for the bot and its active secrets: this runs on every request of the busiest path.
    active = list(
        BotSecret.objects.select_related("bot")
        .filter(bot__bot_id=bot_id, bot__is_active=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .order_by("-created_at")[:2]
    )
    bot = active[0].bot if active else None
    try:
        webhook_id = verify(body, headers, [row.secret for row in active])
    except SignatureError as exc:
        raise NotAuthenticated(str(exc)) from None
    assert bot is not None
    return bot, webhook_id


def team_set_scopes(*, team: Team, scopes: list[str]) -> Team:
    team.scopes = _check_scopes(scopes)
    team.save(update_fields=["scopes", "updated_at"])
    return team
