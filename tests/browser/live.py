"""A real Warmline for the browser: daphne and a Celery worker as subprocesses, a signed HTTP bot, and
headless Chromium. Shared by the browser tests (tests/browser/conftest.py) and ``make screenshots``.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]
# Not passed on to the servers: they choose their own database and Redis, and run in a plain sync context.
# PYTEST_XDIST_WORKER too: the REDIS_URL they are given is already this worker's (console.settings_test), and
# with the worker's name the servers' settings shifted it once more, so pushes sent from the test process
# (gw1: db R+1) never reached the pages the server's sockets fed (db R+2).
DROPPED_ENV = (
    "REDIS_URL",
    "DATABASE_URL",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
    "DJANGO_SETTINGS_MODULE",
    "PYTEST_XDIST_WORKER",
)
PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's


def chromium_path() -> str | None:
    """The system Chromium (``make browser`` installs Debian's package), or None when there is none."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url(settings_dict: Mapping[str, Any]) -> str:
    """A DATABASE_URL for the database Django is connected to (the test database, under pytest)."""
    engine, name = settings_dict["ENGINE"], settings_dict["NAME"]
    if engine.endswith("sqlite3"):
        if not name or str(name).startswith(":memory:") or "mode=memory" in str(name):
            raise RuntimeError("an in-memory SQLite database cannot be shared with a server process")
        return f"sqlite:///{Path(name).resolve()}"
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{auth}{settings_dict.get('HOST') or '127.0.0.1'}{port}/{name}"


@dataclass
class Processes:
    """Subprocesses started by this module; each is stopped by its own pid, never by name."""

    started: list[tuple[subprocess.Popen, int]] = field(default_factory=list)

    def start(
        self, args: list[str], env: dict[str, str], log: Path, stop_signal: int = signal.SIGTERM
    ) -> subprocess.Popen:
        handle = log.open("wb")
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()
        self.started.append((process, stop_signal))
        return process

    def stop(self) -> None:
        for process, stop_signal in self.started:
            if process.poll() is None:
                process.send_signal(stop_signal)
        deadline = time.monotonic() + 5
        for process, _ in self.started:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@dataclass
class Server:
    url: str
    env: dict[str, str]
    logs: Path

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _env(database: str, redis: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    env |= {
        "DJANGO_SETTINGS_MODULE": "console.settings_test",
        "DATABASE_URL": database,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
    }
    if redis:
        env["REDIS_URL"] = redis
    return env


@contextmanager
def serve(*, database: str, redis: str | None, logs: Path, worker: bool = True) -> Iterator[Server]:
    """daphne on a free port and, with Redis, a Celery worker (callbacks, the preparation timer).

    Without Redis the server runs the embedded configuration: tasks on timer threads of its own process.
    """
    logs.mkdir(parents=True, exist_ok=True)
    if redis:
        # A new world starts from an empty broker: an earlier world's worker, stopped cold, leaves its
        # queued timers (take-back offers, reply deadlines) behind, and a new worker would spend its
        # prefetch on them, for handoffs of a database that no longer has them.
        import redis as redis_client

        redis_client.Redis.from_url(redis).flushdb()
    env = _env(database, redis)
    port = free_port()
    processes = Processes()
    try:
        daphne = processes.start(
            [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(port), "console.asgi:application"],
            env,
            logs / "daphne.log",
        )
        celery = None
        if redis and worker:
            celery = processes.start(
                [
                    str(BIN / "celery"),
                    "-A",
                    "console",
                    "worker",
                    "--pool=threads",
                    "--concurrency=4",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    f"--hostname=browser-{uuid.uuid4().hex[:8]}@%h",
                ],
                env,
                logs / "celery.log",
                # Cold shutdown: nothing it holds matters once the tests are over (a warm one waits seconds).
                stop_signal=signal.SIGQUIT,
            )
        server = Server(url=f"http://127.0.0.1:{port}", env=env, logs=logs)
        _wait_healthy(server, daphne)
        if celery is not None:
            _wait_worker(server, celery)
        yield server
    finally:
        processes.stop()


def _wait_healthy(server: Server, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{server.log('daphne')}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"daphne did not become healthy in {timeout:.0f} s:\n{server.log('daphne')}")


def _wait_worker(server: Server, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Until the worker consumes from its queue (it logs ``ready`` at INFO)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Celery worker exited with {process.returncode}:\n{server.log('celery')}")
        if " ready." in server.log("celery"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"the Celery worker was not ready in {timeout:.0f} s:\n{server.log('celery')}")


@dataclass
class LiveBot:
    """A bot integration talking to the live server over HTTP, each request signed (Standard Webhooks)."""

    base_url: str
    bot_id: str
    secret: str

    def post(self, payload: Any) -> httpx.Response:
        from handoffs.signing import sign

        body = json.dumps(payload)
        headers = sign(body, secret=self.secret, webhook_id=f"msg_{uuid.uuid4().hex}")
        return httpx.post(
            f"{self.base_url}/api/v1/bots/{self.bot_id}/events",
            content=body,
            headers={**headers, "content-type": "application/json"},
            timeout=10,
        )

    def send(self, *events: dict[str, Any]) -> httpx.Response:
        """Events in one all-or-nothing batch; raises unless the server took them."""
        response = self.post(events[0] if len(events) == 1 else {"events": list(events)})
        if response.status_code not in (200, 201):
            raise AssertionError(f"{response.status_code}: {response.text}")
        return response

    def escalate(self, conversation: str, **data: Any) -> str:
        fields = {"reason": "Customer asked for a person", "reason_code": "customer_request", **data}
        response = self.send({"type": "escalation", "conversation_id": conversation, "data": fields})
        return response.json()["handoff"]["id"]


@contextmanager
def browser() -> Iterator[Any]:
    """Headless system Chromium through Playwright."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise RuntimeError("Chromium is not installed (make browser)")
    with ExitStack() as stack:
        playwright = stack.enter_context(sync_playwright())
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        stack.callback(chromium.close)
        yield chromium


def sign_in(context: Any, base_url: str, username: str, password: str = PASSWORD) -> Any:
    """Sign in through the login form, as a person would; returns the page, left on the queue."""
    page = context.new_page()
    page.goto(f"{base_url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/")
    return page
