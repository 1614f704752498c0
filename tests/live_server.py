"""A real ``newssearch serve`` on a free loopback port, for tests that talk HTTP to it.

The server is a subprocess (``python -m search_api serve``) over an index directory the test
owns (copy the session's ``built_index`` first when the test writes). Writes are enabled with
:data:`API_KEY`. The context manager yields the base URL once ``/health`` answers and stops
the process (the one it started, by its handle) afterwards.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

#: ``NEWSSEARCH_API_KEY`` of the test server.
API_KEY = "test-key-not-secret"
#: Seconds a server may take to load the model and open the stores.
STARTUP = 180.0


def free_port() -> int:
    """A TCP port nothing listens on right now (loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_server(index: Path, env: dict[str, str], log: Path) -> Iterator[str]:
    """``newssearch serve --index index`` on a free port; yields ``http://127.0.0.1:PORT``.

    The server's output goes to ``log`` (quoted in the failure when it does not come up)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "search_api",
                "serve",
                "--index",
                str(index),
                "--port",
                str(port),
            ],
            env={**env, "NEWSSEARCH_API_KEY": API_KEY},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + STARTUP
            while True:
                if proc.poll() is not None:
                    raise AssertionError(f"server exited {proc.returncode}:\n{log.read_text()}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"server not up after {STARTUP} s:\n{log.read_text()}")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
