"""Real processes for the fault tests, each one private to the test run and stopped by its own pid.

- ``PrivatePostgres``: a throwaway cluster (initdb + pg_ctl) on a free port in a temp directory, never the
  machine's shared server; as root, the cluster is run by the ``postgres`` system user (initdb refuses root).
- ``PrivateRedis``: ``redis-server`` on a free port without persistence (a restart loses everything, as a
  crashed Redis without a disk would).
- ``Daphne`` and ``Worker``: the product's own web process and a prefork Celery worker on those two.
- ``WebSocket``: a small RFC 6455 client on the standard library (the test needs to see exactly which frame
  comes first after a reconnect, and nothing outside the project's dependencies is assumed).
"""

import base64
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# The servers choose their own database and Redis; nothing of the pytest process's configuration leaks in.
DROPPED_ENV = ("REDIS_URL", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(check: Callable[[], Any], *, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path, chars: int = 4000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"


# --- PostgreSQL -----------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl (Debian keeps them out of PATH), newest version first."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name),
        reverse=True,
    )
    return found[0].parent if found else None


def postgres_runner() -> list[str] | None:
    """The command prefix that runs the cluster: nothing as a normal user; as root, the postgres user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", "postgres", "--"]
    return None


@dataclass
class PrivatePostgres:
    bindir: Path
    runner: list[str]
    base: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    def url(self, database: str = "warmline") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 60) -> None:
        result = subprocess.run(
            [*self.runner, *args], capture_output=True, text=True, timeout=timeout, cwd=self.base
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed: {result.stdout}{result.stderr}\n{_tail(self.log)}"
            )

    def init(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-o",
            options,
            "-w",
            "start",
        )

    def running(self) -> bool:
        status = subprocess.run(
            [*self.runner, str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"],
            capture_output=True,
            timeout=30,
            cwd=self.base,
        )
        return status.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends every session (in-flight queries fail); ``immediate`` is a crash (recovery on start)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def execute(self, sql: str, params: tuple[Any, ...] = (), *, database: str = "warmline") -> list[tuple]:
        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=5) as conn:
            cursor = conn.execute(sql, params)  # type: ignore[arg-type]
            return cursor.fetchall() if cursor.description else []

    def scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        return self.execute(sql, params)[0][0]


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    bindir = postgres_bin()
    if bindir is None:
        raise LookupError("no PostgreSQL server binaries (initdb, pg_ctl) are installed")
    runner = postgres_runner()
    if runner is None:
        raise LookupError("running as root without a 'postgres' user and runuser: initdb refuses root")
    base = Path(tempfile.mkdtemp(prefix="warmline-faults-pg-"))
    if runner:
        account = pwd.getpwnam("postgres")
        os.chown(base, account.pw_uid, account.pw_gid)
    server = PrivatePostgres(bindir=bindir, runner=runner, base=base)
    try:
        server.init()
        server.start()
        server.execute("CREATE DATABASE warmline", database="postgres")
        yield server
    finally:
        with contextlib.suppress(Exception):
            server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


# --- Redis ----------------------------------------------------------------------------------------


@dataclass
class PrivateRedis:
    logs: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.logs / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(self.answers, timeout=10, what=f"redis-server on port {self.port}")

    def answers(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{_tail(self.logs / 'redis.log')}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """SIGKILL: Redis vanishes the way a crashed or OOM-killed one does, with nothing saved."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None


# --- the product's processes ----------------------------------------------------------------------


def product_env(*, database: str, redis: str, **extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in DROPPED_ENV}
    return env | {
        "DJANGO_SETTINGS_MODULE": "console.settings_test",
        "DATABASE_URL": database,
        "REDIS_URL": redis,
        # daphne and celery are console scripts: without this they would import whichever checkout the
        # virtualenv was installed from, not this one.
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "WARNING",
        **extra,
    }


def manage(*args: str, env: dict[str, str], timeout: float = 120) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


@dataclass
class Managed:
    """One product process: started in its own session, stopped or killed by its pid (and its group)."""

    name: str
    args: list[str]
    env: dict[str, str]
    logs: Path
    process: subprocess.Popen | None = None
    log_offset: int = 0  # where this run's output starts in the log (a restart appends)

    @property
    def log_path(self) -> Path:
        return self.logs / f"{self.name}.log"

    def log(self) -> str:
        return _tail(self.log_path, 20000)

    def run_log(self) -> str:
        """What the current run has logged so far."""
        with self.log_path.open("rb") as handle:
            handle.seek(self.log_offset)
            return handle.read().decode(errors="replace")

    def spawn(self) -> None:
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        handle = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
        handle.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL to the process and every child it started (its own process group)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def start(self) -> None:
        self.spawn()
        self.wait_ready()

    def wait_ready(self) -> None:
        raise NotImplementedError


class Daphne(Managed):
    def __init__(self, *, env: dict[str, str], logs: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        super().__init__(
            name="daphne",
            args=[str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "console.asgi:application"],
            env=env,
            logs=logs,
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self) -> None:
        def healthy() -> bool:
            self.check_alive()
            try:
                return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=30, what="daphne to answer /healthz", interval=0.1)


class Worker(Managed):
    def __init__(self, *, env: dict[str, str], logs: Path, name: str = "worker") -> None:
        super().__init__(
            name=name,
            args=[
                str(BIN / "celery"),
                "-A",
                "console",
                "worker",
                "--pool=prefork",
                "--concurrency=1",
                "--loglevel=INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--hostname=faults-{uuid.uuid4().hex[:8]}@%h",
            ],
            env=env,
            logs=logs,
        )

    def wait_ready(self) -> None:
        def ready() -> bool:
            self.check_alive()
            return " ready." in self.run_log()

        wait_until(ready, timeout=30, what="the Celery worker to be ready", interval=0.1)

    def children(self) -> list[int]:
        """The pool's processes (the ones that run tasks)."""
        assert self.process is not None
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []


class Beat(Managed):
    """``celery beat`` with the product's schedule (its schedule file in the test's log directory), so the
    periodic sweeps run as they do in production."""

    def __init__(self, *, env: dict[str, str], logs: Path) -> None:
        super().__init__(
            name="beat",
            args=[
                str(BIN / "celery"),
                "-A",
                "console",
                "beat",
                "--loglevel=INFO",
                f"--schedule={logs / 'beat-schedule'}",
            ],
            env=env,
            logs=logs,
        )

    def wait_ready(self) -> None:
        def ready() -> bool:
            self.check_alive()
            return "beat: Starting..." in self.run_log()

        wait_until(ready, timeout=30, what="celery beat to start", interval=0.1)


# --- clients --------------------------------------------------------------------------------------


@dataclass
class Bot:
    """A bot integration signing each request (Standard Webhooks), as a real one would."""

    base_url: str
    bot_id: str
    secret: str

    def post(self, payload: Any, *, webhook_id: str | None = None, timeout: float = 30) -> httpx.Response:
        from handoffs.signing import sign

        body = json.dumps(payload)
        headers = sign(body, secret=self.secret, webhook_id=webhook_id or f"msg_{uuid.uuid4().hex}")
        return httpx.post(
            f"{self.base_url}/api/v1/bots/{self.bot_id}/events",
            content=body,
            headers={**headers, "content-type": "application/json"},
            timeout=timeout,
        )

    def get(self, path: str, *, timeout: float = 30) -> httpx.Response:
        from handoffs.signing import sign

        headers = sign("", secret=self.secret, webhook_id=f"msg_{uuid.uuid4().hex}")
        return httpx.get(f"{self.base_url}/api/v1/bots/{self.bot_id}{path}", headers=headers, timeout=timeout)


def log_in(base_url: str, username: str, password: str) -> str:
    """Sign in through the console's login form (CSRF included); return the session cookie's value.

    The cookies are Secure (production settings), so they are carried by hand over this plain-HTTP test."""
    with httpx.Client(base_url=base_url, timeout=15) as client:
        page = client.get("/accounts/login/")
        page.raise_for_status()
        token = page.cookies["csrftoken"]
        response = client.post(
            "/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token},
            headers={"Cookie": f"csrftoken={token}"},
        )
        assert response.status_code == 302, (response.status_code, response.text[:500])
        return response.cookies["sessionid"]


class HandshakeRefused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"websocket handshake answered {status}")
        self.status = status


