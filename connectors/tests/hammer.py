"""A process that sends requests through a shared limiter as fast as it lets it (for the
shared-limiter test and bench/shared_limits.py):

    python -m connectors.tests.hammer URL REDIS_URL PREFIX KEY MAX_CALLS PERIOD COUNT

REDIS_URL "-" uses a per-process limiter instead (what every worker had before Redis).
"""

import sys

import requests


def main(argv: list[str]) -> None:
    url, redis_url, prefix, key, max_calls, period, count = argv
    if redis_url == "-":
        from connectors.http import RateLimiter

        limiter = RateLimiter(int(max_calls), float(period))
    else:
        import redis

        from connectors.ratelimit import RedisWindow

        limiter = RedisWindow(redis.Redis.from_url(redis_url), key, int(max_calls), float(period), prefix=prefix)
    session = requests.Session()
    for _ in range(int(count)):
        limiter.acquire()
        session.get(url, timeout=10).raise_for_status()


# --- what the test and the bench run in the parent process
class ArrivalCounter:
    """A loopback HTTP server that notes when each request arrives (the vendor's view)."""

    def __init__(self) -> None:
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        arrivals = self.arrivals = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server interface
                arrivals.append(time.monotonic())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def max_in_window(times: list[float], period: float) -> int:
    """The most requests that arrived within any `period` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, t in enumerate(times):
        while t - times[start] >= period:
            start += 1
        best = max(best, end - start + 1)
    return best


def hammer(url: str, redis_url: str, prefix: str, key: str, max_calls: int, period: float, count: int,
           processes: int = 2) -> None:
    """Run `processes` hammer processes at once and wait for them."""
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    procs = [subprocess.Popen([sys.executable, "-m", "connectors.tests.hammer", url, redis_url, prefix, key,
                               str(max_calls), str(period), str(count)], cwd=root) for _ in range(processes)]
    for proc in procs:
        if proc.wait(timeout=300) != 0:
            raise RuntimeError(f"a hammer process exited with {proc.returncode}")


if __name__ == "__main__":
    main(sys.argv[1:])
