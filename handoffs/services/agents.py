"""People: agents and supervisors, and their API tokens."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from handoffs.broadcast import floor_changed_on_commit
from handoffs.errors import Conflict, InvalidInput
from handoffs.models import AgentProfile, ApiToken
from handoffs.services.bots import team_get_or_create

# last_used_at is informative; refresh it at most this often so reads do not write on every request.
TOKEN_TOUCH_INTERVAL = timedelta(minutes=5)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def agent_create(
    *,
    username: str,
    team_name: str,
    skills: list[str],
    languages: list[str],
    supervisor: bool = False,
    password: str | None = None,
    display_name: str = "",
) -> tuple[AgentProfile, str]:
    """Create a person in a team (created if missing); return the profile and the password."""
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise Conflict(f"A user named {username!r} already exists.", code="user_exists")
    password = password or secrets.token_urlsafe(12)
    user = user_model.objects.create_user(username=username, password=password)
    profile = AgentProfile.objects.create(
        user=user, skills=skills, languages=languages, is_supervisor=supervisor, display_name=display_name
    )
    profile.teams.add(team_get_or_create(name=team_name))
    return profile, password


def api_token_create(*, user: User) -> str:
    """A new API token for ``user``; only its digest is stored, so this is the one time it is seen."""
    token = "wl_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, digest=token_digest(token), prefix=token[:10])
    return token


def agent_for_token(*, token: str) -> AgentProfile | None:
    """The active person holding this API token, or None."""
    stored = (
        ApiToken.objects.select_related("user__agent")
        .filter(digest=token_digest(token), user__is_active=True)
        .first()
    )
    if stored is None:
        return None
    profile = getattr(stored.user, "agent", None)
    if profile is None:
        return None
    now = timezone.now()
    if stored.last_used_at is None or now - stored.last_used_at > TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=stored.pk).update(last_used_at=now)
    return profile


def team_scopes(profile: AgentProfile) -> set[str]:
    """Self-model scopes a person may read and write: the union of their teams' grants."""
    return {scope for team in profile.teams.all() for scope in team.scopes}


# --- presence -------------------------------------------------------------------------------------


def agent_presence_set(*, agent: AgentProfile, presence: str) -> AgentProfile:
    """Available or away, as the person says; "offline" is only ever inferred (see agent_seen)."""
    if presence not in (AgentProfile.Presence.AVAILABLE, AgentProfile.Presence.AWAY):
        raise InvalidInput(
            "Presence is available or away.", errors=[{"loc": ["body", "presence"], "msg": "invalid"}]
        )
    now = timezone.now()
    AgentProfile.objects.filter(pk=agent.pk).update(presence=presence, last_seen_at=now, updated_at=now)
    agent.presence, agent.last_seen_at = presence, now
    _floors_changed([agent.pk])
    if presence == AgentProfile.Presence.AWAY:
        from handoffs.services.routing import offers_withdraw

        # After the caller's transaction (at once without one): withdrawing locks each offered handoff, and
        # a caller that already holds agent profiles (a shift handover) would take a handoff after a
        # profile, the reverse of the house order, and deadlock with an offer expiring meanwhile.
        user_id = agent.user_id
        transaction.on_commit(lambda: offers_withdraw(user_id=user_id))
    return agent


def agent_seen(*, agent_id: int) -> None:
    """A console socket of this person is open: they are here. Offline people come back as available."""
    now = timezone.now()
    AgentProfile.objects.filter(pk=agent_id).update(last_seen_at=now)
    back = AgentProfile.objects.filter(pk=agent_id, presence=AgentProfile.Presence.OFFLINE).update(
        presence=AgentProfile.Presence.AVAILABLE, updated_at=now
    )
    if back:
        _floors_changed([agent_id])


def agents_mark_absent_offline() -> int:
    """People whose every console socket has been gone for a while are offline (beat task)."""
    from handoffs.services.routing import offers_withdraw

    cutoff = timezone.now() - timedelta(seconds=settings.WARMLINE["PRESENCE_STALE_SECONDS"])
    absent = list(
        AgentProfile.objects.exclude(presence=AgentProfile.Presence.OFFLINE)
        .filter(Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True))
        .values_list("pk", "user_id")
    )
    AgentProfile.objects.filter(pk__in=[pk for pk, _ in absent]).update(
        presence=AgentProfile.Presence.OFFLINE, updated_at=timezone.now()
    )
    for _, user_id in absent:
        offers_withdraw(user_id=user_id)  # their offers move on at once
    if absent:
        _floors_changed([pk for pk, _ in absent])
    return len(absent)


def _floors_changed(profile_ids: list[int]) -> None:
    """These people's presence changed: the floors of their teams show it (after the commit)."""
    memberships = AgentProfile.teams.through.objects.filter(agentprofile_id__in=profile_ids)
    floor_changed_on_commit(memberships.values_list("team_id", flat=True))