class WebSocket:
    """A websocket client: text frames in, close codes noted. Frames it sends are masked (RFC 6455 §5.3)."""

    def __init__(self, url: str, path: str, *, headers: dict[str, str] | None = None, timeout: float = 10):
        host, port = url.removeprefix("http://").split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.close_code: int | None = None
        self.closed = False
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {path} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in (headers or {}).items()),
        ]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.buffer = b""
        while b"\r\n\r\n" not in self.buffer:
            chunk = self.sock.recv(4096)
            if not chunk:
                self.sock.close()
                raise HandshakeRefused(0)
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            self.sock.close()
            raise HandshakeRefused(status)

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionResetError("the server went away")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 65536:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send_text(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self, timeout: float = 10) -> str | None:
        """The next text message; None once the connection is closed (by a close frame or the server dying).
        Raises TimeoutError when nothing arrives in time."""
        if self.closed:
            return None
        self.sock.settimeout(timeout)
        message = b""
        try:
            while True:
                first, second = self._read(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._read(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._read(8))
                payload = self._read(length)
                if opcode == 0x8:
                    self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                    self._finish()
                    return None
                if opcode == 0x9:
                    self._send_frame(0xA, payload)
                    continue
                if opcode in (0x1, 0x2, 0x0):
                    message += payload
                    if first & 0x80:
                        return message.decode()
        except TimeoutError:
            raise
        except OSError:
            self.close_code = self.close_code or 1006
            self._finish()
            return None

    def recv_until(self, predicate: Callable[[str], bool], timeout: float = 10) -> str:
        """Skip frames until one satisfies ``predicate``; fail if the socket closes or time runs out."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no matching frame in {timeout:.0f} s; saw {[s[:200] for s in seen]}")
            try:
                frame = self.recv(timeout=left)
            except TimeoutError:
                continue
            if frame is None:
                raise AssertionError(f"socket closed ({self.close_code}) before a matching frame; saw {seen}")
            if predicate(frame):
                return frame
            seen.append(frame)

    def _finish(self) -> None:
        self.closed = True
        with contextlib.suppress(OSError):
            self.sock.close()

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(OSError):
                self._send_frame(0x8, struct.pack("!H", 1000))
            self._finish()


def console_socket(base_url: str, path: str, session: str, *, timeout: float = 10) -> WebSocket:
    """A console socket as a signed-in browser opens it: the session cookie and the page's Origin."""
    return WebSocket(
        base_url, path, headers={"Cookie": f"sessionid={session}", "Origin": base_url}, timeout=timeout
    )
