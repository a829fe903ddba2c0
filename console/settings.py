"""Warmline settings, read from the environment (see README, "Configuration").

Two shapes of deployment share this one module:
- embedded default (no DATABASE_URL / REDIS_URL): SQLite in the project folder, the in-memory channel
  layer and Celery tasks run in-process, so ``make demo`` needs nothing installed;
- production-like: PostgreSQL through psycopg's pool, Redis for channels, cache and Celery.
"""

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from console.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

_secret_key = env_str("SECRET_KEY")
if _secret_key is None:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (or use SECRET_KEY_FILE).")
    _secret_key = "django-insecure-warmline-local-development-only-do-not-deploy"  # noqa: S105
SECRET_KEY: str = _secret_key

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "ninja",
    "handoffs",
    "console.apps.ConsoleConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # PostgreSQL unreachable: a 503 with Retry-After instead of a 500 (the API has its own handler).
    "console.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "console.urls"
ASGI_APPLICATION = "console.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'warmline.sqlite3'}"
_database = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
if _database["ENGINE"] == "django.db.backends.postgresql":
    # Under ASGI every request may run on a different thread; persistent connections would leak one
    # per thread. psycopg's pool bounds them instead (Django >= 5.1); CONN_MAX_AGE must stay 0.
    # Our backend is Django's with each pooled connection checked as a request takes it, so that the
    # connections a PostgreSQL restart broke are replaced at once, not failed on (console/postgresql).
    _database["ENGINE"] = "console.postgresql"
    _database.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 2),
        "max_size": env_int("DATABASE_POOL_MAX", 20),
        "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        # While PostgreSQL is down the pool retries a connection with a doubling back-off (1, 2, 4, 8 s,
        # ...) for reconnect_timeout (5 min by default), and while such a retry is pending the pool grows
        # no other: after the server is back, requests failed until the next retry came due (16 s after a
        # 15 s outage). Giving up after 2 s lets the next request that waits start a fresh attempt at once.
        "reconnect_timeout": 2,
    }
elif _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the demo's web process read while the simulator writes; busy timeout absorbs contention.
    _database.setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: channel layer, cache, Celery ----------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # No socket read timeout: channels_redis blocks up to 5 s waiting for a message, and redis-py 8's
            # default 5 s timeout would otherwise drop idle consoles (channels_redis#422).
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": None}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = False
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CELERY_BROKER_URL = "memory://"
    # Embedded default: tasks run in-process, right after the transaction that enqueued them commits.
    CELERY_TASK_ALWAYS_EAGER = True

CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 20
CELERY_TASK_TIME_LIMIT = 30
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE = {
    "prune-inbound-requests": {"task": "handoffs.tasks.prune_inbound_requests", "schedule": 3600.0},
    # Safety nets behind the per-item timers: a lost task never strands a customer or a callback.
    "connect-overdue-handoffs": {"task": "handoffs.tasks.connect_overdue_handoffs", "schedule": 5.0},
    "sweep-routing-timers": {"task": "handoffs.tasks.sweep_routing_timers", "schedule": 10.0},
    # Every 5 s: with the short lease, a worker killed mid-callback holds its line up for ~15-20 s, not 90.
    "deliver-due-callbacks": {"task": "handoffs.tasks.deliver_due_callbacks", "schedule": 5.0},
    "resend-pending-tasks": {"task": "handoffs.tasks.resend_pending_tasks", "schedule": 30.0},
    "mark-absent-agents-offline": {"task": "handoffs.tasks.mark_absent_agents_offline", "schedule": 60.0},
    "mark-overdue-commitments": {"task": "handoffs.tasks.mark_overdue_commitments", "schedule": 300.0},
}

# --- Auth -----------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N / time ----------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# In development files come from the finders on each request; no collectstatic needed.
WHITENOISE_AUTOREFRESH = DEBUG

# --- Request limits -------------------------------------------------------------------------------
# The API contract caps bodies at 256 KiB (413 above); Django raises RequestDataTooBig past this.
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# --- Security -------------------------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Scripts only from our own static files: no inline scripts, no eval, no third-party origins. Inline style
# attributes stay allowed (SVG charts position with them); they cannot run code.
# A rate limit the cache cannot check lets the request through (handoffs.ratelimits).
RATELIMIT_FAIL_OPEN = True
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env_bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Warmline -------------------------------------------------------------------------------------
WARMLINE = {
    # Standard Webhooks tolerance for webhook-timestamp, in seconds (spec: 300).
    "SIGNATURE_TOLERANCE_SECONDS": 300,
    # How long an applied webhook-id is remembered for idempotent replay (spec: at least 24 h).
    "IDEMPOTENCY_RETENTION_HOURS": env_int("WARMLINE_IDEMPOTENCY_RETENTION_HOURS", 48),
    # Expected wait per queue position when a team has no recent history yet.
    "WAIT_PRIOR_SECONDS_PER_POSITION": 60,
    "MAX_EVENTS_PER_BATCH": 100,
    # Callbacks to bots: per-attempt timeout, and how long a failing delivery is retried (spec: ≥ 24 h).
    "CALLBACK_TIMEOUT_SECONDS": env_int("WARMLINE_CALLBACK_TIMEOUT_SECONDS", 5),
    "CALLBACK_RETRY_HOURS": env_int("WARMLINE_CALLBACK_RETRY_HOURS", 25),
    # A callback sent over the bot's websocket counts as failed (and is retried) without an ack in this time.
    "CALLBACK_ACK_TIMEOUT_SECONDS": env_int("WARMLINE_CALLBACK_ACK_TIMEOUT_SECONDS", 10),
    # A durable task (handoffs.scheduling) that could not be queued, or whose run failed, is sent again
    # after this long; one queued (maybe behind a backlog) or running, only after the STALLED time.
    "PENDING_TASK_RESEND_SECONDS": env_int("WARMLINE_PENDING_TASK_RESEND_SECONDS", 60),
    "PENDING_TASK_STALLED_SECONDS": env_int("WARMLINE_PENDING_TASK_STALLED_SECONDS", 1800),
    # Presence: an agent with no open console socket for this long reads as offline.
    "PRESENCE_STALE_SECONDS": 90,
}

# Requests per fixed window ("N/s", "N/m", "N/h") per bot, per username signing in, per widget
# conversation; "off" turns a limit off (handoffs.ratelimits).
WARMLINE_RATE_LIMITS = {
    "bot": env_str("WARMLINE_RATE_BOT", "6000/m"),
    "login": env_str("WARMLINE_RATE_LOGIN", "10/m"),
    "widget": env_str("WARMLINE_RATE_WIDGET", "30/m"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # daphne's access log would print every request path; keep it at warnings.
        "daphne": {"level": "WARNING"},
        "django.channels.server": {"level": "WARNING"},
        # httpx logs every callback URL at INFO; a bot's URL may carry its own token. Attempts are recorded
        # (without the URL) on OutboundDelivery instead.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
