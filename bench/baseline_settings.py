"""Settings of the baseline server: the real stack (middleware, database pool) with one trivial view."""

from console.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
