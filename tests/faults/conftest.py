"""Fault tests: the real web process, Celery worker, PostgreSQL and Redis, started and stopped for real.

Nothing here touches the machine's shared servers (other test runs use them at the same time): every
test gets its own ``redis-server`` on a free port, and the run shares one private PostgreSQL cluster
(initdb + pg_ctl in a temp directory, migrated once). Processes are stopped by their own pids.

When this machine cannot run a private cluster (no server binaries, or root without a ``postgres`` user),
the tests fall back to a throwaway database on the configured server, and only the PostgreSQL restart
test is skipped, saying why.
"""

import contextlib
import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.faults import harness
from tests.faults.harness import Beat, Bot, Daphne, PrivatePostgres, PrivateRedis, Worker


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.slow)


# Teams seeded while migrating (one Django start-up for both); a test takes one, or seeds its own.
SEEDED_TEAMS = 6


@dataclass
class Database:
    url: str
    server: PrivatePostgres | None  # None: a throwaway database on a shared server (no restarts)
    skip_reason: str = ""
    seeded: list[dict[str, Any]] = field(default_factory=list)

    def execute(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.execute(sql, params)[0][0]


@contextlib.contextmanager
def _shared_server_database(reason: str) -> Iterator[Database]:
    from django.conf import settings

    default = settings.DATABASES["default"]
    if not default["ENGINE"].endswith("postgresql"):
        pytest.skip(f"fault tests need PostgreSQL: {reason}, and the configured database is not PostgreSQL")
    name = f"warmline_faults_{uuid.uuid4().hex[:10]}"
    admin = (
        f"postgres://{default.get('USER') or 'postgres'}@{default.get('HOST') or '127.0.0.1'}:"
        f"{default.get('PORT') or 5432}/postgres"
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield Database(url=admin.rsplit("/", 1)[0] + f"/{name}", server=None, skip_reason=reason)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def fault_database() -> Iterator[Database]:
    """One migrated database for the whole directory: a private cluster when this machine can run one."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(harness.private_postgres())
            database = Database(url=server.url(), server=server)
        except LookupError as error:
            database = stack.enter_context(_shared_server_database(str(error)))
        env = harness.product_env(database=database.url, redis="redis://127.0.0.1:1/0")
        names = [f"team{index}-{uuid.uuid4().hex[:6]}" for index in range(SEEDED_TEAMS)]
        database.seeded = seed_teams("--migrate", *names, env=env, timeout=300)
        yield database


def seed_teams(*args: str, env: dict[str, str], timeout: float = 60) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "tests.faults.seed", *args],
        cwd=harness.ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@dataclass
class World:
    """One test's Warmline: its own Redis, the shared private database, a seeded team, bot and agent."""

    database: Database
    redis: PrivateRedis
    logs: Path
    name: str
    env: dict[str, str] = field(default_factory=dict)
    seed: dict[str, Any] = field(default_factory=dict)
    processes: list[harness.Managed] = field(default_factory=list)
    daphne: Daphne | None = None
    worker: Worker | None = None

    def start(self, *, callback_url: str = "", worker: bool = False, **daphne_env: str) -> None:
        """Take a seeded team, bot and agent (the bot calling back to ``callback_url``), and start daphne
        (and a worker) side by side, as each spends most of its start-up importing Django."""
        self.seed = (
            self.database.seeded.pop() if self.database.seeded else seed_teams(self.name, env=self.env)[0]
        )
        if callback_url:
            self.database.execute(
                "UPDATE handoffs_bot SET callback_url = %s WHERE bot_id = %s",
                (callback_url, self.seed["bot_id"]),
            )
        self.daphne = Daphne(env=self.env | daphne_env, logs=self.logs)
        self.processes.append(self.daphne)
        self.daphne.spawn()
        started: list[harness.Managed] = [self.daphne]
        if worker:
            self.worker = self.add_worker(start=False)
            started.append(self.worker)
        for process in started:
            process.wait_ready()

    def add_beat(self) -> Beat:
        beat = Beat(env=self.env, logs=self.logs)
        self.processes.append(beat)
        beat.start()
        return beat

    def add_worker(self, name: str = "worker", *, start: bool = True) -> Worker:
        worker = Worker(env=self.env, logs=self.logs, name=name)
        self.processes.append(worker)
        worker.spawn()
        if start:
            worker.wait_ready()
        return worker

    @property
    def url(self) -> str:
        assert self.daphne is not None
        return self.daphne.url

    @property
    def bot(self) -> Bot:
        return Bot(base_url=self.url, bot_id=self.seed["bot_id"], secret=self.seed["secret"])

    def log_in(self) -> str:
        return harness.log_in(self.url, self.seed["username"], self.seed["password"])

    def turns(self, conversation: str, text: str | None = None) -> int:
        """Stored turns of one of this bot's conversations (optionally only those with ``text``)."""
        sql = (
            "SELECT count(*) FROM handoffs_turn t JOIN handoffs_conversation c ON c.id = t.conversation_id "
            "JOIN handoffs_bot b ON b.id = c.bot_id WHERE b.bot_id = %s AND c.external_id = %s"
        )
        params: tuple[Any, ...] = (self.seed["bot_id"], conversation)
        if text is not None:
            sql += " AND t.text = %s"
            params += (text,)
        return self.database.scalar(sql, params)

    def send_task(self, name: str, *args: Any) -> None:
        """Publish a task on this world's broker, as ``celery beat`` would (without waiting a period)."""
        from celery import Celery

        app = Celery("faults", broker=self.redis.url, set_as_current=False)  # the product's app stays current
        try:
            app.send_task(name, args=list(args))
        finally:
            app.close()

    def dump_logs(self) -> str:
        return "\n".join(f"--- {p.name} ---\n{p.log()[-6000:]}" for p in self.processes)


@pytest.fixture
def world(fault_database: Database, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (.ci/services installs it)")
    redis = PrivateRedis(logs=tmp_path)
    redis.start()
    name = f"{request.node.name[:30]}-{uuid.uuid4().hex[:6]}"
    found = World(database=fault_database, redis=redis, logs=tmp_path, name=name)
    found.env = harness.product_env(database=fault_database.url, redis=redis.url)
    try:
        yield found
    finally:
        for process in reversed(found.processes):
            process.kill()
        redis.stop()
        server = fault_database.server
        if server is not None and not server.running():
            server.start()  # a test that stopped it failed before starting it again; the next ones need it
        # Shown by pytest only when the test failed: what each process logged.
        print(found.dump_logs())
