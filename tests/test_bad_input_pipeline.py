"""Bad input through the whole pipeline: every bad record reported with file and line, every
good one ingested; memory stays bounded on an endless-looking stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from indexer.embedder import Embedder
from indexer.pipeline import check, ingest
from indexer.readers import ReadStats, read_paths
from indexer.stores import open_stores

GOOD = [
    {
        "id": "ok-1",
        "title": "Haushalt beschlossen",
        "text": "Der Nationalrat beschloss das Budget.",
        "lang": "de",
    },
    {
        "id": "ok-2",
        "title": "Wahl in Wien",
        "text": "Die Wahl in Wien brachte Verluste.",
        "lang": "de",
    },
]


def write_bad_corpus(root: Path) -> dict[str, int]:
    """A directory of bad and good records; returns the line of each bad record by file."""
    root.mkdir()
    lines = [
        json.dumps(GOOD[0]),
        '{"id": "trunc", "title": "Abgeschnitten", "text": "Dieser Datensatz ende',  # truncated
        json.dumps({"id": "huge", "title": "Riesig", "text": "Wort " * 2_100_000}),  # 10.5 MB
        json.dumps({"id": "empty", "title": "", "text": ""}),
        json.dumps({"id": "title-only", "title": "Nur ein Titel"}),
        json.dumps(GOOD[1]),
        json.dumps({**GOOD[1], "text": "Die Wahl in Wien brachte Gewinne."}),  # duplicate id
        "[1, 2, 3]",
    ]
    (root / "mixed.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "latin1.jsonl").write_bytes(
        json.dumps({"id": "ok-3", "title": "T", "text": "Gute Zeile."}).encode()
        + b"\n"
        + b'{"id": "bad-utf8", "title": "\xe4\xf6\xfc", "text": "x"}\n'
    )
    (root / "binary.jsonl").write_bytes(b"\x00\x01\x02PK\x03\x04" * 100)
    (root / "broken.csv").write_text(
        'id,title,text\nc1,"Gut","Ein guter Text."\n'
        'c2,"Kaputt,"Ohne Ende\n'
        'c3,"Auch gut","Noch ein Text."\n',
        encoding="utf-8",
    )
    return {"mixed.jsonl": 5, "latin1.jsonl": 1, "binary.jsonl": 1, "broken.csv": 1}


def test_bad_records_are_reported_and_the_rest_ingested(
    tmp_path: Path, settings_for: Any, embedder: Embedder
) -> None:
    expected_bad = write_bad_corpus(tmp_path / "in")
    stores = open_stores(settings_for(tmp_path / "idx"), embedder)
    report = ingest(stores, [tmp_path / "in"])
    by_file: dict[str, list[int | None]] = {}
    for p in report.problems:
        by_file.setdefault(Path(p.path).name, []).append(p.line)
        assert p.reason
    assert {k: len(v) for k, v in by_file.items()} == expected_bad
    assert sorted(by_file["mixed.jsonl"]) == [2, 3, 4, 5, 8]
    assert by_file["latin1.jsonl"] == [2]
    huge = next(p for p in report.problems if p.line == 3 and p.path.endswith("mixed.jsonl"))
    assert "exceeds" in huge.reason
    ids = set(stores.catalog.articles(["ok-1", "ok-2", "ok-3", "c1", "c3"]))
    assert ids == {"ok-1", "ok-2", "ok-3", "c1", "c3"}
    # the later duplicate of ok-2 in the same batch wins
    texts = [p.text for p in stores.catalog.paragraphs_of(["ok-2"])]
    assert texts == ["Die Wahl in Wien brachte Gewinne."]
    assert check(stores).ok
    stores.close()


def test_memory_stays_bounded_on_a_huge_stream(tmp_path: Path) -> None:
    """~200 MB of JSONL through a FIFO (never on disk) read and chunked in a subprocess: its
    peak RSS must stay far below the stream size."""
    fifo = tmp_path / "stream.jsonl"
    os.mkfifo(fifo)
    record = {"title": "Endlos", "text": ("Ein Absatz über Politik und Wahlen. " * 40 + "\n\n") * 5}
    line = (json.dumps(record) + "\n").encode()
    total = 200 * 1024 * 1024
    count = total // len(line)

    def feed() -> None:
        with open(fifo, "wb") as fh:
            for i in range(count):
                fh.write(line.replace(b'"Endlos"', f'"Endlos {i}"'.encode()))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    code = (
        "import sys, json\n"
        "from indexer.dryrun import dry_run\n"
        "out = dry_run([sys.argv[1]])\n"
        "out.pop('problems')\n"
        # VmHWM (peak RSS of this process image); ru_maxrss would include the parent's peak,
        # which Linux carries across fork + exec.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]\n"
        "out['maxrss_mb'] = int(hwm.split()[1]) / 1024\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=900
    )
    writer.join(timeout=10)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["articles"] == count and out["skipped"] == 0
    assert out["maxrss_mb"] < 120, out  # the stream is 200 MB; holding it would exceed this


def test_read_paths_never_raises_on_garbage(tmp_path: Path) -> None:
    write_bad_corpus(tmp_path / "in")
    stats = ReadStats()
    articles = list(read_paths([tmp_path / "in", tmp_path / "missing.jsonl"], stats=stats))
    assert len(articles) == 6  # ok-1, ok-2 (twice: read_paths keeps duplicates), ok-3, c1, c3
    assert stats.records == stats.articles + stats.skipped
    assert any(p.reason == "file not found" for p in stats.problems)
