"""Shared by browser_test.py and load_test.py: run the drawing demo's server as a child process.

Standard library only. The server command is a template with ``{port}`` in it, for example
``.build/release/reptile serve --port {port}``; a free loopback port is substituted, the process is
started in its own process group, and ``/api/info`` is polled until it answers 200.
"""

import http.client
import os
import shlex
import signal
import socket
import subprocess
import tempfile
import time


def free_port():
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerError(RuntimeError):
    pass


class ServerProcess:
    """``with ServerProcess(template) as server:`` starts the server and stops it (SIGTERM, then SIGKILL)."""

    def __init__(self, command_template, startup_timeout=30.0, host="127.0.0.1"):
        if "{port}" not in command_template:
            raise ServerError("the server command must contain {port}, e.g. '.build/release/reptile serve --port {port}'")
        self.host = host
        self.port = free_port()
        self.command = [part.replace("{port}", str(self.port)) for part in shlex.split(command_template)]
        self.startup_timeout = startup_timeout
        self.process = None
        self.log = tempfile.NamedTemporaryFile(prefix="reptile-demo-server-", suffix=".log", delete=False)

    @property
    def base_url(self):
        return f"http://{self.host}:{self.port}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        try:
            self.process = subprocess.Popen(
                self.command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as error:
            raise ServerError(f"cannot start {' '.join(map(shlex.quote, self.command))}: {error}") from error
        deadline = time.monotonic() + self.startup_timeout
        last_problem = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerError(f"the server exited with status {code} before answering\n{self.log_tail()}")
            try:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=2)
                try:
                    connection.request("GET", "/api/info")
                    response = connection.getresponse()
                    response.read()
                    if response.status == 200:
                        return
                    last_problem = f"GET /api/info answered {response.status}"
                finally:
                    connection.close()
            except OSError as error:
                last_problem = str(error)
            time.sleep(0.1)
        self.stop()
        raise ServerError(
            f"the server did not answer GET /api/info within {self.startup_timeout:.0f} s ({last_problem})\n{self.log_tail()}"
        )

    def stop(self):
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(timeout=5)

    def kill_now(self):
        """For watchdogs: SIGKILL the process group without waiting."""
        process = self.process
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log_tail(self, lines=30):
        try:
            self.log.flush()
            with open(self.log.name, "r", errors="replace") as handle:
                tail = handle.read().splitlines()[-lines:]
        except OSError:
            return "(no server log)"
        if not tail:
            return "(the server printed nothing)"
        return "server log (last lines):\n" + "\n".join("  | " + line for line in tail)
