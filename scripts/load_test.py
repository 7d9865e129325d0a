#!/usr/bin/env python3
"""Load test of the drawing demo's POST /api/classify (standard library only: threads + http.client).

N concurrent clients (default 50), each on its own keep-alive connection, send M requests (default
20) with a realistic body: three class drawings (a circle, a cross, a triangle) and a test drawing,
28×28 with antialiased strokes about 2.5 px wide, numbers written to 3 decimals as the page does.
Prints requests, failures, latency p50/p95/max and throughput; exits 1 if any request failed or the
run hit its time limit, 2 on bad usage.

    python3 scripts/load_test.py --url http://127.0.0.1:8080
    python3 scripts/load_test.py --server-cmd ".build/release/reptile serve --port {port}"

Only loopback targets are allowed.
"""

import argparse
import http.client
import ipaddress
import json
import math
import os
import socket
import sys
import threading
import time
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_server import ServerError, ServerProcess  # noqa: E402

SIDE = 28


def render(strokes, width=0.09, supersample=10):
    """Polylines in [0, 1]² → 784 floats: the ink coverage of each pixel, like the page's reduction."""
    n = SIDE * supersample
    radius = width / 2
    covered = set()
    for stroke in strokes:
        for (ax, ay), (bx, by) in zip(stroke, stroke[1:]):
            dx, dy = bx - ax, by - ay
            length2 = dx * dx + dy * dy
            x0, x1 = max(0, int((min(ax, bx) - radius) * n)), min(n - 1, int((max(ax, bx) + radius) * n) + 1)
            y0, y1 = max(0, int((min(ay, by) - radius) * n)), min(n - 1, int((max(ay, by) + radius) * n) + 1)
            for sy in range(y0, y1 + 1):
                y = (sy + 0.5) / n
                for sx in range(x0, x1 + 1):
                    x = (sx + 0.5) / n
                    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / length2))
                    if (ax + t * dx - x) ** 2 + (ay + t * dy - y) ** 2 <= radius * radius:
                        covered.add((sx, sy))
    pixels = [0] * (SIDE * SIDE)
    for sx, sy in covered:
        pixels[(sy // supersample) * SIDE + sx // supersample] += 1
    return [round(count / (supersample * supersample), 3) for count in pixels]


def realistic_body():
    circle = [[(0.5 + 0.3 * math.cos(2 * math.pi * i / 40), 0.5 + 0.3 * math.sin(2 * math.pi * i / 40)) for i in range(41)]]
    cross = [[(0.24, 0.24), (0.76, 0.76)], [(0.76, 0.24), (0.24, 0.76)]]
    corners = [(0.5 + 0.34 * math.cos(a), 0.56 + 0.34 * math.sin(a)) for a in (-math.pi / 2, math.pi / 6, 5 * math.pi / 6, -math.pi / 2)]
    test = [[(0.28, 0.3), (0.7, 0.74)], [(0.7, 0.3), (0.28, 0.74)]]
    body = {"train": [render(circle), render(cross), render([corners])], "input": render(test)}
    return json.dumps(body, separators=(",", ":")).encode()


def check_loopback(host):
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise SystemExit(f"cannot resolve {host}: {error}")
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        print(f"refusing to load-test {host} ({', '.join(sorted(addresses))}): only loopback addresses are allowed", file=sys.stderr)
        sys.exit(2)


def percentile(sorted_values, fraction):
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, math.ceil(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def run_load(host, port, clients, requests_per_client, body, time_limit, request_timeout):
    latencies = []
    failures = []
    lock = threading.Lock()
    deadline = time.monotonic() + time_limit
    start_barrier = threading.Barrier(clients + 1)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}

    def client(index):
        connection = None
        try:
            start_barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            return
        for number in range(requests_per_client):
            if time.monotonic() >= deadline:
                with lock:
                    failures.append(f"client {index}: time limit reached before request {number + 1}")
                return
            started = time.perf_counter()
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(host, port, timeout=request_timeout)
                connection.request("POST", "/api/classify", body=body, headers=headers)
                response = connection.getresponse()
                payload = response.read()
                elapsed = time.perf_counter() - started
                problem = None
                if response.status != 200:
                    problem = f"HTTP {response.status}: {payload[:200].decode(errors='replace')}"
                else:
                    answer = json.loads(payload)
                    probabilities = answer.get("probabilities")
                    if not isinstance(probabilities, list) or len(probabilities) != 3 or abs(sum(probabilities) - 1) > 1e-3:
                        problem = f"bad answer: {payload[:200].decode(errors='replace')}"
                if response.getheader("Connection", "").lower() == "close":
                    connection.close()
                    connection = None
            except (OSError, http.client.HTTPException, ValueError) as error:
                elapsed = time.perf_counter() - started
                problem = f"{type(error).__name__}: {error}"
                if connection is not None:
                    connection.close()
                connection = None
            with lock:
                if problem:
                    failures.append(f"client {index} request {number + 1}: {problem}")
                else:
                    latencies.append(elapsed)
        if connection is not None:
            connection.close()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    start_barrier.wait(timeout=30)
    began = time.perf_counter()
    for thread in threads:
        thread.join(timeout=max(0.1, deadline - time.monotonic() + request_timeout + 1))
    wall = time.perf_counter() - began
    stuck = sum(thread.is_alive() for thread in threads)
    if stuck:
        failures.append(f"{stuck} clients still running at the time limit")
    return latencies, failures, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", default=None, help="server base URL on loopback (default: http://127.0.0.1:8080)")
    target.add_argument("--server-cmd", help='start this server for the test, with {port}, e.g. ".build/release/reptile serve --port {port}"')
    parser.add_argument("-c", "--clients", type=int, default=50, help="concurrent clients (default: %(default)s)")
    parser.add_argument("-n", "--requests", type=int, default=20, help="requests per client (default: %(default)s)")
    parser.add_argument("--time-limit", type=float, default=120, help="stop sending after this many seconds (default: %(default)s)")
    parser.add_argument("--request-timeout", type=float, default=30, help="seconds to wait for one answer (default: %(default)s)")
    args = parser.parse_args()
    if args.clients < 1 or args.requests < 1 or args.time_limit <= 0:
        parser.error("--clients, --requests and --time-limit must be positive")

    body = realistic_body()
    server = None
    try:
        if args.server_cmd:
            server = ServerProcess(args.server_cmd)
            server.start()
            host, port = server.host, server.port
        else:
            parts = urlsplit(args.url or "http://127.0.0.1:8080")
            if parts.scheme != "http" or not parts.hostname:
                parser.error("--url must be http://HOST:PORT")
            host, port = parts.hostname, parts.port or 80
        check_loopback(host)
        print(f"load test: {args.clients} clients × {args.requests} requests → POST http://{host}:{port}/api/classify "
              f"(body {len(body)} bytes, {os.cpu_count()} cores here)", flush=True)
        latencies, failures, wall = run_load(host, port, args.clients, args.requests, body, args.time_limit, args.request_timeout)
    except ServerError as error:
        print(f"FAIL: {error}", file=sys.stderr)
        return 1
    finally:
        if server is not None:
            server.stop()

    latencies.sort()
    total = len(latencies) + len(failures)
    ms = lambda seconds: f"{seconds * 1000:.1f} ms"  # noqa: E731
    print(f"requests:   {total} ({len(latencies)} ok)")
    print(f"failures:   {len(failures)}")
    if latencies:
        print(f"latency:    p50 {ms(percentile(latencies, 0.50))}, p95 {ms(percentile(latencies, 0.95))}, max {ms(latencies[-1])}")
    print(f"throughput: {len(latencies) / wall:.1f} requests/s over {wall:.2f} s")
    for failure in failures[:10]:
        print(f"  failed: {failure}", file=sys.stderr)
    if len(failures) > 10:
        print(f"  … and {len(failures) - 10} more", file=sys.stderr)
    expected = args.clients * args.requests
    if failures or len(latencies) != expected:
        print(f"FAIL: {len(failures)} of {expected} requests failed", file=sys.stderr)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
