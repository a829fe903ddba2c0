"""``python -m bench``: set the stack up, run the selected benchmarks, print the table, write the JSON."""

import argparse
import importlib
import signal
import sys
import time
import traceback
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from bench.registry import BENCHMARKS, Benchmark, Context, Options
from bench.report import Row, machine, machine_line, table, write_json
from bench.servers import Servers
from bench.stack import Stack, StackError

# Importing a benchmark module registers its benchmarks; this order is the run order.
BENCHMARK_MODULES = (
    "bench.ingest",
    "bench.conversation_get",
    "bench.selfmodel",
    "bench.console_fanout",
    "bench.reports_bench",
    "bench.simulator_rate",
    "bench.eta",
    "bench.callbacks_bench",
)
for _module in BENCHMARK_MODULES:
    importlib.import_module(_module)

# Pre-signed requests carry one timestamp that the server accepts for 300 s; leave room for setup.
MAX_RUN_SECONDS = 240


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [benchmark.name for benchmark in BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0, help="timed window per load run (default 10)")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="warm-up before each timed window (default 2)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive clients (default 16)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated conversations")
    parser.add_argument(
        "--max-rate", type=int, default=4000, help="requests/s the pre-signed pool must cover (default 4000)"
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help=f"run only these (repeatable or comma-separated): {', '.join(names)}",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = parser.parse_args(argv)
    if not (args.seconds > 0 and args.warmup >= 0 and args.seconds + args.warmup <= MAX_RUN_SECONDS):
        parser.error(f"need 0 < seconds, 0 <= warmup and seconds + warmup <= {MAX_RUN_SECONDS}")
    if not 1 <= args.concurrency <= 256 or args.max_rate < 1:
        parser.error("need 1 <= concurrency <= 256 and max-rate >= 1")
    unknown = {name for item in args.only for name in item.split(",")} - set(names)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}; known: {', '.join(names)}")
    return args


def selected(only: list[str]) -> list[Benchmark]:
    wanted = {name for item in only for name in item.split(",")}
    return [benchmark for benchmark in BENCHMARKS if not wanted or benchmark.name in wanted]


def terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM becomes SystemExit so that the ``finally`` below still stops every server.
    raise SystemExit(128 + signum)


def run(args: argparse.Namespace) -> int:
    stack = Stack.from_environment()
    servers = Servers()
    options = Options(
        seconds=args.seconds,
        warmup=args.warmup,
        concurrency=args.concurrency,
        seed=args.seed,
        max_rate=args.max_rate,
    )
    ctx = Context(stack=stack, servers=servers, options=options)
    rows: list[Row] = []
    failures: dict[str, str] = {}
    started = time.time()
    try:
        print("setting up warmline_bench, Redis and the bot ...", flush=True)
        stack.acquire()
        stack.prepare()
        info = machine(stack)
        for benchmark in selected(args.only):
            print(f"running {benchmark.name}: {benchmark.summary} ...", flush=True)
            try:
                rows.extend(benchmark.run(ctx))
            except Exception as exc:  # one broken benchmark must not hide the others' figures
                failures[benchmark.name] = "".join(traceback.format_exception(exc))
                ctx.notes.append(f"{benchmark.name} FAILED: {exc}")
    finally:
        servers.stop_all()
        stack.release()
    print()
    print(machine_line(info))
    print(table(rows))
    for note in ctx.notes:
        print(f"  - {note}")
    payload: dict[str, Any] = {
        "started_at": datetime.fromtimestamp(started, tz=UTC).isoformat(),
        "duration_s": time.time() - started,
        "machine": info,
        "options": vars(args),
        "rows": [row.as_json() for row in rows],
        "notes": ctx.notes,
        "details": ctx.details,
        "failures": failures,
    }
    path = write_json(payload)
    print(f"results: {path}")
    for name, trace in failures.items():
        print(f"\n{name} failed:\n{trace}", file=sys.stderr)
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.list:
        for benchmark in BENCHMARKS:
            print(f"{benchmark.name}: {benchmark.summary}")
        return 0
    signal.signal(signal.SIGTERM, terminate)
    # A shell starts background jobs with SIGINT ignored; Ctrl-C / kill -INT must still clean up.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except StackError as error:  # set-up problems need a clear sentence, not a traceback
        print(f"bench: {error}", file=sys.stderr)
        return 2
