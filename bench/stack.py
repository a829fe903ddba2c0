"""The stack a benchmark runs on: a dedicated PostgreSQL database, one Redis db, a bot, the server env.

Only the database named ``warmline_bench`` is ever dropped, and only the Redis db number given in
REDIS_URL is flushed: a developer's own data never gets touched by a benchmark.
"""

import json
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
from psycopg import sql

from bench.baseline_urls import BASELINE_TABLE

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "warmline_bench"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/warmline"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
# Settings read from the environment that the benchmark pins; a *_FILE twin would override them.
PINNED = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_SSL_REDIRECT",
    "LOG_LEVEL",
)


class StackError(RuntimeError):
    pass


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    if not parts.scheme.startswith("postgres"):
        raise StackError(f"DATABASE_URL must be a PostgreSQL URL, got scheme {parts.scheme!r}")
    return urlunsplit(parts._replace(path=f"/{name}"))


def redis_db_number(url: str) -> int:
    # An implicit db 0 is most likely someone's real data: insist on an explicit number to flush.
    path = urlsplit(url).path.strip("/")
    if not path.isdigit():
        raise StackError(f"REDIS_URL must name a db number to flush (e.g. redis://host:6379/9), got {url!r}")
    return int(path)


@dataclass(frozen=True)
class Bot:
    bot_id: str
    secret: str


@dataclass
class Stack:
    database_url: str
    admin_url: str
    redis_url: str
    secret_key: str
    bot: Bot | None = None
    _lock: psycopg.Connection[tuple[object, ...]] | None = None

    @classmethod
    def from_environment(cls) -> "Stack":
        source = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
        redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
        redis_db_number(redis_url)
        return cls(
            database_url=with_database(source, BENCH_DB),
            admin_url=with_database(source, "postgres"),
            redis_url=redis_url,
            secret_key=secrets.token_urlsafe(64),
        )

    def server_env(self, *, settings: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key.removesuffix("_FILE") not in PINNED}
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            SECRET_KEY=self.secret_key,
            DEBUG="0",
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_SSL_REDIRECT="0",
            LOG_LEVEL="WARNING",
            DJANGO_SETTINGS_MODULE=settings,
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
            # The benches measure throughput: the per-bot rate limit would cap it (it is tested instead).
            WARMLINE_RATE_BOT="off",
        )
        env.update(extra or {})
        return env

    # --- setup ------------------------------------------------------------------------------------

    def acquire(self) -> None:
        """Hold a session advisory lock for the whole run: a second run would drop this one's database."""
        self._lock = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)
        row = self._lock.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (BENCH_DB,)).fetchone()
        if not (row and row[0]):
            self.release()
            raise StackError("another benchmark run holds warmline_bench; wait for it to finish")

    def release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # ends the session, and with it the advisory lock
            self._lock = None

    def prepare(self) -> None:
        self.recreate_database()
        self.flush_redis()
        self.manage("migrate", "--noinput")
        self.create_baseline_table()
        out = self.manage("create_bot", "BenchBot", "--team", "Bench", "--json")
        created = json.loads(out.strip().splitlines()[-1])
        self.bot = Bot(bot_id=created["bot_id"], secret=created["secret"])

    def recreate_database(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            # FORCE ends sessions a crashed earlier run may have left behind.
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(BENCH_DB)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(BENCH_DB)))

    def flush_redis(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=10)
        try:
            client.flushdb()
        finally:
            client.close()

    def manage(self, *args: str, timeout: float = 300) -> str:
        return self.python("manage.py", *args, timeout=timeout)

    def python(self, *args: str, timeout: float = 300) -> str:
        """``python *args`` in the project with the servers' settings; its output, or StackError."""
        result = subprocess.run(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.server_env(settings="console.settings"),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"{' '.join(args[:2])} failed:\n{result.stdout[-2000:]}{result.stderr[-4000:]}")
        return result.stdout

    def create_baseline_table(self) -> None:
        self.execute(f"CREATE TABLE {BASELINE_TABLE} (id bigserial PRIMARY KEY, body text NOT NULL)")

    # --- queries ----------------------------------------------------------------------------------

    def execute(self, statement: str, params: tuple[object, ...] = ()) -> None:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement, params)

    def query(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url, autocommit=True, connect_timeout=10) as conn:
            return conn.execute(statement, params).fetchall()

    def quiesce(self) -> None:
        # Flush dirty pages now so a checkpoint does not land in the middle of the next timed window.
        self.execute("CHECKPOINT")
