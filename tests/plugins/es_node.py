"""Pytest plugin: a real Elasticsearch node for tests marked ``elasticsearch``.

Register with ``pytest_plugins = ["tests.plugins.es_node"]``. Fixtures:

- ``es_url`` (session): ``ES_URL`` when set (a node you run yourself); otherwise the project's
  own node, started once per session by ``scripts/es-node start`` on a free loopback port with a
  temporary data directory, and stopped at the end of the session. When no node can be had the
  fixture *fails* if ``CI`` is set (so CI never passes by skipping), else it skips with the
  reason.
- ``es_client`` (session): an ``Elasticsearch`` client on ``es_url``.
- ``es_index_name`` (function): a unique index name (``newssearch-test-<uuid>``); whatever index
  of that name exists after the test is deleted.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from elasticsearch import Elasticsearch

REPO = Path(__file__).resolve().parents[2]
ES_NODE = REPO / "scripts" / "es-node"
#: First start fetches ~60 MB of jars with Maven and compiles the launcher; later ones take ~15 s.
START_TIMEOUT = 900


def _unavailable(reason: str) -> None:
    """Fail under CI (the suite must really run there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"Elasticsearch node unavailable (CI is set, not skipping): {reason}")
    pytest.skip(f"Elasticsearch node unavailable: {reason}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> str | None:
    """``None`` when ``url`` answers cluster health with yellow or green, else the problem."""
    client = Elasticsearch(url, request_timeout=30, max_retries=0)
    try:
        health = client.cluster.health(wait_for_status="yellow", timeout="20s")
        if health["status"] not in ("yellow", "green"):
            return f"cluster status is {health['status']}"
        return None
    except Exception as err:  # any failure means: no usable node
        return f"{type(err).__name__}: {err}"
    finally:
        client.close()


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of a healthy Elasticsearch 8 node for this session (see module docstring)."""
    external = os.environ.get("ES_URL", "").split(",")[0].strip()
    if external:
        problem = _healthy(external)
        if problem:
            _unavailable(f"ES_URL={external} does not answer: {problem}")
        yield external
        return
    data = tmp_path_factory.mktemp("es-node")
    port = _free_port()
    try:
        proc = subprocess.run(
            [str(ES_NODE), "start", "--port", str(port), "--data", str(data)],
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        subprocess.run([str(ES_NODE), "stop", "--data", str(data)], check=False)
        _unavailable(f"{ES_NODE} start failed: {err}")
        raise AssertionError("unreachable") from err
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-25:])
        _unavailable(f"{ES_NODE} start exited {proc.returncode}:\n{tail}")
    url = proc.stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        subprocess.run(
            [str(ES_NODE), "stop", "--data", str(data)], check=False, capture_output=True
        )


@pytest.fixture(scope="session")
def es_client(es_url: str) -> Iterator[Elasticsearch]:
    """A client on the session's node."""
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def es_index_name(es_client: Elasticsearch) -> Iterator[str]:
    """A fresh index name for one test; the index is deleted afterwards if it exists."""
    name = f"newssearch-test-{uuid4().hex[:16]}"
    yield name
    es_client.indices.delete(index=name, ignore_unavailable=True)
