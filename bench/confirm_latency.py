"""A vote's confirm latency without load: one publish at a time, each waiting for the broker's
confirm, to a quorum queue alone against a quorum queue with the votes' stream bound beside it
(as the votes exchange routes a vote: ``lib.votes.replay``), in alternating blocks.

    python bench/confirm_latency.py [--messages 3000] [--url amqp://guest:guest@127.0.0.1:5672/%2F]

What ``bench/votes.py`` cannot tell apart: whether the stream's second copy makes each confirm
slower, or only costs the broker CPU that shows at saturation. Declares queues and exchanges of
its own (``confirm_probe_*``, a random suffix) and deletes them afterwards. Prints the CPU, and
p50, p90, p99 and the slowest confirm per path, and the ratios of the second path over the first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

import pika

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.q1_compare import cpu_model  # noqa: E402

BODY = b'{"kiosk":"k1","candidate":3,"cast_at":"2026-12-07T17:00:00+00:00","vote_id":"0123456789"}'
BLOCKS = 6  # alternating blocks per path


def quantiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def at(share: float) -> float:
        return ordered[int(share * (len(ordered) - 1))]

    return {"p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": ordered[-1]}


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--messages", type=int, default=3000, help="publishes per path")
    cli.add_argument(
        "--url", default=os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    args = cli.parse_args(argv)
    if args.messages < BLOCKS:
        print(f"error: --messages must be at least {BLOCKS}", file=sys.stderr)
        return 2
    params = pika.URLParameters(args.url)
    try:
        connection = pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        print(
            f"error: cannot reach the broker at {params.host}:{params.port}: {exc!r}",
            file=sys.stderr,
        )
        return 1
    channel = connection.channel()
    channel.confirm_delivery()
    tag = uuid.uuid4().hex[:8]
    alone, both = f"confirm_probe_alone_{tag}", f"confirm_probe_both_{tag}"
    queues = {alone: f"{alone}.q", both: f"{both}.q"}
    stream = f"{both}.q.replay"
    try:
        for exchange, queue in queues.items():
            channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            channel.exchange_declare(exchange, "direct", durable=True)
            channel.queue_bind(queue, exchange, "vote")
        channel.queue_declare(
            stream, durable=True, arguments={"x-queue-type": "stream", "x-max-age": "1h"}
        )
        channel.queue_bind(stream, both, "vote")
        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent,
            content_type="application/json",
            message_id="probe",
            user_id=params.credentials.username,
        )
        times: dict[str, list[float]] = {alone: [], both: []}
        for block in range(BLOCKS):
            for exchange in (alone, both) if block % 2 == 0 else (both, alone):
                for _ in range(args.messages // BLOCKS):
                    began = time.perf_counter()
                    channel.basic_publish(exchange, "vote", BODY, properties, mandatory=True)
                    times[exchange].append((time.perf_counter() - began) * 1000)
    finally:
        for queue in (*queues.values(), stream):
            channel.queue_delete(queue)
        for exchange in queues:
            channel.exchange_delete(exchange)
        connection.close()
    first, second = quantiles(times[alone]), quantiles(times[both])
    print(
        f"CPU: {cpu_model()}; {args.messages // BLOCKS * BLOCKS:,} confirms a path, one at a time"
    )
    print(f"{'path':28} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for label, found in (("quorum queue alone", first), ("quorum queue and stream", second)):
        print(f"{label:28} " + " ".join(f"{found[k]:8.2f}" for k in ("p50", "p90", "p99", "max")))
    ratios = ", ".join(f"{k} {second[k] / first[k]:.2f}x" for k in ("p50", "p90", "p99"))
    print(f"with the stream over alone: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
