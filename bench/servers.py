"""daphne servers under test, each in its own process group so that stopping one stops all it spawned."""

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bench.stack import ROOT

DAPHNE = ROOT / ".venv" / "bin" / "daphne"
LOG_DIR = Path("/tmp/warmline-bench")  # noqa: S108 - server logs for humans to read, not secrets
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0


class ServerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_seconds(pid: int) -> float:
    # utime + stime of the process (fields 14 and 15 of /proc/pid/stat, after the "(comm)" field).
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    label: str
    env: dict[str, str]
    app: str = "console.asgi:application"
    port: int = field(default_factory=free_port)
    log_path: Path = field(init=False)
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def __post_init__(self) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S")
        self.log_path = LOG_DIR / f"{stamp}-{self.label}-{self.port}.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [str(DAPHNE), "-b", "127.0.0.1", "-p", str(self.port), self.app],
            cwd=ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: killpg reaches any child it forks
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise ServerError(f"{self.label} exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.1)
        raise ServerError(
            f"{self.label} not listening on {self.port} after {READY_TIMEOUT:.0f}s:\n{self.log_tail()}"
        )

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.process.pid) if self.process else 0.0

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
        """Lines of the server log that point at errors (tracebacks, ERROR/CRITICAL log records)."""
        markers = ("Traceback", " ERROR ", " CRITICAL ", "Exception")
        return [line for line in self.log_text().splitlines() if any(marker in line for marker in markers)]


class Servers:
    """Every server started in this run, so that one ``stop_all`` in a ``finally`` ends them all."""

    def __init__(self) -> None:
        self.started: list[Server] = []

    def start(self, label: str, env: dict[str, str]) -> Server:
        server = Server(label=label, env=env)
        self.started.append(server)
        server.start()
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()
