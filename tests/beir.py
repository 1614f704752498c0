"""Small real BEIR data sets cut from the shared PolitiFact-1k relevance set, for tests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from tests.conftest import SHARED_DATA

POLITIFACT_1K = SHARED_DATA / "relevance" / "checkthat2021-politifact-1k"


def tiny_beir(root: Path, per_split: int = 3, distractors: int = 3) -> Path:
    """A real BEIR subset of PolitiFact-1k: the first judged queries of train and dev, the
    articles judged for them and a few other articles."""
    (root / "qrels").mkdir(parents=True)
    wanted: dict[str, set[str]] = {}
    for split in ("train", "dev"):
        header, *rows = (POLITIFACT_1K / "qrels" / f"{split}.tsv").read_text("utf-8").splitlines()
        chosen: dict[str, set[str]] = {}
        keep = [header]
        for line in rows:
            qid, doc, score = line.split("\t")
            if int(score) > 0 and (qid in chosen or len(chosen) < per_split):
                chosen.setdefault(qid, set()).add(doc)
                keep.append(line)
        (root / "qrels" / f"{split}.tsv").write_text("\n".join(keep) + "\n", "utf-8")
        wanted.update(chosen)
    judged = set().union(*wanted.values())
    with (POLITIFACT_1K / "queries.jsonl").open(encoding="utf-8") as fh:
        queries = [line for line in fh if json.loads(line)["_id"] in wanted]
    (root / "queries.jsonl").write_text("".join(queries), "utf-8")
    docs: list[str] = []
    with gzip.open(POLITIFACT_1K / "corpus.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            if json.loads(line)["_id"] in judged:
                docs.append(line)
            elif distractors > 0:
                docs.append(line)
                distractors -= 1
    (root / "corpus.jsonl").write_text("".join(docs), "utf-8")
    return root
