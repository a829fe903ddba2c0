"""The benchmark registry: a benchmark is a function of the shared context that returns table rows.

To add one: write ``def my_bench(ctx: Context) -> list[Row]`` in a module of ``bench``, decorate it
with ``@register("name", "what it measures")`` and import that module in ``bench.runner``.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.report import Row
from bench.servers import Server, Servers
from bench.stack import Stack


@dataclass(frozen=True)
class Options:
    seconds: float
    warmup: float
    concurrency: int
    seed: int
    max_rate: int


@dataclass
class Context:
    stack: Stack
    servers: Servers
    options: Options
    details: dict[str, Any] = field(default_factory=dict)  # per benchmark, goes to the JSON file
    notes: list[str] = field(default_factory=list)  # printed under the table: checks, aims, warnings

    @property
    def bot_id(self) -> str:
        assert self.stack.bot is not None
        return self.stack.bot.bot_id

    @property
    def secret(self) -> str:
        assert self.stack.bot is not None
        return self.stack.bot.secret

    def start_target(self, label: str, *, engines: bool) -> Server:
        env = self.stack.server_env(
            settings="console.settings", extra={"WARMLINE_CONTEXT_ENGINES": "1" if engines else "0"}
        )
        return self.servers.start(label, env)

    def start_baseline(self, label: str = "baseline") -> Server:
        return self.servers.start(label, self.stack.server_env(settings="bench.baseline_settings"))

    def note_server_log(self, server: Server) -> None:
        problems = server.log_problems()
        if problems:
            shown = "\n      ".join(problems[:5])
            self.notes.append(
                f"{server.label}: {len(problems)} error line(s) in {server.log_path}:\n      {shown}"
            )


@dataclass(frozen=True)
class Benchmark:
    name: str
    summary: str
    run: Callable[[Context], list[Row]]


BENCHMARKS: list[Benchmark] = []


def register(
    name: str, summary: str
) -> Callable[[Callable[[Context], list[Row]]], Callable[[Context], list[Row]]]:
    def decorate(func: Callable[[Context], list[Row]]) -> Callable[[Context], list[Row]]:
        BENCHMARKS.append(Benchmark(name, summary, func))
        return func

    return decorate
