"""What the Python client (``search_api.client.NewsSearchClient``) costs over raw HTTP.

Server: ``newssearch serve`` (a subprocess, one uvicorn worker, as users run it) on a free
loopback port over an index of the first ``--articles`` BBC news articles, ingested by the
product (``newssearch ingest``; cached under the bench directory, so a rerun only measures).

Per case, sequential, raw and client requests interleaved (so drift on a shared machine hits
both alike), after warm-up requests that put the result set in the server's cache:

- ``raw``: ``httpx.Client`` (one connection pool, as the client has) sending the same request
  and ``json.loads`` of the body: what a script without the client does;
- ``client``: the client call: the request validated by the server's model, sent, the answer
  validated into the server's response model (``SearchResults``, ...);
- cases: ``search_10`` / ``search_100`` (``q=""``, every article: no query embedding, so the
  server's share is small and the client's overhead shows), ``search_bm25_100`` (one word,
  BM25), ``iter_all`` (every article by cursor, 100 per page, vs the same loop by hand) and
  ``export_csv`` (the whole set streamed to a file);
- ``client_cpu_only``: the client's own work without a server: validating the request and the
  answer of ``search_100`` (``SearchRequest`` + ``SearchResults.model_validate_json``).

``overhead_ms`` = client p50 - raw p50 (negative: within noise); ``overhead_pct`` relative to
raw.

Run: ``.venv/bin/python benchmarks/client_overhead.py [--articles 500] [--reps 200]
[--out FILE]``. JSON on stdout. ``--smoke``: 20 articles, 10 repetitions, seconds (no figures
to quote).
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import BENCH_DIR, DATA, ROOT, emit, latency_summary, machine

from search_api.client import NewsSearchClient, SearchResults
from search_api.schemas import SearchRequest

BBC = DATA / "corpora" / "bbc_news.en.jsonl"
SMOKE_ARTICLES, SMOKE_REPS = 20, 10
#: Seconds the server may take to load the model and open the index.
STARTUP = 180.0
CLI = [sys.executable, "-m", "search_api"]


def ensure_index(articles: int) -> Path:
    """The index of the first ``articles`` BBC articles (ingested once, then reused)."""
    directory = BENCH_DIR / f"client-overhead-{articles}"
    marker = directory / "ingested.json"
    if marker.exists():
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    subset = directory / "articles.jsonl"
    with BBC.open(encoding="utf-8") as src, subset.open("w", encoding="utf-8") as dst:
        for i, line in enumerate(src):
            if i >= articles:
                break
            dst.write(line)
    print(f"ingesting {articles} articles ...", file=sys.stderr)
    proc = subprocess.run(
        [*CLI, "ingest", str(subset), "--index", str(directory), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise SystemExit(f"ingest failed:\n{proc.stderr[-3000:]}")
    marker.write_text(proc.stdout)
    return directory


@contextmanager
def serving(index: Path) -> Iterator[str]:
    """``newssearch serve --index index`` on a free loopback port; yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    log = index / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*CLI, "serve", "--index", str(index), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
        try:
            deadline = time.monotonic() + STARTUP
            while True:
                if proc.poll() is not None:
                    raise SystemExit(f"server exited {proc.returncode}:\n{log.read_text()}")
                try:
                    if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"server not up after {STARTUP} s")
                time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def compare(raw: Callable[[], Any], client: Callable[[], Any], reps: int) -> dict[str, Any]:
    """Interleaved timings of both callables (after two warm-up calls each)."""
    for _ in range(2):
        raw()
        client()
    times: dict[str, list[float]] = {"raw": [], "client": []}
    for _ in range(reps):
        for name, call in (("raw", raw), ("client", client)):
            started = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - started)
    out: dict[str, Any] = {name: latency_summary(t) for name, t in times.items()}
    raw_p50, client_p50 = out["raw"]["p50_ms"], out["client"]["p50_ms"]
    out["overhead_ms"] = round(client_p50 - raw_p50, 2)
    out["overhead_pct"] = round(100 * (client_p50 - raw_p50) / raw_p50, 1) if raw_p50 else None
    return out


def measure(url: str, reps: int, scratch: Path) -> dict[str, Any]:
    """Every case of the module docstring against the server at ``url``."""
    http = httpx.Client(base_url=url, timeout=60)
    client = NewsSearchClient(url)
    out: dict[str, Any] = {}

    def raw_search(body: dict[str, Any]) -> Callable[[], Any]:
        return lambda: json.loads(http.post("/search", json=body).content)

    cases = {
        "search_10": {"q": "", "limit": 10},
        "search_100": {"q": "", "limit": 100},
        "search_bm25_100": {"q": "government", "mode": "bm25", "limit": 100},
    }
    for name, body in cases.items():
        out[name] = compare(raw_search(body), lambda b=body: client.search(**b), reps)  # type: ignore[misc]
        out[name]["results"] = len(client.search(**body).results)

    def raw_walk() -> int:
        body: dict[str, Any] = {"q": "", "limit": 100}
        seen = 0
        while True:
            page = json.loads(http.post("/search", json=body).content)
            seen += len(page["results"])
            if not page["next"]:
                return seen
            body["cursor"] = page["next"]

    out["iter_all"] = compare(raw_walk, lambda: sum(1 for _ in client.iter_articles("")), reps)
    out["iter_all"]["articles"] = raw_walk()

    target = scratch / "export.csv"

    def raw_export() -> None:
        with http.stream("GET", "/export", params={"q": ""}) as r, target.open("wb") as fh:
            for chunk in r.iter_bytes():
                fh.write(chunk)

    out["export_csv"] = compare(raw_export, lambda: client.export(target, ""), reps)
    out["export_csv"]["bytes"] = target.stat().st_size

    answer = http.post("/search", json=cases["search_100"]).content
    cpu = []
    for _ in range(max(reps, 50)):
        started = time.perf_counter()
        SearchRequest(q="", limit=100)
        SearchResults.model_validate_json(answer)
        cpu.append(time.perf_counter() - started)
    out["client_cpu_only"] = {**latency_summary(cpu), "response_bytes": len(answer)}
    client.close()
    http.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=None, help="default 500")
    ap.add_argument("--reps", type=int, default=None, help="default 200")
    ap.add_argument("--smoke", action="store_true", help="tiny run (20 articles, 10 reps)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    articles = args.articles or (SMOKE_ARTICLES if args.smoke else 500)
    reps = args.reps or (SMOKE_REPS if args.smoke else 200)
    index = ensure_index(articles)
    with serving(index) as url:
        figures = measure(url, reps, index)
    result = {
        "smoke": args.smoke,
        "machine": machine(),
        "articles": articles,
        "reps": reps,
        **figures,
    }
    emit(result, args.out)


if __name__ == "__main__":
    main()
