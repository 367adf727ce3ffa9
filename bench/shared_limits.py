"""Two processes hammer one connection's limiter; prints the most requests that reached the
"vendor" (a loopback counter) in any window, against the limit. Asserts nothing.

    .venv/bin/python bench/shared_limits.py [--redis redis://127.0.0.1:6379/0] [--limit 10]
        [--window 1.0] [--requests 40]

Runs twice: through Redis (the shared limiter) and with a per-process limiter (what each worker
had before), the client's window widened as HubSpot's client widens it (x1.05 + 50 ms).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.tests.hammer import ArrivalCounter, hammer, max_in_window  # noqa: E402


def measure(redis_url: str, limit: int, window: float, requests: int) -> tuple[int, int, float]:
    counter = ArrivalCounter()
    prefix = f"bench-{uuid.uuid4().hex}"
    started = time.monotonic()
    try:
        hammer(counter.url, redis_url, prefix, "hubspot:bench:ten", limit, window * 1.05 + 0.05, requests)
    finally:
        counter.close()
    return len(counter.arrivals), max_in_window(counter.arrivals, window), time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--requests", type=int, default=40, help="per process")
    args = parser.parse_args()
    for label, url in (("shared (Redis)", args.redis), ("per process", "-")):
        sent, most, took = measure(url, args.limit, args.window, args.requests)
        print(f"{label}: 2 processes, {sent} requests in {took:.1f}s, most in any {args.window:g}s window "
              f"{most} (limit {args.limit}), over the limit by {max(0, most - args.limit)}")


if __name__ == "__main__":
    main()
