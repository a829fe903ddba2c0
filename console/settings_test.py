"""Test override: the same settings, with a fixed test key and a fast password hasher."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-deployment-0123456789-abcdefghij")


def _per_worker_redis(url: str, worker: str) -> str:
    """pytest-xdist workers each get their own Redis database (gw0 → the given one, gw1 → the next, …),
    so one worker flushing or filling its channel layer never disturbs another's tests."""
    base, _, db = url.rpartition("/")
    if not worker.startswith("gw") or not db.isdigit():
        return url
    return f"{base}/{(int(db) + int(worker[2:])) % 16}"


if os.environ.get("REDIS_URL") and os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["REDIS_URL"] = _per_worker_redis(os.environ["REDIS_URL"], os.environ["PYTEST_XDIST_WORKER"])

from console.settings import *  # noqa: F403, E402 - after the environment above is settled

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# The test client speaks plain HTTP; production keeps the redirect (see settings.py).
SECURE_SSL_REDIRECT = False
# The websocket Origin check reads ALLOWED_HOSTS when routing is imported, before the test runner would
# add "testserver"; browser tests serve on 127.0.0.1.
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
# Browser tests sign the same personas in many times a minute; the limit itself is tested with its own
# override (tests/console/test_rate_limits.py).
WARMLINE_RATE_LIMITS = {**WARMLINE_RATE_LIMITS, "login": "1000/m"}  # noqa: F405
