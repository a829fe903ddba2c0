"""The processes under test: daphne servers and Celery workers, each in its own process group so that
stopping one stops all it spawned, and so that its CPU time and memory are those of the whole group."""

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.stack import ROOT

DAPHNE = ROOT / ".venv" / "bin" / "daphne"
CELERY = ROOT / ".venv" / "bin" / "celery"
LOG_DIR = Path("/tmp/warmline-bench")  # noqa: S108 - server logs for humans to read, not secrets
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _group_pids(pgid: int) -> list[int]:
    """The processes of one process group (a worker's pool children included)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # it ended meanwhile
        if int(fields[2]) == pgid:  # state, ppid, pgrp
            pids.append(int(stat.parent.name))
    return pids


def _cpu_seconds(pid: int) -> float:
    # utime + stime of the process (fields 14 and 15 of /proc/pid/stat, after the "(comm)" field).
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Process:
    """One product process started in its own session; ``command`` and ``wait_ready`` say which."""

    label: str
    env: dict[str, str]
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def __post_init__(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.log_path = LOG_DIR / f"{stamp}-{self.label}-{self.log_suffix()}.log"

    def log_suffix(self) -> str:
        return uuid.uuid4().hex[:6]

    def command(self) -> list[str]:
        raise NotImplementedError

    def wait_ready(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches any child it forks
        )
        self.wait_ready()

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise ServerError(f"{self.label} exited with {self.process.returncode}:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """CPU time of the whole process group so far (a worker's pool children do its work)."""
        if self.process is None:
            return 0.0
        return sum(_cpu_seconds(pid) for pid in _group_pids(self.process.pid))

    def rss_bytes(self) -> int:
        """Resident memory of the whole process group now."""
        if self.process is None:
            return 0
        return sum(_rss_bytes(pid) for pid in _group_pids(self.process.pid))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def log_problems(self) -> list[str]:
        """Lines of the log that point at errors (tracebacks, ERROR/CRITICAL log records)."""
        markers = ("Traceback", " ERROR ", " CRITICAL ", "Exception")
        return [line for line in self.log_text().splitlines() if any(marker in line for marker in markers)]


@dataclass
class Server(Process):
    app: str = "console.asgi:application"
    port: int = field(default_factory=free_port)

    def log_suffix(self) -> str:
        return str(self.port)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        return [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), self.app]

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            self.check_alive()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise ServerError(
            f"{self.label} not listening on {self.port} after {READY_TIMEOUT:.0f}s:\n{self.log_tail()}"
        )


@dataclass
class Worker(Process):
    """A Celery worker (prefork, as deployed) on the stack's Redis; ready once it answers a ping."""

    broker_url: str = ""
    concurrency: int = 2
    include: tuple[str, ...] = ()  # extra task modules (a benchmark's baseline tasks)
    hostname: str = field(default_factory=lambda: f"bench-{uuid.uuid4().hex[:8]}@{socket.gethostname()}")

    def command(self) -> list[str]:
        return [
            str(CELERY),
            "-A",
            "console",
            "worker",
            "--pool=prefork",
            f"--concurrency={self.concurrency}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname={self.hostname}",
            *(f"--include={module}" for module in self.include),
        ]

    def wait_ready(self) -> None:
        from celery import Celery

        app = Celery("bench", broker=self.broker_url, set_as_current=False)  # the product's app stays out
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while time.monotonic() < deadline:
                self.check_alive()
                if app.control.ping(destination=[self.hostname], timeout=1.0):
                    return
            raise ServerError(
                f"{self.label} did not answer a ping in {READY_TIMEOUT:.0f}s:\n{self.log_tail()}"
            )
        finally:
            app.close()


class Servers:
    """Every process started in this run, so that one ``stop_all`` in a ``finally`` ends them all."""

    def __init__(self) -> None:
        self.started: list[Process] = []

    def start(self, label: str, env: dict[str, str]) -> Server:
        server = Server(label=label, env=env)
        self.started.append(server)
        server.start()
        return server

    def start_worker(
        self, label: str, env: dict[str, str], *, concurrency: int = 2, include: tuple[str, ...] = ()
    ) -> Worker:
        worker = Worker(
            label=label, env=env, broker_url=env["REDIS_URL"], concurrency=concurrency, include=include
        )
        self.started.append(worker)
        worker.start()
        return worker

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()
