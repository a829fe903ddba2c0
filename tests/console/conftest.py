import pytest
from django.conf import settings
from django.test import Client


@pytest.fixture
def login():
    """A browser session for a persona (Django's test client, signed in)."""

    def make(profile, *, enforce_csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=enforce_csrf)
        client.force_login(profile.user)
        return client

    return make


@pytest.fixture
def session_headers(login):
    """Headers a signed-in browser sends on a websocket upgrade: its session cookie and its Origin."""

    def make(profile, *, origin: str = "http://testserver") -> list[tuple[bytes, bytes]]:
        client = login(profile)
        cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
        return [(b"cookie", cookie.encode()), (b"origin", origin.encode()), (b"host", b"testserver")]

    return make
