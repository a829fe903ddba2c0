"""A closed-loop HTTP load driver: N workers on one keep-alive ``httpx.AsyncClient``.

Workers never get cancelled mid-request: each finishes the request in flight and then stops, so
every request the server may have applied has a known client-side outcome (the DB check relies on it).
"""

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from bench.workload import PreparedRequest

REQUEST_TIMEOUT = 30.0


@dataclass(frozen=True)
class Sample:
    started: float
    finished: float
    status: int  # 0: no response (transport error)
    conversation_id: str


@dataclass
class LoadResult:
    warmup: float
    seconds: float
    samples: list[Sample] = field(default_factory=list)
    transport_errors: Counter[str] = field(default_factory=Counter)
    error_bodies: list[str] = field(default_factory=list)
    exhausted_workers: int = 0
    t0: float = 0.0  # start of the timed window (perf_counter)
    client_cpu_seconds: float = 0.0

    @property
    def window(self) -> list[Sample]:
        """Samples that completed inside the timed window: they define throughput and latency."""
        end = self.t0 + self.seconds
        return [sample for sample in self.samples if self.t0 <= sample.finished <= end]

    def ok_in_window(self) -> list[Sample]:
        return [sample for sample in self.window if 200 <= sample.status < 300]

    def ok_total(self) -> Counter[str]:
        """2xx responses per conversation over the whole run (warm-up and tail included)."""
        return Counter(sample.conversation_id for sample in self.samples if 200 <= sample.status < 300)

    def statuses(self) -> Counter[int]:
        return Counter(sample.status for sample in self.samples)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile: an actually observed value, no interpolation."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def new_client(concurrency: int) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        timeout=REQUEST_TIMEOUT,
        trust_env=False,  # never route loopback traffic through a proxy from the environment
    )


async def _worker(
    client: httpx.AsyncClient, url: str, queue: list[PreparedRequest], end: float, result: LoadResult
) -> None:
    for request in queue:
        if time.perf_counter() >= end:
            return
        started = time.perf_counter()
        try:
            response = await client.post(url, content=request.body, headers=request.headers)
            status = response.status_code
        except httpx.HTTPError as exc:
            status = 0
            result.transport_errors[type(exc).__name__] += 1
        result.samples.append(Sample(started, time.perf_counter(), status, request.conversation_id))
        if status and not 200 <= status < 300 and len(result.error_bodies) < 5:
            result.error_bodies.append(f"{status}: {response.text[:400]}")
    result.exhausted_workers += 1


async def _drive(url: str, queues: list[list[PreparedRequest]], warmup: float, seconds: float) -> LoadResult:
    result = LoadResult(warmup=warmup, seconds=seconds)
    async with new_client(len(queues)) as client:
        start = time.perf_counter()
        result.t0 = start + warmup
        cpu_at_start = time.process_time()
        await asyncio.gather(*(_worker(client, url, queue, result.t0 + seconds, result) for queue in queues))
        result.client_cpu_seconds = time.process_time() - cpu_at_start
    return result


def run_load(url: str, queues: list[list[PreparedRequest]], *, warmup: float, seconds: float) -> LoadResult:
    """Each worker posts its own queue in order until warm-up plus ``seconds`` have passed."""
    return asyncio.run(_drive(url, queues, warmup, seconds))
