"""People: agents and supervisors, and their API tokens."""

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from handoffs.errors import Conflict
from handoffs.models import AgentProfile, ApiToken
from handoffs.services.bots import team_get_or_create


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
