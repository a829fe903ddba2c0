"""Test override: the same settings, with a fixed test key and a fast password hasher."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-deployment-0123456789-abcdefghij")

from console.settings import *  # noqa: F403

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
