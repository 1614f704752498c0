"""Build the bundled demo sample ``data/sample/`` from the shared data (deterministic).

Selection: every article of the 10kGNAD test split (DER STANDARD, CC BY-NC-SA 4.0) labelled
``Inland`` or ``International``, in file order, except stubs whose full text was withdrawn
("Der Volltext dieses ... Artikels steht aus rechtlichen Gründen nicht mehr zur Verfügung") or
that are shorter than ``MIN_CHARS`` characters. Each record keeps ``id``, ``label`` and ``text``
unchanged and gains ``title`` (the article's first sentence, DER STANDARD's sub-headline, which
stays in the text too) and ``source`` (``DER STANDARD``). Output is a gzip file with a fixed
header (no name, mtime 0), so re-running yields byte-identical files. The seed article is copied
verbatim. See ``data/sample/README.md`` for provenance and licence.

Usage: ``python scripts/make_sample.py [--data ../shared/data] [--out data/sample]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "data" / "sample"
GNAD_FILE = "corpora/gnad10k_test.de.jsonl"
SEED_FILE = "seed/bbabo-2022-putin-tokajew.de.txt"
SAMPLE_NAME = "derstandard_10kgnad_politik.de.jsonl.gz"
LABELS = ("Inland", "International")
MIN_CHARS = 300
WITHDRAWN = "Der Volltext dieses auf Agenturmeldungen basierenden Artikels"
MAX_TITLE = 200
# End of the first sentence: a lower-case word (two letters at least, so "z. B." and "21."
# do not count) or a closing quote/bracket, sentence punctuation, space, then a capital.
_SENTENCE_END = re.compile(r"(?<=[a-zäöüß]{2}[.!?])\s+(?=[A-ZÄÖÜ\"„])|(?<=[\"“”)][.!?])\s+")


def first_sentence(text: str) -> str:
    """The first sentence of ``text``, cut at a word boundary near ``MAX_TITLE`` chars."""
    match = _SENTENCE_END.search(text, 0, MAX_TITLE + 1)
    sentence = text[: match.start()] if match else text
    if len(sentence) <= MAX_TITLE:
        return sentence.strip()
    return sentence[:MAX_TITLE].rsplit(" ", 1)[0].rstrip(" ,;:\u2013-") + " …"


def select(gnad_path: Path) -> Iterator[dict[str, str]]:
    """The sample records, in corpus order."""
    with gnad_path.open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            text = record["text"]
            if record["label"] not in LABELS or WITHDRAWN in text or len(text) < MIN_CHARS:
                continue
            yield {
                "id": record["id"],
                "title": first_sentence(text),
                "label": record["label"],
                "source": "DER STANDARD",
                "text": text,
            }


def write_sample(data: Path, out: Path) -> int:
    """Write the sample files into ``out``; returns the number of 10kGNAD articles written."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with (
        (out / SAMPLE_NAME).open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz,
    ):
        for record in select(data / GNAD_FILE):
            gz.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            count += 1
    shutil.copyfile(data / SEED_FILE, out / Path(SEED_FILE).name)
    return count


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args()
    count = write_sample(args.data, args.out)
    print(f"wrote {count} articles + seed article to {args.out}")


if __name__ == "__main__":
    main()
